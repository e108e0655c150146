//! Connecting to the daemon: the transport (JSON over length-delimited frames, on a Unix
//! socket or TCP), the `hello` handshake, and one deadline for every call.

use crate::cli::DaemonArgs;
use crate::failure::Failure;
use crate::socket::default_socket;
use llms_shared::{ApiError, Hello, LlmsdClient, PROTOCOL_VERSION};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tarpc::client::RpcError;
use tokio::io::{AsyncRead, AsyncWrite};

/// Deadline of every call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a TCP connect may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the daemon is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Unix socket.
    Unix(PathBuf),
    /// TCP, with the token `hello` presents.
    Tcp {
        /// `HOST:PORT`.
        addr: String,
        /// The token file's trimmed content.
        token: String,
    },
}

impl Target {
    /// From the command line: `--connect` (reading `--token-file`), else `--socket`, else
    /// the default socket.
    pub fn from_args(args: &DaemonArgs) -> Result<Target, Failure> {
        let Some(addr) = &args.connect else {
            return Ok(Target::Unix(
                args.socket.clone().unwrap_or_else(default_socket),
            ));
        };
        let Some(file) = &args.token_file else {
            return Err(Failure::usage("--connect needs --token-file PATH"));
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(Failure::usage(format!(
                "{}: the token file is empty",
                file.display()
            )));
        }
        Ok(Target::Tcp {
            addr: addr.clone(),
            token: token.to_owned(),
        })
    }

    /// The socket path or `HOST:PORT`, for messages.
    pub fn label(&self) -> String {
        match self {
            Target::Unix(p) => p.display().to_string(),
            Target::Tcp { addr, .. } => addr.clone(),
        }
    }
}

/// A connected, greeted daemon.
#[derive(Clone)]
pub struct Session {
    /// The tarpc client.
    pub client: LlmsdClient,
    /// What `hello` said.
    pub hello: Hello,
    /// Where it is, for messages.
    pub label: String,
}

/// A context whose deadline is [`CALL_TIMEOUT`] from now.
pub fn ctx() -> tarpc::context::Context {
    let mut ctx = tarpc::context::current();
    ctx.deadline = Instant::now() + CALL_TIMEOUT;
    ctx
}

/// Connect, call `hello` (with the token over TCP) and check the protocol version. Every
/// failure here is exit code 2.
pub async fn connect(target: &Target) -> Result<Session, Failure> {
    let label = target.label();
    let unreachable = |reason: String| {
        Failure::usage(format!(
            "cannot reach llmsd at {label}: {reason} (is llmsd running? start it with \
             `llmsd` or `systemctl start llmsd`)"
        ))
    };
    let (client, token) = match target {
        Target::Unix(path) => {
            crate::socket::check_fallback(path).map_err(Failure::usage)?;
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            (client_on(stream), None)
        }
        Target::Tcp { addr, token } => {
            let stream =
                tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
                    .await
                    .map_err(|_| unreachable("connect timed out".into()))?
                    .map_err(|e| unreachable(e.to_string()))?;
            (client_on(stream), Some(token.clone()))
        }
    };
    let hello = match client.hello(ctx(), token).await {
        Ok(Ok(h)) => h,
        Ok(Err(ApiError::Unauthorized(m))) => {
            return Err(Failure::usage(format!(
                "llmsd at {label} refused the token: {m}"
            )));
        }
        Ok(Err(e)) => return Err(Failure::usage(format!("llmsd at {label}: {e}"))),
        Err(e) => return Err(unreachable(rpc_reason(&e))),
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(Failure::usage(format!(
            "llmsd speaks protocol {}, this llms speaks {PROTOCOL_VERSION}",
            hello.protocol
        )));
    }
    Ok(Session {
        client,
        hello,
        label,
    })
}

/// The contract transport on any byte stream.
fn client_on<S>(stream: S) -> LlmsdClient
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    llms_shared::transport::client(stream)
}

/// An RPC failure as one line, with the source's reason.
fn rpc_reason(e: &RpcError) -> String {
    match std::error::Error::source(e) {
        Some(src) => format!("{e}: {src}"),
        None => e.to_string(),
    }
}

impl Session {
    /// Map a call's outcome: API errors via [`Failure::api`] about `what`; a lost
    /// connection is exit 2, a missed deadline or server abort exit 1.
    pub fn check<T>(
        &self,
        outcome: Result<Result<T, ApiError>, RpcError>,
        what: &str,
    ) -> Result<T, Failure> {
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(Failure::api(e, what)),
            Err(RpcError::DeadlineExceeded) => Err(Failure::error(format!(
                "llmsd at {} did not answer within {} s",
                self.label,
                CALL_TIMEOUT.as_secs()
            ))),
            Err(e @ RpcError::Server(_)) => Err(Failure::error(format!(
                "llmsd at {}: {}",
                self.label,
                rpc_reason(&e)
            ))),
            Err(e) => Err(Failure::usage(format!(
                "lost the connection to llmsd at {}: {}",
                self.label,
                rpc_reason(&e)
            ))),
        }
    }
}
