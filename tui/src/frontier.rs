//! The Pareto frontier of a series: of its points, those no other point of the same series
//! beats on both output tokens/s per user (1000 / TPOT mean) and output tokens/s per GPU.
//! Pure: figures in, indices out.

use crate::compare::CmpRow;
use std::collections::BTreeMap;

/// How the per-GPU figure is divided, for labels: the GPUs measured, or 1 assumed.
pub const NO_GPU_NOTE: &str = "1 assumed: no GPU measured";

/// Output tokens/s per user of a point: 1000 / TPOT mean (ms); `None` without a TPOT.
pub fn per_user(tpot_mean_ms: f64) -> Option<f64> {
    (tpot_mean_ms.is_finite() && tpot_mean_ms > 0.0).then(|| 1000.0 / tpot_mean_ms)
}

/// Output tokens/s per GPU: the point's output throughput over its GPUs (1 when none was
/// measured).
pub fn per_gpu(output_throughput: f64, gpus: usize) -> f64 {
    output_throughput / gpus.max(1) as f64
}

/// Whether `b` dominates `a`: at least as good on both axes, better on one.
fn dominates(b: (f64, f64), a: (f64, f64)) -> bool {
    b.0 >= a.0 && b.1 >= a.1 && (b.0 > a.0 || b.1 > a.1)
}

/// The indices of the points (x, y) that no other point dominates, sorted by x (then y).
/// Points with a coordinate that is not finite take no part. Two equal points are both on
/// the frontier (neither beats the other).
pub fn frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let ok = |p: &(f64, f64)| p.0.is_finite() && p.1.is_finite();
    let mut on: Vec<usize> = (0..points.len())
        .filter(|&i| ok(&points[i]))
        .filter(|&i| !points.iter().any(|&b| ok(&b) && dominates(b, points[i])))
        .collect();
    on.sort_by(|&a, &b| {
        points[a]
            .0
            .total_cmp(&points[b].0)
            .then(points[a].1.total_cmp(&points[b].1))
    });
    on
}

/// Per series, the indices into `rows` of its frontier points, sorted by per-user speed.
/// Only points with both figures (a TPOT and a throughput) take part.
pub fn of_rows(rows: &[CmpRow]) -> BTreeMap<String, Vec<usize>> {
    let mut by_series: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.per_user.is_some() && r.per_gpu.is_some() {
            by_series.entry(r.series.clone()).or_default().push(i);
        }
    }
    by_series
        .into_iter()
        .map(|(name, idx)| {
            let pts: Vec<(f64, f64)> = idx
                .iter()
                .map(|&i| {
                    let r = &rows[i];
                    (
                        r.per_user.unwrap_or(f64::NAN),
                        r.per_gpu.unwrap_or(f64::NAN),
                    )
                })
                .collect();
            let on = frontier(&pts).into_iter().map(|k| idx[k]).collect();
            (name, on)
        })
        .collect()
}

/// Set `on_frontier` on every row of its series' frontier (and clear it elsewhere).
pub fn mark(rows: &mut [CmpRow]) {
    for r in rows.iter_mut() {
        r.on_frontier = false;
    }
    for idx in of_rows(rows).into_values() {
        for i in idx {
            rows[i].on_frontier = true;
        }
    }
}

/// The per-GPU axis label: `output tokens/s per GPU`, saying when a GPU count was assumed.
pub fn per_gpu_label(rows: &[CmpRow]) -> String {
    let assumed = rows.iter().any(|r| r.per_gpu.is_some() && r.gpus == 0);
    if assumed {
        format!("output tokens/s per GPU ({NO_GPU_NOTE})")
    } else {
        "output tokens/s per GPU".into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn dominated_points_are_left_out_and_the_rest_sorted_by_x() {
        // 0 (10, 100) and 3 (30, 50) and 4 (40, 10) trade off; 1 (10, 80) is beaten by 0
        // (same x, lower y); 2 (20, 40) is beaten by 3 on both axes.
        let pts = [
            (10.0, 100.0),
            (10.0, 80.0),
            (20.0, 40.0),
            (30.0, 50.0),
            (40.0, 10.0),
        ];
        assert_eq!(frontier(&pts), vec![0, 3, 4]);
    }

    #[test]
    fn equal_points_are_both_kept_and_non_finite_ones_skipped() {
        let pts = [(5.0, 5.0), (f64::NAN, 99.0), (5.0, 5.0), (1.0, 1.0)];
        assert_eq!(frontier(&pts), vec![0, 2]);
        assert!(frontier(&[]).is_empty());
        assert_eq!(frontier(&[(3.0, f64::INFINITY)]), Vec::<usize>::new());
    }

    #[test]
    fn per_user_and_per_gpu_figures() {
        assert_eq!(per_user(20.0), Some(50.0));
        assert_eq!(per_user(0.0), None);
        assert_eq!(per_gpu(1000.0, 4), 250.0);
        assert_eq!(per_gpu(1000.0, 0), 1000.0, "no GPU measured: 1 assumed");
    }

    #[test]
    fn rows_are_marked_per_series() {
        let mut rows = crate::compare::rows(&[crate::fixtures::sweep()]);
        // A point of vllm that is slower per user and per GPU than vllm at concurrency 1.
        let mut worse = rows.iter().find(|r| r.series == "vllm").unwrap().clone();
        worse.per_user = worse.per_user.map(|v| v - 1.0);
        worse.per_gpu = worse.per_gpu.map(|v| v - 1.0);
        rows.push(worse);
        mark(&mut rows);
        let last = rows.last().unwrap();
        assert!(!last.on_frontier);
        // The sweep trades per-user speed for per-GPU throughput: every other point with
        // figures is on its series' frontier, the failed one is not.
        for r in &rows[..rows.len() - 1] {
            assert_eq!(r.on_frontier, r.error.is_none(), "{} {}", r.series, r.x);
        }
        let f = of_rows(&rows);
        let vllm: Vec<f64> = f["vllm"].iter().map(|&i| rows[i].x).collect();
        assert_eq!(
            vllm,
            vec![32.0, 16.0, 8.0, 4.0, 1.0],
            "sorted by per-user speed"
        );
    }
}
