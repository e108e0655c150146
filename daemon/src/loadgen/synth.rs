//! Synthetic prompts of an exact token length, tokenized either by the model's
//! `tokenizer.json` (tokenizers crate, pure Rust) or, without one, by the server's own
//! `/tokenize` and `/detokenize` routes (llama.cpp, vLLM, SGLang and the reference engine have them).
//!
//! Each prompt is a window of a natural-text corpus taken at a different offset (so prompts do
//! not share a prefix), decoded to text and re-encoded; where the round trip changes the count
//! the window is resized and tried again. What finally goes out is checked against the
//! server's `usage.prompt_tokens` by the aggregation (`input_token_mismatches`).

use super::client::describe;
use serde_json::{Value, json};
use std::path::Path;

/// Rounds of resizing a window before giving up on an exact length.
const MAX_ROUNDS: usize = 10;

/// Why synthetic prompts cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// `--tokenizer` does not load.
    #[error("cannot load tokenizer '{path}': {msg}")]
    Load {
        /// The file.
        path: String,
        /// Why.
        msg: String,
    },
    /// Tokenizing failed.
    #[error("tokenizer failed: {0}")]
    Tokenize(String),
    /// The server's tokenize route failed.
    #[error("{0}")]
    Server(String),
    /// Nothing to build prompts from.
    #[error("the prompt corpus is empty")]
    EmptyCorpus,
}

/// Turns text into token ids and back.
pub enum Codec {
    /// A local `tokenizer.json`.
    Local(Box<tokenizers::Tokenizer>),
    /// The server's `/tokenize` and `/detokenize`.
    Server {
        /// Client for the calls.
        http: reqwest::Client,
        /// Server base URL (no trailing slash).
        base: String,
        /// Model name to send, if any.
        model: Option<String>,
    },
}

impl Codec {
    /// Load a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, SynthError> {
        let t = tokenizers::Tokenizer::from_file(path).map_err(|e| SynthError::Load {
            path: path.display().to_string(),
            msg: e.to_string(),
        })?;
        Ok(Codec::Local(Box::new(t)))
    }

    /// A `tokenizer.json` that has already been read (`name` for messages).
    pub fn from_text(name: &str, text: &str) -> Result<Self, SynthError> {
        let t =
            tokenizers::Tokenizer::from_bytes(text.as_bytes()).map_err(|e| SynthError::Load {
                path: name.to_owned(),
                msg: e.to_string(),
            })?;
        Ok(Codec::Local(Box::new(t)))
    }

    /// Token ids of `text`, without special tokens.
    pub async fn encode(&self, text: &str) -> Result<Vec<u32>, SynthError> {
        match self {
            Codec::Local(t) => t
                .encode(text, false)
                .map(|e| e.get_ids().to_vec())
                .map_err(|e| SynthError::Tokenize(e.to_string())),
            Codec::Server { http, base, model } => {
                let mut body = json!({"content": text, "prompt": text, "add_special": false, "add_special_tokens": false});
                if let Some(m) = model {
                    body["model"] = json!(m);
                }
                let v = post(http, &format!("{base}/tokenize"), &body).await?;
                let ids = v.get("tokens").and_then(Value::as_array).ok_or_else(|| {
                    SynthError::Server(format!(
                        "{base}/tokenize answered without a \"tokens\" list"
                    ))
                })?;
                ids.iter()
                    .map(|x| {
                        let id = x.as_u64().or_else(|| x.get("id").and_then(Value::as_u64));
                        id.and_then(|i| u32::try_from(i).ok())
                    })
                    .collect::<Option<Vec<u32>>>()
                    .ok_or_else(|| {
                        SynthError::Server(format!("{base}/tokenize returned non-integer tokens"))
                    })
            }
        }
    }

    /// Text of `ids`.
    pub async fn decode(&self, ids: &[u32]) -> Result<String, SynthError> {
        match self {
            Codec::Local(t) => t
                .decode(ids, false)
                .map_err(|e| SynthError::Tokenize(e.to_string())),
            Codec::Server { http, base, model } => {
                let mut body = json!({"tokens": ids});
                if let Some(m) = model {
                    body["model"] = json!(m);
                }
                let v = post(http, &format!("{base}/detokenize"), &body).await?;
                // llama.cpp answers `content`, vLLM `prompt`, SGLang `text`.
                ["content", "prompt", "text"]
                    .iter()
                    .find_map(|k| v.get(*k).and_then(Value::as_str))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        SynthError::Server(format!("{base}/detokenize answered without text"))
                    })
            }
        }
    }
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> Result<Value, SynthError> {
    let resp = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| SynthError::Server(format!("POST {url} failed: {}", describe(&e))))?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(SynthError::Server(format!(
            "the server has no tokenizer route (POST {url} -> 404); pass --tokenizer PATH/tokenizer.json"
        )));
    }
    if !status.is_success() {
        return Err(SynthError::Server(format!(
            "POST {url} -> {status}: {}",
            super::client::error_summary(resp).await
        )));
    }
    // Token ids of the whole corpus are well under this.
    let text = super::client::text_capped(resp, 64 << 20)
        .await
        .ok_or_else(|| {
            SynthError::Server(format!("POST {url}: answer unreadable or over 64 MiB"))
        })?;
    serde_json::from_str(&text)
        .map_err(|e| SynthError::Server(format!("POST {url}: answer is not JSON: {e}")))
}

/// A synthetic prompt and its token count under the codec.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// The text.
    pub text: String,
    /// Its length in tokens (equal to the target unless no exact window was found).
    pub tokens: usize,
}

/// A corpus, tokenized once, to cut synthetic prompts from.
pub struct Corpus {
    ids: Vec<u32>,
}

impl Corpus {
    /// Tokenize `text` with `codec`.
    pub async fn new(codec: &Codec, text: &str) -> Result<Self, SynthError> {
        let ids = codec.encode(text).await?;
        if ids.is_empty() {
            return Err(SynthError::EmptyCorpus);
        }
        Ok(Self { ids })
    }

    /// Tokens in the corpus: its distinct starting points.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether it has no tokens (never: [`Corpus::new`] refuses an empty one).
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The `len` tokens from `start` (both wrapping around the corpus).
    pub fn window(&self, start: usize, len: usize) -> Vec<u32> {
        window(&self.ids, start, len)
    }

    /// `count` prompts of exactly `target` tokens each (as the codec counts them).
    pub async fn prompts(
        &self,
        codec: &Codec,
        target: usize,
        count: usize,
    ) -> Result<Vec<Synthetic>, SynthError> {
        self.prompts_after(codec, "", target, count).await
    }

    /// `count` prompts of exactly `target` tokens each where they follow `lead` (a preamble
    /// or a group tag): counted as `lead` + text less `lead` alone, so a text whose start
    /// would merge with the lead's end into other tokens is sized as it will be sent.
    pub async fn prompts_after(
        &self,
        codec: &Codec,
        lead: &str,
        target: usize,
        count: usize,
    ) -> Result<Vec<Synthetic>, SynthError> {
        let targets = vec![target; count];
        self.prompts_of(codec, lead, &targets).await
    }

    /// One prompt of exactly each of `targets` tokens after `lead` (see
    /// [`Corpus::prompts_after`]), each from its own place in the corpus.
    pub async fn prompts_of(
        &self,
        codec: &Codec,
        lead: &str,
        targets: &[usize],
    ) -> Result<Vec<Synthetic>, SynthError> {
        let lead = Lead {
            text: lead,
            tokens: match lead {
                "" => 0,
                l => codec.encode(l).await?.len(),
            },
        };
        let len = self.ids.len();
        let count = targets.len();
        // Spread the starting offsets over the corpus (an odd stride avoids short cycles).
        let stride = (len / count.max(1)).max(1) | 1;
        let mut out = Vec::with_capacity(count);
        for (i, &target) in targets.iter().enumerate() {
            let offset = (i * stride + i / len) % len;
            // A window that cannot be made exact (a stretch of text whose characters are
            // several tokens each, say) gives way to windows elsewhere in the corpus; the
            // closest is kept if none can.
            let mut best: Option<Synthetic> = None;
            for shift in 0..OFFSET_TRIES {
                let at = (offset + shift * (len / OFFSET_TRIES + 1)) % len;
                let got = exact(codec, &self.ids, at, target, &lead).await?;
                let closer = best
                    .as_ref()
                    .is_none_or(|b| got.tokens.abs_diff(target) < b.tokens.abs_diff(target));
                if closer {
                    best = Some(got);
                }
                if best.as_ref().is_some_and(|b| b.tokens == target) {
                    break;
                }
            }
            out.extend(best);
        }
        Ok(out)
    }
}

/// The `len` ids from `start`, both wrapping around `ids` (without walking up to `start`).
fn window(ids: &[u32], start: usize, len: usize) -> Vec<u32> {
    if ids.is_empty() {
        return Vec::new();
    }
    let from = start % ids.len();
    ids[from..]
        .iter()
        .chain(ids.iter().cycle())
        .take(len)
        .copied()
        .collect()
}

/// Offsets tried for one prompt before the closest length is taken.
const OFFSET_TRIES: usize = 8;

/// What a synthetic prompt follows, and its own tokens.
struct Lead<'a> {
    text: &'a str,
    tokens: usize,
}

/// The window at `offset` resized until its text re-encodes to `target` tokens after `lead`.
async fn exact(
    codec: &Codec,
    ids: &[u32],
    offset: usize,
    target: usize,
    lead: &Lead<'_>,
) -> Result<Synthetic, SynthError> {
    let window = |k: usize| window(ids, offset, k);
    let mut k = target;
    let mut best: Option<Synthetic> = None;
    for _ in 0..MAX_ROUNDS {
        let text = codec.decode(&window(k)).await?;
        let got = match lead.text {
            "" => codec.encode(&text).await?.len(),
            l => (codec.encode(&format!("{l}{text}")).await?.len()).saturating_sub(lead.tokens),
        };
        let closer = best
            .as_ref()
            .is_none_or(|b| got.abs_diff(target) < b.tokens.abs_diff(target));
        if closer {
            best = Some(Synthetic { text, tokens: got });
        }
        if got == target {
            break;
        }
        k = if got > target {
            k.saturating_sub(got - target).max(1)
        } else {
            k + (target - got)
        };
    }
    best.ok_or(SynthError::EmptyCorpus)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::models::wordlevel::WordLevel;
    use tokenizers::pre_tokenizers::whitespace::Whitespace;

    fn word_codec() -> Codec {
        let words = [
            "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "[UNK]",
        ];
        let vocab = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.to_string(), i as u32))
            .collect();
        let model = WordLevel::builder()
            .vocab(vocab)
            .unk_token("[UNK]".into())
            .build()
            .unwrap();
        let mut t = tokenizers::Tokenizer::new(model);
        t.with_pre_tokenizer(Some(Whitespace {}));
        t.with_decoder(Some(tokenizers::decoders::wordpiece::WordPiece::default()));
        Codec::Local(Box::new(t))
    }

    #[tokio::test]
    async fn prompts_have_the_exact_length_and_differ() {
        let c = word_codec();
        let corpus = "the quick brown fox jumps over the lazy dog";
        let ps = Corpus::new(&c, corpus)
            .await
            .unwrap()
            .prompts(&c, 12, 5)
            .await
            .unwrap();
        assert_eq!(ps.len(), 5);
        for p in &ps {
            assert_eq!(c.encode(&p.text).await.unwrap().len(), 12, "{p:?}");
            assert_eq!(p.tokens, 12);
        }
        assert_ne!(ps[0].text, ps[1].text);
    }

    #[test]
    fn a_bad_tokenizer_file_is_named() {
        let dir = std::env::temp_dir().join(format!("llms-tok-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("tokenizer.json");
        std::fs::write(&f, "{not json").unwrap();
        let e = Codec::from_file(&f).err().unwrap().to_string();
        assert!(
            e.contains("cannot load tokenizer") && e.contains("tokenizer.json"),
            "{e}"
        );
        let e = Codec::from_file(&dir.join("missing.json"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("missing.json"), "{e}");
    }
}
