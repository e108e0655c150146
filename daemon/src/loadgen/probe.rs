//! Is the client itself the bottleneck? A probe thread outside the runtime hands the runtime a
//! tiny task every few milliseconds and records how long the runtime takes to run it: when the
//! runtime is busy, stream events wait just as long before they are stamped. CPU time of the
//! process is read around each point.

use super::stats::Samples;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Gap between probes.
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// A running scheduling-lag probe; [`LagProbe::finish`] stops it.
pub struct LagProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    samples: Arc<Mutex<Samples>>,
}

impl LagProbe {
    /// Start probing the runtime behind `handle`.
    pub fn start(handle: tokio::runtime::Handle) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Samples::new()));
        let (st, sm) = (stop.clone(), samples.clone());
        let thread = std::thread::Builder::new()
            .name("llms-lag-probe".into())
            .spawn(move || {
                while !st.load(Ordering::Relaxed) {
                    std::thread::sleep(PROBE_EVERY);
                    let t0 = Instant::now();
                    let sm = sm.clone();
                    handle.spawn(async move {
                        let lag = super::client::ns_between(t0, Instant::now());
                        crate::sync::lock(&sm).add(lag);
                    });
                }
            })
            .ok();
        Self {
            stop,
            thread,
            samples,
        }
    }

    /// Stop the probe; returns (p99, max) of the lag in ms.
    pub fn finish(mut self) -> (f64, f64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let s = crate::sync::lock(&self.samples);
        let st = s.stats();
        (st.p99, st.max)
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn probe_records_samples() {
        let p = LagProbe::start(tokio::runtime::Handle::current());
        tokio::time::sleep(Duration::from_millis(60)).await;
        let n = p.samples.lock().map(|s| s.len()).unwrap_or(0);
        let (p99, max) = p.finish();
        assert!(n > 0);
        assert!(p99 <= max);
    }
}
