//! Results in the formats other tools read and write: the JSON `vllm bench serve
//! --save-result` writes ([`vllm`]), llm-d's Benchmark Report v0.2 ([`llmd`]), raw
//! per-request records as CSV or JSON lines ([`requests`]), and files brought in by
//! `llms import` ([`import`]). Pure: no I/O but what `import` reads from the user's file.

pub mod import;
pub mod llmd;
pub mod requests;
mod stats;
pub mod vllm;

use llms_shared::Sweep;
use std::collections::BTreeMap;

/// What a job's spec says that its result rows do not carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobMeta {
    /// Model of each engine (by its name in the job), where the spec names one.
    pub models: BTreeMap<String, String>,
    /// `chat` or `completions`.
    pub endpoint: Option<String>,
}

impl JobMeta {
    /// Read from the job's submitted TOML; an imported job's spec (a comment) gives nothing.
    pub fn from_spec(spec: &str) -> JobMeta {
        let Ok(sweep) = toml::from_str::<Sweep>(spec) else {
            return JobMeta::default();
        };
        let mut models = BTreeMap::new();
        for e in &sweep.engines {
            let name = e.name.clone().unwrap_or_else(|| e.kind.clone());
            if let Some(m) = e.model.clone().or_else(|| sweep.model.clone()) {
                models.insert(name, m);
            }
        }
        JobMeta {
            models,
            endpoint: sweep.endpoint.clone(),
        }
    }
}
