//! Per-request figures recomputed from raw records, by DESIGN.md section 3's definitions
//! (the same as the point's own): TTFT is the first token-carrying event, ITL the gaps
//! between consecutive events, TPOT `(e2e - ttft) / (output tokens - 1)` for requests with
//! more than one output token, E2E the end of the stream. Completed requests only.

use llms_shared::RequestRecord;

/// Seconds from nanoseconds.
pub fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// A completed request: no error and at least one token.
pub fn completed(r: &RequestRecord) -> bool {
    r.error.is_none() && !r.chunks.is_empty()
}

/// Each completed request's TTFT, seconds.
pub fn ttfts(records: &[RequestRecord]) -> Vec<f64> {
    records
        .iter()
        .filter(|r| completed(r))
        .filter_map(|r| r.ttft_ns().map(secs))
        .collect()
}

/// The gaps between one request's consecutive token events, seconds.
pub fn gaps(r: &RequestRecord) -> Vec<f64> {
    r.gaps_ns().map(secs).collect()
}

/// Every completed request's gaps, pooled, seconds.
pub fn itls(records: &[RequestRecord]) -> Vec<f64> {
    records
        .iter()
        .filter(|r| completed(r))
        .flat_map(gaps)
        .collect()
}

/// TPOT of each completed request with more than one output token, seconds.
pub fn tpots(records: &[RequestRecord]) -> Vec<f64> {
    records
        .iter()
        .filter(|r| completed(r))
        .filter_map(|r| r.tpot_ns().map(secs))
        .collect()
}

/// E2E latency of each completed request, seconds.
pub fn e2es(records: &[RequestRecord]) -> Vec<f64> {
    records
        .iter()
        .filter(|r| completed(r))
        .map(|r| secs(r.end_ns))
        .collect()
}

/// Population standard deviation (numpy's default, as `vllm bench serve` writes it); 0 for
/// no values.
pub fn std_dev(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// The smallest value, 0 for none.
pub fn min(v: &[f64]) -> f64 {
    v.iter().copied().reduce(f64::min).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn population_std() {
        assert_eq!(std_dev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]), 2.0);
        assert_eq!(std_dev(&[]), 0.0);
    }

    #[test]
    fn per_request_figures() {
        let r = RequestRecord {
            chunks: vec![(100_000_000, 1), (150_000_000, 2), (250_000_000, 1)],
            end_ns: 400_000_000,
            ..Default::default()
        };
        assert_eq!(ttfts(std::slice::from_ref(&r)), vec![0.1]);
        assert_eq!(itls(std::slice::from_ref(&r)), vec![0.05, 0.1]);
        // 4 tokens: (0.4 - 0.1) / 3.
        assert!((tpots(std::slice::from_ref(&r))[0] - 0.1).abs() < 1e-12);
        let failed = RequestRecord {
            error: Some(llms_shared::RequestError {
                kind: "timeout".into(),
                message: String::new(),
            }),
            ..r.clone()
        };
        assert!(e2es(&[failed]).is_empty());
    }
}
