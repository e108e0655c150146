//! The daemon's configuration: a TOML file (`--config`), with command-line flags over it, and
//! defaults that follow systemd's directories when it runs as a service.

use crate::engine::EngineKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the daemon's things are: the flags the daemon, `llmsd repair` and `llmsd doctor`
/// share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Places {
    /// TOML configuration file (see systemd/llmsd.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The daemon's Unix socket (the API is served there).
    #[arg(long)]
    pub socket: Option<PathBuf>,
    /// Directory of the store and the engine logs.
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// GPU source: nvml, none, or fake:N (a deterministic fake with N GPUs, for tests).
    #[arg(long)]
    pub gpu: Option<String>,
}

/// `llmsd` options for the daemon itself (no subcommand).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DaemonArgs {
    /// Where things are.
    #[command(flatten)]
    pub places: Places,
    /// Also serve the API on this TCP address (clients must present the token).
    #[arg(long)]
    pub listen: Option<String>,
    /// File holding the TCP token (readable by the daemon's user only).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Serve Prometheus metrics (GET /metrics) on this TCP address, e.g. 127.0.0.1:9464
    /// (`[metrics] listen` in the config). No token: it answers anyone who can reach it.
    #[arg(long)]
    pub metrics_listen: Option<String>,
}

impl From<Places> for DaemonArgs {
    fn from(places: Places) -> DaemonArgs {
        DaemonArgs {
            places,
            ..DaemonArgs::default()
        }
    }
}

/// The file's shape. Unknown keys are refused, so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    socket: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    listen: Option<String>,
    token_file: Option<PathBuf>,
    gpu: Option<String>,
    /// Seconds an engine gets between SIGTERM and SIGKILL.
    engine_grace_s: Option<f64>,
    /// Default seconds an engine may take to become healthy.
    ready_timeout_s: Option<f64>,
    /// Hosts `external` engines may name.
    external_hosts: Option<Vec<String>>,
    /// An engine's log file is rotated at this many MiB.
    engine_log_max_mb: Option<u64>,
    #[serde(default)]
    engines: BTreeMap<String, EngineEntry>,
    metrics: Option<MetricsEntry>,
}

/// `[metrics]`: llmsd's own Prometheus endpoint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsEntry {
    /// Address to serve `GET /metrics` on.
    listen: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineEntry {
    command: Vec<String>,
    /// Seconds this kind may take to answer `/health`.
    ready_timeout_s: Option<f64>,
    /// TensorRT-LLM's engine mode: the model family's `convert_checkpoint.py` with its
    /// interpreter, `trtllm-build`, and a command printing the TensorRT-LLM version.
    convert: Option<Vec<String>>,
    build: Option<Vec<String>>,
    version_command: Option<Vec<String>>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Unix socket path.
    pub socket: PathBuf,
    /// State directory (store in `db/`, engine logs in `logs/`).
    pub state_dir: PathBuf,
    /// Optional TCP address.
    pub listen: Option<String>,
    /// The TCP token (read from the token file).
    pub token: Option<String>,
    /// GPU source spec.
    pub gpu: String,
    /// SIGTERM-to-SIGKILL grace for engines.
    pub engine_grace: Duration,
    /// Default readiness timeout.
    pub ready_timeout: Duration,
    /// Engine kind -> argv prefix.
    pub engines: BTreeMap<String, Vec<String>>,
    /// Engine kind -> its readiness timeout, where the config gives one.
    pub engine_ready: BTreeMap<String, Duration>,
    /// TensorRT-LLM's engine-mode programs (`[engines.trtllm]` convert, build,
    /// version_command).
    pub trtllm: crate::engine::TrtTools,
    /// Hosts `external` engines may name [default: `loopback`].
    pub external_hosts: Vec<String>,
    /// Engine log rotation size, bytes [default 64 MiB].
    pub engine_log_max_bytes: u64,
    /// Where to serve Prometheus metrics, if anywhere (`[metrics] listen`).
    pub metrics_listen: Option<String>,
}

impl Config {
    /// Read the file (if any), apply the flags, fill in defaults, read the token. Errors name
    /// the file and the key or flag at fault.
    pub fn load(args: &DaemonArgs) -> Result<Config, String> {
        let file = match &args.places.config {
            Some(p) => read_file(p)?,
            None => File::default(),
        };
        let env = |k: &str| std::env::var_os(k).map(PathBuf::from);
        let socket = args
            .places
            .socket
            .clone()
            .or(file.socket)
            .unwrap_or_else(|| default_socket(env("RUNTIME_DIRECTORY"), env("XDG_RUNTIME_DIR")));
        let state_dir = args
            .places
            .state_dir
            .clone()
            .or(file.state_dir)
            .or_else(|| env("STATE_DIRECTORY").map(first_of_list))
            .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("llmsd")))
            .or_else(|| env("HOME").map(|h| h.join(".local/state/llmsd")))
            .ok_or("no --state-dir given and no HOME to put one in")?;
        let listen = args.listen.clone().or(file.listen);
        let token_file = args.token_file.clone().or(file.token_file);
        let token = match (&listen, &token_file) {
            (Some(_), Some(p)) => Some(read_token(p)?),
            (Some(l), None) => {
                return Err(format!(
                    "--listen {l} needs --token-file (or token_file in the config): TCP clients must present a token"
                ));
            }
            (None, _) => None,
        };
        let seconds = |v: Option<f64>, key: &str, default: f64| match v {
            None => Ok(Duration::from_secs_f64(default)),
            Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
            Some(s) => Err(format!(
                "{key}: must be between 0 and 86400 seconds, got {s}"
            )),
        };
        let mut engines = BTreeMap::new();
        let mut engine_ready = BTreeMap::new();
        let mut trtllm = crate::engine::TrtTools::default();
        for (kind, e) in file.engines {
            let argv = |v: Option<Vec<String>>, key: &str| match v {
                Some(v) if v.is_empty() || v[0].trim().is_empty() => Err(format!(
                    "engines.{kind}.{key}: give the program and its leading arguments"
                )),
                Some(_) if kind != EngineKind::Trtllm.name() => Err(format!(
                    "engines.{kind}.{key}: only [engines.trtllm] has it (TensorRT-LLM's engine mode)"
                )),
                v => Ok(v),
            };
            trtllm.convert = argv(e.convert, "convert")?.or(trtllm.convert);
            if let Some(b) = argv(e.build, "build")? {
                trtllm.build = b;
            }
            if let Some(v) = argv(e.version_command, "version_command")? {
                trtllm.version = v;
            }
            if e.ready_timeout_s.is_some() {
                let key = format!("engines.{kind}.ready_timeout_s");
                engine_ready.insert(kind.clone(), seconds(e.ready_timeout_s, &key, 0.0)?);
            }
            if e.command.is_empty() || e.command[0].trim().is_empty() {
                return Err(format!(
                    "engines.{kind}.command: give the program and its leading arguments, e.g. [\"llama-server\"]"
                ));
            }
            engines.insert(kind, e.command);
        }
        Ok(Config {
            socket,
            state_dir,
            listen,
            token,
            gpu: args
                .places
                .gpu
                .clone()
                .or(file.gpu)
                .unwrap_or_else(|| "nvml".into()),
            engine_grace: seconds(file.engine_grace_s, "engine_grace_s", 10.0)?,
            ready_timeout: seconds(file.ready_timeout_s, "ready_timeout_s", 600.0)?,
            engines,
            engine_ready,
            trtllm,
            external_hosts: external_hosts(file.external_hosts)?,
            metrics_listen: metrics_listen(
                args.metrics_listen.clone(),
                file.metrics.map(|m| m.listen),
            )?,
            engine_log_max_bytes: match file.engine_log_max_mb {
                None => 64 << 20,
                Some(mb @ 1..=65_536) => mb << 20,
                Some(mb) => {
                    return Err(format!(
                        "engine_log_max_mb: must be between 1 and 65536, got {mb}"
                    ));
                }
            },
        })
    }
}

/// `--metrics-listen` over `[metrics] listen`: a socket address (`HOST:PORT`).
fn metrics_listen(flag: Option<String>, file: Option<String>) -> Result<Option<String>, String> {
    let key = if flag.is_some() {
        "--metrics-listen"
    } else {
        "metrics.listen"
    };
    match flag.or(file) {
        Some(a)
            if a.rsplit_once(':').is_some_and(|(h, p)| {
                !h.is_empty() && !h.contains(char::is_whitespace) && p.parse::<u16>().is_ok()
            }) =>
        {
            Ok(Some(a))
        }
        Some(a) => Err(format!(
            "{key}: '{a}' is not HOST:PORT (e.g. \"127.0.0.1:9464\")"
        )),
        None => Ok(None),
    }
}

/// `external_hosts`: non-empty entries without spaces or URL syntax [default: loopback].
fn external_hosts(v: Option<Vec<String>>) -> Result<Vec<String>, String> {
    let Some(v) = v else {
        return Ok(vec!["loopback".into()]);
    };
    for (i, h) in v.iter().enumerate() {
        if h.is_empty() || h.contains(|c: char| c.is_whitespace() || "/?#@".contains(c)) {
            return Err(format!(
                "external_hosts[{i}]: '{h}' is not a host name, an IP address, loopback or *"
            ));
        }
    }
    Ok(v)
}

/// The daemon's side of the socket rule both sides share
/// ([`llms_shared::socket::default_socket`]): systemd's `RuntimeDirectory=`, else
/// `$XDG_RUNTIME_DIR`, else the private `/tmp/llmsd-$UID/`.
pub fn default_socket(runtime_dir: Option<PathBuf>, xdg: Option<PathBuf>) -> PathBuf {
    let env = llms_shared::socket::SocketEnv {
        runtime_directory: runtime_dir.map(PathBuf::into_os_string),
        xdg_runtime_dir: xdg.map(PathBuf::into_os_string),
        uid: nix::unistd::getuid().as_raw(),
        ..Default::default()
    };
    llms_shared::socket::default_socket(true, &env)
}

/// systemd passes several directories colon-separated; the first is ours.
fn first_of_list(p: PathBuf) -> PathBuf {
    match p.to_str().and_then(|s| s.split(':').next()) {
        Some(first) => PathBuf::from(first),
        None => p,
    }
}

fn read_file(p: &Path) -> Result<File, String> {
    let text = std::fs::read_to_string(p)
        .map_err(|e| format!("cannot read --config '{}': {e}", p.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {}", p.display(), one_line(&text, &e)))
}

/// A TOML error in one line that names where it is: `line 7, load.requests: invalid type...`
/// (the key is read from the source at the error's position; serde's own message does not
/// always name it).
pub fn one_line(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    let Some(span) = e.span() else { return msg };
    let upto = &text[..span.start.min(text.len())];
    let line_no = upto.matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("");
    let mut table = String::new();
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    for l in text.lines().take(line_no) {
        let t = l.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim().to_owned();
            table = if t.starts_with("[[") {
                // An array of tables: name the element, engine[0], engine[1], ...
                let n = seen.entry(name.clone()).or_default();
                *n += 1;
                format!("{name}[{}]", *n - 1)
            } else {
                name
            };
        }
    }
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    match key {
        Some(k) if table.is_empty() => format!("line {line_no}, {k}: {msg}"),
        Some(k) => format!("line {line_no}, {table}.{k}: {msg}"),
        None => format!("line {line_no}: {msg}"),
    }
}

/// The token: the file's trimmed content. The file must not be readable by group or others.
fn read_token(p: &Path) -> Result<String, String> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(p)
        .map_err(|e| format!("cannot read --token-file '{}': {e}", p.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "--token-file '{}' is readable by others (mode {mode:o}); chmod 600 it",
            p.display()
        ));
    }
    let token = std::fs::read_to_string(p)
        .map_err(|e| format!("cannot read --token-file '{}': {e}", p.display()))?
        .trim()
        .to_owned();
    if token.len() < 16 {
        return Err(format!(
            "--token-file '{}' holds fewer than 16 characters; use a long random token",
            p.display()
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_defaults() {
        assert_eq!(
            default_socket(Some("/run/llmsd".into()), Some("/run/user/1".into())),
            PathBuf::from("/run/llmsd/llmsd.sock")
        );
        assert_eq!(
            default_socket(None, Some("/run/user/1".into())),
            PathBuf::from("/run/user/1/llmsd.sock")
        );
        assert!(default_socket(None, None).starts_with("/tmp"));
    }

    #[test]
    fn file_and_flags() {
        let dir = std::env::temp_dir().join(format!("llmsd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("c.toml");
        std::fs::write(
            &cfg,
            "state_dir = \"/x\"\nengine_grace_s = 3\n[engines.llamacpp]\ncommand = [\"/opt/llama-server\"]\n[engines.vllm]\ncommand = [\"vllm\", \"serve\"]\nready_timeout_s = 1800\n",
        )
        .unwrap();
        let args = DaemonArgs::from(Places {
            config: Some(cfg.clone()),
            state_dir: Some("/y".into()),
            ..Default::default()
        });
        let c = Config::load(&args).unwrap();
        assert_eq!(c.state_dir, PathBuf::from("/y"), "the flag wins");
        assert_eq!(c.engine_grace, Duration::from_secs(3));
        assert_eq!(c.engines["llamacpp"], vec!["/opt/llama-server".to_string()]);
        assert_eq!(c.engine_ready["vllm"], Duration::from_secs(1800));
        assert!(!c.engine_ready.contains_key("llamacpp"));

        std::fs::write(&cfg, "stat_dir = \"/x\"\n").unwrap();
        let e = Config::load(&args).unwrap_err();
        assert!(e.contains("stat_dir") && e.contains("c.toml"), "{e}");
        std::fs::write(&cfg, "[engines.vllm]\ncommand = []\n").unwrap();
        let e = Config::load(&args).unwrap_err();
        assert!(e.contains("engines.vllm.command"), "{e}");

        let args = DaemonArgs {
            listen: Some("127.0.0.1:0".into()),
            ..DaemonArgs::from(Places {
                state_dir: Some("/y".into()),
                ..Default::default()
            })
        };
        assert!(Config::load(&args).unwrap_err().contains("--token-file"));
        std::fs::write(&cfg, "[metrics]\nlisten = \"127.0.0.1:9464\"\n").unwrap();
        let with_file = DaemonArgs::from(Places {
            config: Some(cfg.clone()),
            state_dir: Some("/y".into()),
            ..Default::default()
        });
        let c = Config::load(&with_file).unwrap();
        assert_eq!(c.metrics_listen.as_deref(), Some("127.0.0.1:9464"));
        std::fs::write(&cfg, "[metrics]\nlisten = \"9464\"\n").unwrap();
        let e = Config::load(&with_file).unwrap_err();
        assert!(
            e.contains("metrics.listen") && e.contains("HOST:PORT"),
            "{e}"
        );
        std::fs::write(&cfg, "[metrics]\nlisen = \"127.0.0.1:1\"\n").unwrap();
        let e = Config::load(&with_file).unwrap_err();
        assert!(e.contains("lisen"), "{e}");
        let tok = dir.join("token");
        std::fs::write(&tok, "0123456789abcdef0123\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o644)).unwrap();
        let args = DaemonArgs {
            token_file: Some(tok.clone()),
            ..args
        };
        assert!(Config::load(&args).unwrap_err().contains("chmod 600"));
        std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            Config::load(&args).unwrap().token.as_deref(),
            Some("0123456789abcdef0123")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
