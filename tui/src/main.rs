//! `llms`: the dashboard and script client of `llmsd`. The daemon's API it talks to is not
//! built yet (issue 3), so this binary only says so; the one-shot measurement works today as
//! `llmsd bench`.

use std::process::ExitCode;

fn main() -> ExitCode {
    let arg = std::env::args().nth(1);
    if matches!(arg.as_deref(), Some("--version" | "-V")) {
        println!("llms {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "llms: the dashboard and its subcommands need the llmsd daemon, which is not built yet; \
         measure a server with `llmsd bench --url URL --concurrency 1,4,8` meanwhile"
    );
    ExitCode::from(2)
}
