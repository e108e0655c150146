//! The sampler thread and the state it shares with the handles.
//!
//! The thread owns the source (NVML calls block) and is the only writer of samples. Handles
//! read and register meters under one `std::sync::Mutex`, held only for short copies and
//! never across a sample or an await (mini-redis's reasoning).

use super::source::GpuSource;
use super::summary::PointAcc;
use llms_shared::GpuSample;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

/// Interval while any point meter lives.
pub(super) const POINT_INTERVAL: Duration = Duration::from_millis(100);
/// Interval otherwise.
pub(super) const IDLE_INTERVAL: Duration = Duration::from_secs(1);
/// The ring keeps the rounds of the last minute...
const RING_SPAN: Duration = Duration::from_secs(60);
/// ...and never more rounds than this (a minute at 10 Hz, plus fresh-sample rounds).
pub(super) const RING_MAX_ROUNDS: usize = 700;
/// A meter stores every round up to this many (an hour at 10 Hz), then one round in 10.
/// The figures use every round regardless.
const METER_FULL_ROUNDS: u32 = 36_000;

/// Requests to the sampler thread.
pub(super) enum Cmd {
    /// Sample now (a meter began: its first round).
    Wake,
    /// Sample now and send the round back.
    Round(oneshot::Sender<Vec<GpuSample>>),
    /// Sample now and say when it is recorded (a meter ends; blocking callers).
    RoundDone(SyncSender<()>),
    /// Stop the thread.
    Stop,
}

/// What the thread and the handles share.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Rounds recorded so far.
    pub(super) rounds: watch::Sender<u64>,
}

#[derive(Default)]
pub(super) struct State {
    /// GPUs in the first round (`None` before it).
    pub(super) count: Option<u32>,
    /// The source's driver version.
    pub(super) driver: Option<String>,
    pub(super) latest: Vec<GpuSample>,
    pub(super) ring: VecDeque<Round>,
    pub(super) meters: HashMap<u64, Meter>,
    next_meter: u64,
    /// Idle power measured on purpose ([`super::GpuHandle::idle_baseline`]): used by every
    /// later meter of that GPU, until measured again.
    pub(super) pinned: BTreeMap<u32, f64>,
}

/// One sampling round.
pub(super) struct Round {
    pub(super) n: u64,
    at: Instant,
    pub(super) samples: Vec<GpuSample>,
}

/// A live point's measurement.
pub(super) struct Meter {
    begun: Instant,
    gpus: Option<Vec<u32>>,
    pub(super) pids: BTreeSet<u32>,
    pub(super) acc: PointAcc,
    pub(super) kept: Vec<GpuSample>,
    pub(super) baseline: BTreeMap<u32, f64>,
}

impl Meter {
    fn covers(&self, index: u32) -> bool {
        covers(self.gpus.as_deref(), index)
    }
}

/// Whether a GPU selection (`None`: all GPUs) includes GPU `index`.
pub(super) fn covers(gpus: Option<&[u32]>, index: u32) -> bool {
    gpus.is_none_or(|g| g.contains(&index))
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            state: Mutex::new(State::default()),
            rounds: watch::Sender::new(0),
        }
    }

    /// The state; a panic elsewhere while holding it leaves plain data, still usable.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    fn record(&self, at: Instant, samples: Vec<GpuSample>) -> u64 {
        let mut st = self.lock();
        st.count
            .get_or_insert(u32::try_from(samples.len()).unwrap_or(u32::MAX));
        for m in st.meters.values_mut().filter(|m| m.begun <= at) {
            let mine: Vec<&GpuSample> = samples.iter().filter(|s| m.covers(s.index)).collect();
            m.acc.push_round(mine.iter().copied(), &m.pids);
            if m.acc.rounds() <= METER_FULL_ROUNDS || m.acc.rounds() % 10 == 0 {
                m.kept.extend(mine.into_iter().cloned());
            }
        }
        let n = st.ring.back().map_or(0, |r| r.n) + 1;
        st.latest.clone_from(&samples);
        st.ring.push_back(Round { n, at, samples });
        while st.ring.len() > RING_MAX_ROUNDS
            || st
                .ring
                .front()
                .is_some_and(|r| at.duration_since(r.at) > RING_SPAN)
        {
            st.ring.pop_front();
        }
        n
    }
}

impl State {
    /// Registers a meter; its baseline is each covered GPU's idle power measured on purpose
    /// (none where it was not: no idle share is then reported).
    pub(super) fn add_meter(&mut self, gpus: Option<Vec<u32>>, pids: Vec<u32>) -> u64 {
        let id = self.next_meter;
        self.next_meter += 1;
        let baseline = self
            .pinned
            .iter()
            .filter(|(i, _)| covers(gpus.as_deref(), **i))
            .map(|(&i, &w)| (i, w))
            .collect();
        let meter = Meter {
            begun: Instant::now(),
            gpus,
            pids: pids.into_iter().collect(),
            acc: PointAcc::default(),
            kept: Vec::new(),
            baseline,
        };
        self.meters.insert(id, meter);
        id
    }

    /// Every pid of every live meter.
    fn watched_pids(&self) -> Vec<u32> {
        let pids: BTreeSet<u32> = self
            .meters
            .values()
            .flat_map(|m| m.pids.iter().copied())
            .collect();
        pids.into_iter().collect()
    }
}

/// The thread's body: a first round (then `ready`), then rounds every `POINT_INTERVAL` while a
/// meter lives and every `IDLE_INTERVAL` otherwise, plus one at once for each command.
/// Ends on `Cmd::Stop`, on `cancel`, or when every handle is gone.
pub(super) fn run(
    mut source: Box<dyn GpuSource>,
    shared: Arc<Shared>,
    rx: Receiver<Cmd>,
    cancel: CancellationToken,
    ready: SyncSender<()>,
) {
    let round = |source: &mut Box<dyn GpuSource>| -> (Instant, Vec<GpuSample>) {
        let pids = shared.lock().watched_pids();
        source.watch_pids(&pids);
        let at = Instant::now();
        let samples = source.sample();
        let n = shared.record(at, samples.clone());
        shared.rounds.send_replace(n);
        (at, samples)
    };
    let (mut last, _) = round(&mut source);
    let _ = ready.send(());
    drop(ready);
    while !cancel.is_cancelled() {
        let interval = if shared.lock().meters.is_empty() {
            IDLE_INTERVAL
        } else {
            POINT_INTERVAL
        };
        let wait = (last + interval).saturating_duration_since(Instant::now());
        // The idle wait is cut to check `cancel` now and then when no runtime relays it.
        let cmd = rx.recv_timeout(wait.min(IDLE_INTERVAL));
        match cmd {
            Err(RecvTimeoutError::Timeout) if Instant::now() < last + interval => continue,
            Err(RecvTimeoutError::Timeout) | Ok(Cmd::Wake) => last = round(&mut source).0,
            Ok(Cmd::Round(reply)) => {
                let (at, samples) = round(&mut source);
                last = at;
                let _ = reply.send(samples);
            }
            Ok(Cmd::RoundDone(reply)) => {
                last = round(&mut source).0;
                let _ = reply.send(());
            }
            Ok(Cmd::Stop) | Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    tracing::debug!("GPU sampler stopped");
}
