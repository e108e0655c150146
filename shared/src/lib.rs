//! Types that cross the wire between `llmsd` and `llms`, and the JSON that `llmsd bench --json`
//! writes. Plain data, plus the few rules both sides must follow alike: the wire setup
//! ([`transport`]), the socket's place and privacy ([`socket`]) and the clock ([`clock`]).
//!
//! The JSON shape of [`BenchReport`] is a contract that scripts rely on: fields may be added
//! (with `#[serde(default)]` so older readers keep working), never renamed.
#![warn(missing_docs)]

pub mod api;
pub mod clock;
pub mod kind;
pub mod result;
pub mod search;
pub mod socket;
pub mod sweep;
pub mod transport;

pub use api::{
    ApiError, AttachedFile, EngineInfo, EngineMetrics, EngineState, GpuPointStats, GpuSample,
    Hello, ImportRequest, JobDetail, JobState, JobSummary, LivePoint, Llmsd, LlmsdClient,
    MAX_ATTACHED_BYTES, MAX_FRAME_BYTES, PROTOCOL_VERSION, PointGpu, PointPlan, ResultRow,
    SubmitRequest, Update,
};
pub use kind::EngineKind;
pub use search::{Objective, ProbeReport, SearchDef, SearchOver, SearchReport, SearchRole};
pub use sweep::{
    EngineDef, LoadDef, PROMPTS_FIELD, Sweep, TOKENIZER_FIELD, TRACE_FIELD, WorkloadDef,
};

pub use result::{
    Achieved, Arrival, BenchReport, Chunk, ClientStats, ItlCheck, LatencyStats, Load, PointResult,
    PrefixCacheHits, REPORT_VERSION, RequestError, RequestRecord, ServerCheck, Slo, Steady,
    TraceReport, Usage, WorkloadReport,
};
