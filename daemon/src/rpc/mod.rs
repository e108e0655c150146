//! The tarpc server: the Unix socket (mode 0660: its group decides who may use the daemon)
//! and, with `--listen`, TCP whose connections must `hello` with the token first. Both carry
//! JSON in length-delimited frames. Per-connection failures are logged and never end the
//! daemon; a client that goes away mid-call changes nothing (calls only read, or make one
//! store change that completes on its own).

pub mod hub;
pub mod server;

use futures::StreamExt;
use llms_shared::{Llmsd, MAX_FRAME_BYTES};
use server::{Api, Server};
use std::path::{Path, PathBuf};
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::codec::LengthDelimitedCodec;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Unix connections served at once.
const MAX_CONNECTIONS: usize = 256;
/// TCP connections at once: a separate, smaller pool, so strangers on the network cannot
/// crowd out local users.
const MAX_TCP_CONNECTIONS: usize = 32;
/// A TCP connection that has not said `hello` with the token by then is closed.
const HELLO_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// The listeners, bound. Dropping it does not stop them; call [`Listening::stop`].
pub struct Listening {
    /// Where the Unix socket is.
    pub socket: PathBuf,
    /// The TCP address, when served.
    pub tcp: Option<std::net::SocketAddr>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl Listening {
    /// Stop accepting, drop every connection, remove the socket file.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// Bind the socket (and TCP) and serve `api` until [`Listening::stop`].
pub async fn serve(api: Api, socket: &Path, listen: Option<&str>) -> Result<Listening, String> {
    let unix = bind_unix(socket).await?;
    let tcp = match listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
        ),
        None => None,
    };
    let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    {
        let (api, stop, t, limit) = (api.clone(), stop.clone(), tasks.clone(), limit.clone());
        tasks.spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = unix.accept() => c,
                    () = stop.cancelled() => return,
                };
                match conn {
                    Ok((s, _)) => {
                        spawn_conn(&t, &stop, &limit, s, Server::new(api.clone(), true), false)
                    }
                    Err(e) => tracing::warn!("unix accept: {e}"),
                }
            }
        });
    }
    if let Some(tcp) = tcp {
        let (stop, t) = (stop.clone(), tasks.clone());
        let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_TCP_CONNECTIONS));
        tasks.spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = tcp.accept() => c,
                    () = stop.cancelled() => return,
                };
                match conn {
                    Ok((s, peer)) => {
                        tracing::info!(%peer, "TCP client connected");
                        let _ = s.set_nodelay(true);
                        spawn_conn(&t, &stop, &limit, s, Server::new(api.clone(), false), true);
                    }
                    Err(e) => tracing::warn!("tcp accept: {e}"),
                }
            }
        });
    }
    Ok(Listening {
        socket: socket.to_owned(),
        tcp: tcp_addr,
        stop,
        tasks,
    })
}

/// Serve one connection until it closes or the daemon stops (or, with `needs_hello`, until
/// [`HELLO_WITHIN`] has passed without a successful `hello`).
fn spawn_conn<S>(
    tasks: &TaskTracker,
    stop: &CancellationToken,
    limit: &std::sync::Arc<tokio::sync::Semaphore>,
    stream: S,
    server: Server,
    needs_hello: bool,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let Ok(permit) = limit.clone().try_acquire_owned() else {
        tracing::warn!("too many connections; refusing one");
        return;
    };
    let stop = stop.clone();
    let calls = tasks.clone();
    let authed = server.authorized();
    tasks.spawn(async move {
        let framed = LengthDelimitedCodec::builder()
            .max_frame_length(MAX_FRAME_BYTES)
            .new_framed(stream);
        let transport = tarpc::serde_transport::new(framed, Json::default());
        let serve = BaseChannel::with_defaults(transport)
            .execute(server.serve())
            .for_each(|call| {
                calls.spawn(call);
                async {}
            });
        let unauthed = async {
            if !needs_hello {
                return std::future::pending().await;
            }
            tokio::time::sleep(HELLO_WITHIN).await;
            if authed.load(std::sync::atomic::Ordering::Acquire) {
                std::future::pending::<()>().await;
            }
            tracing::warn!("closing a TCP connection that did not authenticate in time");
        };
        tokio::select! {
            () = serve => {}
            () = stop.cancelled() => {}
            () = unauthed => {}
        }
        drop(permit);
    });
}

/// Bind the Unix socket: refuse if another daemon answers on it, replace a stale file,
/// set mode 0660. A directory the daemon makes for it is private (0700); the per-user
/// fallback in /tmp must be ours and private before anything is bound there.
async fn bind_unix(path: &Path) -> Result<UnixListener, String> {
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                format!(
                    "cannot create the socket's directory {}: {e}",
                    dir.display()
                )
            })?;
        let uid = nix::unistd::getuid().as_raw();
        if dir == llms_shared::socket::fallback_dir(uid) {
            llms_shared::socket::check_private_dir(dir, uid)?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!(
                "{} exists and is not a socket; remove it or choose another --socket",
                path.display()
            ));
        }
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(format!(
                "another llmsd is already serving on {}",
                path.display()
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path)
        .map_err(|e| format!("cannot bind the socket {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))
        .map_err(|e| format!("cannot set the mode of {}: {e}", path.display()))?;
    Ok(l)
}
