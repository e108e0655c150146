//! `llms`: the dashboard and script client of `llmsd`. `main.rs` only parses arguments and
//! prints; everything else lives here so tests can call it.
#![warn(missing_docs)]

pub mod attach;
pub mod capacity;
pub mod cli;
pub mod commands;
pub mod compare;
pub mod conn;
pub mod dash;
pub mod demo;
pub mod failure;
#[cfg(test)]
pub mod fixtures;
pub mod flags;
pub mod frontier;
pub mod interop;
pub mod output;
pub mod report;
pub mod socket;

pub use failure::Failure;
