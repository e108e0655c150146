//! The reference engine's clock: decides when each request's next token is ready. It runs on a
//! dedicated OS thread (sleeps there are precise to tens of microseconds, unlike the async
//! timer's millisecond wheel) and sends one tick per token to the request's connection task,
//! which writes the chunk and records when it left.
//!
//! Two timing models:
//! - `Fixed`: every request independently gets its first token `ttft` after arrival, then one
//!   every `itl`.
//! - `Batched`: continuous batching. Each step admits waiting requests up to `max_running`,
//!   lasts `decode_ms + per_seq_ms * running + prefill_ms_per_token * new prompt tokens`, and
//!   gives every running request one token. Throughput grows with concurrency and saturates,
//!   like a real engine. Its capacity is known: with no prefill cost, a closed loop of `c`
//!   requests (`c <= max_running`) gets a token every `decode_ms + per_seq_ms * c` (a little
//!   less while a finished request's successor is on its way), and beyond `max_running` the
//!   extra requests wait a whole request's time for their first token.
//!   It may add a ramp: for `ramp` after turning busy from idle (idle for 50 ms at least),
//!   steps cost a factor more, as an engine warming up would.

use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;

/// How token times are decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Perf {
    /// Independent requests with fixed latencies.
    Fixed {
        /// Arrival to first token.
        ttft: Duration,
        /// Between tokens.
        itl: Duration,
    },
    /// A continuous-batching performance model.
    Batched {
        /// Prefill cost per prompt token, ms.
        prefill_ms_per_token: f64,
        /// Fixed cost of a decode step, ms.
        decode_ms: f64,
        /// Extra cost of a decode step per running request, ms.
        per_seq_ms: f64,
        /// Requests decoded together at most; the rest wait.
        max_running: usize,
        /// For this long after turning busy from idle, steps cost this factor more.
        ramp: Option<(Duration, f64)>,
    },
}

/// Live gauges for `/metrics`.
#[derive(Debug, Default)]
pub struct Gauges {
    /// Requests generating.
    pub running: AtomicU64,
    /// Requests waiting for a slot.
    pub waiting: AtomicU64,
    /// Prompt + generated tokens of running requests.
    pub tokens_in_use: AtomicU64,
}

/// A request handed to the clock.
pub struct Job {
    /// Prompt length in tokens (prefill cost).
    pub prompt_tokens: u64,
    /// Tokens to generate.
    pub tokens: u32,
    /// One tick per token; dropped receiver = the request is gone.
    pub ticks: UnboundedSender<()>,
}

/// Handle to the clock thread; dropping every handle stops it.
#[derive(Clone)]
pub struct Clock {
    tx: Sender<Job>,
    /// Live gauges.
    pub gauges: Arc<Gauges>,
}

impl Clock {
    /// Start the clock thread.
    pub fn spawn(perf: Perf) -> std::io::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let gauges = Arc::new(Gauges::default());
        let g = gauges.clone();
        std::thread::Builder::new()
            .name("llms-ref-clock".into())
            .spawn(move || match perf {
                Perf::Fixed { ttft, itl } => fixed(rx, ttft, itl, &g),
                Perf::Batched {
                    prefill_ms_per_token,
                    decode_ms,
                    per_seq_ms,
                    max_running,
                    ramp,
                } => batched(
                    rx,
                    (prefill_ms_per_token, decode_ms, per_seq_ms),
                    max_running.max(1),
                    ramp,
                    &g,
                ),
            })?;
        Ok(Self { tx, gauges })
    }

    /// Queue a request; false if the clock has stopped.
    pub fn submit(&self, job: Job) -> bool {
        self.tx.send(job).is_ok()
    }
}

/// Wait for a new job until `until` (or forever). `Err` = every handle dropped.
fn recv_until(rx: &Receiver<Job>, until: Option<Instant>) -> Result<Option<Job>, ()> {
    match until {
        None => rx.recv().map(Some).map_err(|_| ()),
        Some(t) => match rx.recv_timeout(t.saturating_duration_since(Instant::now())) {
            Ok(j) => Ok(Some(j)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(()),
        },
    }
}

struct Live {
    job: Job,
    left: u32,
    arrived: Instant,
}

/// Deadlines in a min-heap: (due, slot).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due(std::cmp::Reverse<Instant>, usize);

fn fixed(rx: Receiver<Job>, ttft: Duration, itl: Duration, g: &Gauges) {
    let mut slots: Vec<Option<Live>> = Vec::new();
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|d| d.0.0);
        match recv_until(&rx, next) {
            Err(()) => return,
            Ok(Some(job)) => {
                let now = Instant::now();
                let live = Live {
                    left: job.tokens,
                    job,
                    arrived: now,
                };
                let slot = slots.iter().position(Option::is_none).unwrap_or_else(|| {
                    slots.push(None);
                    slots.len() - 1
                });
                slots[slot] = Some(live);
                heap.push(Due(std::cmp::Reverse(now + ttft), slot));
                g.running.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) => {}
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|d| d.0.0 <= now) {
            let Some(Due(_, slot)) = heap.pop() else {
                break;
            };
            let Some(live) = slots[slot].as_mut() else {
                continue;
            };
            live.left -= 1;
            let sent = live.job.ticks.send(()).is_ok();
            if sent && live.left > 0 {
                let i = live.job.tokens - live.left;
                let at = itl
                    .checked_mul(i)
                    .and_then(|d| live.arrived.checked_add(ttft + d))
                    .unwrap_or(now + Duration::from_secs(3600));
                heap.push(Due(std::cmp::Reverse(at), slot));
            } else {
                slots[slot] = None;
                g.running.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

/// How long the batched engine must have been idle for its next request to start a ramp.
const RAMP_AFTER_IDLE: Duration = Duration::from_millis(50);

fn batched(
    rx: Receiver<Job>,
    (prefill, decode, per_seq): (f64, f64, f64),
    max_running: usize,
    ramp: Option<(Duration, f64)>,
    g: &Gauges,
) {
    // Until when steps are slow: set each time the engine turns busy after being idle for
    // a while (not when a closed loop's requests all end at one step and their successors
    // arrive a moment later).
    let mut slow_until: Option<Instant> = None;
    let mut idle_since: Option<Instant> = Some(Instant::now());
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut running: Vec<(Job, u32, u64)> = Vec::new(); // job, tokens left, tokens in use
    // A step lasts at most an hour, however large the prompt.
    let ms = |x: f64| Duration::from_secs_f64((x / 1000.0).clamp(0.0, 3600.0));
    loop {
        if running.is_empty() && waiting.is_empty() {
            let since = *idle_since.get_or_insert_with(Instant::now);
            match recv_until(&rx, None) {
                Ok(Some(j)) => waiting.push_back(j),
                _ => return,
            }
            let now = Instant::now();
            if now.duration_since(since) >= RAMP_AFTER_IDLE {
                slow_until = ramp.map(|(d, _)| now + d);
            }
        }
        idle_since = None;
        while let Ok(j) = rx.try_recv() {
            waiting.push_back(j);
        }
        let mut new_tokens = 0u64;
        while running.len() < max_running {
            let Some(j) = waiting.pop_front() else { break };
            new_tokens += j.prompt_tokens;
            let left = j.tokens;
            let used = j.prompt_tokens;
            running.push((j, left, used));
        }
        publish(g, &running, waiting.len());
        let mut cost = decode + per_seq * running.len() as f64 + prefill * new_tokens as f64;
        if let (Some(until), Some((_, factor))) = (slow_until, ramp)
            && Instant::now() < until
        {
            cost *= factor;
        }
        let step = ms(cost);
        let end = Instant::now() + step;
        // The step "runs": new arrivals queue for the next one.
        loop {
            match recv_until(&rx, Some(end)) {
                Ok(Some(j)) => waiting.push_back(j),
                Ok(None) => break,
                Err(()) => return,
            }
        }
        running.retain_mut(|(job, left, used)| {
            *left = left.saturating_sub(1);
            *used += 1;
            job.ticks.send(()).is_ok() && *left > 0
        });
    }
}

fn publish(g: &Gauges, running: &[(Job, u32, u64)], waiting: usize) {
    g.running.store(running.len() as u64, Ordering::Relaxed);
    g.waiting.store(waiting as u64, Ordering::Relaxed);
    g.tokens_in_use
        .store(running.iter().map(|r| r.2).sum(), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticks_of(clock: &Clock, prompt: u64, n: u32) -> tokio::sync::mpsc::UnboundedReceiver<()> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        assert!(clock.submit(Job {
            prompt_tokens: prompt,
            tokens: n,
            ticks: tx
        }));
        rx
    }

    async fn count(mut rx: tokio::sync::mpsc::UnboundedReceiver<()>) -> u32 {
        let mut n = 0;
        while rx.recv().await.is_some() {
            n += 1;
        }
        n
    }

    #[tokio::test]
    async fn fixed_gives_every_request_its_tokens() {
        let c = Clock::spawn(Perf::Fixed {
            ttft: Duration::from_millis(2),
            itl: Duration::from_micros(300),
        })
        .unwrap();
        let rs: Vec<_> = (1..=5).map(|n| ticks_of(&c, 10, n * 3)).collect();
        let mut got = Vec::new();
        for r in rs {
            got.push(count(r).await);
        }
        assert_eq!(got, vec![3, 6, 9, 12, 15]);
    }

    #[tokio::test]
    async fn batched_gives_every_request_its_tokens_and_respects_max_running() {
        let perf = Perf::Batched {
            prefill_ms_per_token: 0.001,
            decode_ms: 0.2,
            per_seq_ms: 0.01,
            max_running: 2,
            ramp: None,
        };
        let c = Clock::spawn(perf).unwrap();
        let mut rs: Vec<_> = (0..4).map(|_| ticks_of(&c, 100, 8)).collect();
        // Room for two: the third request's first token comes only after the first two have
        // all of theirs. The clock thread sent those before it, so they are already queued.
        assert!(rs[2].recv().await.is_some());
        for early in &mut rs[..2] {
            let mut n = 0;
            while early.try_recv().is_ok() {
                n += 1;
            }
            assert_eq!(n, 8);
        }
        assert_eq!(count(rs.pop().unwrap()).await, 8);
        assert_eq!(count(rs.pop().unwrap()).await, 7); // its first tick was read above
    }

    #[tokio::test]
    async fn a_dropped_receiver_frees_the_slot() {
        let perf = Perf::Batched {
            prefill_ms_per_token: 0.0,
            decode_ms: 0.1,
            per_seq_ms: 0.0,
            max_running: 1,
            ramp: None,
        };
        let c = Clock::spawn(perf).unwrap();
        drop(ticks_of(&c, 1, 1_000_000));
        assert_eq!(count(ticks_of(&c, 1, 3)).await, 3);
    }
}
