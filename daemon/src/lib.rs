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
//! The daemon proper (engine supervisor, job queue, GPU sampler, store, RPC) comes next.

pub mod bench;
pub mod config;
pub mod engine;
pub mod gpu;
pub mod loadgen;
pub mod refengine;
pub mod scheduler;
pub mod store;
