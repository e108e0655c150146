//! Capacity search: the highest load at which a server meets every objective of a
//! [`SearchDef`]. Pure: the next load follows from the probes run so far, so a search that
//! was interrupted resumes from its stored probes exactly where it stood.
//!
//! 1. Probe `min`. If it fails, the capacity is 0.
//! 2. Up: each next load is a multiple of the last that passed: 4x after the first, then
//!    aimed a fifth past where the objective nearest its limit would reach it, extrapolated
//!    from the last two passes (between 2x and 8x), up to `max`.
//! 3. Once a load fails, narrow the bracket between the highest pass and the lowest fail by
//!    ITP (interpolate, truncate, project: Oliveira and Takahashi, 2020) on the log of that
//!    objective's share of its limit: it lands near the limit when the figure grows smoothly
//!    with load and never needs more than one step beyond plain bisection when it jumps.
//! 4. When the bracket is one resolution wide, run the highest pass again. If it fails
//!    again, it counts as failed and the search goes on below it, in a new bracket (ITP's
//!    budget starts again there).

use llms_shared::{
    Load, Objective, PointResult, ProbeReport, SearchDef, SearchOver, SearchReport, SearchRole,
};
use std::collections::BTreeMap;

/// Most points one search runs (probes and confirmations); it stops there with what it has.
pub const MAX_RUNS: usize = 24;
/// Most confirmation runs.
const MAX_CONFIRMS: usize = 3;
/// ITP's truncation constant, as a share of the current bracket's width when it was set.
const KAPPA1: f64 = 0.1;
/// ITP's slack over bisection, in steps.
const N0: f64 = 1.0;

/// What to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Run a point at this value of the searched load.
    Run(f64, SearchRole),
    /// The search is over.
    Done(SearchReport),
}

/// Judge one point against the objectives: `point` is its figures, or why it has none.
pub fn judge(
    def: &SearchDef,
    load: Load,
    role: SearchRole,
    point: Result<&PointResult, &str>,
) -> ProbeReport {
    let mut r = ProbeReport {
        load,
        role,
        pass: false,
        values: BTreeMap::new(),
        failed: Vec::new(),
        error: None,
    };
    let p = match point {
        Ok(p) => p,
        Err(why) => {
            r.failed.push("point".into());
            r.error = Some(why.to_owned());
            return r;
        }
    };
    for (key, o, limit) in def.objectives().unwrap_or_default() {
        // No request finished: there is no latency to judge, and the error rate says why.
        let v = match (o, p.completed) {
            (Objective::Latency { .. }, 0) => continue,
            _ => o.value(p),
        };
        if v > limit {
            r.failed.push(key.clone());
        }
        r.values.insert(key, v);
    }
    if p.completed == 0 && !r.failed.iter().any(|f| f == "error_rate") {
        r.failed.push("error_rate".into());
    }
    r.pass = r.failed.is_empty();
    r
}

/// The share of its limit that the objective nearest its limit reached (latencies first:
/// they grow smoothly with load; the error rate only when no latency is an objective).
fn score(def: &SearchDef, p: &ProbeReport) -> Option<f64> {
    let objs = def.objectives().ok()?;
    let ratio = |lat: bool| {
        objs.iter()
            .filter(|(_, o, _)| matches!(o, Objective::Latency { .. }) == lat)
            .filter_map(|(k, _, limit)| Some(p.values.get(k)? / limit.max(1e-9)))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
    };
    ratio(true).or_else(|| ratio(false))
}

/// The grid of loads: `min`, `min + resolution`, ..., never above `max`.
fn snap(def: &SearchDef, x: f64) -> f64 {
    let res = def.resolution();
    let k = ((x - def.min) / res).round();
    (def.min + k * res).clamp(def.min, def.max)
}

/// Where a search stands: every value run, whether all its runs passed.
struct State {
    /// (value, passed every run, the last run's report) by value.
    by_value: Vec<(f64, bool, ProbeReport)>,
    /// Lowest value that failed.
    fail: Option<f64>,
    /// Highest value below `fail` that passed.
    pass: Option<f64>,
}

fn state(def: &SearchDef, probes: &[ProbeReport]) -> State {
    let mut by_value: Vec<(f64, bool, ProbeReport)> = Vec::new();
    for p in probes {
        let Some(v) = def.value_of(&p.load) else {
            continue;
        };
        match by_value.iter_mut().find(|e| e.0 == v) {
            Some(e) => {
                e.1 &= p.pass;
                e.2 = p.clone();
            }
            None => by_value.push((v, p.pass, p.clone())),
        }
    }
    by_value.sort_by(|a, b| a.0.total_cmp(&b.0));
    let fail = by_value.iter().find(|e| !e.1).map(|e| e.0);
    let pass = by_value
        .iter()
        .filter(|e| e.1 && fail.is_none_or(|f| e.0 < f))
        .map(|e| e.0)
        .next_back();
    State {
        by_value,
        fail,
        pass,
    }
}

/// What to run next after `probes` (in the order they ran); `unit` names the load in the
/// verdict (`in flight`, `sessions`, `requests/s`).
pub fn next(def: &SearchDef, probes: &[ProbeReport], unit: &str) -> Next {
    if probes.is_empty() {
        return Next::Run(def.min, SearchRole::Probe);
    }
    if let Some(bad) = probes.iter().find(|p| p.error.is_some()) {
        return Next::Done(report(def, probes, None, unit, Some(bad)));
    }
    let st = state(def, probes);
    let res = def.resolution();
    let Some(lo) = st.pass else {
        // Even the lowest load failed (or its confirmation did).
        return Next::Done(report(def, probes, Some(0.0), unit, None));
    };
    let confirms = probes
        .iter()
        .filter(|p| p.role == SearchRole::Confirm)
        .count();
    if probes.len() >= MAX_RUNS || confirms >= MAX_CONFIRMS {
        return Next::Done(report(def, probes, Some(lo), unit, None));
    }
    let narrow = match st.fail {
        None => lo >= def.max,
        Some(hi) => hi - lo <= res * (1.0 + 1e-9),
    };
    if narrow {
        let confirmed = probes
            .iter()
            .any(|p| p.role == SearchRole::Confirm && def.value_of(&p.load) == Some(lo));
        return match confirmed {
            true => Next::Done(report(def, probes, Some(lo), unit, None)),
            false => Next::Run(lo, SearchRole::Confirm),
        };
    }
    let x = match st.fail {
        None => up(def, &st, lo),
        Some(hi) => itp(def, probes, &st, lo, hi),
    };
    Next::Run(x, SearchRole::Probe)
}

/// The next load up from `lo`, the highest so far, all passed.
fn up(def: &SearchDef, st: &State, lo: f64) -> f64 {
    let passes: Vec<(f64, f64)> = st
        .by_value
        .iter()
        .filter_map(|e| Some((e.0, score(def, &e.2)?)))
        .collect();
    let factor = match passes.as_slice() {
        [.., (v1, s1), (v2, s2)] if s2 > s1 && *s2 > 0.0 => {
            let crossing = v2 + (1.0 - s2) * (v2 - v1) / (s2 - s1);
            (1.2 * crossing / v2).clamp(2.0, 8.0)
        }
        [.., _, _] => 8.0,
        _ => 4.0,
    };
    let x = snap(def, (lo * factor).min(def.max));
    x.max((lo + def.resolution()).min(def.max))
}

/// The next load inside the bracket `(lo, hi)` by ITP on `ln(score)`.
fn itp(def: &SearchDef, probes: &[ProbeReport], st: &State, lo: f64, hi: f64) -> f64 {
    let res = def.resolution();
    let eps = res / 2.0;
    let mid = snap(def, (lo + hi) / 2.0);
    let inside = |x: f64| snap(def, x).clamp(lo + res, hi - res);
    let f = |v: f64| {
        let e = st.by_value.iter().find(|e| e.0 == v)?;
        Some(score(def, &e.2)?.max(1e-6).ln())
    };
    let (Some(ya), Some(yb)) = (f(lo), f(hi)) else {
        return inside(mid);
    };
    // A fail by error rate alone, or figures that do not cross the limit between the two:
    // nothing to interpolate, bisect.
    if !(ya < 0.0 && yb > 0.0) {
        return inside(mid);
    }
    // The bracket as it was when it was set, and the steps taken inside it since: set when the
    // first load failed, and again by each failed confirmation (its top drops to the old
    // bottom, its bottom to an earlier pass: a new bracket, with a budget of its own).
    let first_fail = probes.iter().position(|p| !p.pass).unwrap_or(0);
    // (A failed confirmation is a failure: never before the first.)
    let set = probes
        .iter()
        .rposition(|p| p.role == SearchRole::Confirm && !p.pass)
        .unwrap_or(first_fail);
    let before = state(def, &probes[..set + 1]);
    let (a0, b0) = (before.pass.unwrap_or(def.min), before.fail.unwrap_or(hi));
    let j = probes[set + 1..]
        .iter()
        .filter(|p| p.role == SearchRole::Probe)
        .count() as f64;
    let width0 = (b0 - a0).max(res);
    let n_half = (width0 / (2.0 * eps)).log2().ceil().max(0.0);
    let n_max = n_half + N0;
    let (a, b) = (lo, hi);
    let x_half = (a + b) / 2.0;
    let r = (eps * 2f64.powf(n_max - j) - (b - a) / 2.0).max(0.0);
    let delta = KAPPA1 / width0 * (b - a).powi(2);
    let x_f = (yb * a - ya * b) / (yb - ya);
    let sigma = (x_half - x_f).signum();
    let x_t = if delta <= (x_half - x_f).abs() {
        x_f + sigma * delta
    } else {
        x_half
    };
    let x = if (x_t - x_half).abs() <= r {
        x_t
    } else {
        x_half - sigma * r
    };
    inside(x)
}

/// How a load reads in a sentence: `24 in flight`, `3.5 requests/s`.
fn amount(def: &SearchDef, v: f64, unit: &str) -> String {
    match def.over {
        SearchOver::Concurrency => format!("{v:.0} {unit}"),
        SearchOver::Rate => format!("{} {unit}", trim(v)),
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The objective a failed probe broke worst, with its figure and limit.
fn worst(def: &SearchDef, p: &ProbeReport) -> Option<(String, f64, f64)> {
    let limits: BTreeMap<String, f64> = def
        .objectives()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, _, l)| (k, l))
        .collect();
    p.failed
        .iter()
        .filter_map(|k| Some((k.clone(), *p.values.get(k)?, *limits.get(k)?)))
        .max_by(|a, b| (a.1 / a.2.max(1e-9)).total_cmp(&(b.1 / b.2.max(1e-9))))
}

/// `TPOT p99 41.2 ms > 40`, `error rate 0.05 > 0.01`.
fn broke(key: &str, value: f64, limit: f64) -> String {
    match Objective::parse(key) {
        Ok(o @ Objective::Latency { .. }) => {
            format!("{} {value:.1} ms > {}", o.label(), trim(limit))
        }
        _ => format!("error rate {} > {}", trim(value), trim(limit)),
    }
}

fn report(
    def: &SearchDef,
    probes: &[ProbeReport],
    capacity: Option<f64>,
    unit: &str,
    bad: Option<&ProbeReport>,
) -> SearchReport {
    let st = state(def, probes);
    let objectives = def.objectives().unwrap_or_default();
    let slo = objectives.iter().map(|(k, _, l)| (k.clone(), *l)).collect();
    let confirmed = capacity.is_some_and(|c| {
        c > 0.0
            && probes.iter().any(|p| {
                p.role == SearchRole::Confirm && p.pass && def.value_of(&p.load) == Some(c)
            })
    });
    // The lowest failing load, and what it broke worst.
    let failing = st
        .fail
        .and_then(|f| st.by_value.iter().find(|e| e.0 == f))
        .and_then(|e| {
            // The run that failed at that load (a confirmation may have been the one).
            let failed_run = probes
                .iter()
                .rev()
                .find(|p| !p.pass && def.value_of(&p.load) == Some(e.0))?;
            Some((e.0, worst(def, failed_run)))
        });
    let (limited_by, verdict) = match (capacity, bad) {
        (_, Some(b)) => (
            None,
            format!(
                "no capacity: the point at {} produced no figures ({})",
                b.load,
                b.error.as_deref().unwrap_or("unknown")
            ),
        ),
        (None, None) => (None, "no capacity: the search did not finish".into()),
        (Some(c), None) => match failing {
            None => (
                Some("max".to_owned()),
                format!(
                    "capacity at least {}: every load up to the search's max met the objectives",
                    amount(def, c, unit)
                ),
            ),
            Some((f, w)) => {
                let (key, why) = match &w {
                    Some((k, v, l)) => (k.clone(), broke(k, *v, *l)),
                    None => ("error_rate".to_owned(), "no request completed".to_owned()),
                };
                let label = Objective::parse(&key).map_or(key.clone(), |o| o.label());
                let head = match c > 0.0 {
                    true => format!("capacity {}: {label} bound", amount(def, c, unit)),
                    false => format!(
                        "capacity 0: the objectives were not met even at {}",
                        amount(def, def.min, unit)
                    ),
                };
                let mut v = format!("{head}; {} failed {why}", trim(f));
                if c > 0.0 && !confirmed {
                    v.push_str(" (not confirmed: the search stopped before a confirmation passed)");
                }
                (Some(key), v)
            }
        },
    };
    SearchReport {
        over: def.over,
        slo,
        min: def.min,
        max: def.max,
        resolution: def.resolution(),
        capacity,
        limited_by,
        confirmed,
        verdict,
        probes: probes.to_vec(),
    }
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
