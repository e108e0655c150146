//! The persistent job queue and the worker that runs sweep points.

pub mod queue;
pub mod spec;
