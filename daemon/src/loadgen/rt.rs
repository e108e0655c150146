//! The load generator's own thread. Every request of a point (and its warm-up) is sent, read
//! and stamped on one thread that runs nothing else: a current-thread tokio runtime, started
//! on first use and kept for the process. Nothing of the daemon (its API, engine supervision,
//! the store) shares that thread, so none of it delays a stamp; and one thread wakes once for
//! all the chunks that are ready, with no wakes between worker threads, which is most of what
//! a chunk costs the client (`cargo bench -p llmsd --bench client_cost`).
//!
//! One core reads well over 100,000 chunks a second; past what it can, the point is flagged
//! `client_bound`. `llmsd bench --threads N` asks for N worker threads instead
//! ([`set_threads`]).

use std::future::Future;
use std::sync::OnceLock;
use tokio::runtime::Handle;

/// Worker threads asked for before first use (none: the single-thread runtime).
static THREADS: OnceLock<Option<usize>> = OnceLock::new();
/// The runtime's handle, or why it could not start.
static RUNTIME: OnceLock<Result<Handle, String>> = OnceLock::new();

/// Ask for `n` worker threads (a multi-thread runtime) instead of the single thread. Takes
/// effect only before the first point of the process; returns whether it did.
pub fn set_threads(n: usize) -> bool {
    THREADS.set(Some(n.max(1))).is_ok() && RUNTIME.get().is_none()
}

fn start() -> Result<Handle, String> {
    let threads = *THREADS.get_or_init(|| None);
    if let Some(n) = threads {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .thread_name("llms-client")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let handle = rt.handle().clone();
        // Kept for the process, like the thread below.
        std::mem::forget(rt);
        return Ok(handle);
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("llms-client".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))
        .map_err(|e| e.to_string())?;
    Ok(handle)
}

/// Run `f` on the load generator's thread and wait for it; dropping the returned future
/// cancels `f` there. Where the thread could not be started (reported once in the log), `f`
/// runs where it is awaited.
pub async fn run<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = match RUNTIME.get_or_init(start) {
        Ok(h) => h,
        Err(e) => {
            static SAID: OnceLock<()> = OnceLock::new();
            SAID.get_or_init(|| tracing::warn!("requests run on the caller's runtime: {e}"));
            return f.await;
        }
    };
    let task = tokio_util::task::AbortOnDropHandle::new(handle.spawn(f));
    match task.await {
        Ok(v) => v,
        // A panic in a point is the caller's, as if it had run there.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only this handle aborts the task, and dropping it ends this future first; the
        // runtime is never shut down.
        Err(_) => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn a_point_runs_on_the_client_thread_and_panics_reach_the_caller() {
        let name = super::run(async { std::thread::current().name().map(str::to_owned) }).await;
        assert_eq!(name.as_deref(), Some("llms-client"));
        let caught = tokio::spawn(super::run(async { panic!("boom") })).await;
        assert!(caught.is_err_and(|e| e.is_panic()));
    }
}
