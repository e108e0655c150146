//! The poller: follows `watch` and reconnects with backoff when the daemon goes away. It
//! owns the connection; the app learns of it through [`DaemonEvent`]s, and command tasks
//! take the current [`Session`] from a `watch` channel (`None` while disconnected).

use super::app::AppEvent;
use super::event::DaemonEvent;
use crate::conn::{Session, Target, connect, ctx};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long one `watch` call may wait for a change, ms.
pub const WATCH_WAIT_MS: u64 = 5_000;
/// First reconnect delay; it doubles up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
/// Longest reconnect delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Follow the daemon until the app goes away. `first` is the session made at start-up.
pub async fn run(
    target: Target,
    first: Session,
    tx: mpsc::UnboundedSender<AppEvent>,
    sessions: watch::Sender<Option<Session>>,
) {
    let send = |e: DaemonEvent| tx.send(AppEvent::Daemon(e)).is_ok();
    let mut next = Some(first);
    let mut backoff = MIN_BACKOFF;
    loop {
        let s = match next.take() {
            Some(s) => s,
            None => match connect(&target).await {
                Ok(s) => s,
                Err(f) => {
                    if !send(DaemonEvent::Disconnected(f.message)) {
                        return;
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            },
        };
        backoff = MIN_BACKOFF;
        sessions.send_replace(Some(s.clone()));
        if !send(DaemonEvent::Connected(s.hello.clone())) {
            return;
        }
        let Some(reason) = follow(&s, &tx).await else {
            return;
        };
        sessions.send_replace(None);
        if !send(DaemonEvent::Disconnected(reason)) {
            return;
        }
        tokio::time::sleep(backoff).await;
    }
}

/// Long-poll until the connection fails (its reason) or the app is gone (`None`).
async fn follow(s: &Session, tx: &mpsc::UnboundedSender<AppEvent>) -> Option<String> {
    let mut since = 0;
    loop {
        match s.client.watch(ctx(), since, WATCH_WAIT_MS).await {
            Ok(Ok(u)) => {
                since = u.seq;
                tx.send(AppEvent::Daemon(DaemonEvent::Update(Box::new(u))))
                    .ok()?;
            }
            Ok(Err(e)) => return Some(e.to_string()),
            Err(e) => return Some(e.to_string()),
        }
    }
}

#[cfg(test)]
#[path = "poller_tests.rs"]
mod tests;
