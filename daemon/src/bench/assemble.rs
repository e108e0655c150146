//! The parts a session is assembled from, once its prompts are built: one request template
//! per prompt (each with its own output length where requests ask for different ones), a
//! conversation's settings, and a dataset's conversations.

use super::prompts::{self, Built, Preambles};
use super::replay::Trace;
use super::workload::Shape;
use super::{BenchError, RunConfig};
use crate::loadgen::conversation::Conversation;
use crate::loadgen::prompts::Dialogue;
use crate::loadgen::request::{Endpoint, Prompt, RequestOptions, Template};
use llms_shared::AttachedFile;
use std::sync::Arc;
use std::time::Duration;

/// One template per built prompt: a trace's request tagged with the point's tag, a shared
/// prefix's with its group's, the others with their preamble. A request whose output length
/// is its own (drawn, or a trace's) asks for it, and its record says so.
pub(super) fn templates(
    built: &Built,
    trace: Option<&Trace>,
    outputs: Option<&[u32]>,
    opts: &RequestOptions,
    pre: Preambles,
    endpoint: Endpoint,
) -> Vec<Template> {
    built
        .prompts
        .iter()
        .zip(&built.targets)
        .enumerate()
        .map(|(i, (p, t))| {
            let group = built.groups.as_ref().and_then(|g| g.get(i));
            let line = trace.and_then(|tr| tr.lines.get(i));
            let drawn = outputs.and_then(|o| o.get(i)).copied();
            let asked = line.map(|l| l.output_length).or(drawn);
            let opts = RequestOptions {
                max_tokens: asked.or(opts.max_tokens),
                ..opts.clone()
            };
            let mut template = match (group, p, line) {
                (_, _, Some(_)) => Template::tagged(endpoint, p, &opts, pre.unique, None),
                (Some(g), Prompt::Messages(ms), None) if ms.len() == 2 => {
                    let parts = (ms[0].content.as_str(), ms[1].content.as_str());
                    Template::shared(endpoint, parts, *g, &opts, pre.unique, *t)
                }
                _ => Template::new(endpoint, p, &opts, pre.unique, *t),
            };
            template.max_tokens = asked;
            template
        })
        .collect()
}

/// A conversation over a prompts file replays its conversations turn by turn.
pub(super) fn dialogues(
    c: &RunConfig,
    file: Option<&AttachedFile>,
) -> Result<Option<Arc<Vec<Dialogue>>>, BenchError> {
    match (&c.workload.shape, file) {
        (Shape::Conversation { .. }, Some(f)) => Ok(Some(Arc::new(prompts::read_dialogues(f)?))),
        _ => Ok(None),
    }
}

/// The warning that a prompts file has fewer conversations than the run starts sessions.
pub(super) fn replayed_again(c: &RunConfig, dialogues: Option<&Vec<Dialogue>>) -> Option<String> {
    let (Some(d), Shape::Conversation { turns, .. }, (Some(r), _)) =
        (dialogues, &c.workload.shape, c.stop.split())
    else {
        return None;
    };
    let sessions = r.div_ceil(u64::from(*turns)) * c.loads.len() as u64;
    (sessions > d.len() as u64).then(|| {
        format!(
            "the prompts file has {} conversations and the run starts {sessions} sessions: they are replayed again (each session with its own preamble)",
            d.len()
        )
    })
}

/// A conversation workload's settings, with a dataset's dialogues and the system prompt every
/// session shares, where there are any; `None` for other workloads.
pub(super) fn conversation(
    c: &RunConfig,
    built: &Built,
    (dialogues, system): (Option<Arc<Vec<Dialogue>>>, Option<String>),
    opts: &RequestOptions,
    pre: Preambles,
) -> Option<Arc<Conversation>> {
    let Shape::Conversation {
        turns,
        think_ms,
        session_header,
        turns_dist,
        think_exponential,
        ..
    } = &c.workload.shape
    else {
        return None;
    };
    Some(Arc::new(Conversation {
        turns: *turns,
        think: Duration::from_secs_f64(think_ms / 1e3),
        header: session_header
            .as_deref()
            .and_then(|h| reqwest::header::HeaderName::from_bytes(h.as_bytes()).ok()),
        endpoint: c.workload.endpoint,
        opts: opts.clone(),
        users: Arc::new(built.prompts.clone()),
        unique: pre.unique,
        dialogues,
        turns_dist: *turns_dist,
        think_exponential: *think_exponential,
        seed: c.seed,
        system,
    }))
}
