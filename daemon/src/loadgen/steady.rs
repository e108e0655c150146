//! A point's steady window and the load it achieved (DESIGN.md section 3, "steady" and
//! "achieved"), from its raw records alone, so either can be recomputed from stored records.
//!
//! A point ramps up at its start (every request of a closed loop starts at once; an open
//! loop's requests in flight build up over about one latency) and drains at its end (once the
//! last request is sent, fewer and fewer run). Both bias a short point: the steady window
//! leaves them out. See [`llms_shared::Steady`] for the rules.

use super::stats::Samples;
use llms_shared::{Achieved, Load, RequestRecord, Steady};

/// How far the achieved load may be from the one asked for before the point is flagged.
pub const LOAD_TOLERANCE: f64 = 0.05;

/// One request's span on the point's clock, ns.
fn span(r: &RequestRecord) -> (u64, u64) {
    (r.start_ns, r.start_ns.saturating_add(r.end_ns))
}

/// Every start (+1) and end (-1) in time order; at one instant, ends before starts (a slot
/// handed on is not two requests at once).
fn events(records: &[RequestRecord]) -> Vec<(u64, i8)> {
    let mut ev: Vec<(u64, i8)> = Vec::with_capacity(records.len() * 2);
    for r in records {
        let (s, e) = span(r);
        ev.push((s, 1));
        ev.push((e.max(s), -1));
    }
    ev.sort_unstable();
    ev
}

/// Requests in flight over time: `(from, to, count)` pieces covering first start to last end.
fn levels(records: &[RequestRecord]) -> Vec<(u64, u64, u64)> {
    let ev = events(records);
    let mut out = Vec::new();
    let mut n: i64 = 0;
    let mut at = ev.first().map_or(0, |e| e.0);
    for (t, d) in ev {
        if t > at && n > 0 {
            out.push((at, t, n as u64));
        }
        at = at.max(t);
        n += i64::from(d);
    }
    out
}

/// When the requests in flight first reached `target`, ns.
fn reached(records: &[RequestRecord], target: u64) -> Option<u64> {
    let mut n: i64 = 0;
    for (t, d) in events(records) {
        n += i64::from(d);
        if n >= target as i64 {
            return Some(t);
        }
    }
    None
}

/// Time-weighted mean of the levels within `[from, to]`.
fn mean_within(levels: &[(u64, u64, u64)], from: u64, to: u64) -> Option<f64> {
    let mut weighted = 0f64;
    for &(a, b, n) in levels {
        let (a, b) = (a.max(from), b.min(to));
        if b > a {
            weighted += (b - a) as f64 * n as f64;
        }
    }
    (to > from).then(|| weighted / (to - from) as f64)
}

/// The steady window of a point at `load`: `None` for batch mode, which has no level to hold.
pub fn steady(load: &Load, records: &[RequestRecord]) -> Option<Steady> {
    if matches!(load, Load::Batch { .. }) || records.is_empty() {
        return None;
    }
    let first = records.iter().map(|r| r.start_ns).min().unwrap_or(0);
    let last_sent = records.iter().map(|r| r.start_ns).max().unwrap_or(0);
    let by_target = match load {
        Load::Concurrency { concurrency } => reached(records, u64::from(*concurrency)),
        _ => None,
    };
    let (rule, open) = match by_target {
        Some(t) => ("in_flight_target", t),
        None => {
            let mut e2e = Samples::new();
            records
                .iter()
                .filter(|r| r.error.is_none())
                .for_each(|r| e2e.add(r.end_ns));
            let median_ns = (e2e.quantile_ms(0.5) * 1e6) as u64;
            ("one_latency", first.saturating_add(median_ns))
        }
    };
    let mut s = Steady {
        rule: rule.into(),
        start_s: open.saturating_sub(first) as f64 / 1e9,
        end_s: last_sent.saturating_sub(first) as f64 / 1e9,
        ..Steady::default()
    };
    if last_sent <= open {
        s.end_s = s.start_s;
        s.note = Some(match rule {
            "in_flight_target" => {
                "no request was sent after the requests in flight reached the target: run more requests per point".into()
            }
            _ => "the point was shorter than one latency: run more requests per point".into(),
        });
        return Some(s);
    }
    s.duration_s = (last_sent - open) as f64 / 1e9;
    let (mut ttft, mut itl, mut tpot, mut e2e) = (
        Samples::new(),
        Samples::new(),
        Samples::new(),
        Samples::new(),
    );
    let (mut tokens, mut finished) = (0f64, 0u64);
    for r in records {
        let (start, end) = span(r);
        // Tokens streamed inside the window, scaled to the server's count where it gave one.
        let streamed: u64 = r.chunks.iter().map(|c| u64::from(c.1)).sum();
        let inside: u64 = r
            .chunks
            .iter()
            .filter(|c| (open..=last_sent).contains(&start.saturating_add(c.0)))
            .map(|c| u64::from(c.1))
            .sum();
        if streamed > 0 {
            let scale = r
                .usage
                .completion_tokens
                .map_or(1.0, |u| u as f64 / streamed as f64);
            tokens += inside as f64 * scale;
        }
        if r.error.is_none() && (open..=last_sent).contains(&end) {
            finished += 1;
        }
        if start <= open || end > last_sent {
            continue;
        }
        if r.error.is_some() {
            s.failed += 1;
            continue;
        }
        s.completed += 1;
        let first_token = r.ttft_ns().unwrap_or(r.end_ns);
        ttft.add(first_token);
        r.gaps_ns().for_each(|g| itl.add(g));
        e2e.add(r.end_ns);
        if let Some(t) = r.tpot_ns() {
            tpot.add(t);
        }
    }
    s.output_tokens = tokens.round() as u64;
    s.output_throughput = tokens / s.duration_s;
    s.request_throughput = finished as f64 / s.duration_s;
    s.ttft_ms = ttft.stats();
    s.itl_ms = itl.stats();
    s.tpot_ms = tpot.stats();
    s.e2e_ms = e2e.stats();
    if s.completed + s.failed == 0 {
        s.note = Some("no request both started and finished inside the window".into());
    }
    Some(s)
}

/// The load a point at `load` achieved, judged against what it asked for where that can be
/// judged: a closed loop's requests in flight over its steady window (not for conversations,
/// whose sessions think between turns with nothing in flight), an open loop's sends per second
/// against its own schedule's.
pub fn achieved(load: &Load, records: &[RequestRecord], steady: Option<&Steady>) -> Achieved {
    let mut a = Achieved::default();
    if records.is_empty() {
        return a;
    }
    let lv = levels(records);
    let first = records.iter().map(|r| r.start_ns).min().unwrap_or(0);
    let last_end = records.iter().map(|r| span(r).1).max().unwrap_or(first);
    a.concurrency_mean = mean_within(&lv, first, last_end).unwrap_or(0.0);
    a.concurrency_max = lv.iter().map(|l| l.2).max().unwrap_or(0);
    // Time-weighted quantiles: the level held at that share of the time (idle time is 0).
    let total = last_end.saturating_sub(first) as f64;
    let mut by_level: Vec<(u64, f64)> = lv.iter().map(|&(x, y, n)| (n, (y - x) as f64)).collect();
    let busy: f64 = by_level.iter().map(|l| l.1).sum();
    by_level.push((0, (total - busy).max(0.0)));
    by_level.sort_unstable_by_key(|l| l.0);
    let quantile = |q: f64| {
        let mut acc = 0.0;
        for &(n, d) in &by_level {
            acc += d;
            if acc >= q * total {
                return n as f64;
            }
        }
        a.concurrency_max as f64
    };
    if total > 0.0 {
        a.concurrency_p50 = quantile(0.5);
        a.concurrency_p90 = quantile(0.9);
    }
    if let Some(s) = steady.filter(|s| s.duration_s > 0.0) {
        let from = first + (s.start_s * 1e9) as u64;
        let to = first + (s.end_s * 1e9) as u64;
        a.concurrency_steady = mean_within(&lv, from, to);
    }
    let per_s = |n: usize, from: u64, to: u64| {
        (n > 1 && to > from).then(|| (n - 1) as f64 / ((to - from) as f64 / 1e9))
    };
    let last_start = records.iter().map(|r| r.start_ns).max().unwrap_or(first);
    a.rate = per_s(records.len(), first, last_start).unwrap_or(0.0);
    let sessions = records.iter().any(|r| r.turn.is_some());
    match load {
        Load::Concurrency { concurrency } => {
            a.target = Some(f64::from(*concurrency));
            if !sessions {
                a.ratio = a.concurrency_steady.map(|c| c / f64::from(*concurrency));
            }
        }
        Load::Rate { .. } | Load::Trace { .. } => {
            if let Load::Rate { rate, .. } = load {
                a.target = Some(*rate);
            }
            let first_due = records.iter().map(|r| r.due_ns).min().unwrap_or(0);
            let last_due = records.iter().map(|r| r.due_ns).max().unwrap_or(0);
            a.rate_scheduled = per_s(records.len(), first_due, last_due);
            a.ratio = a.rate_scheduled.map(|s| a.rate / s);
        }
        Load::Batch { batch } => a.target = Some(f64::from(*batch)),
    }
    a
}

/// Whether the achieved load is off the one asked for by more than [`LOAD_TOLERANCE`].
pub fn off_target(a: &Achieved) -> bool {
    a.ratio.is_some_and(|r| (r - 1.0).abs() > LOAD_TOLERANCE)
}

#[cfg(test)]
#[path = "steady_tests.rs"]
mod tests;
