//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `llms [--socket PATH | --connect HOST:PORT --token-file PATH] [COMMAND]`.
#[derive(Debug, Parser)]
#[command(
    name = "llms",
    version,
    about = "Client of llmsd: queue benchmark jobs, read results"
)]
pub struct Cli {
    /// How to reach the daemon.
    #[command(flatten)]
    pub daemon: DaemonArgs,
    /// The subcommand; none opens the dashboard.
    #[command(subcommand)]
    pub cmd: Option<Command>,
}

/// Where the daemon listens.
#[derive(Debug, Clone, Default, Args)]
#[group(skip)]
pub struct DaemonArgs {
    /// The daemon's Unix socket [default: $LLMS_SOCKET, else /run/llmsd/llmsd.sock if it
    /// exists, else $XDG_RUNTIME_DIR/llmsd.sock, else /tmp/llmsd-$UID/llmsd.sock].
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "connect")]
    pub socket: Option<PathBuf>,
    /// Reach the daemon over TCP instead (needs --token-file).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// File holding the daemon's token, for --connect.
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Queue a sweep file; prints the job id.
    Submit {
        /// The sweep file (TOML).
        file: PathBuf,
        /// Print `{"id": N}`.
        #[arg(long)]
        json: bool,
        /// Idempotency key: a second submit with the key of a queued job answers that job's
        /// id instead of queueing it again (for scripts that retry) [default: a random key].
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
    },
    /// List the jobs, oldest first.
    Jobs {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// One job: its state, its points and its error.
    Show {
        /// Job id.
        job: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The finished points of a job.
    Results(ResultsArgs),
    /// Cancel a queued or running job; prints its state afterwards.
    Cancel {
        /// Job id.
        job: u64,
    },
    /// The last lines of an engine's log.
    Logs {
        /// Engine id or name.
        engine: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 100)]
        lines: u32,
    },
    /// The GPUs now: utilization, memory, power, energy, temperature, processes.
    Gpus {
        /// Print the samples as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare jobs: engines x load settings, throughput, TTFT, ITL, memory, tokens/J, the
    /// capacity searches found and each engine's Pareto frontier.
    Compare {
        /// Job ids.
        #[arg(required_unless_present = "from", num_args = 1..)]
        jobs: Vec<u64>,
        /// Read jobs from files saved by `llms results JOB --json` (or written by `llmsd
        /// bench --json`) instead of the daemon (repeatable).
        #[arg(long, conflicts_with = "jobs")]
        from: Vec<PathBuf>,
        /// A Markdown table.
        #[arg(long, conflicts_with = "json")]
        md: bool,
        /// The rows (and capacities) as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write charts (SVG and PNG) and a Markdown report comparing jobs.
    Report {
        /// Job ids.
        #[arg(required_unless_present = "from", num_args = 1..)]
        jobs: Vec<u64>,
        /// Read jobs from files saved by `llms results JOB --json` (or written by `llmsd
        /// bench --json`) instead of the daemon (repeatable).
        #[arg(long, conflicts_with = "jobs")]
        from: Vec<PathBuf>,
        /// Directory to write into (created if missing) [default: ./llms-report-JOBS/, as
        /// the dashboard's `w`].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Chart size in pixels, WIDTHxHEIGHT (400x300 to 4000x3000; e.g. 1920x1080 for a
        /// slide).
        #[arg(long, default_value = "1000x600", value_parser = chart_size)]
        size: (u32, u32),
    },
    /// Store results made elsewhere as a read-only job, to compare and report beside jobs run
    /// here: a `vllm bench serve --save-result` file, or an llms results file (`llms
    /// results --json`, `llmsd bench --json`). Prints the new job's id.
    Import {
        /// The file (read by this client, with your permissions).
        file: PathBuf,
        /// The job's name [default: the file's name, or the saved job's].
        #[arg(long)]
        name: Option<String>,
        /// Print `{"id": N}`.
        #[arg(long)]
        json: bool,
    },
    /// The demo: a private llmsd, llama.cpp and the reference engine, a sweep, the dashboard.
    Demo(DemoArgs),
}

/// Arguments of `llms demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// The sweep to run [default: sweeps/demo.toml].
    #[arg(long)]
    pub sweep: Option<PathBuf>,
    /// No dashboard: wait for the sweep, print the comparison, stop (for scripts and CI).
    #[arg(long)]
    pub no_dashboard: bool,
}

/// Arguments of `llms results`.
#[derive(Debug, Args)]
#[group(skip)]
pub struct ResultsArgs {
    /// Job id.
    pub job: u64,
    /// Output format [default: table].
    #[arg(long, value_enum, conflicts_with_all = ["json", "csv", "md"])]
    pub format: Option<Format>,
    /// Same as --format json.
    #[arg(long, conflicts_with_all = ["csv", "md"])]
    pub json: bool,
    /// Same as --format csv.
    #[arg(long, conflicts_with = "md")]
    pub csv: bool,
    /// Same as --format md.
    #[arg(long)]
    pub md: bool,
    /// With json, vllm or benchmark-report: include (or compute from) the per-request
    /// records.
    #[arg(long)]
    pub raw: bool,
}

impl ResultsArgs {
    /// The format asked for, by either spelling.
    pub fn format(&self) -> Format {
        match (self.format, self.json, self.csv, self.md) {
            (Some(f), ..) => f,
            (None, true, ..) => Format::Json,
            (None, _, true, _) => Format::Csv,
            (None, _, _, true) => Format::Md,
            _ => Format::Table,
        }
    }
}

/// `1920x1080`: a chart's width and height, within 400x300 and 4000x3000.
pub fn chart_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or(format!("'{s}' is not WIDTHxHEIGHT (e.g. 1920x1080)"))?;
    let (w, h): (u32, u32) = match (w.trim().parse(), h.trim().parse()) {
        (Ok(w), Ok(h)) => (w, h),
        _ => return Err(format!("'{s}' is not WIDTHxHEIGHT in whole pixels")),
    };
    if !(400..=4000).contains(&w) || !(300..=3000).contains(&h) {
        return Err(format!("{w}x{h} is outside 400x300 to 4000x3000"));
    }
    Ok((w, h))
}

/// Output format of `llms results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// The points in `llmsd bench --json` shape, with engine and kind added.
    Json,
    /// One header and one row per point.
    Csv,
    /// A Markdown table.
    Md,
    /// A JSON array, one object per point in the shape `vllm bench serve --save-result`
    /// writes (with `--raw`: `--save-detailed`'s per-request arrays and the std keys).
    Vllm,
    /// A JSON array of llm-d Benchmark Reports (schema 0.2), one per point.
    BenchmarkReport,
    /// Every request of every point as CSV (needs the raw records: implies `--raw`).
    RequestsCsv,
    /// Every request of every point as JSON lines, records whole (implies `--raw`).
    RequestsJsonl,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn results(args: &[&str]) -> Result<Format, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.cmd {
            Some(Command::Results(r)) => Ok(r.format()),
            _ => panic!("not results"),
        }
    }

    #[test]
    fn both_format_spellings() {
        assert_eq!(results(&["llms", "results", "3"]).unwrap(), Format::Table);
        assert_eq!(
            results(&["llms", "results", "3", "--csv"]).unwrap(),
            Format::Csv
        );
        let f = results(&["llms", "results", "3", "--format", "md"]).unwrap();
        assert_eq!(f, Format::Md);
        assert!(results(&["llms", "results", "3", "--json", "--csv"]).is_err());
        assert!(results(&["llms", "results", "3", "--json", "--format", "md"]).is_err());
    }

    #[test]
    fn daemon_flags_anywhere() {
        let cli = Cli::try_parse_from(["llms", "jobs", "--socket", "/x.sock"]).unwrap();
        assert_eq!(cli.daemon.socket, Some(PathBuf::from("/x.sock")));
        assert!(
            Cli::try_parse_from(["llms", "--socket", "/x", "--connect", "h:1", "jobs"]).is_err()
        );
    }
}
