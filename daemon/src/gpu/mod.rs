//! GPU sampling (being built): a `GpuSource` trait with an NVML source and a deterministic
//! fake, sampled at 10 Hz while a point runs and 1 Hz otherwise, with per-point figures.

mod fake;
mod nvml;
mod source;
mod summary;

pub use fake::FakeSource;
pub use nvml::NvmlSource;
pub use source::{GpuSource, source_from_config};
pub use summary::summarize;
