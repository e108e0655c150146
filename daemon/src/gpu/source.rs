//! The [`GpuSource`] seam (NVML or the fake) and the `gpu` setting that picks one.

use super::fake::FakeSource;
use super::nvml::NvmlSource;
use llms_shared::GpuSample;

/// Largest GPU count `fake:N` accepts.
const MAX_FAKE_GPUS: u32 = 64;

/// Where GPU samples come from. Calls block (NVML), so only the sampler thread makes them.
pub trait GpuSource: Send + 'static {
    /// One sample of every GPU, in index order. A reading that fails is `None` in its
    /// field; a source never errors. An empty vector means no GPU answered.
    fn sample(&mut self) -> Vec<GpuSample>;

    /// The engine pids the daemon is measuring now, given before each sample. Real sources
    /// ignore it (NVML sees every process); the fake uses it to report those pids as
    /// holding GPU memory while they live.
    fn watch_pids(&mut self, _pids: &[u32]) {}

    /// The driver version, where the source knows one.
    fn driver(&self) -> Option<String> {
        None
    }
}

/// The source named by the `gpu` setting: `"nvml"` (the default, also for an empty value),
/// `"none"`, or `"fake:N"` with N from 1 to 64. `Ok(None)` means no GPUs: `none`, or NVML
/// without a driver or a device (logged at info). The error names the value.
pub fn source_from_config(spec: &str) -> Result<Option<Box<dyn GpuSource>>, String> {
    let bad = || {
        format!(
            "gpu source {spec:?}: expected \"nvml\", \"none\" or \"fake:N\" \
             (N a GPU count from 1 to {MAX_FAKE_GPUS})"
        )
    };
    match spec.trim() {
        "" | "nvml" => Ok(NvmlSource::open().map(|s| Box::new(s) as Box<dyn GpuSource>)),
        "none" => Ok(None),
        other => {
            let n = other.strip_prefix("fake:").ok_or_else(bad)?;
            match n.trim().parse::<u32>() {
                Ok(n) if (1..=MAX_FAKE_GPUS).contains(&n) => Ok(Some(Box::new(FakeSource::new(n)))),
                _ => Err(bad()),
            }
        }
    }
}

/// Wall-clock now in unix ms (display and storage timestamps only).
pub(super) use llms_shared::clock::now_ms as unix_ms;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn config_values() {
        assert!(source_from_config("none").unwrap().is_none());
        let mut fake = source_from_config("fake:2").unwrap().unwrap();
        assert_eq!(fake.sample().len(), 2);
        assert!(source_from_config(" fake:3 ").unwrap().is_some());
        for bad in ["fake:0", "fake:65", "fake:x", "fake:", "cuda", "NVML"] {
            let err = source_from_config(bad).err().unwrap();
            assert!(err.contains(bad), "{err}");
        }
        // No driver on a test machine is "no GPUs", never an error (a GPU host gives Some).
        assert!(source_from_config("nvml").is_ok());
    }
}
