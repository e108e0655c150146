#![allow(clippy::unwrap_used)]
use super::*;

fn s(
    index: u32,
    t_ms: u64,
    util: u32,
    mem: u64,
    power_mw: u32,
    energy_mj: Option<u64>,
) -> GpuSample {
    GpuSample {
        unix_ms: t_ms,
        index,
        util_pct: Some(util),
        mem_used: Some(mem),
        mem_total: Some(1000),
        power_mw: Some(power_mw),
        energy_mj,
        ..GpuSample::default()
    }
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn one_gpu_figures() {
    // 2 s at 150 W then 250 W: counter from 10 000 J to 10 400 J.
    let samples = [
        s(0, 1_000, 20, 100, 100_000, Some(10_000_000)),
        s(0, 2_000, 60, 300, 200_000, Some(10_150_000)),
        s(0, 3_000, 100, 200, 300_000, Some(10_400_000)),
    ];
    let baseline = BTreeMap::from([(0, 50.0)]);
    let p = summarize(&samples, &baseline, &[], 800).unwrap();
    assert_eq!(p.samples, 3);
    let g = &p.gpus[0];
    assert_eq!(g.index, 0);
    assert_eq!(g.peak_mem_used, Some(300));
    assert!(close(g.mean_util_pct, 60.0));
    assert!(close(g.mean_power_w, 200.0));
    assert!(close(g.energy_j, 400.0));
    assert!(close(g.idle_power_w, 50.0));
    // 400 J minus 50 W over the 2 s between the first and the last reading.
    assert!(close(g.energy_above_idle_j, 300.0));
    assert_eq!(g.engine_mem_peak, None);
    assert!(close(p.tokens_per_joule, 2.0));
}

#[test]
fn tokens_per_joule_sums_gpus() {
    let samples = [
        s(0, 0, 0, 0, 0, Some(0)),
        s(1, 0, 0, 0, 0, Some(5_000)),
        s(0, 1_000, 0, 0, 0, Some(100_000)),
        s(1, 1_000, 0, 0, 0, Some(305_000)),
    ];
    let p = summarize(&samples, &BTreeMap::new(), &[], 1_000).unwrap();
    assert_eq!(p.gpus.len(), 2);
    assert!(close(p.gpus[1].energy_j, 300.0));
    assert!(close(p.tokens_per_joule, 2.5));
    // No baseline: nothing above idle either.
    assert_eq!(p.gpus[0].idle_power_w, None);
    assert_eq!(p.gpus[0].energy_above_idle_j, None);
    assert_eq!(p.samples, 2);
}

#[test]
fn counter_backwards_gives_no_energy() {
    let samples = [
        s(0, 0, 0, 0, 0, Some(9_000)),
        s(0, 100, 0, 0, 0, Some(1_000)),
        s(0, 200, 0, 0, 0, Some(2_000)),
    ];
    let p = summarize(&samples, &BTreeMap::from([(0, 10.0)]), &[], 10).unwrap();
    assert_eq!(p.gpus[0].energy_j, None);
    assert_eq!(p.gpus[0].energy_above_idle_j, None);
    assert_eq!(p.tokens_per_joule, None);
}

#[test]
fn missing_counter_gives_no_energy() {
    let one = [
        s(0, 0, 0, 0, 0, None),
        s(0, 100, 0, 0, 0, Some(7)),
        s(0, 200, 0, 0, 0, None),
    ];
    let p = summarize(&one, &BTreeMap::new(), &[], 10).unwrap();
    assert_eq!(p.gpus[0].energy_j, None);
    // One GPU with a counter and one without: tokens per joule would be wrong, so None.
    let mixed = [
        s(0, 0, 0, 0, 0, Some(0)),
        s(1, 0, 0, 0, 0, None),
        s(0, 100, 0, 0, 0, Some(1_000)),
        s(1, 100, 0, 0, 0, None),
    ];
    let p = summarize(&mixed, &BTreeMap::new(), &[], 10).unwrap();
    assert!(close(p.gpus[0].energy_j, 1.0));
    assert_eq!(p.tokens_per_joule, None);
}

#[test]
fn counter_readings_in_the_middle_are_used() {
    let samples = [
        s(0, 0, 0, 0, 0, None),
        s(0, 1_000, 0, 0, 0, Some(1_000)),
        s(0, 2_000, 0, 0, 0, Some(3_000)),
        s(0, 3_000, 0, 0, 0, None),
    ];
    let p = summarize(&samples, &BTreeMap::from([(0, 1.0)]), &[], 4).unwrap();
    assert!(close(p.gpus[0].energy_j, 2.0));
    // The idle share is over the 1 s between the two readings, not the 3 s of the point.
    assert!(close(p.gpus[0].energy_above_idle_j, 1.0));
}

#[test]
fn engine_memory_sums_its_pids_per_sample() {
    let mut a = s(0, 0, 0, 0, 0, None);
    a.processes = vec![(10, 100), (11, 50), (99, 1_000)];
    let mut b = s(0, 100, 0, 0, 0, None);
    b.processes = vec![(10, 120), (99, 5_000)];
    let mut c = s(1, 0, 0, 0, 0, None);
    c.processes = vec![(99, 7)];
    let p = summarize(&[a, b, c], &BTreeMap::new(), &[10, 11], 0).unwrap();
    // 150 then 120 on GPU 0: the peak is the larger sum, not the sum of per-pid peaks.
    assert_eq!(p.gpus[0].engine_mem_peak, Some(150));
    assert_eq!(p.gpus[1].engine_mem_peak, Some(0));
}

#[test]
fn missing_readings_and_no_samples() {
    let bare = GpuSample {
        index: 3,
        ..GpuSample::default()
    };
    let p = summarize(&[bare], &BTreeMap::new(), &[], 1).unwrap();
    let g = &p.gpus[0];
    assert_eq!(
        (g.index, g.peak_mem_used, g.mean_util_pct, g.mean_power_w),
        (3, None, None, None)
    );
    assert_eq!(summarize(&[], &BTreeMap::new(), &[], 1), None);
}

#[test]
fn rounds_counted_by_the_accumulator() {
    let mut acc = PointAcc::default();
    let pids = BTreeSet::new();
    acc.push_round(&[s(0, 0, 0, 0, 0, None), s(1, 0, 0, 0, 0, None)], &pids);
    acc.push_round(&[s(0, 1, 0, 0, 0, None), s(1, 1, 0, 0, 0, None)], &pids);
    assert_eq!(acc.rounds(), 2);
    assert_eq!(acc.finish(&BTreeMap::new(), 0).unwrap().samples, 2);
}
