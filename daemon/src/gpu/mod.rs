//! GPU sampling (being built): a `GpuSource` trait with an NVML source and a deterministic
//! fake, sampled at 10 Hz while a point runs and 1 Hz otherwise, with per-point figures.

mod summary;

pub use summary::summarize;
