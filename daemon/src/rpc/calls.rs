//! How many times each API method was called since the daemon started (for
//! `llmsd_api_calls_total`). Refused calls count too: they cost the daemon the same.

use std::sync::atomic::{AtomicU64, Ordering};

/// The API's methods, as the counter's `method` label names them.
pub const METHODS: [&str; 12] = [
    "hello",
    "submit",
    "jobs",
    "job",
    "cancel",
    "reorder",
    "results",
    "engines",
    "engine_log",
    "gpus",
    "watch",
    "import",
];

/// One counter per method.
#[derive(Debug, Default)]
pub struct Calls([AtomicU64; METHODS.len()]);

impl Calls {
    /// Count one call of `method` (a name not in [`METHODS`] is not counted).
    pub fn hit(&self, method: &str) {
        if let Some(i) = METHODS.iter().position(|m| *m == method) {
            self.0[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// (method, calls), in [`METHODS`] order.
    pub fn counts(&self) -> Vec<(&'static str, u64)> {
        METHODS
            .iter()
            .zip(&self.0)
            .map(|(m, c)| (*m, c.load(Ordering::Relaxed)))
            .collect()
    }
}
