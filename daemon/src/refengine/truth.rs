//! Ground truth: when the reference engine received each request and when every
//! token-carrying chunk left it (taken right after the socket write returned).

use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::time::Instant;

/// What the engine did for one request. Times are ns since the engine started.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TruthRecord {
    /// The request's `x-request-id` (or one the engine made up).
    pub id: String,
    /// The whole request had been read.
    pub received_ns: u64,
    /// Token-carrying chunks: (written at, tokens in it).
    pub events: Vec<(u64, u32)>,
    /// `[DONE]` written, if the stream got that far.
    pub done_ns: Option<u64>,
    /// Prompt length the engine counted.
    pub prompt_tokens: u64,
    /// Of those, the tokens its prefix cache had (not computed again).
    #[serde(default)]
    pub cached_tokens: u64,
    /// Tokens it sent.
    pub completion_tokens: u64,
    /// Fault injected into this request, if any.
    pub fault: Option<String>,
}

impl TruthRecord {
    /// The engine's time to first token: first token chunk written minus request received.
    pub fn ttft_ns(&self) -> Option<u64> {
        self.events
            .first()
            .map(|e| e.0.saturating_sub(self.received_ns))
    }
}

/// The engine's record of every request, in completion order.
pub struct Truth {
    epoch: Instant,
    /// `epoch` on the machine-wide `CLOCK_MONOTONIC` time line, so a client on the same machine
    /// can compare its own times with these.
    epoch_monotonic_ns: u64,
    records: Mutex<Vec<TruthRecord>>,
}

impl Default for Truth {
    fn default() -> Self {
        Self {
            epoch_monotonic_ns: crate::loadgen::client::monotonic_ns(),
            epoch: Instant::now(),
            records: Mutex::new(Vec::new()),
        }
    }
}

impl Truth {
    /// ns since the engine started.
    pub fn now_ns(&self) -> u64 {
        crate::loadgen::client::ns_between(self.epoch, Instant::now())
    }

    /// Keep a finished request's record.
    pub fn push(&self, r: TruthRecord) {
        crate::sync::lock(&self.records).push(r);
    }

    /// Every record so far, as the JSON of [`GroundTruth`].
    pub fn to_json(&self) -> String {
        let requests = crate::sync::lock(&self.records).clone();
        let t = GroundTruth {
            epoch_monotonic_ns: self.epoch_monotonic_ns,
            requests,
        };
        serde_json::to_string(&t).unwrap_or_default()
    }
}

/// What `GET /ground_truth` returns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroundTruth {
    /// The engine's time zero on the machine-wide `CLOCK_MONOTONIC`, in ns.
    pub epoch_monotonic_ns: u64,
    /// Every finished request.
    pub requests: Vec<TruthRecord>,
}

impl GroundTruth {
    /// Read a running reference engine's ground truth from `{url}/ground_truth`.
    pub async fn fetch(url: &str) -> Result<Self, String> {
        let http = crate::loadgen::client::http_builder()
            .build()
            .map_err(|e| e.to_string())?;
        let resp = http
            .get(format!("{url}/ground_truth"))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let text = resp.text().await.map_err(|e| e.to_string())?;
        serde_json::from_str(&text).map_err(|e| format!("ground truth is not valid JSON: {e}"))
    }

    /// Records by request id.
    pub fn by_id(self) -> std::collections::HashMap<String, TruthRecord> {
        self.requests
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect()
    }
}
