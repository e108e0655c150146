//! Is the client itself the bottleneck? A probe task on the load generator's own runtime
//! wakes every few milliseconds, yields, and records how long the runtime took to come back to
//! it: a yielded task runs again only after every task that was ready before it and a poll of
//! the network for newly arrived data, so the wait is how long a stream's newly arrived chunk
//! waits to be read and stamped. An idle runtime answers at once; a busy one answers late by
//! as much as its backlog. A task that holds the thread makes the probe's own timer late, and
//! that lateness (past the 2.5 ms its rounding allows) is added. The probe lives in the
//! runtime it measures (no thread of its own, no wake from outside). It looks every 10 ms while
//! it sees a lag and backs off to every 80 ms while the runtime answers at once, so its samples
//! lean to the busy moments. CPU time of the process is read around each point.

use super::stats::Samples;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Gap between probes while the runtime shows a lag, and the longest while it answers at once.
const PROBE_EVERY: Duration = Duration::from_millis(10);
const PROBE_IDLE: Duration = Duration::from_millis(80);
/// A lag under this is "at once": the probe backs off (doubling its gap up to [`PROBE_IDLE`]).
const AT_ONCE_NS: u64 = 100_000;
/// How late tokio's millisecond timer may fire on an idle runtime: its deadline is rounded up to
/// the next millisecond, the wait on the network to another, and then the thread wakes.
const TIMER_SLACK_NS: u64 = 2_500_000;

/// A running scheduling-lag probe; [`LagProbe::finish`] stops it.
pub struct LagProbe {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Samples>,
}

impl LagProbe {
    /// Start probing the runtime this is called on.
    pub fn start() -> Self {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let mut samples = Samples::new();
            let mut gap = PROBE_EVERY;
            loop {
                let due = Instant::now() + gap;
                tokio::select! {
                    biased;
                    _ = &mut stopped => break,
                    () = tokio::time::sleep_until(due.into()) => {}
                }
                // A task that held the thread made the timer late: beyond the timer's own
                // rounding (up to 2.5 ms), that lateness is lag too.
                let t0 = Instant::now();
                let late = super::client::ns_between(due, t0).saturating_sub(TIMER_SLACK_NS);
                tokio::task::yield_now().await;
                let lag = super::client::ns_between(t0, Instant::now()) + late;
                samples.add(lag);
                // Each wake of an idle thread costs it tens of microseconds: while the
                // runtime answers at once, look less often; at the first lag, often again.
                gap = match lag < AT_ONCE_NS {
                    true => (gap * 2).min(PROBE_IDLE),
                    false => PROBE_EVERY,
                };
            }
            samples
        });
        Self {
            stop: Some(stop),
            task,
        }
    }

    /// Stop the probe; returns (p99, max) of the lag in ms.
    pub async fn finish(mut self) -> (f64, f64) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        match (&mut self.task).await {
            Ok(s) => {
                let st = s.stats();
                (st.p99, st.max)
            }
            Err(_) => (0.0, 0.0),
        }
    }
}

impl Drop for LagProbe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// CPU time (user + system) this process has used so far.
pub fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let a = cpu_time();
        let mut x = 0u64;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(cpu_time() > a);
    }

    #[tokio::test]
    async fn the_probe_sees_a_busy_runtime_and_a_stalled_one() {
        let p = LagProbe::start();
        tokio::time::sleep(Duration::from_millis(60)).await;
        let (_, idle_max) = p.finish().await;
        // Every sample is a yield's return, never 0 ns: a reading means the probe sampled.
        assert!(idle_max > 0.0, "the idle probe took no sample");
        // Four tasks that each hold the thread for 3 ms at a time: a yielded probe waits for
        // the others' turns.
        let p = LagProbe::start();
        let busy: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn(async {
                    let end = Instant::now() + Duration::from_millis(80);
                    while Instant::now() < end {
                        let t = Instant::now();
                        while t.elapsed() < Duration::from_millis(3) {}
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for b in busy {
            b.await.unwrap();
        }
        let (_, busy_max) = p.finish().await;
        assert!(
            busy_max >= 3.0,
            "a probe behind 3 ms turns waited {busy_max} ms"
        );
        // One task that holds the thread for 60 ms without yielding: the probe's timer is
        // late by most of that.
        let p = LagProbe::start();
        tokio::time::sleep(Duration::from_millis(15)).await;
        let t = Instant::now();
        while t.elapsed() < Duration::from_millis(60) {}
        tokio::time::sleep(Duration::from_millis(15)).await;
        let (_, stall_max) = p.finish().await;
        assert!(stall_max >= 20.0, "a 60 ms stall read as {stall_max} ms");
    }
}
