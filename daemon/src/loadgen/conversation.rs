//! Conversations: sessions of turns, run one turn after another. Each turn resends the whole
//! history (every earlier user message and the answer the engine actually gave) and one new
//! user message, as a chat client does; the next turn waits for the answer and then the think
//! time. A failed turn ends its session (there is no answer to go on from). Load counts
//! sessions: `concurrency` sessions in flight, `rate` session starts; `requests` counts turns,
//! rounded up to whole sessions.

use super::client::{Clock, Prepared};
use super::prompts::Dialogue;
use super::request::{Endpoint, Message, Prompt, RequestOptions, body, preamble, with_preamble};
use super::runner::{LastSent, PointSpec, Workload, internal};
use super::schedule::Schedule;
use llms_shared::RequestRecord;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// How a conversation's turns are made.
#[derive(Debug, Clone)]
pub struct Conversation {
    /// Turns per session.
    pub turns: u32,
    /// Between an answer and the next turn.
    pub think: Duration,
    /// The header that carries the session's id, checked.
    pub header: Option<reqwest::header::HeaderName>,
    /// Route.
    pub endpoint: Endpoint,
    /// Generation settings.
    pub opts: RequestOptions,
    /// The user messages, cycled: turn `t` of the session whose first turn is request `seq`
    /// of the run says message `(seq + t) % len`.
    pub users: Arc<Vec<Prompt>>,
    /// Whether the first turn starts with the session's preamble (false: verbatim prompts).
    pub unique: bool,
    /// A dataset's conversations to replay instead of `users`: each session one of them,
    /// turn by turn (every user turn, up to `turns`), the assistant's turns the engine's own.
    pub dialogues: Option<Arc<Vec<Dialogue>>>,
    /// Each session's turns drawn from this (at most `turns`), seeded by `seed` and the
    /// session; `None`: every session has `turns`.
    pub turns_dist: Option<crate::bench::dist::Dist>,
    /// Think times drawn exponentially with `think` as their mean, instead of fixed.
    pub think_exponential: bool,
    /// Seed of the draws.
    pub seed: u64,
    /// A system message every session opens with, the same text for all (after it, the
    /// first user message carries the session's preamble, so only this is shared).
    pub system: Option<String>,
}

impl Conversation {
    /// The turns of the session whose first turn is request `seq` of the run.
    fn turns_of(&self, seq: u64) -> u64 {
        use rand::SeedableRng;
        let most = u64::from(self.turns);
        match &self.turns_dist {
            Some(d) => {
                let mut rng = rand::rngs::StdRng::seed_from_u64(self.seed ^ seq.rotate_left(17));
                u64::from(d.sample(&mut rng)).clamp(1, most.max(1))
            }
            None => most,
        }
    }

    /// The think time after turn `t` of the session whose first turn is request `seq`.
    fn think_after(&self, seq: u64, t: u64) -> Duration {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Exp};
        if !self.think_exponential || self.think.is_zero() {
            return self.think;
        }
        let mut rng =
            rand::rngs::StdRng::seed_from_u64(self.seed ^ 0x0074_6869_6e6b ^ seq.wrapping_add(t));
        match Exp::new(1.0 / self.think.as_secs_f64()) {
            Ok(d) => Duration::from_secs_f64(d.sample(&mut rng).min(3_600.0)),
            Err(_) => self.think,
        }
    }
}

/// Sessions needed for `requests` turns.
fn sessions_for(requests: u64, turns: u32) -> u64 {
    requests.div_ceil(u64::from(turns.max(1)))
}

/// Whether session `s` may start (its first turn is within `requests` and the duration).
fn past(spec: &PointSpec, clock: Clock, s: u64, turns: u32) -> bool {
    spec.requests.is_some_and(|r| s >= sessions_for(r, turns))
        || spec.duration.is_some_and(|d| clock.epoch.elapsed() >= d)
}

impl Workload {
    /// Run session `s` of the point: its turns, in order. Records are numbered
    /// `s * turns + t` (their place in the point) and carry their turn (1 the first).
    async fn session(
        &self,
        c: &Conversation,
        spec: &PointSpec,
        clock: Clock,
        s: u64,
        mut due: Instant,
    ) -> Vec<(u64, RequestRecord)> {
        // Every session has `c.turns` places in the point's numbering, whatever it sends.
        let slots = u64::from(c.turns);
        let seq = self.first_prompt.wrapping_add(s * slots);
        let mut turns = c.turns_of(seq);
        let n = c.users.len().max(1) as u64;
        // A dataset's conversation: the session's own (the run's sessions take them in turn).
        let dialogue = c.dialogues.as_ref().and_then(|d| {
            let i = (seq / slots.max(1)) % (d.len().max(1) as u64);
            d.get(i as usize)
        });
        if let Some(d) = dialogue {
            turns = turns.min(d.users.len() as u64);
        }
        let mut history: Vec<Message> = Vec::new();
        let mut out = Vec::with_capacity(c.turns as usize);
        let header = c.header.as_ref().and_then(|h| {
            let v = format!("{}-s{s}", self.id_prefix);
            reqwest::header::HeaderValue::from_str(&v)
                .ok()
                .map(|v| (h.clone(), v))
        });
        for t in 0..turns {
            if t > 0 && spec.duration.is_some_and(|d| clock.epoch.elapsed() >= d) {
                break;
            }
            let i = s * slots + t;
            let id = format!("{}-{i}", self.id_prefix);
            let mut new = match dialogue {
                Some(d) => {
                    let mut ms = match t {
                        0 => d.system.clone(),
                        _ => Vec::new(),
                    };
                    ms.push(Message {
                        role: "user".into(),
                        content: d.users[t as usize].clone(),
                    });
                    ms
                }
                None => match c.users.get(((seq + t) % n) as usize) {
                    Some(user) => user.as_messages(),
                    None => {
                        out.push((i, internal(id, "no prompts".into())));
                        break;
                    }
                },
            };
            if t == 0 && c.unique {
                new =
                    with_preamble(&Prompt::Messages(new), &preamble(self.salt, seq)).as_messages();
            }
            if let (0, Some(system)) = (t, &c.system) {
                new.insert(
                    0,
                    Message {
                        role: "system".into(),
                        content: system.clone(),
                    },
                );
            }
            let mut messages = history.clone();
            messages.extend(new.iter().cloned());
            let req = Prepared {
                body: body(c.endpoint, &Prompt::Messages(messages), &c.opts),
                client_input_tokens: None,
                capture: t + 1 < turns,
                header: header.clone(),
                max_tokens: None,
            };
            let mut rec = self.client.send(&req, id, clock, due).await;
            rec.turn = Some(t as u32 + 1);
            let answer = rec.answer.take();
            let failed = rec.error.is_some();
            out.push((i, rec));
            if failed || t + 1 == turns {
                break;
            }
            history.extend(new);
            history.push(Message {
                role: "assistant".into(),
                content: answer.unwrap_or_default(),
            });
            tokio::time::sleep(c.think_after(seq, t)).await;
            due = Instant::now();
        }
        out
    }
}

/// `n` sessions in flight: each worker starts its next session as soon as its last one
/// ends. Returns the records, in order, and the sessions started.
pub(super) async fn closed_loop(
    w: &Workload,
    c: &Arc<Conversation>,
    spec: &PointSpec,
    clock: Clock,
    n: u32,
    last: &Arc<LastSent>,
) -> (Vec<RequestRecord>, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let mut set = JoinSet::new();
    for _ in 0..n {
        let (w, c, spec, next, last) = (
            w.clone(),
            c.clone(),
            spec.clone(),
            next.clone(),
            last.clone(),
        );
        set.spawn(async move {
            let mut out = Vec::new();
            let mut due = clock.epoch;
            loop {
                let s = next.fetch_add(1, Ordering::Relaxed);
                if past(&spec, clock, s, c.turns) {
                    last.mark();
                    break;
                }
                out.extend(w.session(&c, &spec, clock, s, due).await);
                due = Instant::now();
            }
            out
        });
    }
    let records = super::runner::collect(set).await;
    let started = next.load(Ordering::Relaxed).saturating_sub(u64::from(n));
    (records, started)
}

/// Sessions start at their scheduled arrivals (up to `max_concurrency` in flight).
pub(super) async fn open_loop(
    w: &Workload,
    c: &Arc<Conversation>,
    spec: &PointSpec,
    clock: Clock,
    schedule: Schedule,
    last: &LastSent,
) -> (Vec<RequestRecord>, u64) {
    let sessions = spec.requests.map(|r| sessions_for(r, c.turns));
    let due_rx = match super::runner::pace(schedule, sessions, spec.duration, clock.epoch) {
        Ok(rx) => rx,
        Err(why) => return (vec![internal(String::new(), why)], 0),
    };
    super::runner::arrivals(due_rx, spec, last, |s, due| {
        let (w, c, spec) = (w.clone(), c.clone(), spec.clone());
        async move { w.session(&c, &spec, clock, s, due).await }
    })
    .await
}
