//! Runs one load point: the warm-up, then the measured requests in closed-loop (`concurrency`),
//! static-batch (`batch`) or open-loop (`rate`) mode, and returns the raw records.

use super::client::{Clock, Prepared, StreamClient};
use super::conversation::{self, Conversation};
use super::probe::{LagProbe, cpu_time};
use super::request::Template;
use super::schedule::{Schedule, ScheduleError};
use llms_shared::{ClientStats, Load, RequestError, RequestRecord};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// One point to run.
#[derive(Debug, Clone)]
pub struct PointSpec {
    /// The load setting.
    pub load: Load,
    /// Stop after this many measured requests...
    pub requests: Option<u64>,
    /// ...or stop starting new ones after this long.
    pub duration: Option<Duration>,
    /// Open loop only: at most this many in flight (arrivals wait; the wait is queue time).
    pub max_concurrency: Option<u32>,
    /// Seed of the arrival schedule.
    pub seed: u64,
}

/// What a point produced.
pub struct PointRun {
    /// Measured requests, in the order they were issued.
    pub records: Vec<RequestRecord>,
    /// Batch mode: each batch's first start to last end, in ns.
    pub batch_ns: Option<Vec<u64>>,
    /// Client-side load during the measured part.
    pub client: ClientStats,
    /// The point's start (the records' time zero) in `CLOCK_MONOTONIC` ns.
    pub epoch_monotonic_ns: u64,
    /// Why the point was cut, when it was.
    pub cut: Option<String>,
    /// Prompts of the run this point used (a conversation reserves every turn of each session
    /// it started, sent or not), for the next point's cursor.
    pub used: u64,
}

/// When the last request of a point had been sent. Every request has a deadline of the
/// client's timeout from its own start, so a point ends at most that long after this moment;
/// requests its timeout ended after it are the ones the point was cut on.
pub(super) struct LastSent {
    clock: Clock,
    /// ns from the point's start; 0 until marked.
    at: AtomicU64,
}

impl LastSent {
    fn new(clock: Clock) -> Self {
        Self {
            clock,
            at: AtomicU64::new(0),
        }
    }

    /// No request starts after now (the first call counts).
    pub(super) fn mark(&self) {
        let now = self.clock.ns(Instant::now()).max(1);
        let _ = self
            .at
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Why the point was cut: requests still running after the last one was sent that were
    /// ended by the `timeout`.
    fn reason(&self, records: &[RequestRecord], timeout: Duration) -> Option<String> {
        let sent_at = self.at.load(Ordering::Relaxed);
        let n = records
            .iter()
            .filter(|r| {
                r.error.as_ref().is_some_and(|e| e.kind == "timeout")
                    && r.start_ns.saturating_add(r.end_ns) >= sent_at
            })
            .count();
        (n > 0).then(|| {
            format!(
                "{n} request(s) still running after the last one was sent were ended by the {:.1} s timeout",
                timeout.as_secs_f64()
            )
        })
    }
}

/// The requests of a run and the client that sends them. Request `i` of a point is number
/// `seq = first_prompt + i` of the run: it uses prompt `seq % len` with the preamble of `seq`,
/// so no two requests of a run share a prompt prefix even when the prompts wrap.
#[derive(Clone)]
pub struct Workload {
    /// The HTTP client.
    pub client: StreamClient,
    /// Request bodies, one per prompt, with a place for the per-request preamble.
    pub prepared: Arc<Vec<Template>>,
    /// The run's preamble salt.
    pub salt: u64,
    /// Prefix of request ids (`{prefix}-{i}`; warm-up requests `{prefix}-w{i}`).
    pub id_prefix: String,
    /// Prompt of request 0: a run moves this on after each warm-up and point, so no point
    /// replays prompts the engine has just cached (until the set runs out and wraps).
    pub first_prompt: u64,
    /// The run's point number: shared prefixes are tagged by it, so no point starts with
    /// another's prefixes cached.
    pub point: u64,
    /// A conversation workload: sessions of turns built as they go, instead of `prepared`
    /// bodies (which then serve warm-ups only).
    pub conversation: Option<Arc<Conversation>>,
    /// A trace's replay: when each of `prepared` is due, from the point's start (`prepared[i]`
    /// is the trace's request `i`).
    pub trace: Option<Arc<Vec<Duration>>>,
}

impl Workload {
    /// Send `prepared[i]` as request `i` of the point (a trace's replay: no cursor).
    pub(super) async fn send_template(&self, i: u64, clock: Clock, due: Instant) -> RequestRecord {
        let id = format!("{}-{i}", self.id_prefix);
        let Some(t) = usize::try_from(i).ok().and_then(|i| self.prepared.get(i)) else {
            return internal(id, "no such request in the trace".into());
        };
        let req = Prepared {
            body: t.body_at(self.salt, i, self.point),
            client_input_tokens: t.client_input_tokens,
            max_tokens: t.max_tokens,
            ..Prepared::default()
        };
        self.client.send(&req, id, clock, due).await
    }

    async fn send(&self, i: u64, id: String, clock: Clock, due: Instant) -> RequestRecord {
        let n = self.prepared.len().max(1) as u64;
        let seq = self.first_prompt.wrapping_add(i);
        let Some(t) = self.prepared.get((seq % n) as usize) else {
            return internal(id, "no prompts".into());
        };
        let req = Prepared {
            body: t.body_at(self.salt, seq, self.point),
            client_input_tokens: t.client_input_tokens,
            max_tokens: t.max_tokens,
            ..Prepared::default()
        };
        let mut rec = self.client.send(&req, id, clock, due).await;
        rec.group = t.group();
        rec
    }
}

pub(super) fn internal(id: String, message: String) -> RequestRecord {
    RequestRecord {
        id,
        error: Some(RequestError {
            kind: "internal".into(),
            message,
        }),
        ..Default::default()
    }
}

/// Run the measured part of one point on its client's thread of the load generator
/// ([`super::rt`]).
pub async fn run_point(w: &Workload, spec: &PointSpec) -> Result<PointRun, ScheduleError> {
    let (w, spec) = (w.clone(), spec.clone());
    super::rt::run(
        w.client.lane(),
        async move { run_point_here(&w, &spec).await },
    )
    .await
}

async fn run_point_here(w: &Workload, spec: &PointSpec) -> Result<PointRun, ScheduleError> {
    let schedule = match &spec.load {
        Load::Rate {
            rate,
            arrival,
            burstiness,
        } => Some(Schedule::new(
            *rate,
            *arrival,
            burstiness.unwrap_or(1.0),
            spec.seed,
        )?),
        _ => None,
    };
    let probe = LagProbe::start();
    let cpu0 = cpu_time();
    let (clock, epoch_monotonic_ns) = Clock::start();
    let last = Arc::new(LastSent::new(clock));
    let (records, batch_ns, used) = match (&spec.load, schedule, &w.conversation) {
        (Load::Concurrency { concurrency }, _, Some(c)) => {
            let (r, s) = conversation::closed_loop(w, c, spec, clock, *concurrency, &last).await;
            (r, None, s * u64::from(c.turns))
        }
        (Load::Rate { .. }, Some(sch), Some(c)) => {
            let (r, s) = conversation::open_loop(w, c, spec, clock, sch, &last).await;
            (r, None, s * u64::from(c.turns))
        }
        (Load::Concurrency { concurrency }, _, None) => {
            let r = closed_loop(w, spec, clock, *concurrency, &last).await;
            let n = r.len() as u64;
            (r, None, n)
        }
        (Load::Batch { batch }, _, None) => {
            let (r, b) = batches(w, spec, clock, *batch, &last).await;
            let n = r.len() as u64;
            (r, Some(b), n)
        }
        (Load::Rate { .. }, Some(s), None) => {
            let r = open_loop(w, spec, clock, s, &last).await;
            let n = r.len() as u64;
            (r, None, n)
        }
        (Load::Batch { .. }, _, Some(_)) => {
            let why = "a conversation does not run in batch mode".to_owned();
            (vec![internal(String::new(), why)], None, 0)
        }
        (Load::Trace { speed }, _, _) => match &w.trace {
            Some(offsets) => {
                let r = super::trace::replay(w, offsets, spec, clock, *speed, &last).await;
                let n = r.len() as u64;
                (r, None, n)
            }
            None => {
                let why = "a speed is for replaying a trace; this run has none".to_owned();
                (vec![internal(String::new(), why)], None, 0)
            }
        },
        (Load::Rate { .. }, None, _) => (Vec::new(), None, 0),
    };
    let cut = last.reason(&records, w.client.timeout());
    let cpu_s = (cpu_time().saturating_sub(cpu0)).as_secs_f64();
    let (lag_p99_ms, lag_max_ms) = probe.finish().await;
    let threads =
        u32::try_from(tokio::runtime::Handle::current().metrics().num_workers()).unwrap_or(1);
    Ok(PointRun {
        records,
        batch_ns,
        client: ClientStats {
            cpu_s,
            threads,
            lag_p99_ms,
            lag_max_ms,
        },
        epoch_monotonic_ns,
        cut,
        used,
    })
}

/// Warm-up: send `n` requests at once and wait for them (each on the client's lane, where
/// the connections they open are pooled: [`StreamClient::send`]); returns how many failed.
/// Not measured.
pub async fn warmup(w: &Workload, n: u32) -> u32 {
    let clock = Clock {
        epoch: Instant::now(),
    };
    let mut set = JoinSet::new();
    for i in 0..n {
        let w = w.clone();
        set.spawn(async move {
            let id = format!("{}-w{i}", w.id_prefix);
            w.send(u64::from(i), id, clock, Instant::now())
                .await
                .error
                .is_some()
        });
    }
    let mut failed = 0;
    while let Some(r) = set.join_next().await {
        failed += u32::from(r.unwrap_or(true));
    }
    failed
}

fn past(spec: &PointSpec, clock: Clock, issued: u64) -> bool {
    spec.requests.is_some_and(|r| issued >= r)
        || spec.duration.is_some_and(|d| clock.epoch.elapsed() >= d)
}

/// `n` workers; each sends its next request as soon as its previous one ends.
async fn closed_loop(
    w: &Workload,
    spec: &PointSpec,
    clock: Clock,
    n: u32,
    last: &Arc<LastSent>,
) -> Vec<RequestRecord> {
    let next = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (w, spec, next) = (w.clone(), spec.clone(), next.clone());
        let last = last.clone();
        set.spawn(async move {
            let mut out = Vec::new();
            let mut due = clock.epoch;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if past(&spec, clock, i) {
                    // No request starts after this: every one has been sent.
                    last.mark();
                    break;
                }
                let id = format!("{}-{i}", w.id_prefix);
                out.push((i, w.send(i, id, clock, due).await));
                due = Instant::now();
            }
            out
        });
    }
    collect(set).await
}

/// Batches of `n` sent at once; the next batch starts when the whole batch has ended.
async fn batches(
    w: &Workload,
    spec: &PointSpec,
    clock: Clock,
    n: u32,
    last: &LastSent,
) -> (Vec<RequestRecord>, Vec<u64>) {
    let mut records = Vec::new();
    let mut batch_ns = Vec::new();
    let mut issued = 0u64;
    while !past(spec, clock, issued) {
        let due = Instant::now();
        let mut set = JoinSet::new();
        for _ in 0..n {
            let (w, i) = (w.clone(), issued);
            issued += 1;
            set.spawn(async move {
                (
                    i,
                    w.send(i, format!("{}-{i}", w.id_prefix), clock, due).await,
                )
            });
        }
        if past(spec, clock, issued) {
            last.mark();
        }
        let mut batch: Vec<(u64, RequestRecord)> = Vec::new();
        while let Some(r) = set.join_next().await {
            batch.push(r.unwrap_or_else(|e| (u64::MAX, internal(String::new(), e.to_string()))));
        }
        let first = batch.iter().map(|(_, r)| r.start_ns).min().unwrap_or(0);
        let last = batch
            .iter()
            .map(|(_, r)| r.start_ns + r.end_ns)
            .max()
            .unwrap_or(0);
        batch_ns.push(last.saturating_sub(first));
        batch.sort_by_key(|(i, _)| *i);
        records.extend(batch.into_iter().map(|(_, r)| r));
    }
    (records, batch_ns)
}

/// Arrivals `(index, due)` at `epoch` plus each of `offsets`, in order, until `limit` of them
/// or the first at or past `duration`. They are paced by a plain thread: its sleeps are
/// precise to tens of microseconds, where the async timer rounds up to whole milliseconds.
/// Lateness still shows as queue time.
pub(super) fn pace(
    offsets: impl Iterator<Item = Duration> + Send + 'static,
    limit: Option<u64>,
    duration: Option<Duration>,
    epoch: Instant,
) -> Result<tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>, String> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<(u64, Instant)>();
    std::thread::Builder::new()
        .name("llms-arrivals".into())
        .spawn(move || {
            for (i, offset) in (0u64..).zip(offsets) {
                if limit.is_some_and(|r| i >= r) || duration.is_some_and(|d| offset >= d) {
                    break;
                }
                let Some(due) = epoch.checked_add(offset) else {
                    break;
                };
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                if tx.send((i, due)).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| format!("cannot start the arrival thread: {e}"))?;
    Ok(rx)
}

/// Requests start at their scheduled arrival, however many are in flight (up to
/// `max_concurrency`, when given).
async fn open_loop(
    w: &Workload,
    spec: &PointSpec,
    clock: Clock,
    schedule: Schedule,
    last: &LastSent,
) -> Vec<RequestRecord> {
    let due_rx = match pace(schedule, spec.requests, spec.duration, clock.epoch) {
        Ok(rx) => rx,
        Err(why) => return vec![internal(String::new(), why)],
    };
    arrivals(due_rx, spec, last, |i, due| {
        let w = w.clone();
        async move {
            vec![(
                i,
                w.send(i, format!("{}-{i}", w.id_prefix), clock, due).await,
            )]
        }
    })
    .await
    .0
}

/// Run `job(i, due)` for each arrival, however many are in flight (up to `max_concurrency`,
/// when given); then no request starts. Returns the records in order, and the arrivals.
pub(super) async fn arrivals<F, Fut>(
    mut due_rx: tokio::sync::mpsc::UnboundedReceiver<(u64, Instant)>,
    spec: &PointSpec,
    last: &LastSent,
    job: F,
) -> (Vec<RequestRecord>, u64)
where
    F: Fn(u64, Instant) -> Fut,
    Fut: std::future::Future<Output = Vec<(u64, RequestRecord)>> + Send + 'static,
{
    let limit = spec
        .max_concurrency
        .map(|m| Arc::new(Semaphore::new(m as usize)));
    let mut set = JoinSet::new();
    let mut arrived = 0;
    while let Some((i, due)) = due_rx.recv().await {
        arrived += 1;
        let permit = match &limit {
            Some(s) => s.clone().acquire_owned().await.ok(),
            None => None,
        };
        let run = job(i, due);
        set.spawn(async move {
            let r = run.await;
            drop(permit);
            r
        });
    }
    last.mark();
    (collect(set).await, arrived)
}

pub(super) async fn collect(mut set: JoinSet<Vec<(u64, RequestRecord)>>) -> Vec<RequestRecord> {
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        match r {
            Ok(v) => all.extend(v),
            Err(e) => all.push((u64::MAX, internal(String::new(), e.to_string()))),
        }
    }
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}
