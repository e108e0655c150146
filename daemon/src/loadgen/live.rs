//! What a point has done so far, for the daemon's live view: tokens as they arrive, and the
//! latency of requests as they finish. The hot path pays one relaxed atomic add per chunk.

use super::stats::Samples;
use llms_shared::RequestRecord;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Shared between the client tasks of one point and whoever reads its progress.
#[derive(Default)]
pub struct Live {
    started: AtomicU64,
    tokens: AtomicU64,
    done: AtomicU64,
    failed: AtomicU64,
    /// Prompt tokens of the completed requests, as the server counted them.
    prompt: AtomicU64,
    /// Of those, served from the engine's prefix cache (where it reports them).
    cached: AtomicU64,
    /// Whether any request reported cached tokens.
    cache_seen: AtomicBool,
    latency: Mutex<Latency>,
}

#[derive(Default)]
struct Latency {
    ttft: Samples,
    itl: Samples,
}

/// A reading of [`Live`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveSnapshot {
    /// Output tokens received (chunks of finished and unfinished requests).
    pub tokens: u64,
    /// Requests finished, failed included.
    pub done: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests sent and not ended.
    pub in_flight: u64,
    /// TTFT p50 and p99 of the completed requests, ms.
    pub ttft_ms: Option<(f64, f64)>,
    /// ITL p50 and p99 over the completed requests, ms.
    pub itl_ms: Option<(f64, f64)>,
    /// Prompt tokens of the completed requests.
    pub prompt_tokens: u64,
    /// Of those, served from the engine's prefix cache, where the engine reports it.
    pub cached_tokens: Option<u64>,
}

impl Live {
    /// A measured request is being sent.
    pub fn started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
    }

    /// `n` more tokens arrived.
    pub fn add_tokens(&self, n: u32) {
        self.tokens.fetch_add(u64::from(n), Ordering::Relaxed);
    }

    /// A request ended (measured requests only).
    pub fn finished(&self, r: &RequestRecord) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if r.error.is_some() {
            self.failed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.prompt
            .fetch_add(r.usage.prompt_tokens.unwrap_or(0), Ordering::Relaxed);
        if let Some(c) = r.usage.cached_tokens {
            self.cached.fetch_add(c, Ordering::Relaxed);
            self.cache_seen.store(true, Ordering::Relaxed);
        }
        {
            let mut l = crate::sync::lock(&self.latency);
            if let Some(t) = r.ttft_ns() {
                l.ttft.add(t);
            }
            r.gaps_ns().for_each(|g| l.itl.add(g));
        }
    }

    /// The figures so far.
    pub fn snapshot(&self) -> LiveSnapshot {
        let pair = |s: &Samples| (!s.is_empty()).then(|| (s.quantile_ms(0.5), s.quantile_ms(0.99)));
        let (ttft_ms, itl_ms) = {
            let l = crate::sync::lock(&self.latency);
            (pair(&l.ttft), pair(&l.itl))
        };
        let done = self.done.load(Ordering::Relaxed);
        LiveSnapshot {
            tokens: self.tokens.load(Ordering::Relaxed),
            done,
            failed: self.failed.load(Ordering::Relaxed),
            in_flight: self.started.load(Ordering::Relaxed).saturating_sub(done),
            ttft_ms,
            itl_ms,
            prompt_tokens: self.prompt.load(Ordering::Relaxed),
            cached_tokens: self
                .cache_seen
                .load(Ordering::Relaxed)
                .then(|| self.cached.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_percentiles() {
        let live = Live::default();
        live.add_tokens(3);
        let ok = RequestRecord {
            chunks: vec![(2_000_000, 1), (3_000_000, 1), (5_000_000, 1)],
            ..Default::default()
        };
        live.finished(&ok);
        live.finished(&RequestRecord {
            error: Some(llms_shared::RequestError {
                kind: "http_500".into(),
                message: String::new(),
            }),
            ..Default::default()
        });
        let s = live.snapshot();
        assert_eq!((s.tokens, s.done, s.failed), (3, 2, 1));
        let (p50, _) = s.ttft_ms.unwrap();
        assert!((p50 - 2.0).abs() < 0.01, "{p50}");
        let (i50, i99) = s.itl_ms.unwrap();
        assert!(
            (i50 - 1.0).abs() < 0.01 && (i99 - 2.0).abs() < 0.01,
            "{i50} {i99}"
        );
    }

    #[test]
    fn prompt_and_cached_tokens_of_completed_requests() {
        let live = Live::default();
        let rec = |prompt, cached| RequestRecord {
            chunks: vec![(1, 1)],
            usage: llms_shared::Usage {
                prompt_tokens: Some(prompt),
                cached_tokens: cached,
                ..Default::default()
            },
            ..Default::default()
        };
        live.finished(&rec(100, None));
        assert_eq!(live.snapshot().cached_tokens, None, "no engine report yet");
        live.finished(&rec(100, Some(64)));
        live.finished(&rec(50, Some(0)));
        let s = live.snapshot();
        assert_eq!((s.prompt_tokens, s.cached_tokens), (250, Some(64)));
    }
}
