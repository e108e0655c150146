//! The prompts of a run: read (prompt files, the default set) or synthesized to an exact
//! length, made unique per request by a preamble, and the preflight that proves the endpoint
//! streams (and sizes the chat template's tokens).

use super::{BenchError, RunConfig};
use crate::loadgen::client::{Clock, Prepared, StreamClient};
use crate::loadgen::request::{
    Endpoint, Prompt, RESERVED_SEQ, RequestOptions, body, preamble, with_preamble,
};
use crate::loadgen::{prompts, synth};
use llms_shared::{AttachedFile, RequestRecord};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use std::borrow::Cow;
use std::time::Instant;

/// Where prompts come from, with local files already read.
pub(super) enum PromptSource {
    /// A prompts file or the default set.
    Fixed(Vec<Prompt>),
    /// Synthetic prompts of `--input-tokens`, tokenized by a local file or the server.
    Synthetic(u32, Option<synth::Codec>),
    /// Synthetic prompts of these lengths each (drawn), likewise.
    Drawn(Vec<u32>, Option<synth::Codec>),
}

impl PromptSource {
    /// The local tokenizer the run was given, if any (else the server counts tokens).
    pub(super) fn codec(&self) -> Option<&synth::Codec> {
        match self {
            PromptSource::Synthetic(_, c) | PromptSource::Drawn(_, c) => c.as_ref(),
            PromptSource::Fixed(_) => None,
        }
    }

    /// The run's prompts: synthetic, or `file`'s ([`read_once`]), or the default set.
    pub(super) fn open(c: &RunConfig, file: Option<&AttachedFile>) -> Result<Self, BenchError> {
        let a = &c.workload;
        let usage = |e: &dyn std::fmt::Display| BenchError::Usage(e.to_string());
        let codec = || -> Result<Option<synth::Codec>, BenchError> {
            // A tokenizer that came with a sweep is used as it came.
            let sent = AttachedFile::find(&a.attached, llms_shared::TOKENIZER_FIELD);
            Ok(match (sent, &a.tokenizer) {
                (Some(f), _) => {
                    Some(synth::Codec::from_text(&f.path, &f.text).map_err(|e| usage(&e))?)
                }
                (None, Some(path)) => Some(synth::Codec::from_file(path).map_err(|e| usage(&e))?),
                (None, None) => None,
            })
        };
        if let Some(d) = &a.input_dist {
            let lengths = super::dist::draw(d, prompt_count(c), c.seed, INPUT_SALT);
            return Ok(PromptSource::Drawn(lengths, codec()?));
        }
        Ok(match (a.input_tokens, file) {
            (Some(n), _) => PromptSource::Synthetic(n, codec()?),
            (None, Some(f)) => {
                PromptSource::Fixed(prompts::parse(&f.path, &f.text).map_err(|e| usage(&e))?)
            }
            (None, None) => PromptSource::Fixed(prompts::default_set()),
        })
    }
}

/// The prompts file `c` names, if it names one: the copy that came with a sweep, else the file
/// read now, once. The prompts, a dataset's answers and a conversation's turns are all taken
/// from it, so a file that changes while the run starts cannot give them different texts.
pub(super) fn read_once(c: &RunConfig) -> Result<Option<Cow<'_, AttachedFile>>, BenchError> {
    let w = &c.workload;
    let Some(p) = &w.prompts else { return Ok(None) };
    if let Some(f) = AttachedFile::find(&w.attached, llms_shared::PROMPTS_FIELD) {
        return Ok(Some(Cow::Borrowed(f)));
    }
    let text = prompts::read_text(p).map_err(|e| BenchError::Usage(e.to_string()))?;
    Ok(Some(Cow::Owned(AttachedFile {
        field: llms_shared::PROMPTS_FIELD.into(),
        path: p.display().to_string(),
        text,
    })))
}

/// The conversations of the prompts file, every user turn kept.
pub(super) fn read_dialogues(f: &AttachedFile) -> Result<Vec<prompts::Dialogue>, BenchError> {
    prompts::dialogues(&f.path, &f.text).map_err(|e| BenchError::Usage(e.to_string()))
}

/// The answers of the prompts file (`--output-dist dataset`).
pub(super) fn read_answers(file: Option<&AttachedFile>) -> Result<Vec<String>, BenchError> {
    let usage = |e: prompts::PromptError| BenchError::Usage(format!("--output-dist dataset: {e}"));
    let Some(f) = file else {
        return Err(BenchError::Usage(
            "--output-dist dataset: give the dataset with --prompts (its answers' lengths)".into(),
        ));
    };
    let answers = prompts::answers(&f.path, &f.text).map_err(usage)?;
    if answers.is_empty() {
        return Err(BenchError::Usage(
            "--output-dist dataset: the prompts file has no answers (ShareGPT gpt turns or assistant messages)"
                .into(),
        ));
    }
    Ok(answers)
}

/// Most answers counted for a dataset's output lengths (a sample of a larger file).
const MAX_ANSWERS: usize = 4096;

/// The answers' lengths in tokens, as `codec` counts them (at most [`MAX_ANSWERS`] of them).
pub(super) async fn answer_lengths(
    codec: &synth::Codec,
    answers: &[String],
) -> Result<Vec<u32>, BenchError> {
    let mut out = Vec::new();
    for chunk in answers[..answers.len().min(MAX_ANSWERS)].chunks(16) {
        let counted = futures::future::join_all(chunk.iter().map(|a| codec.encode(a))).await;
        for c in counted {
            let n = c.map_err(|e| BenchError::Server(e.to_string()))?.len();
            out.push(
                u32::try_from(n)
                    .unwrap_or(u32::MAX)
                    .clamp(1, super::dist::MAX_LEN),
            );
        }
    }
    Ok(out)
}

/// Seeds input-length draws apart from output-length ones.
const INPUT_SALT: u64 = 0x0069_6e70_7574;

/// How requests are made unique: the run's preamble salt, and whether to at all.
#[derive(Debug, Clone, Copy)]
pub(super) struct Preambles {
    pub(super) salt: u64,
    pub(super) unique: bool,
}

impl Preambles {
    /// `p` with the preamble of reserved request `k` (preflight and probes), or as it is.
    fn reserved(self, p: &Prompt, k: u64) -> Prompt {
        match self.unique {
            true => with_preamble(p, &preamble(self.salt, RESERVED_SEQ + k)),
            false => p.clone(),
        }
    }
}

/// The prompts of a run.
pub(super) struct Built {
    pub(super) prompts: Vec<Prompt>,
    /// Each prompt's input tokens as the client counts them, preamble included (synthetic).
    pub(super) targets: Vec<Option<u64>>,
    /// Tokens the server adds to every prompt, when measured.
    pub(super) template_tokens: Option<u64>,
    /// What may make the input lengths less exact than asked, for the user.
    pub(super) warnings: Vec<String>,
    /// Shared prefix: each prompt's group (its prompts are a system message, the group's
    /// prefix, and a user message, the request's own part).
    pub(super) groups: Option<Vec<u32>>,
}

/// The prompts of the run and each one's client-side input count (synthetic target).
pub(super) async fn build_prompts(
    c: &RunConfig,
    source: PromptSource,
    client: &StreamClient,
    http: &reqwest::Client,
    base: &str,
    opts: &RequestOptions,
    pre: Preambles,
) -> Result<Built, BenchError> {
    let server_codec = || synth::Codec::Server {
        http: http.clone(),
        base: base.to_owned(),
        model: opts.model.clone(),
    };
    let (targets, codec) = match source {
        PromptSource::Synthetic(n, codec) => (vec![n; prompt_count(c)], codec),
        PromptSource::Drawn(lengths, codec) => (lengths, codec),
        PromptSource::Fixed(mut ps) => {
            ps.shuffle(&mut rand::rngs::StdRng::seed_from_u64(c.seed));
            let first = ps
                .first()
                .cloned()
                .ok_or_else(|| BenchError::Usage("no prompts".into()))?;
            preflight(c.workload.endpoint, client, &pre.reserved(&first, 0), opts).await?;
            // The template's size, if the server can count tokens for us (not an error if not).
            let probe = Prompt::Text(PROBE_TEXT.into());
            let endpoint = c.workload.endpoint;
            let template_tokens = overhead(endpoint, client, &server_codec(), &probe, opts, pre)
                .await
                .ok()
                .map(|o| o.max(0) as u64);
            let n = ps.len();
            return Ok(Built {
                prompts: ps,
                targets: vec![None; n],
                template_tokens,
                warnings: Vec::new(),
                groups: None,
            });
        }
    };
    let codec = codec.unwrap_or_else(server_codec);
    let synth_err = |e: synth::SynthError| BenchError::Server(e.to_string());
    let corpus = synth::Corpus::new(&codec, &corpus_text())
        .await
        .map_err(synth_err)?;
    // Measure the template's overhead: a prompt of known length, and what the server counts.
    const PROBE: usize = 16;
    let probe = corpus.prompts(&codec, PROBE, 1).await.map_err(synth_err)?;
    let probe_prompt = Prompt::Text(probe[0].text.clone());
    let endpoint = c.workload.endpoint;
    let mut warnings = Vec::new();
    let overhead = match overhead(endpoint, client, &codec, &probe_prompt, opts, pre).await {
        Ok(o) => o,
        Err(Overhead::Bench(e)) => return Err(e),
        Err(Overhead::Unknown(why)) => {
            warnings.push(format!("{why}; input lengths cannot be checked"));
            0
        }
    };
    // Each request's preamble takes `k` tokens of its length.
    let k = match pre.unique {
        true => {
            let (k, odd) = preamble_tokens(&codec, pre.salt).await.map_err(synth_err)?;
            warnings.extend(odd);
            k
        }
        false => 0,
    };
    let least = targets.iter().copied().min().unwrap_or(0);
    if i64::from(least) - overhead - (k as i64) < 1 {
        let what = match c.workload.input_dist {
            Some(d) => format!("--input-dist {d} draws {least}, which"),
            None => format!("--input-tokens {least}"),
        };
        return Err(BenchError::Usage(format!(
            "{what} is not more than the {} endpoint's template overhead of {overhead} tokens{}",
            endpoint.as_str(),
            match pre.unique {
                true => format!(" plus the {k}-token per-request preamble"),
                false => String::new(),
            }
        )));
    }
    let contents: Vec<usize> = targets
        .iter()
        .map(|t| (i64::from(*t) - overhead - k as i64) as usize)
        .collect();
    // Sized as sent: after a preamble where there is one.
    let lead = match pre.unique {
        true => preamble(pre.salt, 0),
        false => String::new(),
    };
    let ps = corpus
        .prompts_of(&codec, &lead, &contents)
        .await
        .map_err(synth_err)?;
    if pre.unique
        && let Some(p) = ps.first()
    {
        // The preamble and the prompt must not merge into other tokens where they meet.
        let joined = codec
            .encode(&format!("{}{}", preamble(pre.salt, 0), p.text))
            .await
            .map_err(synth_err)?;
        if joined.len() as u64 != k + p.tokens as u64 {
            warnings.push(format!(
                "this tokenizer counts the per-request preamble with the prompt as {} tokens, not {k} + {}: input lengths may be off by a token (checked against usage per request)",
                joined.len(),
                p.tokens
            ));
        }
    }
    let targets = ps
        .iter()
        .map(|p| Some((p.tokens as i64 + overhead + k as i64).max(0) as u64))
        .collect();
    Ok(Built {
        prompts: ps.into_iter().map(|p| Prompt::Text(p.text)).collect(),
        targets,
        template_tokens: Some(overhead.max(0) as u64),
        warnings,
        groups: None,
    })
}

/// Prompts to build for a run of synthetic ones: one per request of the whole run where that
/// is known (so no point replays another's prompts), else a pool that wraps (the preamble
/// keeps them apart).
pub(super) fn prompt_count(c: &RunConfig) -> usize {
    let (requests, _) = c.stop.split();
    let points = c.loads.len().max(1) as u64;
    requests
        .map_or(1024, |r| {
            r.saturating_add(u64::from(c.warmup)).saturating_mul(points)
        })
        .clamp(1, 4096) as usize
}

/// The text synthetic prompts are cut from: the built-in set.
pub(super) fn corpus_text() -> String {
    prompts::default_set()
        .iter()
        .map(Prompt::as_text)
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A plain sentence whose token count the server is asked for, to size its template.
const PROBE_TEXT: &str = "The quick brown fox jumps over the lazy dog near the river bank.";

/// Why the template's overhead is not known.
enum Overhead {
    /// The request failed: the run cannot go on.
    Bench(BenchError),
    /// The server gave no count to compare with.
    Unknown(String),
}

/// Tokens the server adds to a prompt (chat template, BOS): send `probe` (with a reserved
/// preamble) and subtract the client's count of its text from the server's
/// `usage.prompt_tokens`.
async fn overhead(
    endpoint: Endpoint,
    client: &StreamClient,
    codec: &synth::Codec,
    probe: &Prompt,
    opts: &RequestOptions,
    pre: Preambles,
) -> Result<i64, Overhead> {
    let p = pre.reserved(probe, 1);
    let counted = codec
        .encode(&p.as_text())
        .await
        .map_err(|e| Overhead::Unknown(e.to_string()))?
        .len() as i64;
    let rec = preflight(endpoint, client, &p, opts)
        .await
        .map_err(Overhead::Bench)?;
    match rec.usage.prompt_tokens {
        Some(n) => Ok(n as i64 - counted),
        None => Err(Overhead::Unknown(
            "the server reports no usage.prompt_tokens".into(),
        )),
    }
}

/// Tokens of one preamble. Digits tokenize alike whatever they are in the usual tokenizers;
/// a tokenizer that does not is warned about (input lengths then vary by a token or so, and
/// `input_tokens_mismatch` shows it). Returns the count and the warning, if any.
pub(super) async fn preamble_tokens(
    codec: &synth::Codec,
    salt: u64,
) -> Result<(u64, Option<String>), synth::SynthError> {
    let mut counts = Vec::new();
    for j in 0..8 {
        let p = preamble(salt, RESERVED_SEQ + 10 + j);
        counts.push(codec.encode(&p).await?.len() as u64);
    }
    let k = counts.iter().copied().max().unwrap_or(0);
    let odd = counts.iter().any(|c| *c != k).then(|| {
        format!(
            "the per-request preamble (9 digits and a newline) is {counts:?} tokens in this tokenizer, not one fixed count: input lengths may vary by a token"
        )
    });
    Ok((k, odd))
}

/// One small request before anything is measured: does the endpoint exist, stream SSE, and
/// finish? Any failure here is the server's or the arguments', and stops the run.
pub(super) async fn preflight(
    endpoint: Endpoint,
    client: &StreamClient,
    prompt: &Prompt,
    opts: &RequestOptions,
) -> Result<RequestRecord, BenchError> {
    let small = RequestOptions {
        max_tokens: Some(2),
        ..opts.clone()
    };
    let req = Prepared {
        body: body(endpoint, prompt, &small),
        client_input_tokens: None,
        ..Prepared::default()
    };
    let now = Instant::now();
    let rec = client
        .send(&req, "llms-preflight".into(), Clock { epoch: now }, now)
        .await;
    let Some(e) = &rec.error else { return Ok(rec) };
    // Two tokens that render as no text (a partial UTF-8 byte held back, a control token) are
    // still an answer: the stream finished and usage counts them. The preflight only asks
    // whether the endpoint streams and finishes.
    if e.kind == "no_tokens" && rec.usage.completion_tokens.is_some_and(|n| n > 0) {
        return Ok(rec);
    }
    let hint = match e.kind.as_str() {
        "http_404" => format!(
            " (is --endpoint {} right? the other is --endpoint {}; a wrong --model also gives 404)",
            endpoint.as_str(),
            match endpoint {
                Endpoint::Chat => "completions",
                Endpoint::Completions => "chat",
            }
        ),
        _ => String::new(),
    };
    Err(BenchError::Server(format!(
        "preflight request to {} failed ({}): {}{hint}",
        client.url(),
        e.kind,
        e.message
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> RunConfig {
        let mut v = vec!["--url", "http://h", "--concurrency", "1"];
        v.extend_from_slice(args);
        super::super::args::parse(&v).unwrap().config().unwrap()
    }

    #[test]
    fn the_prompts_file_is_read_once_for_prompts_answers_and_turns() {
        let dir = std::env::temp_dir().join(format!("llms-read-once-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("chats.json");
        let text = r#"[{"conversations": [{"from": "human", "value": "Hi there"}, {"from": "gpt", "value": "Hello, friend"}, {"from": "human", "value": "Bye"}]}]"#;
        std::fs::write(&file, text).unwrap();
        let path = file.to_str().unwrap();
        let c = config(&[
            "--prompts",
            path,
            "--workload",
            "conversation",
            "--turns",
            "2",
        ]);
        let read = read_once(&c).unwrap().unwrap();
        // Gone or changed after the read: every use still sees the text that was read.
        std::fs::write(&file, "not json").unwrap();
        let Ok(PromptSource::Fixed(ps)) = PromptSource::open(&c, Some(&read)) else {
            panic!("not the file's prompts")
        };
        assert_eq!(ps.len(), 1);
        assert_eq!(
            read_answers(Some(&read)).unwrap(),
            vec!["Hello, friend".to_owned()]
        );
        assert_eq!(read_dialogues(&read).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
        // A file that cannot be read is named.
        let c = config(&["--prompts", path]);
        let e = read_once(&c).err().unwrap().to_string();
        assert!(e.contains(path), "{e}");
        // A copy that came with a sweep is taken as it came.
        let mut c = config(&["--prompts", path]);
        c.workload.attached.push(AttachedFile {
            field: llms_shared::PROMPTS_FIELD.into(),
            path: path.into(),
            text: r#"["sent"]"#.into(),
        });
        assert!(matches!(read_once(&c), Ok(Some(Cow::Borrowed(f))) if f.text == r#"["sent"]"#));
        // No --prompts: nothing to read, and the default set.
        let c = config(&[]);
        assert!(read_once(&c).unwrap().is_none());
        assert!(
            matches!(PromptSource::open(&c, None), Ok(PromptSource::Fixed(p)) if !p.is_empty())
        );
    }
}
