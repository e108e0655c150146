//! The loop: terminal keys, a tick carrying the time, and events from the poller and from
//! finished commands, each turned into a [`Msg`] for `update`; commands run in spawned
//! tasks; the frame is redrawn after a change, at most [`FRAME`] apart.

use super::command::{self, Command, Reply};
use super::event::{DaemonEvent, Msg};
use super::model::Model;
use super::{keymap, poller, ui, update::update};
use crate::conn::{Session, Target};
use crate::failure::Failure;
use crossterm::event::{Event as TermEvent, EventStream, KeyEventKind};
use futures::StreamExt;
use ratatui::DefaultTerminal;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Tick period: the clock the model sees, and the redraw check.
pub const TICK: Duration = Duration::from_millis(100);
/// Shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(100);

/// What tasks send the loop.
#[derive(Debug)]
pub enum AppEvent {
    /// From the poller.
    Daemon(DaemonEvent),
    /// A command finished.
    Reply(Reply),
}

/// Now, unix ms.
pub use llms_shared::clock::now_ms;

/// Run the dashboard on `terminal` until the user quits.
pub async fn run(
    terminal: &mut DefaultTerminal,
    mut model: Model,
    target: Target,
    session: Session,
) -> Result<(), Failure> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (sessions, current) = watch::channel(None);
    let poller = tokio::spawn(poller::run(target, session, tx.clone(), sessions));
    let mut keys = EventStream::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut dirty = true;
    let mut last_draw: Option<Instant> = None;
    // SIGTERM, and SIGHUP (the SSH session went away), end the loop like `q`, so the terminal
    // is restored on the way out.
    let signal = |k| tokio::signal::unix::signal(k).map_err(|e| Failure::error(e.to_string()));
    let mut term = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup = signal(tokio::signal::unix::SignalKind::hangup())?;
    if let Ok(size) = terminal.size() {
        let _ = update(&mut model, Msg::Resize(size.width, size.height));
    }
    let outcome = loop {
        if dirty && last_draw.is_none_or(|t| t.elapsed() >= FRAME) {
            if let Err(e) = terminal.draw(|f| ui::render(&model, f)) {
                break Err(Failure::error(format!("cannot draw: {e}")));
            }
            dirty = false;
            last_draw = Some(Instant::now());
        }
        let msg = tokio::select! {
            _ = term.recv() => break Ok(()),
            _ = hup.recv() => break Ok(()),
            key = keys.next() => match key {
                Some(Ok(TermEvent::Key(k))) if k.kind != KeyEventKind::Release => {
                    keymap::action(&model.ui, k).map(Msg::Action)
                }
                Some(Ok(TermEvent::Resize(w, h))) => Some(Msg::Resize(w, h)),
                Some(Ok(_)) => None,
                Some(Err(e)) => break Err(Failure::error(format!("cannot read the terminal: {e}"))),
                None => break Ok(()),
            },
            _ = tick.tick() => {
                let now = now_ms();
                // Clocks on screen move by the second.
                dirty |= now / 1000 != model.now_ms / 1000;
                Some(Msg::Tick(now))
            }
            Some(ev) = rx.recv() => Some(match ev {
                AppEvent::Daemon(d) => Msg::Daemon(d),
                AppEvent::Reply(r) => Msg::Reply(r),
            }),
        };
        let Some(msg) = msg else { continue };
        if !matches!(msg, Msg::Tick(_)) {
            dirty = true;
        }
        for cmd in update(&mut model, msg) {
            spawn(cmd, current.borrow().clone(), tx.clone());
        }
        if model.quit {
            break Ok(());
        }
    };
    poller.abort();
    outcome
}

fn spawn(cmd: Command, s: Option<Session>, tx: mpsc::UnboundedSender<AppEvent>) {
    tokio::spawn(async move {
        let reply = command::execute(cmd, s).await;
        // The loop may have ended; nobody is left to tell.
        let _ = tx.send(AppEvent::Reply(reply));
    });
}
