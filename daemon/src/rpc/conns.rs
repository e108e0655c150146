//! The connections of one listener: how many, which are idle, which have authenticated. A
//! full listener makes room for a newcomer by closing the connection that matters least (one
//! that never authenticated, else the longest idle), so idle or half-open connections can
//! never lock a real client out; only a listener whose every connection has a call in flight
//! refuses. A connection with no call for [`Limits::idle`] is closed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The bounds of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections at once.
    pub max: usize,
    /// A connection with no call in flight for this long is closed.
    pub idle: Duration,
    /// Calls in flight on one connection; more are answered with an error at once.
    pub in_flight: usize,
}

/// One connection's entry.
struct Entry {
    opened: Instant,
    last: Instant,
    in_flight: usize,
    authed: Arc<AtomicBool>,
    close: CancellationToken,
}

/// The registry. Cheap to clone.
#[derive(Clone)]
pub struct Conns {
    limits: Limits,
    inner: Arc<Mutex<Registry>>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    open: HashMap<u64, Entry>,
}

/// A registered connection: its activity is reported through it, and it leaves the registry
/// when dropped.
pub struct Conn {
    id: u64,
    conns: Conns,
    /// Cancelled when the connection must close (evicted, idle, or the daemon stops).
    pub close: CancellationToken,
}

impl Conns {
    /// An empty registry.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            inner: Arc::new(Mutex::new(Registry::default())),
        }
    }

    /// The bounds.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Register a new connection, closing another to make room if the listener is full;
    /// `None` when every connection has a call in flight.
    pub fn admit(&self, authed: Arc<AtomicBool>, parent: &CancellationToken) -> Option<Conn> {
        let mut r = crate::sync::lock(&self.inner);
        if r.open.len() >= self.limits.max {
            let victim = r
                .open
                .iter()
                .filter(|(_, e)| !e.authed.load(Ordering::Acquire))
                .min_by_key(|(_, e)| e.opened)
                .or_else(|| {
                    r.open
                        .iter()
                        .filter(|(_, e)| e.in_flight == 0)
                        .min_by_key(|(_, e)| e.last)
                })
                .map(|(id, _)| *id)?;
            if let Some(e) = r.open.remove(&victim) {
                tracing::info!("listener full: closing an idle connection to admit a new one");
                e.close.cancel();
            }
        }
        let id = r.next;
        r.next += 1;
        let close = parent.child_token();
        let now = Instant::now();
        r.open.insert(
            id,
            Entry {
                opened: now,
                last: now,
                in_flight: 0,
                authed,
                close: close.clone(),
            },
        );
        Some(Conn {
            id,
            conns: self.clone(),
            close,
        })
    }

    /// Connections open now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        crate::sync::lock(&self.inner).open.len()
    }

    fn with(&self, id: u64, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = crate::sync::lock(&self.inner).open.get_mut(&id) {
            f(e);
        }
    }
}

impl Conn {
    /// A call began.
    pub fn begin(&self) {
        self.conns.with(self.id, |e| {
            e.in_flight += 1;
            e.last = Instant::now();
        });
    }

    /// A call ended.
    pub fn end(&self) {
        self.conns.with(self.id, |e| {
            e.in_flight = e.in_flight.saturating_sub(1);
            e.last = Instant::now();
        });
    }

    /// Resolves when the connection has been idle (no call in flight) for the idle limit.
    pub async fn idle(&self) {
        let limit = self.conns.limits.idle;
        loop {
            let mut due = None;
            self.conns.with(self.id, |e| {
                due = Some(match e.in_flight {
                    0 => e.last + limit,
                    _ => Instant::now() + limit,
                })
            });
            let Some(due) = due else {
                // Evicted: the close token says so.
                return std::future::pending().await;
            };
            if due <= Instant::now() {
                return;
            }
            tokio::time::sleep_until(due).await;
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        crate::sync::lock(&self.conns.inner).open.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conns(max: usize) -> Conns {
        Conns::new(Limits {
            max,
            idle: Duration::from_secs(60),
            in_flight: 8,
        })
    }

    fn flag(b: bool) -> Arc<AtomicBool> {
        Arc::new(AtomicBool::new(b))
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_listener_closes_the_unauthenticated_then_the_longest_idle() {
        let c = conns(3);
        let stop = CancellationToken::new();
        let a = c.admit(flag(true), &stop).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let b = c.admit(flag(false), &stop).unwrap();
        tokio::time::advance(Duration::from_secs(1)).await;
        let d = c.admit(flag(true), &stop).unwrap();
        // Full: the one that never authenticated goes, though it is not the oldest.
        tokio::time::advance(Duration::from_secs(1)).await;
        let e = c.admit(flag(true), &stop).unwrap();
        assert!(b.close.is_cancelled() && !a.close.is_cancelled());
        assert_eq!(c.len(), 3);
        // Then the longest idle: a is busy, so d (idle since it opened) goes.
        a.begin();
        tokio::time::advance(Duration::from_secs(1)).await;
        let _f = c.admit(flag(true), &stop).unwrap();
        assert!(d.close.is_cancelled() && !a.close.is_cancelled() && !e.close.is_cancelled());
        // Every connection busy: the newcomer is refused.
        e.begin();
        _f.begin();
        assert!(c.admit(flag(true), &stop).is_none());
        drop(a);
        assert_eq!(c.len(), 2);
        assert!(c.admit(flag(true), &stop).is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn idle_means_no_call_in_flight_for_the_limit() {
        let c = conns(4);
        let stop = CancellationToken::new();
        let a = c.admit(flag(true), &stop).unwrap();
        a.begin();
        // A call that runs long (a watch) is not idleness.
        let t0 = Instant::now();
        tokio::select! {
            () = a.idle() => panic!("idle while a call runs"),
            () = tokio::time::sleep(Duration::from_secs(600)) => {}
        }
        a.end();
        a.idle().await;
        assert!(t0.elapsed() >= Duration::from_secs(660));
    }
}
