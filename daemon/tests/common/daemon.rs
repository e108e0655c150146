//! A real `llmsd` process on a temporary socket and state directory, and a tarpc client.

use llms_shared::{JobState, JobSummary, LlmsdClient, SubmitRequest};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tarpc::context::Context;

pub const LLMSD: &str = env!("CARGO_BIN_EXE_llmsd");

/// A fresh directory under the system temp dir (short: socket paths are limited).
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("llmsd-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub socket: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Daemon {
    /// Start llmsd with `config` (TOML text) in `dir`, with fake GPUs unless `extra` says
    /// otherwise; returns once its socket answers.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Daemon {
        Self::start_env(dir, config, extra, Vec::new())
    }

    /// [`Daemon::start`] with more environment variables (engines inherit them).
    pub fn start_env(
        dir: &Path,
        config: &str,
        extra: &[&str],
        env: Vec<(String, String)>,
    ) -> Daemon {
        let cfg = dir.join("llmsd.toml");
        std::fs::write(&cfg, config).unwrap();
        let socket = dir.join("s.sock");
        let mut args: Vec<String> = vec![
            "--config".into(),
            cfg.display().to_string(),
            "--socket".into(),
            socket.display().to_string(),
            "--state-dir".into(),
            dir.join("state").display().to_string(),
        ];
        if !extra.contains(&"--gpu") {
            args.extend(["--gpu".into(), "fake:1".into()]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let mut d = Daemon {
            child: spawn(dir, &args, &env),
            dir: dir.to_owned(),
            socket,
            args,
            env,
        };
        d.wait_socket();
        d
    }

    fn wait_socket(&mut self) {
        let t0 = Instant::now();
        loop {
            if std::os::unix::net::UnixStream::connect(&self.socket).is_ok() {
                return;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("llmsd exited at start ({st}):\n{}", self.log());
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "llmsd never bound its socket:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start llmsd serving TCP too, on a free loopback port with a token file of its own;
    /// returns it, the address and the token.
    pub fn start_tcp(dir: &Path) -> (Daemon, String, String) {
        use std::os::unix::fs::PermissionsExt;
        let token = "s3cret-token-of-enough-length";
        let file = dir.join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let extra = ["--listen", &addr, "--token-file", file.to_str().unwrap()];
        (Daemon::start(dir, "", &extra), addr, token.to_owned())
    }

    /// The daemon's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("llmsd.log")).unwrap_or_default()
    }

    /// kill -9, then start again on the same state.
    pub fn kill9_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn(&self.dir, &self.args, &self.env);
        self.wait_socket();
    }

    /// SIGTERM and wait for the exit.
    pub fn sigterm(&mut self) -> ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "llmsd did not stop:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start again after a stop.
    pub fn restart(&mut self) {
        self.child = spawn(&self.dir, &self.args, &self.env);
        self.wait_socket();
    }

    pub async fn client(&self) -> LlmsdClient {
        let c = connect(&self.socket).await;
        c.hello(ctx(), None).await.unwrap().unwrap();
        c
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(dir: &Path, args: &[String], env: &[(String, String)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("llmsd.log"))
        .unwrap();
    Command::new(LLMSD)
        .args(args)
        .env("LLMSD_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

pub async fn connect(socket: &Path) -> LlmsdClient {
    let s = tokio::net::UnixStream::connect(socket).await.unwrap();
    transport_client(s)
}

pub fn transport_client<S>(s: S) -> LlmsdClient
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    llms_shared::transport::client(s)
}

/// A context with a 30 s deadline.
pub fn ctx() -> Context {
    let mut c = tarpc::context::current();
    c.deadline = Instant::now() + Duration::from_secs(30);
    c
}

pub fn submit_req(spec: &str) -> SubmitRequest {
    SubmitRequest {
        file: Some("test.toml".into()),
        ..SubmitRequest::new(spec.into())
    }
}

/// Poll the job list until `id` satisfies `pred` (a failure guard, not a timing claim).
pub async fn wait_job(
    c: &LlmsdClient,
    id: u64,
    limit: Duration,
    pred: impl Fn(&JobSummary) -> bool,
) -> JobSummary {
    let t0 = Instant::now();
    loop {
        let jobs = c.jobs(ctx()).await.unwrap().unwrap();
        let j = jobs.into_iter().find(|j| j.id == id).expect("job listed");
        if pred(&j) {
            return j;
        }
        assert!(t0.elapsed() < limit, "job {id} stuck: {j:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn is_final(j: &JobSummary) -> bool {
    matches!(
        j.state,
        JobState::Done | JobState::Failed | JobState::Cancelled
    )
}
