//! The prompts of a shared-prefix run: each group's prefix (a system prompt of exactly the
//! asked tokens, its group tag included) and each request's own part (synthetic of exactly
//! `--input-tokens`, its preamble included, or a prompt of the set), with the template's
//! overhead measured on the same two-message shape the requests have.

use super::prompts::{
    Built, Preambles, PromptSource, corpus_text, preamble_tokens, preflight, prompt_count,
};
use super::workload::draw_groups;
use super::{BenchError, RunConfig};
use crate::loadgen::client::StreamClient;
use crate::loadgen::request::{Message, Prompt, RESERVED_SEQ, RequestOptions, preamble};
use crate::loadgen::synth;
use rand::SeedableRng;
use rand::seq::SliceRandom;

/// The server and how requests to it are made.
pub(super) struct Ctx<'a> {
    pub client: &'a StreamClient,
    pub http: &'a reqwest::Client,
    pub base: &'a str,
    pub opts: &'a RequestOptions,
    pub pre: Preambles,
}

/// A preamble as the run's requests have them (a group tag has the same shape), or nothing
/// for verbatim prompts.
fn tag_shape(pre: Preambles) -> String {
    match pre.unique {
        true => preamble(pre.salt, 0),
        false => String::new(),
    }
}

/// A two-message prompt: the group's prefix, then the request's own part.
fn shared(system: &str, user: &str) -> Prompt {
    Prompt::Messages(vec![
        Message {
            role: "system".into(),
            content: system.into(),
        },
        Message {
            role: "user".into(),
            content: user.into(),
        },
    ])
}

/// Build the prompts of `groups` groups with prefixes of `prefix_tokens`, drawn uniformly or
/// by Zipf's law (`zipf`).
pub(super) async fn build_shared(
    c: &RunConfig,
    source: PromptSource,
    x: &Ctx<'_>,
    (groups, prefix_tokens, zipf): (u32, u32, Option<f64>),
) -> Result<Built, BenchError> {
    let synth_err = |e: synth::SynthError| BenchError::Server(e.to_string());
    let server_codec = || synth::Codec::Server {
        http: x.http.clone(),
        base: x.base.to_owned(),
        model: x.opts.model.clone(),
    };
    let (own, codec, fixed) = match source {
        PromptSource::Synthetic(n, codec) => (Some(n), codec, Vec::new()),
        PromptSource::Fixed(mut ps) => {
            ps.shuffle(&mut rand::rngs::StdRng::seed_from_u64(c.seed));
            (None, None, ps)
        }
        PromptSource::Drawn(..) => {
            return Err(BenchError::Usage(
                "--input-dist: only for the single workload".into(),
            ));
        }
    };
    let codec = codec.unwrap_or_else(server_codec);
    let corpus = synth::Corpus::new(&codec, &corpus_text())
        .await
        .map_err(synth_err)?;
    let mut warnings = Vec::new();
    // A group's tag and a request's preamble have the same shape: `k` tokens each.
    let k = match x.pre.unique {
        true => {
            let (k, odd) = preamble_tokens(&codec, x.pre.salt)
                .await
                .map_err(synth_err)?;
            warnings.extend(odd);
            k
        }
        false => 0,
    };
    let content = i64::from(prefix_tokens) - k as i64;
    if content < 1 {
        return Err(BenchError::Usage(format!(
            "--prefix-tokens {prefix_tokens} is not more than the {k}-token group tag that opens each prefix"
        )));
    }
    // Sized as sent: after a tag (or a preamble: the same shape) where there is one.
    let lead = tag_shape(x.pre);
    let prefixes = corpus
        .prompts_after(&codec, &lead, content as usize, groups as usize)
        .await
        .map_err(synth_err)?;
    // Each request's own part: synthetic (its length known) or the prompts of the set.
    let (parts, part_tokens): (Vec<String>, Vec<Option<u64>>) = match own {
        Some(n) => {
            let len = i64::from(n) - k as i64;
            if len < 1 {
                return Err(BenchError::Usage(format!(
                    "--input-tokens {n} is not more than the {k}-token per-request preamble"
                )));
            }
            let ps = corpus
                .prompts_after(&codec, &lead, len as usize, prompt_count(c))
                .await
                .map_err(synth_err)?;
            ps.into_iter()
                .map(|p| (p.text, Some(k + p.tokens as u64)))
                .unzip()
        }
        None => fixed.iter().map(|p| (p.as_text(), None)).unzip(),
    };
    let draws = draw_groups(parts.len(), groups, zipf, c.seed);
    let prompts: Vec<Prompt> = parts
        .iter()
        .zip(&draws)
        .map(|(u, g)| shared(&prefixes[*g as usize].text, u))
        .collect();
    let Some((first, g0)) = parts.first().zip(draws.first()) else {
        return Err(BenchError::Usage("no prompts".into()));
    };
    // One request of the requests' own shape, with reserved numbers: does the endpoint
    // stream, and what does the template add to the two messages?
    let tag = |s: u64| match x.pre.unique {
        true => preamble(x.pre.salt, RESERVED_SEQ + s),
        false => String::new(),
    };
    let system = format!("{}{}", tag(3), prefixes[*g0 as usize].text);
    let user = format!("{}{first}", tag(2));
    let rec = preflight(
        c.workload.endpoint,
        x.client,
        &shared(&system, &user),
        x.opts,
    )
    .await?;
    let counted = codec_len(&codec, &system).await? + codec_len(&codec, &user).await?;
    let overhead = match rec.usage.prompt_tokens {
        Some(n) => Some(n as i64 - counted as i64),
        None => {
            warnings.push(
                "the server reports no usage.prompt_tokens; input lengths cannot be checked".into(),
            );
            None
        }
    };
    // Each group's prefix with its tag, as counted: the tag's own tokens plus the text's.
    let prefix_len: Vec<u64> = prefixes.iter().map(|p| k + p.tokens as u64).collect();
    let targets = part_tokens
        .iter()
        .zip(&draws)
        .map(|(t, g)| {
            let o = overhead?;
            Some((o + (prefix_len[*g as usize] + (*t)?) as i64).max(0) as u64)
        })
        .collect();
    Ok(Built {
        prompts,
        targets,
        template_tokens: overhead.map(|o| o.max(0) as u64),
        warnings,
        groups: Some(draws),
    })
}

/// The system prompt every session of a conversation shares (`prefix_tokens`): exactly `n`
/// tokens of the corpus as `codec` counts them (the run's tokenizer, else the server's), with
/// no preamble, so every session sends the same text and an engine may serve it from its cache.
pub(super) async fn system_prompt(codec: &synth::Codec, n: u32) -> Result<String, BenchError> {
    let synth_err = |e: synth::SynthError| BenchError::Server(e.to_string());
    let corpus = synth::Corpus::new(codec, &corpus_text())
        .await
        .map_err(synth_err)?;
    let mut one = corpus
        .prompts_after(codec, "", n as usize, 1)
        .await
        .map_err(synth_err)?;
    one.pop()
        .map(|p| p.text)
        .ok_or_else(|| BenchError::Server("no system prompt could be built".into()))
}

async fn codec_len(codec: &synth::Codec, text: &str) -> Result<u64, BenchError> {
    codec
        .encode(text)
        .await
        .map(|v| v.len() as u64)
        .map_err(|e| BenchError::Server(e.to_string()))
}
