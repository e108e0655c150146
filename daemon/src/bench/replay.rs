//! The prompts of a trace's replay: every distinct block of the trace's `hash_ids` becomes
//! one text of `block_tokens` tokens (windows of the built-in corpus, as the codec decodes
//! them), and each request's prompt is its blocks in order, the last cut to the request's
//! `input_length`; a request without blocks gets text of its own. Requests that share a
//! prefix of ids share exactly that prefix of text.

use super::prompts::{Built, corpus_text};
use super::{BenchError, RunConfig};
use crate::loadgen::request::Prompt;
use crate::loadgen::synth::{Codec, Corpus};
use crate::loadgen::trace::{self, TraceLine};
use llms_shared::TraceReport;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// Most distinct blocks a replay builds (each is `block_tokens` of text held in memory).
pub const MAX_BLOCKS: usize = 20_000;
/// Most bytes of a trace file `llmsd bench` reads.
const MAX_TRACE_BYTES: u64 = 256 << 20;
/// Decodes in flight when the server's tokenizer is used.
const DECODES: usize = 16;

/// A trace's requests, read: the lines to replay and the report of the file.
pub(super) struct Trace {
    pub lines: Vec<TraceLine>,
    pub report: TraceReport,
}

/// Read and check the trace `c` names: the copy that came with a sweep, else the file.
pub(super) fn open(c: &RunConfig, block_tokens: u32) -> Result<Trace, BenchError> {
    let usage = BenchError::Usage;
    let Some(path) = &c.workload.trace else {
        return Err(usage("--trace: give the trace to replay".into()));
    };
    let name = path.display().to_string();
    let text = match llms_shared::AttachedFile::find(&c.workload.attached, llms_shared::TRACE_FIELD)
    {
        Some(f) => f.text.clone(),
        None => read_capped(path).map_err(|e| usage(format!("--trace: {e}")))?,
    };
    let all = trace::parse(&name, &text).map_err(|e| usage(format!("--trace: {e}")))?;
    let total = all.len() as u64;
    let (keep, _) = c.stop.split();
    if let Some(k) = keep.filter(|k| *k != u64::MAX && *k > total) {
        return Err(usage(format!(
            "--requests {k}: {name} has only {total} requests (leave --requests out to replay them all)"
        )));
    }
    let lines: Vec<TraceLine> = all
        .into_iter()
        .take(usize::try_from(keep.unwrap_or(u64::MAX)).unwrap_or(usize::MAX))
        .collect();
    let blocks = distinct_blocks(&lines).len();
    if blocks > MAX_BLOCKS {
        return Err(usage(format!(
            "--trace: {name}'s first {} requests have {blocks} distinct blocks; at most {MAX_BLOCKS} are built (replay fewer with --requests)",
            lines.len()
        )));
    }
    let report = TraceReport {
        file: name,
        sha256: Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        requests: total,
        replayed: lines.len() as u64,
        block_tokens,
        blocks: blocks as u64,
    };
    Ok(Trace { lines, report })
}

fn read_capped(path: &std::path::Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_TRACE_BYTES {
        return Err(format!(
            "{}: not a regular file of at most {} MiB",
            path.display(),
            MAX_TRACE_BYTES >> 20
        ));
    }
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The distinct block ids of `lines`, in first-seen order.
fn distinct_blocks(lines: &[TraceLine]) -> Vec<u64> {
    let mut seen = HashMap::new();
    let mut order = Vec::new();
    for id in lines.iter().flat_map(|l| l.hash_ids.iter()) {
        seen.entry(*id).or_insert_with(|| {
            order.push(*id);
        });
    }
    order
}

/// The prompts of the replay: one per line, with the tokens meant (`input_length`).
pub(super) async fn build(
    codec: &Codec,
    t: &Trace,
    block_tokens: u32,
) -> Result<Built, BenchError> {
    let synth = |e: crate::loadgen::synth::SynthError| BenchError::Server(e.to_string());
    let corpus = Corpus::new(codec, &corpus_text()).await.map_err(synth)?;
    let b = block_tokens as usize;
    let ids = distinct_blocks(&t.lines);
    // Block k is the corpus window from token k: distinct starts, so no two distinct blocks
    // begin alike (and no two prompts share a prefix the trace does not give them).
    if ids.len() > corpus.len() {
        return Err(BenchError::Usage(format!(
            "--trace: {} distinct blocks; the corpus has {} distinct starts",
            ids.len(),
            corpus.len()
        )));
    }
    let window = |k: usize, len: usize| corpus.window(k, len);
    let windows: Vec<Vec<u32>> = (0..ids.len()).map(|k| window(k, b)).collect();
    let block_texts = decode_all(codec, &windows).await.map_err(synth)?;
    let index: HashMap<u64, usize> = ids.iter().enumerate().map(|(k, id)| (*id, k)).collect();
    // Each line: its whole blocks, then the rest of its length: the next block cut short, or
    // text of its own past its blocks (from windows after every block's).
    let own = ids.len();
    let mut heads = Vec::with_capacity(t.lines.len());
    let mut tails = Vec::with_capacity(t.lines.len());
    for (i, l) in t.lines.iter().enumerate() {
        let want = l.input_length as usize;
        let whole = (want / b).min(l.hash_ids.len());
        let head: String = l.hash_ids[..whole]
            .iter()
            .map(|id| block_texts[index[id]].as_str())
            .collect();
        let rest = want - whole * b;
        tails.push(match l.hash_ids.get(whole) {
            Some(id) if rest > 0 => window(index[id], rest),
            _ if rest > 0 => window(own + i, rest),
            _ => Vec::new(),
        });
        heads.push(head);
    }
    let tails = decode_all(codec, &tails).await.map_err(synth)?;
    let texts: Vec<String> = heads.into_iter().zip(tails).map(|(h, t)| h + &t).collect();
    Ok(Built {
        targets: t
            .lines
            .iter()
            .map(|l| Some(u64::from(l.input_length)))
            .collect(),
        prompts: texts.into_iter().map(Prompt::Text).collect(),
        template_tokens: None,
        warnings: Vec::new(),
        groups: None,
    })
}

/// Each of `windows` decoded (none for an empty one), `DECODES` at a time.
async fn decode_all(
    codec: &Codec,
    windows: &[Vec<u32>],
) -> Result<Vec<String>, crate::loadgen::synth::SynthError> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(DECODES) {
        let decoded = futures::future::join_all(chunk.iter().map(|w| async move {
            match w.is_empty() {
                true => Ok(String::new()),
                false => codec.decode(w).await,
            }
        }))
        .await;
        for d in decoded {
            out.push(d?);
        }
    }
    Ok(out)
}

/// When each line arrives, from the first.
pub(super) fn offsets(t: &Trace) -> Vec<Duration> {
    t.lines.iter().map(|l| l.at).collect()
}
