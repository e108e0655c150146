//! `llms`: parses arguments, runs the command, prints its output or `llms: MESSAGE` with exit
//! code 1 (daemon error) or 2 (bad arguments, daemon not there, unknown job).

use clap::Parser;
use llms::cli::Cli;
use llms::commands;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        // Bad arguments: clap's first paragraph names the option; one line, exit 2.
        Err(e) => {
            let text = e.to_string();
            let para: Vec<&str> = text.lines().take_while(|l| !l.trim().is_empty()).collect();
            return fail(2, para.join(" ").trim_start_matches("error: "));
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(1, &format!("cannot start the runtime: {e}")),
    };
    match rt.block_on(commands::run(cli)) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`llms jobs | head`) is not an error worth a message.
            let _ = stdout
                .write_all(out.as_bytes())
                .and_then(|()| stdout.flush());
            ExitCode::SUCCESS
        }
        Err(f) => fail(f.code, &f.message),
    }
}

fn fail(code: u8, msg: &str) -> ExitCode {
    eprintln!("llms: {msg}");
    ExitCode::from(code)
}
