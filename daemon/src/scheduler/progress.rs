//! A running point's live figures, about once a second: what the dashboard shows and what is
//! stored with the point as its progress samples.

use crate::loadgen::live::LiveSnapshot;
use llms_shared::{LivePoint, PointPlan};
use std::time::Instant;

/// One point's progress publisher.
pub(super) struct Progress {
    job: u64,
    plan: PointPlan,
    /// What the point will send, where that is a number.
    requests_total: Option<u64>,
    /// Output tokens at the last tick, and when.
    last: (u64, Instant),
    /// The first tick of the measured part.
    started: Option<Instant>,
}

impl Progress {
    /// For point `plan` of `job`, which sends `requests_total` measured requests.
    pub fn new(job: u64, plan: &PointPlan, requests_total: Option<u64>) -> Self {
        Self {
            job,
            plan: plan.clone(),
            requests_total,
            last: (0, Instant::now()),
            started: None,
        }
    }

    /// The figures at this tick of the measured part: elapsed time from its first tick, and
    /// the token rate since the tick before.
    pub fn tick(&mut self, snap: LiveSnapshot) -> LivePoint {
        let now = Instant::now();
        let t0 = *self.started.get_or_insert(now);
        let dt = now.duration_since(self.last.1).as_secs_f64().max(1e-3);
        let rate = snap.tokens.saturating_sub(self.last.0) as f64 / dt;
        self.last = (snap.tokens, now);
        LivePoint {
            job: self.job,
            index: self.plan.index,
            engine: self.plan.engine.clone(),
            load: Some(self.plan.load.clone()),
            elapsed_s: now.duration_since(t0).as_secs_f64(),
            requests_done: snap.done,
            requests_total: self.requests_total,
            failed: snap.failed,
            in_flight: snap.in_flight,
            output_tokens: snap.tokens,
            tokens_per_s: rate,
            ttft_ms: snap.ttft_ms,
            itl_ms: snap.itl_ms,
            prompt_tokens: snap.prompt_tokens,
            cached_tokens: snap.cached_tokens,
        }
    }
}
