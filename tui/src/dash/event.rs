//! What reaches [`update`](super::update): actions from keys, ticks carrying the time, the
//! poller's [`DaemonEvent`]s and the [`Reply`]s of finished commands.

use super::action::Action;
use super::command::Reply;
use llms_shared::{Hello, Update};

/// From the poller that follows `watch`.
#[derive(Debug, Clone, PartialEq)]
pub enum DaemonEvent {
    /// Connected (again) and greeted.
    Connected(Hello),
    /// A `watch` answer.
    Update(Box<Update>),
    /// The connection was lost or a reconnect failed; the reason.
    Disconnected(String),
}

/// One input to `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    /// A key's action.
    Action(Action),
    /// Time passed: now, unix ms.
    Tick(u64),
    /// From the poller.
    Daemon(DaemonEvent),
    /// A command finished.
    Reply(Reply),
    /// The terminal's size now: columns, rows.
    Resize(u16, u16),
}
