//! The streaming load generator and its metric aggregation. Depends on no other daemon module,
//! so the one-shot `llmsd bench` and the daemon's scheduler share it.
//!
//! - [`request`]: prompts and request bodies; [`prompts`]: prompt files; [`synth`]: exact-length
//!   synthetic prompts.
//! - [`client`]: sends one request and records its stream; [`sse`]: events out of the bytes;
//!   [`stream`]: per-event rules.
//! - [`runner`]: load modes (closed loop, static batches, open loop); [`schedule`]: arrivals;
//!   [`rt`]: the thread every request of a point runs on.
//! - [`stats`]: records to figures; [`probe`]: is the client the bottleneck? [`live`]: progress
//!   of a running point.
//! - [`metrics`]: the server's own Prometheus counters, for cross-checks.

pub mod client;
pub mod conversation;
pub mod live;
pub mod metrics;
pub mod probe;
pub mod prompts;
pub mod request;
pub mod rt;
pub mod runner;
pub mod schedule;
pub mod sse;
pub mod stats;
pub mod steady;
pub mod stream;
pub mod synth;
pub mod trace;
