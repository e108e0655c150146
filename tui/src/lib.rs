//! `llms`: the script client of `llmsd` (the dashboard comes later). `main.rs` only parses
//! arguments and prints; everything else lives here so tests can call it.
#![warn(missing_docs)]

pub mod cli;
pub mod commands;
pub mod conn;
pub mod failure;
pub mod output;
pub mod socket;

pub use failure::Failure;
