//! Aggregation of raw request records into a point's figures (DESIGN.md section 3). Pure:
//! everything comes from the records, so tests inject timestamps and any figure can be
//! recomputed later from stored records.

use hdrhistogram::Histogram;
use llms_shared::{ClientStats, LatencyStats, Load, PointResult, RequestRecord, Slo};
use std::collections::BTreeMap;

/// Significant figures of the latency histograms.
const SIGFIG: u8 = 3;

/// Samples of one latency metric: an HDR histogram in microseconds for percentiles, plus the
/// exact sum and maximum in nanoseconds.
pub struct Samples {
    hist: Histogram<u64>,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for Samples {
    fn default() -> Self {
        Self::new()
    }
}

impl Samples {
    /// No samples yet.
    pub fn new() -> Self {
        // Constant, valid bounds: this cannot fail. The histogram grows past a minute when needed.
        #[allow(clippy::expect_used)]
        let mut hist = Histogram::new_with_bounds(1, 60_000_000, SIGFIG).expect("valid bounds");
        hist.auto(true);
        Self {
            hist,
            sum_ns: 0,
            max_ns: 0,
        }
    }

    /// Add one sample.
    pub fn add(&mut self, ns: u64) {
        let us = ns.saturating_add(500) / 1000;
        // The histogram grows as needed; only a value beyond u64 range could fail.
        if self.hist.record(us).is_err() {
            self.hist.saturating_record(us);
        }
        self.sum_ns += u128::from(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// Number of samples.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// Percentile in ms (q in 0..=1), never above the exact maximum.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        let v = self.hist.value_at_quantile(q) as f64 / 1000.0;
        v.min(self.max_ns as f64 / 1e6)
    }

    /// The summary that reports carry.
    pub fn stats(&self) -> LatencyStats {
        let n = self.len();
        if n == 0 {
            return LatencyStats::default();
        }
        LatencyStats {
            count: n,
            mean: self.sum_ns as f64 / n as f64 / 1e6,
            p50: self.quantile_ms(0.50),
            p90: self.quantile_ms(0.90),
            p95: self.quantile_ms(0.95),
            p99: self.quantile_ms(0.99),
            max: self.max_ns as f64 / 1e6,
        }
    }
}

/// What a point asked for, to judge the records against.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// `max_tokens` sent (with `ignore_eos`).
    pub output_tokens: Option<u32>,
    /// Exact input length asked for.
    pub input_tokens: Option<u32>,
    /// Each request's own length is exact (`client_input_tokens`: drawn lengths).
    pub per_request_input: bool,
    /// Goodput objectives.
    pub slo: Slo,
    /// Flag the point when `failed / total` exceeds this.
    pub max_error_rate: Option<f64>,
}

/// Compute a point's figures from its measured records. `batch_ns` are batch latencies (batch
/// mode only). The caller adds `server` and, with `--raw`, `requests`.
pub fn aggregate(
    load: Load,
    records: &[RequestRecord],
    exp: &Expectations,
    client: ClientStats,
    batch_ns: Option<&[u64]>,
) -> PointResult {
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let (mut ttft, mut itl, mut tpot, mut e2e, mut queue) = (
        Samples::new(),
        Samples::new(),
        Samples::new(),
        Samples::new(),
        Samples::new(),
    );
    let (mut completed, mut good, mut input_tokens, mut output_tokens) = (0u64, 0u64, 0u64, 0u64);
    let (mut estimated, mut input_unknown, mut in_mismatch, mut out_mismatch) =
        (false, false, 0, 0);
    let mut first_start = u64::MAX;
    let mut last_end = 0u64;
    let mut retries = 0u64;
    let mut by_turn: BTreeMap<u32, Samples> = BTreeMap::new();
    // Only where the engine reports cached tokens (a request without the field counts 0
    // then, as vLLM and SGLang leave out a zero).
    let cache_reported = records.iter().any(|r| r.usage.cached_tokens.is_some());
    let mut by_uncached: BTreeMap<u64, Samples> = BTreeMap::new();
    for r in records {
        first_start = first_start.min(r.start_ns);
        last_end = last_end.max(r.start_ns.saturating_add(r.end_ns));
        retries += u64::from(r.retries);
        if let Some(e) = &r.error {
            *errors.entry(e.kind.clone()).or_default() += 1;
            continue;
        }
        completed += 1;
        queue.add(r.start_ns.saturating_sub(r.due_ns));
        let first = r.ttft_ns().unwrap_or(r.end_ns);
        ttft.add(first);
        if let Some(t) = r.turn {
            by_turn.entry(t).or_default().add(first);
        }
        if let (true, Some(p)) = (cache_reported, r.usage.prompt_tokens) {
            let uncached = p.saturating_sub(r.usage.cached_tokens.unwrap_or(0));
            let bucket = uncached.max(1).next_power_of_two();
            by_uncached.entry(bucket).or_default().add(first);
        }
        r.gaps_ns().for_each(|g| itl.add(g));
        e2e.add(r.end_ns);
        output_tokens += r.output_tokens();
        estimated |= !r.tokens_from_server();
        let tpot_ns = r.tpot_ns();
        if let Some(t) = tpot_ns {
            tpot.add(t);
        }
        // A request of one token meets any TPOT objective.
        let tpot_ns = tpot_ns.unwrap_or(0);
        match r.usage.prompt_tokens.or(r.client_input_tokens) {
            Some(n) => input_tokens += n,
            None => input_unknown = true,
        }
        let want_in = exp
            .input_tokens
            .map(u64::from)
            .or(r.client_input_tokens.filter(|_| exp.per_request_input));
        if let (Some(want), Some(got)) = (want_in, r.usage.prompt_tokens) {
            in_mismatch += u64::from(want != got);
        }
        // A request that asked for its own length is judged by it.
        let want_out = exp.output_tokens.or(r.max_tokens);
        if let (Some(want), Some(got)) = (want_out, r.usage.completion_tokens) {
            out_mismatch += u64::from(u64::from(want) != got);
        }
        good += u64::from(meets(&exp.slo, first, tpot_ns, r.end_ns));
    }
    let failed = records.len() as u64 - completed;
    let duration_s = if records.is_empty() {
        0.0
    } else {
        (last_end - first_start) as f64 / 1e9
    };
    let per_s = |x: u64| {
        if duration_s > 0.0 {
            x as f64 / duration_s
        } else {
            0.0
        }
    };
    let error_rate = if records.is_empty() {
        0.0
    } else {
        failed as f64 / records.len() as f64
    };
    let mut flags = Vec::new();
    if estimated {
        flags.push("tokens_estimated");
    }
    if input_unknown {
        flags.push("input_tokens_unknown");
    }
    if client.lag_p99_ms > 1.0 || client_saturated(&client, duration_s) {
        flags.push("client_bound");
    }
    if out_mismatch > 0 {
        flags.push("output_tokens_mismatch");
    }
    if in_mismatch > 0 {
        flags.push("input_tokens_mismatch");
    }
    if exp.max_error_rate.is_some_and(|m| error_rate > m) {
        flags.push("error_rate_exceeded");
    }
    let steady = super::steady::steady(&load, records);
    let achieved = super::steady::achieved(&load, records, steady.as_ref());
    if super::steady::off_target(&achieved) {
        flags.push("load_not_achieved");
    }
    let batch_ms = batch_ns.map(|b| {
        let mut s = Samples::new();
        b.iter().for_each(|&ns| s.add(ns));
        s.stats()
    });
    PointResult {
        load,
        completed,
        failed,
        errors,
        error_rate,
        retries,
        duration_s,
        input_tokens,
        output_tokens,
        output_throughput: per_s(output_tokens),
        total_throughput: per_s(input_tokens + output_tokens),
        request_throughput: per_s(completed),
        goodput: per_s(good),
        slo: exp.slo,
        ttft_ms: ttft.stats(),
        itl_ms: itl.stats(),
        tpot_ms: tpot.stats(),
        e2e_ms: e2e.stats(),
        queue_ms: queue.stats(),
        batch_ms,
        output_tokens_requested: exp.output_tokens,
        input_tokens_target: exp.input_tokens,
        input_token_mismatches: in_mismatch,
        output_token_mismatches: out_mismatch,
        flags: flags.into_iter().map(str::to_owned).collect(),
        client,
        server: None,
        prefix_cache: None,
        cut: None,
        cached_tokens: None,
        ttft_by_turn_ms: by_turn
            .into_iter()
            .map(|(t, s)| (t.to_string(), s.stats()))
            .collect(),
        ttft_by_uncached_ms: by_uncached
            .into_iter()
            .map(|(b, s)| (b.to_string(), s.stats()))
            .collect(),
        steady,
        achieved: Some(achieved),
        requests: Vec::new(),
    }
}

/// Whether a request met every objective given (vLLM's goodput rule; TPOT is 0 for a request
/// of one token).
fn meets(slo: &Slo, ttft_ns: u64, tpot_ns: u64, e2e_ns: u64) -> bool {
    let ok = |limit: Option<f64>, ns: u64| limit.is_none_or(|ms| ns as f64 / 1e6 <= ms);
    ok(slo.ttft, ttft_ns) && ok(slo.tpot, tpot_ns) && ok(slo.e2e, e2e_ns)
}

/// The client used more than 90 % of its worker threads' time.
fn client_saturated(c: &ClientStats, duration_s: f64) -> bool {
    duration_s > 0.0 && c.threads > 0 && c.cpu_s / duration_s > 0.9 * f64::from(c.threads)
}

/// What the server's generation counter should have grown by: the sum of its own
/// `completion_tokens` over every request it answered. `None` when that cannot be known: a
/// completed request carried no usage, or a failed one had streamed part of its answer (the
/// engine counted those tokens; no usage says how many).
pub fn server_reported_output(records: &[RequestRecord]) -> Option<u64> {
    let mut sum = 0;
    for r in records {
        match (r.usage.completion_tokens, &r.error) {
            (Some(n), _) => sum += n,
            (None, None) => return None,
            (None, Some(_)) if !r.chunks.is_empty() => return None,
            (None, Some(_)) => {}
        }
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use llms_shared::{RequestError, Usage};

    const MS: u64 = 1_000_000;

    fn rec(start_ms: u64, chunks_ms: &[u64], end_ms: u64, tokens: Option<u64>) -> RequestRecord {
        RequestRecord {
            start_ns: start_ms * MS,
            due_ns: start_ms * MS,
            end_ns: end_ms * MS,
            chunks: chunks_ms.iter().map(|&t| (t * MS, 1)).collect(),
            usage: Usage {
                prompt_tokens: Some(10),
                completion_tokens: tokens,
                cached_tokens: None,
            },
            ..Default::default()
        }
    }

    fn load() -> Load {
        Load::Concurrency { concurrency: 2 }
    }

    #[test]
    fn figures_follow_the_definitions() {
        let a = rec(0, &[100, 110, 130], 140, Some(3));
        let b = rec(50, &[200, 260], 300, Some(2));
        let mut failed = rec(60, &[], 70, None);
        failed.error = Some(RequestError {
            kind: "http_500".into(),
            message: "x".into(),
        });
        let p = aggregate(
            load(),
            &[a, b, failed],
            &Expectations::default(),
            ClientStats::default(),
            None,
        );
        assert_eq!((p.completed, p.failed), (2, 1));
        assert_eq!(p.errors.get("http_500"), Some(&1));
        // duration: first start (0) to last end (50 + 300 ms)
        assert!((p.duration_s - 0.35).abs() < 1e-12);
        assert_eq!(p.output_tokens, 5);
        assert_eq!(p.input_tokens, 20);
        assert!((p.output_throughput - 5.0 / 0.35).abs() < 1e-9);
        assert!((p.request_throughput - 2.0 / 0.35).abs() < 1e-9);
        assert!((p.goodput - p.request_throughput).abs() < 1e-12);
        // TTFT 100 and 200 ms; mean exact.
        assert_eq!(p.ttft_ms.count, 2);
        assert!((p.ttft_ms.mean - 150.0).abs() < 1e-9);
        assert!((p.ttft_ms.max - 200.0).abs() < 1e-9);
        // ITL gaps: 10, 20, 60 ms
        assert_eq!(p.itl_ms.count, 3);
        assert!((p.itl_ms.mean - 30.0).abs() < 1e-9);
        assert!((p.itl_ms.p50 - 20.0).abs() < 0.02);
        // TPOT: (140-100)/2 = 20, (300-200)/1 = 100
        assert!((p.tpot_ms.mean - 60.0).abs() < 1e-9);
        assert!((p.e2e_ms.max - 300.0).abs() < 1e-9);
        assert!((p.error_rate - 1.0 / 3.0).abs() < 1e-12);
        assert!(p.flags.is_empty(), "{:?}", p.flags);
    }

    #[test]
    fn goodput_counts_only_requests_meeting_every_slo() {
        let a = rec(0, &[100, 110, 130], 140, Some(3)); // ttft 100, tpot 20
        let b = rec(0, &[200, 260], 300, Some(2)); // ttft 200, tpot 100
        let exp = Expectations {
            slo: Slo {
                ttft: Some(150.0),
                tpot: None,
                e2e: None,
            },
            ..Default::default()
        };
        let p = aggregate(
            load(),
            &[a.clone(), b.clone()],
            &exp,
            ClientStats::default(),
            None,
        );
        assert!((p.goodput - 1.0 / 0.3).abs() < 1e-9);
        let exp = Expectations {
            slo: Slo {
                ttft: Some(500.0),
                tpot: Some(50.0),
                e2e: None,
            },
            ..Default::default()
        };
        let p = aggregate(load(), &[a, b], &exp, ClientStats::default(), None);
        assert!((p.goodput - 1.0 / 0.3).abs() < 1e-9);
    }

    #[test]
    fn flags_name_what_went_wrong() {
        let no_usage = rec(0, &[1, 2], 3, None);
        let short = rec(0, &[1, 2], 3, Some(2));
        let exp = Expectations {
            output_tokens: Some(4),
            input_tokens: Some(11),
            max_error_rate: Some(0.0),
            ..Default::default()
        };
        let mut bad = rec(0, &[], 1, None);
        bad.error = Some(RequestError {
            kind: "stream_cut".into(),
            message: String::new(),
        });
        let client = ClientStats {
            cpu_s: 0.0,
            threads: 1,
            lag_p99_ms: 2.5,
            lag_max_ms: 3.0,
        };
        let p = aggregate(load(), &[no_usage, short, bad], &exp, client, None);
        for f in [
            "tokens_estimated",
            "client_bound",
            "output_tokens_mismatch",
            "input_tokens_mismatch",
            "error_rate_exceeded",
        ] {
            assert!(p.flagged(f), "missing {f} in {:?}", p.flags);
        }
        assert_eq!(p.output_token_mismatches, 1);
        assert_eq!(p.input_token_mismatches, 2);
    }

    #[test]
    fn cpu_saturation_flags_client_bound() {
        let r = rec(0, &[1, 2], 1000, Some(2));
        let c = ClientStats {
            cpu_s: 0.95,
            threads: 1,
            lag_p99_ms: 0.0,
            lag_max_ms: 0.0,
        };
        let p = aggregate(load(), &[r], &Expectations::default(), c, None);
        assert_eq!(p.flags, vec!["client_bound".to_string()]);
    }

    #[test]
    fn percentiles_of_many_samples_are_within_a_thousandth() {
        let mut s = Samples::new();
        for i in 1..=10_000u64 {
            s.add(i * 1000); // 1 µs .. 10 ms
        }
        let st = s.stats();
        assert!((st.p50 - 5.0).abs() / 5.0 < 1e-3, "{}", st.p50);
        assert!((st.p99 - 9.9).abs() / 9.9 < 1e-3, "{}", st.p99);
        assert!((st.max - 10.0).abs() < 1e-12);
        assert!((st.mean - 5.0005).abs() < 1e-9);
    }

    #[test]
    fn server_count_is_known_only_when_every_streamed_token_has_usage() {
        let done = rec(0, &[1, 2], 3, Some(2));
        let mut refused = rec(0, &[], 1, None);
        refused.error = Some(RequestError {
            kind: "http_500".into(),
            message: String::new(),
        });
        assert_eq!(
            server_reported_output(&[done.clone(), refused.clone()]),
            Some(2)
        );
        let mut cut = rec(0, &[1], 2, None);
        cut.error = Some(RequestError {
            kind: "stream_cut".into(),
            message: String::new(),
        });
        assert_eq!(server_reported_output(&[done.clone(), cut]), None);
        assert_eq!(server_reported_output(&[done, rec(0, &[1], 2, None)]), None);
    }

    #[test]
    fn empty_point_is_all_zero() {
        let p = aggregate(
            load(),
            &[],
            &Expectations::default(),
            ClientStats::default(),
            Some(&[]),
        );
        assert_eq!(
            (p.completed, p.failed, p.duration_s, p.output_throughput),
            (0, 0, 0.0, 0.0)
        );
        assert_eq!(p.batch_ms.map(|b| b.count), Some(0));
    }

    /// TTFT by the prompt tokens the engine computed: a hit of 90 of 100 tokens is in the
    /// 16-token bucket, a miss in the 128 one; a request that reported nothing counts 0
    /// cached once another did; without any report there is no split.
    #[test]
    fn ttft_splits_by_uncached_prompt_tokens() {
        let with = |cached: Option<u64>, ttft_ms: u64| {
            let mut r = rec(0, &[ttft_ms, ttft_ms + 1], ttft_ms + 1, Some(2));
            r.usage.prompt_tokens = Some(100);
            r.usage.cached_tokens = cached;
            r
        };
        let exp = Expectations::default();
        let p = aggregate(
            load(),
            &[with(Some(90), 5), with(Some(0), 40), with(None, 42)],
            &exp,
            ClientStats::default(),
            None,
        );
        let counts: Vec<(&str, u64)> = p
            .ttft_by_uncached_ms
            .iter()
            .map(|(k, l)| (k.as_str(), l.count))
            .collect();
        assert_eq!(counts, [("128", 2), ("16", 1)]);
        let none = aggregate(load(), &[with(None, 5)], &exp, ClientStats::default(), None);
        assert!(none.ttft_by_uncached_ms.is_empty());
    }
}
