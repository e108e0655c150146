//! The load generator's own threads. Every request of a point (and its warm-ups) is sent, read
//! and stamped on a thread that runs nothing else: a current-thread tokio runtime, started on
//! first use and kept for the process. Nothing of the daemon (its API, engine supervision,
//! the store) shares it, so none of it delays a stamp; and one thread wakes once for all the
//! chunks that are ready, with no wakes between worker threads, which is most of what a chunk
//! costs the client (`cargo bench -p llmsd --bench client_cost`).
//!
//! There is one such thread per CPU, a *lane* each. An HTTP client is given a lane when it is
//! made ([`Lane::next`], in turn) and all its requests run there, so the connections it pools
//! are read where they were opened, and jobs that run side by side (one per GPU set) read
//! their streams on different threads. One thread reads well over 100,000 chunks a second;
//! past what it can, the point is flagged `client_bound`. `llmsd bench --threads N` asks for
//! one runtime of N worker threads instead ([`set_threads`]).

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::runtime::Handle;

/// Worker threads asked for before first use (none: a single-thread runtime per lane).
static THREADS: OnceLock<Option<usize>> = OnceLock::new();
/// Each lane's runtime handle, or why it could not start.
static LANES: OnceLock<Vec<OnceLock<Result<Handle, String>>>> = OnceLock::new();
/// The lane the next client gets.
static NEXT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// The lane this thread runs, on the lanes' own threads.
    static ON: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Where a client's requests run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lane(usize);

impl Lane {
    /// The next lane in turn.
    pub fn next() -> Self {
        Lane(NEXT.fetch_add(1, Ordering::Relaxed) % lanes().len())
    }

    /// Whether the calling thread is this lane's (one of them, for a multi-thread runtime).
    pub fn is_here(self) -> bool {
        ON.get() == Some(self.0 % lanes().len())
    }
}

fn lanes() -> &'static [OnceLock<Result<Handle, String>>] {
    LANES.get_or_init(|| {
        let n = match THREADS.get_or_init(|| None) {
            // One multi-thread runtime serves every lane.
            Some(_) => 1,
            None => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        (0..n).map(|_| OnceLock::new()).collect()
    })
}

/// Ask for one runtime of `n` worker threads instead of the single-thread lanes. Takes effect
/// only before the first client of the process; returns whether it did.
pub fn set_threads(n: usize) -> bool {
    LANES.get().is_none() && THREADS.set(Some(n.max(1))).is_ok()
}

fn start(lane: usize) -> Result<Handle, String> {
    if let Some(Some(n)) = THREADS.get() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(*n)
            .thread_name("llms-client")
            .on_thread_start(move || ON.set(Some(lane)))
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let handle = rt.handle().clone();
        // Kept for the process, like the lanes' threads.
        std::mem::forget(rt);
        return Ok(handle);
    }
    // The runtime is made on its thread, so no runtime is ever dropped where that may not be
    // done (inside another runtime) should the thread not start.
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name(format!("llms-client-{lane}"))
        .spawn(move || {
            ON.set(Some(lane));
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            match rt {
                Ok(rt) => {
                    let _ = tx.send(Ok(rt.handle().clone()));
                    rt.block_on(std::future::pending::<()>());
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        })
        .map_err(|e| e.to_string())?;
    rx.recv()
        .map_err(|_| "the client thread ended before its runtime started".to_owned())?
}

/// Run `f` on `lane`'s thread and wait for it; dropping the returned future cancels `f` there.
/// Where the thread could not be started (reported once in the log), `f` runs where it is
/// awaited.
pub async fn run<F>(lane: Lane, f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let slots = lanes();
    let slot = &slots[lane.0 % slots.len()];
    let handle = match slot.get_or_init(|| start(lane.0)) {
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
    use super::*;

    fn thread() -> Option<String> {
        std::thread::current().name().map(str::to_owned)
    }

    #[tokio::test]
    async fn a_lane_is_one_thread_lanes_differ_and_panics_reach_the_caller() {
        let lane = Lane::next();
        let a = run(lane, async { thread() }).await;
        let b = run(lane, async { thread() }).await;
        assert!(a.as_deref().is_some_and(|n| n.starts_with("llms-client-")));
        assert_eq!(a, b);
        assert!(run(lane, async move { lane.is_here() }).await);
        assert!(!lane.is_here(), "the test's own thread is no lane's");
        if lanes().len() > 1 {
            let other = run(Lane((lane.0 + 1) % lanes().len()), async { thread() }).await;
            assert_ne!(a, other, "the next client reads on another thread");
        }
        let caught = tokio::spawn(run(lane, async { panic!("boom") })).await;
        assert!(caught.is_err_and(|e| e.is_panic()));
    }
}
