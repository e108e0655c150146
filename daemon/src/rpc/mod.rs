//! The tarpc server: the Unix socket (mode 0660: its group decides who may use the daemon)
//! and, with `--listen`, TCP whose connections must `hello` with the token first. Both carry
//! JSON in length-delimited frames. Per-connection failures are logged and never end the
//! daemon; a client that goes away mid-call changes nothing (calls only read, or make one
//! store change that completes on its own).

pub mod calls;
mod conns;
mod gate;
pub mod hub;
pub mod server;

use futures::StreamExt;
use llms_shared::Llmsd;
use server::{Api, Server};
use std::path::{Path, PathBuf};
use tarpc::server::{BaseChannel, Channel};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use conns::{Conns, Limits};
use std::time::Duration;

/// Unix connections: 256 at once (a full listener closes its longest-idle connection for a
/// newcomer), closed after 10 idle minutes, 32 calls in flight each.
const UNIX: Limits = Limits {
    max: 256,
    idle: Duration::from_secs(600),
    in_flight: 32,
};
/// TCP connections: a separate, smaller pool, so strangers on the network cannot crowd out
/// local users; a full one closes a connection that has not authenticated first.
const TCP: Limits = Limits {
    max: 32,
    idle: Duration::from_secs(600),
    in_flight: 32,
};
/// A TCP connection that has not said `hello` with the token by then is closed.
const HELLO_WITHIN: Duration = Duration::from_secs(10);

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
    // TCP first: once the socket answers (what supervisors and tests wait for), every
    // listener is up.
    let tcp = match listen {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?,
        ),
        None => None,
    };
    let unix = bind_unix(socket).await?;
    let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
    let stop = CancellationToken::new();
    let tasks = TaskTracker::new();
    {
        let (api, stop, t) = (api.clone(), stop.clone(), tasks.clone());
        let conns = Conns::new(UNIX);
        tasks.spawn(async move {
            loop {
                let conn = tokio::select! {
                    c = unix.accept() => c,
                    () = stop.cancelled() => return,
                };
                match conn {
                    Ok((s, _)) => {
                        spawn_conn(&t, &stop, &conns, s, Server::new(api.clone(), true), false)
                    }
                    Err(e) => tracing::warn!("unix accept: {e}"),
                }
            }
        });
    }
    if let Some(tcp) = tcp {
        let (stop, t) = (stop.clone(), tasks.clone());
        let conns = Conns::new(TCP);
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
                        let server = Server::new(api.clone(), false);
                        let s = gate::Gated::new(s, server.authorized());
                        spawn_conn(&t, &stop, &conns, s, server, true);
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

/// Serve one connection until it closes, the daemon stops, the listener closes it to make
/// room, it has been idle too long, or (with `needs_hello`) [`HELLO_WITHIN`] has passed
/// without a successful `hello`. Calls beyond the in-flight limit are answered with an error
/// at once, so a client that pipelines thousands holds little.
fn spawn_conn<S>(
    tasks: &TaskTracker,
    stop: &CancellationToken,
    conns: &Conns,
    stream: S,
    server: Server,
    needs_hello: bool,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let authed = server.authorized();
    let Some(conn) = conns.admit(authed.clone(), stop) else {
        tracing::warn!("too many connections, each with a call in flight; refusing one");
        return;
    };
    let conn = std::sync::Arc::new(conn);
    let calls = tasks.clone();
    let in_flight = conns.limits().in_flight;
    tasks.spawn(async move {
        let transport = llms_shared::transport::json(stream);
        let c = conn.clone();
        let serve = BaseChannel::with_defaults(transport)
            .max_concurrent_requests(in_flight)
            .execute(server.serve())
            .for_each(|call| {
                let c = c.clone();
                c.begin();
                calls.spawn(async move {
                    call.await;
                    c.end();
                });
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
            () = conn.close.cancelled() => {}
            () = conn.idle() => tracing::debug!("closing an idle connection"),
            () = unauthed => {}
        }
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
