//! `llmsd`: the llms daemon and its one-shot tools.
//!
//! # Layout
//!
//! - [`loadgen`]: the streaming load generator and metric aggregation (no dependency on any
//!   other module here; the daemon's scheduler and `llmsd bench` share it).
//! - [`refengine`]: the reference engine, an OpenAI-compatible server with a performance model
//!   that records the true time of every chunk it sends (ground truth for accuracy tests and
//!   benchmarks, and the engine of the demo on machines without a GPU).
//!
//! - [`daemon`]: `run`, the only place the daemon's subsystems are wired together; start
//!   reading there. [`config`]: its TOML file and flags. [`doctor`]: what this machine can
//!   run.
//! - [`scheduler`]: the persistent job queue (sweep files, points, resume after a crash).
//! - [`engine`]: engine processes (process groups, readiness, logs, stop, `/metrics`).
//! - [`gpu`]: the NVML sampler (and a deterministic fake) and per-point GPU figures.
//! - [`store`]: sled, the only module that knows trees, keys and encodings.
//! - [`rpc`]: the tarpc server: translate and delegate.
//! - [`bench`]: the one-shot `llmsd bench`, whose `Session` the scheduler also uses.
//!
//! Dependencies go one way: `rpc` -> {`scheduler`, `engine`, `gpu`}; `scheduler` ->
//! {`engine`, `gpu`, `bench`/`loadgen`, `store`}; `loadgen` and `store` depend on no other
//! module here.

pub mod bench;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod engine;
pub mod gpu;
pub mod loadgen;
pub mod refengine;
pub mod rpc;
pub mod scheduler;
pub mod store;
