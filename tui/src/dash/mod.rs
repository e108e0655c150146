//! The dashboard: `llms` with no subcommand.
//!
//! Events -> actions -> a pure [`update::update`] that returns [`command::Command`]s ->
//! I/O in spawned tasks whose replies come back as events -> a pure [`ui::render`].
//! [`app`] runs the loop, [`poller`] follows the daemon's `watch` and reconnects,
//! [`keymap`] maps keys (and generates help), [`model`] holds the state.
//!
//! The terminal is restored on every exit: a drop guard on return, and the panic hook
//! `ratatui::try_init` installs, which restores before the panic message.

pub mod action;
pub mod app;
pub mod command;
pub mod event;
pub mod keymap;
pub mod model;
pub mod nav;
pub mod poller;
pub mod reply;
pub mod scroll;
pub mod ui;
pub mod update;

#[cfg(test)]
mod testdata;

use crate::conn::{Target, connect};
use crate::failure::Failure;
use std::io::IsTerminal;

/// Restores the terminal when dropped (every return path, and unwinding).
struct Restore;

impl Drop for Restore {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Run the dashboard against the daemon at `target` until the user quits.
pub async fn run(target: Target) -> Result<(), Failure> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Failure::usage(
            "the dashboard needs a terminal; use the subcommands for scripts (`llms --help`)",
        ));
    }
    // A daemon that is not there (or speaks another protocol) is an error before the
    // screen is taken; once running, losing it only shows "reconnecting".
    let session = connect(&target).await?;
    let model = model::Model::new(
        target.label(),
        session.hello.clone(),
        ui::theme::no_color_env(),
        app::now_ms(),
    );
    let _restore = Restore;
    let mut terminal = ratatui::try_init()
        .map_err(|e| Failure::error(format!("cannot set up the terminal: {e}")))?;
    // The hook try_init installed restores the terminal and prints the panic; then stop, even
    // when the panic was in a spawned task: drawing on a restored terminal would garble it.
    let restoring = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restoring(info);
        std::process::exit(101);
    }));
    app::run(&mut terminal, model, target, session).await
}
