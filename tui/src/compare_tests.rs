#![allow(clippy::unwrap_used)]

use super::*;
use crate::fixtures;

#[test]
fn rows_are_ordered_by_series_then_load_and_carry_marks() {
    let jobs = vec![fixtures::sweep()];
    let r = rows(&jobs);
    assert_eq!(r.len(), 10);
    assert_eq!(r[0].series, "llamacpp");
    let xs: Vec<f64> = r
        .iter()
        .filter(|r| r.series == "vllm")
        .map(|r| r.x)
        .collect();
    assert_eq!(xs, vec![1.0, 4.0, 8.0, 16.0, 32.0]);
    let failed = r.iter().find(|r| r.error.is_some()).unwrap();
    assert!(failed.marked() && failed.throughput.is_none());
    // A row with no figures and no error failed too, everywhere it is read.
    let (job, mut points) = fixtures::sweep();
    let bare = points.iter_mut().find(|p| p.error.is_some()).unwrap();
    bare.error = None;
    let jobs = [(job, points)];
    let bare = rows(&jobs)
        .into_iter()
        .find(|r| r.throughput.is_none())
        .unwrap();
    assert!(bare.failed() && bare.marked());
    assert_eq!(crate::report::table::status(&bare), "FAILED: no figures");
    assert_eq!(crate::output::failed_count(&jobs[0].1), 1);
    assert!(
        r.iter()
            .any(|r| r.flags == vec!["client_bound".to_string()])
    );
    let v1 = r.iter().find(|r| r.series == "vllm" && r.x == 1.0).unwrap();
    assert_eq!(v1.throughput, Some(400.0));
    assert!((v1.peak_mem_gib.unwrap() - 60.0).abs() < 1e-6);
}

#[test]
fn jobs_keep_the_order_given() {
    let (a, ra) = fixtures::sweep();
    let (mut b, mut c) = (a.clone(), a.clone());
    b.id = 10;
    c.id = 9;
    let r = rows(&[(b, ra.clone()), (c, ra.clone()), (a, ra)]);
    let order: Vec<u64> = r.iter().map(|r| r.job).fold(Vec::new(), |mut v, j| {
        if v.last() != Some(&j) {
            v.push(j);
        }
        v
    });
    assert_eq!(
        order,
        vec![10, 9, 3],
        "not sorted as text (10 before 9 by chance)"
    );
}

#[test]
fn several_jobs_name_series_by_job() {
    let (a, ra) = fixtures::sweep();
    let mut b = a.clone();
    b.id = 9;
    let r = rows(&[(a, ra.clone()), (b, ra)]);
    assert!(r.iter().any(|r| r.series == "9/vllm"));
    assert!(r.iter().any(|r| r.series == "3/llamacpp"));
}

#[test]
fn series_and_pivot_skip_missing_figures() {
    let r = rows(&[fixtures::sweep()]);
    let s = series(&r, Metric::Throughput);
    assert_eq!(s["vllm"].len(), 5);
    assert_eq!(s["llamacpp"].len(), 4, "the failed point has no throughput");
    let (names, grid) = pivot(&r, Metric::TtftP99);
    assert_eq!(names, vec!["llamacpp", "vllm"]);
    assert_eq!(grid.len(), 5);
    let (x, cells) = grid.last().unwrap();
    assert_eq!(
        (*x, cells[0].is_none(), cells[1].is_some()),
        (32.0, true, true)
    );
}

#[test]
fn numbers_format_by_size() {
    assert_eq!(fmt(None), "-");
    assert_eq!(fmt(Some(1234.56)), "1235");
    assert_eq!(fmt(Some(12.345)), "12.3");
    assert_eq!(fmt(Some(1.2345)), "1.23");
    assert_eq!(fmt_x(8.0), "8");
    assert_eq!(fmt_x(2.5), "2.5");
}
