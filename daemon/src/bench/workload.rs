//! The workload a session sends, as one value: `single` (one prompt per request),
//! `shared_prefix` (groups of requests sharing a system prompt) or `conversation` (sessions of
//! turns resending their history); how groups are drawn; and the report of what was sent
//! (kind, parameters, seed, a digest of the prompts).

use crate::loadgen::request::Prompt;
use llms_shared::{WorkloadDef, WorkloadReport};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Most groups a shared-prefix workload may have.
pub const MAX_GROUPS: u32 = 10_000;
/// Most turns a conversation may have.
pub const MAX_TURNS: u32 = 1_000;
/// Longest shared system prompt (either workload's `prefix_tokens`), in tokens: a 128k
/// context. Every request of a run holds its own copy, so the bound is on memory too.
pub const MAX_PREFIX_TOKENS: u32 = 131_072;

/// Headers a session header may not be: the ones every request sets itself.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "connection",
    "content-length",
    "content-type",
    "host",
    "transfer-encoding",
    "x-request-id",
];

/// What the requests send.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// One prompt per request, each made unique at its start (the default).
    Single,
    /// `groups` groups, each with a system prompt of exactly `prefix_tokens` tokens (its tag
    /// included), drawn uniformly or by Zipf's law with exponent `zipf`; each request's own
    /// part follows, made unique at its start.
    SharedPrefix {
        /// Groups.
        groups: u32,
        /// Tokens of each group's prefix.
        prefix_tokens: u32,
        /// Zipf exponent (none: uniform).
        zipf: Option<f64>,
    },
    /// Sessions of `turns` requests, one after another: each turn resends the whole history
    /// (the assistant's turns as the engine answered them) and a new user message, after
    /// `think_ms` from the previous answer. Load counts sessions.
    Conversation {
        /// Turns per session (the most, with `turns_dist`).
        turns: u32,
        /// Think time between an answer and the next turn, ms (the mean, exponential).
        think_ms: f64,
        /// The header that carries the session's id.
        session_header: Option<String>,
        /// Each session's turns drawn from this (at most `turns`).
        turns_dist: Option<super::dist::Dist>,
        /// Think times drawn exponentially with `think_ms` as their mean.
        think_exponential: bool,
        /// A system prompt of exactly this many tokens opens every session, the same text
        /// for all of them (a chat product's instructions: the engine may cache it across
        /// sessions); none: sessions share nothing.
        system_tokens: Option<u32>,
    },
    /// A trace replayed at its times (divided by the point's speed): each request's prompt
    /// made of the trace's blocks (`block_tokens` each), so requests share exactly the blocks
    /// the trace says they share.
    Trace {
        /// Tokens of one block.
        block_tokens: u32,
    },
}

/// Tokens of a trace's block unless told: Mooncake's.
pub const DEFAULT_BLOCK_TOKENS: u32 = 512;

/// The parameters a workload may have, by their sweep names (`llmsd bench` spells them with
/// dashes).
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// `groups`.
    pub groups: Option<u32>,
    /// `prefix_tokens`.
    pub prefix_tokens: Option<u32>,
    /// `zipf`.
    pub zipf: Option<f64>,
    /// `turns`.
    pub turns: Option<u32>,
    /// `think_ms`.
    pub think_ms: Option<f64>,
    /// `session_header`.
    pub session_header: Option<String>,
    /// `turns_dist`.
    pub turns_dist: Option<super::dist::Dist>,
    /// `think_exponential`.
    pub think_exponential: Option<bool>,
    /// `trace`.
    pub trace: Option<String>,
    /// `block_tokens`.
    pub block_tokens: Option<u32>,
}

impl Shape {
    /// Its name in sweeps, reports and JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Single => "single",
            Shape::SharedPrefix { .. } => "shared_prefix",
            Shape::Conversation { .. } => "conversation",
            Shape::Trace { .. } => "trace",
        }
    }

    /// Tokens every request of a group shares by design (the prefix), beyond the template.
    pub fn shared_tokens(&self) -> Option<u64> {
        match self {
            Shape::SharedPrefix { prefix_tokens, .. } => Some(u64::from(*prefix_tokens)),
            Shape::Conversation { system_tokens, .. } => system_tokens.map(u64::from),
            _ => None,
        }
    }

    /// Whether prefix-cache hits beyond the template and the shared tokens would be a bias:
    /// not in a conversation, whose later turns are meant to reuse their own history.
    pub fn judges_hits(&self) -> bool {
        !matches!(self, Shape::Conversation { .. } | Shape::Trace { .. })
    }

    /// Turns per session (1 outside conversations).
    pub fn turns(&self) -> u32 {
        match self {
            Shape::Conversation { turns, .. } => *turns,
            _ => 1,
        }
    }

    /// The shape of a sweep's `[workload]`; `Err("workload.FIELD: why")`. Checked the same
    /// way as `llmsd bench`'s flags ([`Shape::of`]).
    pub fn from_def(d: Option<&WorkloadDef>) -> Result<Shape, String> {
        let Some(d) = d else {
            return Ok(Shape::Single);
        };
        let kind = match d.kind.as_deref() {
            None | Some("single") => "single",
            Some(k @ ("shared_prefix" | "conversation" | "trace")) => k,
            Some(k) => {
                return Err(format!(
                    "workload.kind: '{k}' is not single, shared_prefix, conversation or trace"
                ));
            }
        };
        let p = Params {
            groups: d.groups,
            prefix_tokens: d.prefix_tokens,
            zipf: d.zipf,
            turns: d.turns,
            think_ms: d.think_ms,
            turns_dist: match &d.turns_dist {
                Some(t) => Some(
                    super::dist::Dist::parse(t).map_err(|e| format!("workload.turns_dist: {e}"))?,
                ),
                None => None,
            },
            think_exponential: d.think_exponential,
            session_header: d.session_header.clone(),
            trace: d.trace.clone(),
            block_tokens: d.block_tokens,
        };
        Shape::of(kind, p).map_err(|(f, m)| format!("workload.{f}: {m}"))
    }

    /// The shape of kind `kind` (`single`, `shared_prefix`, `conversation`) with its
    /// parameters; `Err((field, why))` with the field's sweep name.
    pub fn of(kind: &str, p: Params) -> Result<Shape, (&'static str, String)> {
        // prefix_tokens is also a conversation's (the system prompt every session shares).
        let groups = [("groups", p.groups.is_some()), ("zipf", p.zipf.is_some())];
        let prefix = [("prefix_tokens", p.prefix_tokens.is_some())];
        let conversation = [
            ("turns", p.turns.is_some()),
            ("think_ms", p.think_ms.is_some()),
            ("session_header", p.session_header.is_some()),
            ("turns_dist", p.turns_dist.is_some()),
            ("think_exponential", p.think_exponential.is_some()),
        ];
        let trace = [
            ("trace", p.trace.is_some()),
            ("block_tokens", p.block_tokens.is_some()),
        ];
        match kind {
            "shared_prefix" => {
                only("conversation", &conversation)?;
                only("trace", &trace)?;
                shared_prefix_of(&p)
            }
            "conversation" => {
                only("shared_prefix", &groups)?;
                only("trace", &trace)?;
                conversation_of(p)
            }
            "trace" => {
                only("shared_prefix", &groups)?;
                only("shared_prefix or conversation", &prefix)?;
                only("conversation", &conversation)?;
                trace_of(&p)
            }
            _ => {
                only("shared_prefix", &groups)?;
                only("shared_prefix or conversation", &prefix)?;
                only("conversation", &conversation)?;
                only("trace", &trace)?;
                Ok(Shape::Single)
            }
        }
    }
}

/// Whether the run's other options fit the workload: its drawn lengths ([`dists_fit`]) and a
/// prompts file ([`system_fits`]). `Err((field, why))`, checked with the options, before any
/// engine is started or asked; `llmsd bench` and a sweep both ask this.
pub fn options_fit(
    shape: &Shape,
    (input, output): (Option<super::dist::Dist>, Option<super::dist::Dist>),
    prompts_file: bool,
) -> Result<(), (&'static str, String)> {
    dists_fit(shape, input, output)?;
    system_fits(shape, prompts_file)
}

/// Whether drawn lengths fit the workload: input lengths only for `single` (the others shape
/// their prompts themselves), output lengths for all but a trace (it gives its own).
fn dists_fit(
    shape: &Shape,
    input: Option<super::dist::Dist>,
    output: Option<super::dist::Dist>,
) -> Result<(), (&'static str, String)> {
    if input == Some(super::dist::Dist::Dataset) {
        return Err((
            "input_dist",
            "dataset is for output lengths (send a dataset's own prompts with prompts)".into(),
        ));
    }
    let (input, output) = (input.is_some(), output.is_some());
    if input && *shape != Shape::Single {
        return Err((
            "input_dist",
            format!("only for the single workload, not {}", shape.name()),
        ));
    }
    if output && matches!(shape, Shape::Trace { .. }) {
        return Err((
            "output_dist",
            "a trace gives each request's output length".into(),
        ));
    }
    Ok(())
}

/// Whether a shared system prompt fits: a dataset's conversations (a prompts file replayed
/// as conversations) bring their own system messages, and both would send two, which many
/// chat templates reject.
fn system_fits(shape: &Shape, prompts_file: bool) -> Result<(), (&'static str, String)> {
    match shape {
        Shape::Conversation {
            system_tokens: Some(_),
            ..
        } if prompts_file => Err((
            "prefix_tokens",
            "a dataset's conversations bring their own system messages; give one or the other"
                .into(),
        )),
        _ => Ok(()),
    }
}

/// `Err` naming the first of `set` that is given, for a workload other than `of`.
fn only(of: &str, set: &[(&'static str, bool)]) -> Result<(), (&'static str, String)> {
    match set.iter().find(|(_, given)| *given) {
        Some((f, _)) => Err((f, format!("only for the {of} workload"))),
        None => Ok(()),
    }
}

fn shared_prefix_of(p: &Params) -> Result<Shape, (&'static str, String)> {
    let groups = match p.groups {
        None => return Err(("groups", "required by the shared_prefix workload".into())),
        Some(g @ 1..=MAX_GROUPS) => g,
        Some(g) => {
            return Err((
                "groups",
                format!("must be between 1 and {MAX_GROUPS}, got {g}"),
            ));
        }
    };
    let prefix_tokens = match p.prefix_tokens {
        None => {
            return Err((
                "prefix_tokens",
                "required by the shared_prefix workload".into(),
            ));
        }
        Some(t) => prefix_len(t)?,
    };
    if let Some(z) = p.zipf
        && !(z.is_finite() && z > 0.0 && z <= 10.0)
    {
        return Err(("zipf", format!("must be above 0 and at most 10, got {z}")));
    }
    Ok(Shape::SharedPrefix {
        groups,
        prefix_tokens,
        zipf: p.zipf,
    })
}

/// A shared system prompt's length, within its bounds.
fn prefix_len(n: u32) -> Result<u32, (&'static str, String)> {
    match n {
        1..=MAX_PREFIX_TOKENS => Ok(n),
        _ => Err((
            "prefix_tokens",
            format!("must be between 1 and {MAX_PREFIX_TOKENS}, got {n}"),
        )),
    }
}

fn trace_of(p: &Params) -> Result<Shape, (&'static str, String)> {
    if p.trace.is_none() {
        return Err((
            "trace",
            "required by the trace workload (a JSONL file)".into(),
        ));
    }
    match p.block_tokens.unwrap_or(DEFAULT_BLOCK_TOKENS) {
        b @ 1..=65_536 => Ok(Shape::Trace { block_tokens: b }),
        b => Err((
            "block_tokens",
            format!("must be between 1 and 65536, got {b}"),
        )),
    }
}

fn conversation_of(p: Params) -> Result<Shape, (&'static str, String)> {
    let turns = match p.turns {
        None => return Err(("turns", "required by the conversation workload".into())),
        Some(t @ 1..=MAX_TURNS) => t,
        Some(t) => {
            return Err((
                "turns",
                format!("must be between 1 and {MAX_TURNS}, got {t}"),
            ));
        }
    };
    let think_ms = p.think_ms.unwrap_or(0.0);
    if !(think_ms.is_finite() && (0.0..=3_600_000.0).contains(&think_ms)) {
        return Err((
            "think_ms",
            format!("must be between 0 and 3600000, got {think_ms}"),
        ));
    }
    if let Some(h) = &p.session_header {
        let token = !h.is_empty()
            && h.len() <= 64
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !token {
            return Err((
                "session_header",
                format!("'{h}' is not a header name (letters, digits, '-', '_'; at most 64)"),
            ));
        }
        if RESERVED_HEADERS.contains(&h.to_ascii_lowercase().as_str()) {
            return Err((
                "session_header",
                format!("'{h}' is a header every request sets itself"),
            ));
        }
    }
    if p.turns_dist == Some(super::dist::Dist::Dataset) {
        return Err((
            "turns_dist",
            "dataset is for output lengths (a dataset's conversations give their own turns with prompts)".into(),
        ));
    }
    let system_tokens = p.prefix_tokens.map(prefix_len).transpose()?;
    Ok(Shape::Conversation {
        turns,
        think_ms,
        session_header: p.session_header,
        turns_dist: p.turns_dist,
        think_exponential: p.think_exponential.unwrap_or(false),
        system_tokens,
    })
}

/// The group of each of `n` prompts: seeded draws, uniform over `groups` or by Zipf's law
/// with exponent `zipf` (group 0 the most often: weight `1 / (g + 1)^zipf`).
pub fn draw_groups(n: usize, groups: u32, zipf: Option<f64>, seed: u64) -> Vec<u32> {
    let groups = groups.max(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6772_6f75_7073);
    let Some(s) = zipf else {
        return (0..n).map(|_| rng.random_range(0..groups)).collect();
    };
    let mut cdf: Vec<f64> = Vec::with_capacity(groups as usize);
    let mut total = 0.0;
    for g in 0..groups {
        total += 1.0 / f64::from(g + 1).powf(s);
        cdf.push(total);
    }
    (0..n)
        .map(|_| {
            let u = rng.random::<f64>() * total;
            cdf.partition_point(|c| *c <= u).min(groups as usize - 1) as u32
        })
        .collect()
}

/// SHA-256 (hex) of `prompts` in order, each as its role-labelled text and a separator.
pub fn digest(prompts: &[Prompt]) -> String {
    let mut h = Sha256::new();
    for p in prompts {
        h.update(p.as_text().as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The report of a workload: `prompts` as built.
pub fn report(
    shape: &Shape,
    prompts: &[Prompt],
    input_tokens: Option<u32>,
    output_tokens: u32,
    seed: u64,
    unique: bool,
    trace: Option<llms_shared::TraceReport>,
) -> WorkloadReport {
    let (groups, prefix_tokens, zipf) = match shape {
        Shape::SharedPrefix {
            groups,
            prefix_tokens,
            zipf,
        } => (Some(*groups), Some(*prefix_tokens), *zipf),
        Shape::Conversation { system_tokens, .. } => (None, *system_tokens, None),
        _ => (None, None, None),
    };
    let (turns, think_ms, session_header) = match shape {
        Shape::Conversation {
            turns,
            think_ms,
            session_header,
            ..
        } => (Some(*turns), Some(*think_ms), session_header.clone()),
        _ => (None, None, None),
    };
    let (turns_dist, think_exponential) = match shape {
        Shape::Conversation {
            turns_dist,
            think_exponential,
            ..
        } => (turns_dist.map(|d| d.to_string()), *think_exponential),
        _ => (None, false),
    };
    WorkloadReport {
        kind: shape.name().into(),
        turns,
        think_ms,
        session_header,
        turns_dist,
        think_exponential,
        trace,
        input_dist: None,
        output_dist: None,
        groups,
        prefix_tokens,
        zipf,
        input_tokens,
        output_tokens,
        seed,
        unique_prompts: unique,
        prompts: prompts.len() as u64,
        prompts_sha256: digest(prompts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: &str) -> WorkloadDef {
        WorkloadDef {
            kind: Some(kind.into()),
            ..WorkloadDef::default()
        }
    }

    #[test]
    fn shapes_are_checked_with_the_field_named() {
        assert_eq!(Shape::from_def(None), Ok(Shape::Single));
        let prefix = |groups, prefix_tokens, zipf| WorkloadDef {
            groups,
            prefix_tokens,
            zipf,
            ..def("shared_prefix")
        };
        assert_eq!(
            Shape::from_def(Some(&prefix(Some(4), Some(64), None))),
            Ok(Shape::SharedPrefix {
                groups: 4,
                prefix_tokens: 64,
                zipf: None
            })
        );
        let talk = |turns, think_ms, header: Option<&str>| WorkloadDef {
            turns,
            think_ms,
            session_header: header.map(Into::into),
            ..def("conversation")
        };
        assert_eq!(
            Shape::from_def(Some(&talk(Some(4), None, Some("x-session-id")))),
            Ok(Shape::Conversation {
                turns: 4,
                think_ms: 0.0,
                session_header: Some("x-session-id".into()),
                turns_dist: None,
                think_exponential: false,
                system_tokens: None,
            })
        );
        // A conversation's prefix_tokens: the system prompt every session shares.
        let with_system = WorkloadDef {
            prefix_tokens: Some(300),
            ..talk(Some(4), None, None)
        };
        let shape = Shape::from_def(Some(&with_system)).unwrap();
        assert_eq!(shape.shared_tokens(), Some(300));
        assert!(!shape.judges_hits());
        let groups = WorkloadDef {
            groups: Some(2),
            ..with_system
        };
        assert_eq!(
            Shape::from_def(Some(&groups)).unwrap_err(),
            "workload.groups: only for the shared_prefix workload"
        );
        for (d, want) in [
            (def("chat"), "workload.kind: 'chat' is not"),
            (
                WorkloadDef {
                    groups: Some(2),
                    ..def("single")
                },
                "workload.groups: only for the shared_prefix",
            ),
            (
                WorkloadDef {
                    turns: Some(2),
                    ..def("shared_prefix")
                },
                "workload.turns: only for the conversation",
            ),
            (prefix(None, Some(8), None), "workload.groups: required"),
            (
                prefix(Some(0), Some(8), None),
                "workload.groups: must be between",
            ),
            (
                prefix(Some(2), None, None),
                "workload.prefix_tokens: required",
            ),
            (
                prefix(Some(2), Some(0), None),
                "workload.prefix_tokens: must be",
            ),
            (
                prefix(Some(2), Some(MAX_PREFIX_TOKENS + 1), None),
                "workload.prefix_tokens: must be between 1 and 131072, got 131073",
            ),
            (
                prefix(Some(2), Some(8), Some(-1.0)),
                "workload.zipf: must be",
            ),
            (talk(None, None, None), "workload.turns: required"),
            (talk(Some(0), None, None), "workload.turns: must be between"),
            (
                talk(Some(2), Some(-5.0), None),
                "workload.think_ms: must be",
            ),
            (
                talk(Some(2), None, Some("a b")),
                "workload.session_header: 'a b' is not",
            ),
            (
                WorkloadDef {
                    turns_dist: Some("uniform:5,2".into()),
                    ..talk(Some(4), None, None)
                },
                "workload.turns_dist: uniform:5,2",
            ),
            (
                WorkloadDef {
                    turns_dist: Some("dataset".into()),
                    ..talk(Some(4), None, None)
                },
                "workload.turns_dist: dataset is for output lengths",
            ),
            (
                WorkloadDef {
                    prefix_tokens: Some(0),
                    ..talk(Some(2), None, None)
                },
                "workload.prefix_tokens: must be between 1 and 131072, got 0",
            ),
            (
                talk(Some(2), None, Some("X-Request-Id")),
                "workload.session_header: 'X-Request-Id' is a header",
            ),
            (
                WorkloadDef {
                    groups: Some(2),
                    ..talk(Some(2), None, None)
                },
                "workload.groups: only for the shared_prefix",
            ),
        ] {
            let e = Shape::from_def(Some(&d)).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn groups_are_drawn_uniformly_or_by_zipf_and_repeat_with_the_seed() {
        let n = 20_000;
        let count = |v: &[u32], g: u32| v.iter().filter(|x| **x == g).count() as f64;
        let u = draw_groups(n, 4, None, 7);
        assert_eq!(u, draw_groups(n, 4, None, 7));
        assert_ne!(u, draw_groups(n, 4, None, 8));
        for g in 0..4 {
            assert!((count(&u, g) / n as f64 - 0.25).abs() < 0.02, "{g}");
        }
        assert!(u.iter().all(|g| *g < 4));
        // Zipf with exponent 1 over 4 groups: weights 1, 1/2, 1/3, 1/4 of 25/12.
        let z = draw_groups(n, 4, Some(1.0), 7);
        for (g, w) in [
            (0, 12.0 / 25.0),
            (1, 6.0 / 25.0),
            (2, 4.0 / 25.0),
            (3, 3.0 / 25.0),
        ] {
            assert!((count(&z, g) / n as f64 - w).abs() < 0.02, "{g}");
        }
    }

    #[test]
    fn the_digest_follows_the_prompts() {
        let a = [Prompt::Text("a".into()), Prompt::Text("b".into())];
        let b = [Prompt::Text("ab".into())];
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&b));
        // SHA-256 of nothing.
        assert_eq!(
            digest(&[]),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
