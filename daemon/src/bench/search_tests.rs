use super::*;
use llms_shared::LatencyStats;

fn def(min: f64, max: f64, slo: &[(&str, f64)]) -> SearchDef {
    SearchDef {
        over: SearchOver::Concurrency,
        min,
        max,
        resolution: None,
        slo: slo.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
    }
}

/// A point whose TPOT and TTFT (every statistic alike) are `tpot` and `ttft` ms.
fn point(load: Load, tpot: f64, ttft: f64) -> PointResult {
    let mut p = PointResult::empty(load);
    p.completed = 64;
    let lat = |v: f64| LatencyStats {
        count: 64,
        mean: v,
        p50: v,
        p90: v,
        p95: v,
        p99: v,
        max: v,
    };
    p.tpot_ms = lat(tpot);
    p.ttft_ms = lat(ttft);
    p
}

/// Run a search against a server whose figures at each load `model` gives (the `nth` run
/// as the second argument); the report and the loads run, in order.
fn search(
    d: &SearchDef,
    mut model: impl FnMut(f64, usize) -> (f64, f64),
) -> (SearchReport, Vec<f64>) {
    let mut probes: Vec<ProbeReport> = Vec::new();
    loop {
        match next(d, &probes, "in flight") {
            Next::Done(r) => {
                let loads = probes.iter().filter_map(|p| d.value_of(&p.load)).collect();
                return (r, loads);
            }
            Next::Run(v, role) => {
                let load = d.load(v, llms_shared::Arrival::Poisson, None);
                let (tpot, ttft) = model(v, probes.len());
                let p = point(load.clone(), tpot, ttft);
                probes.push(judge(d, load, role, Ok(&p)));
            }
        }
    }
}

/// TPOT grows by 2 ms per request in flight from 2 ms: at 10 it is 22 ms, at 11 24 ms, so
/// under a 23 ms bound the capacity is 10. Found, confirmed, and said so.
#[test]
fn a_smooth_bound_is_found_and_confirmed() {
    let d = def(1.0, 256.0, &[("tpot_p99", 23.0)]);
    let (r, loads) = search(&d, |c, _| (2.0 + 2.0 * c, 1.0));
    assert_eq!(r.capacity, Some(10.0));
    assert_eq!(r.limited_by.as_deref(), Some("tpot_p99"));
    assert!(r.confirmed);
    assert_eq!(
        r.verdict,
        "capacity 10 in flight: TPOT p99 bound; 11 failed TPOT p99 24.0 ms > 23"
    );
    // The loads tried, the confirmation last.
    assert_eq!(loads.last(), Some(&10.0));
    assert!(loads.len() <= 7, "{loads:?}");
    assert_eq!(r.probes.len(), loads.len());
    assert_eq!(r.slo.get("error_rate"), Some(&0.01));
}

/// Every capacity in 1..255 of the range 1..256 at resolution 1, for a figure that grows
/// smoothly with load and for one that jumps (TTFT once requests queue beyond the batch):
/// found exactly, in at most 8 probes plus the confirmation when smooth, and at most 13 when
/// the figure jumps (nothing to interpolate: geometric steps, then bisection).
#[test]
fn every_capacity_of_a_wide_range_is_found_in_few_probes() {
    let d = def(1.0, 256.0, &[("tpot_p99", 100.0), ("ttft_p99", 500.0)]);
    let (mut smooth_most, mut jump_most) = (0, 0);
    for k in 1..=255u32 {
        let k = f64::from(k);
        // Smooth: TPOT reaches 100 ms half-way between k and k + 1.
        let slope = 90.0 / (k + 0.5);
        let (r, loads) = search(&d, |c, _| (10.0 + slope * c, 50.0));
        assert_eq!(r.capacity, Some(k), "smooth {k}: {loads:?}");
        smooth_most = smooth_most.max(loads.len());
        // Jump: TTFT is flat until k, then ten times the bound.
        let (r, loads) = search(&d, |c, _| (20.0, if c <= k { 100.0 } else { 5000.0 }));
        assert_eq!(r.capacity, Some(k), "jump {k}: {loads:?}");
        assert_eq!(r.limited_by.as_deref(), Some("ttft_p99"));
        jump_most = jump_most.max(loads.len());
    }
    // Runs, the confirmation included (measured: 9 and 14).
    assert!(smooth_most <= 9, "smooth: {smooth_most} runs");
    assert!(jump_most <= 14, "jump: {jump_most} runs");
}

#[test]
fn objectives_missed_at_the_lowest_load_give_capacity_zero() {
    let d = def(1.0, 64.0, &[("tpot_p99", 3.0)]);
    let (r, loads) = search(&d, |c, _| (2.0 + 2.0 * c, 1.0));
    assert_eq!((r.capacity, loads), (Some(0.0), vec![1.0]));
    assert!(!r.confirmed);
    assert_eq!(
        r.verdict,
        "capacity 0: the objectives were not met even at 1 in flight; 1 failed TPOT p99 4.0 ms > 3"
    );
}

#[test]
fn a_range_that_never_fails_ends_at_its_max() {
    let d = def(2.0, 20.0, &[("tpot_p99", 1000.0)]);
    let (r, loads) = search(&d, |c, _| (c, 1.0));
    assert_eq!(r.capacity, Some(20.0));
    assert_eq!(r.limited_by.as_deref(), Some("max"));
    assert!(r.confirmed);
    assert_eq!(loads, [2.0, 8.0, 20.0, 20.0]);
}

/// The answer passed once and failed its confirmation: it counts as failed, and the search
/// goes on below it.
#[test]
fn a_failed_confirmation_moves_the_answer_down() {
    let d = def(1.0, 64.0, &[("tpot_p99", 23.0)]);
    let mut flaky_once = true;
    let (r, loads) = search(&d, |c, _| {
        let bump = if c == 10.0 && !flaky_once { 5.0 } else { 0.0 };
        if c == 10.0 {
            flaky_once = false;
        }
        (2.0 + 2.0 * c + bump, 1.0)
    });
    assert_eq!(r.capacity, Some(9.0), "{loads:?}");
    assert!(r.confirmed);
    assert_eq!(loads.iter().filter(|&&c| c == 10.0).count(), 2);
}

/// A point with no figures (the engine died) ends the search without an answer.
#[test]
fn a_point_without_figures_ends_the_search() {
    let d = def(1.0, 64.0, &[("ttft_p99", 100.0)]);
    let load = Load::Concurrency { concurrency: 1 };
    let probes = vec![judge(&d, load, SearchRole::Probe, Err("engine exited"))];
    let Next::Done(r) = next(&d, &probes, "in flight") else {
        panic!("not done");
    };
    assert_eq!(r.capacity, None);
    assert!(r.verdict.contains("engine exited"), "{}", r.verdict);
    assert_eq!(r.probes[0].failed, ["point"]);
}

/// A search is a function of its stored probes: cut anywhere and resumed, it runs the same
/// loads and reaches the same report.
#[test]
fn a_resumed_search_goes_on_exactly_where_it_stood() {
    let d = def(1.0, 128.0, &[("tpot_p99", 50.0)]);
    let model = |c: f64, _| (5.0 + 0.7 * c, 1.0);
    let (whole, loads) = search(&d, model);
    for cut in 1..whole.probes.len() {
        let mut probes = whole.probes[..cut].to_vec();
        loop {
            match next(&d, &probes, "in flight") {
                Next::Done(r) => {
                    assert_eq!(r, whole, "cut at {cut}");
                    break;
                }
                Next::Run(v, role) => {
                    assert_eq!(v, loads[probes.len()]);
                    let load = d.load(v, llms_shared::Arrival::Poisson, None);
                    let (tpot, ttft) = model(v, 0);
                    probes.push(judge(&d, load.clone(), role, Ok(&point(load, tpot, ttft))));
                }
            }
        }
    }
}

/// A rate search runs on its resolution's grid and says its unit.
#[test]
fn a_rate_search_keeps_to_its_grid() {
    let d = SearchDef {
        over: SearchOver::Rate,
        min: 0.5,
        max: 16.0,
        resolution: Some(0.25),
        slo: [("ttft_p90".to_owned(), 200.0)].into(),
    };
    let mut probes: Vec<ProbeReport> = Vec::new();
    let r = loop {
        match next(&d, &probes, "requests/s") {
            Next::Done(r) => break r,
            Next::Run(v, role) => {
                assert_eq!(((v - 0.5) / 0.25).fract(), 0.0, "{v} is off the grid");
                let load = d.load(v, llms_shared::Arrival::Poisson, None);
                // TTFT blows up as the rate nears 6/s.
                let ttft = 50.0 / (1.0 - (v / 6.0).min(0.999));
                probes.push(judge(&d, load.clone(), role, Ok(&point(load, 1.0, ttft))));
            }
        }
    };
    // 50 / (1 - r/6) <= 200 while r <= 4.5.
    assert_eq!(r.capacity, Some(4.5));
    assert!(
        r.verdict
            .starts_with("capacity 4.5 requests/s: TTFT p90 bound"),
        "{}",
        r.verdict
    );
}

/// An error rate above its default limit fails a probe even when every latency is met.
#[test]
fn errors_fail_a_probe() {
    let d = def(1.0, 8.0, &[("ttft_p99", 100.0)]);
    let mut p = point(Load::Concurrency { concurrency: 4 }, 1.0, 1.0);
    p.error_rate = 0.02;
    let j = judge(&d, p.load.clone(), SearchRole::Probe, Ok(&p));
    assert!(!j.pass);
    assert_eq!(j.failed, ["error_rate"]);
    p.completed = 0;
    p.error_rate = 0.0;
    let j = judge(&d, p.load.clone(), SearchRole::Probe, Ok(&p));
    assert_eq!(j.failed, ["error_rate"]);
}

/// A failed confirmation leaves a wide bracket when the pass below it came early (here 4,
/// below the answer 32): the search interpolates in it afresh rather than bisecting on a
/// budget spent in the first bracket. The server slows after its first 6 runs, before the
/// confirmation at 32 (the 7th): its TPOT bound moves from 32 to 20 in flight.
#[test]
fn a_failed_confirmation_starts_a_fresh_bracket() {
    let d = def(1.0, 256.0, &[("tpot_p99", 100.0)]);
    let (r, loads) = search(&d, |c, n| match n < 6 {
        // 100 ms half-way between 32 and 33: the first bracket closes on 32.
        true => (10.0 + 90.0 / 32.5 * c, 1.0),
        // Then half-way between 20 and 21.
        false => (10.0 + 90.0 / 20.5 * c, 1.0),
    });
    assert_eq!(r.capacity, Some(20.0), "{loads:?}");
    assert!(r.confirmed);
    // Runs after the failed confirmation (the second run at 32): measured 4 (23, 20, 21 and
    // the confirmation); bisecting on the spent budget took 6 (18, 25, 22, 20, 21, 20).
    let confirm = loads.iter().rposition(|&c| c == 32.0).unwrap();
    assert!(loads.len() - confirm - 1 <= 4, "{loads:?}");
}
