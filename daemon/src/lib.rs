//! `llmsd`: the llms daemon and its one-shot tools.
//!
//! # Layout
//!
//! - [`kinds`]: every engine kind as one row of one table (command line, readiness, metric
//!   names, what a request may carry, warm-up, version probe); every list and check of kinds
//!   is derived from it.
//! - [`loadgen`]: the streaming load generator and metric aggregation (the daemon's scheduler
//!   and `llmsd bench` share it).
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
//! - [`store`]: sled, the only module that knows trees, keys and encodings; the per-job
//!   journal and `llmsd repair`.
//! - [`rpc`]: the tarpc server: translate and delegate.
//! - [`exporter`]: `[metrics] listen`, the daemon's state in the Prometheus text format.
//! - [`bench`]: the one-shot `llmsd bench`, whose `Session` the scheduler also uses.
//!
//! # Dependencies
//!
//! One way, no cycles (checked by reading every `crate::` path, issue 13):
//!
//! - `daemon` -> {`config`, `engine`, `gpu`, `rpc`, `scheduler`, `store`} (it wires them);
//! - `rpc` -> {`scheduler`, `engine`, `gpu`};
//! - `exporter` -> {`scheduler`, `engine`, `gpu`, `store`, `rpc`} (it reads what they hold);
//! - `scheduler` -> {`bench`, `config`, `engine`, `gpu`, `kinds`, `loadgen`, `store`};
//! - `doctor` -> {`config`, `engine`, `gpu`, `kinds`, `loadgen`, `store`};
//! - `config` -> `engine` (the TensorRT-LLM tool paths it fills in);
//! - `bench`, `engine` and `refengine` -> `loadgen` (the HTTP client, Prometheus parsing);
//! - `engine`, `bench`, `config` and `loadgen` -> `kinds` (the table);
//! - `kinds`, `gpu` and `store` depend on no other module here.
//!
//! # Concurrency
//!
//! Each subsystem is a cheap-to-clone handle over shared state (`EngineHandle`,
//! `SchedulerHandle`, `GpuHandle`: an `Arc` of an inner struct; `Store`: sled's trees), not an
//! actor with a message loop. Every call is short, and the state is read far more often
//! than it is written, so the handles answer from the state directly:
//!
//! - locks are `std::sync` ones held for a few statements, never across an `.await`;
//! - a poisoned lock (its holder panicked; the panic is contained by its task) never stops
//!   the daemon: its data is taken over as it is, the one policy written down in [`sync`],
//!   whose `lock` every lock goes through;
//! - background work runs as tasks or threads each handle owns: the GPU sampler thread (its
//!   commands over a channel), the engines' log pumps and `/metrics` scrapes, the scheduler's
//!   dispatcher, and the workers;
//! - changes are announced on `tokio::sync::watch` channels, which `rpc::hub` turns into
//!   `watch` answers.
//!
//! Points run on a runtime of their own (`llmsd-points` threads), so the API's load never
//! delays a stream's timestamps. `shared/DESIGN.md` is the first plan (it described actors);
//! the code is the reference now.

pub mod bench;
pub mod config;
pub mod daemon;
pub mod doctor;
pub mod engine;
pub mod exporter;
pub mod gpu;
pub mod kinds;
pub mod loadgen;
pub mod refengine;
pub mod rpc;
pub mod scheduler;
pub mod store;
pub mod sync;
