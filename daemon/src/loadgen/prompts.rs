//! Prompt sources: the default set compiled into the binary, and prompt files (a JSON list of
//! strings, JSONL of `{"prompt"}` / `{"messages"}`, or ShareGPT-format JSON). Errors name the
//! file and the line or element at fault.

use super::request::{Message, Prompt};
use serde::Deserialize;
use std::path::Path;

/// The default prompt set (`prompts/default.jsonl`).
pub const DEFAULT_JSONL: &str = include_str!("../../../prompts/default.jsonl");

/// A prompt file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The file cannot be read.
    #[error("cannot read prompts file '{path}': {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line or element is not a usable prompt.
    #[error("prompts file '{path}' {at}: {msg}")]
    Bad {
        /// The file.
        path: String,
        /// `line N` or `element N`.
        at: String,
        /// What is wrong.
        msg: String,
    },
    /// The file holds no prompt.
    #[error("prompts file '{0}' holds no prompts")]
    Empty(String),
}

/// The default set.
pub fn default_set() -> Vec<Prompt> {
    // The embedded file is checked by a test; a bad line would be a build defect.
    parse_entries("prompts/default.jsonl", DEFAULT_JSONL).unwrap_or_default()
}

/// A prompts file's text (read once per run; see `bench::prompts::read_once`), its error
/// naming the file.
pub fn read_text(path: &Path) -> Result<String, PromptError> {
    std::fs::read_to_string(path).map_err(|source| PromptError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Parse prompt-file text: a JSON array (of strings, prompt objects or ShareGPT records) or JSONL.
pub fn parse(name: &str, text: &str) -> Result<Vec<Prompt>, PromptError> {
    let prompts = parse_entries(name, text)?;
    if prompts.is_empty() {
        return Err(PromptError::Empty(name.to_owned()));
    }
    Ok(prompts)
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Entry {
    Text(String),
    Prompt { prompt: String },
    Messages { messages: Vec<Message> },
    ShareGpt { conversations: Vec<Turn> },
}

#[derive(Deserialize)]
struct Turn {
    from: String,
    value: String,
}

fn bad(name: &str, at: String, msg: impl Into<String>) -> PromptError {
    PromptError::Bad {
        path: name.to_owned(),
        at,
        msg: msg.into(),
    }
}

const SHAPES: &str =
    "expected a string, {\"prompt\": ...}, {\"messages\": [...]} or {\"conversations\": [...]}";

/// The entries of a prompt file's text (a JSON array or JSONL), each with where it is
/// (`element N`, `line N`).
fn entries(name: &str, text: &str) -> Result<Vec<(String, Entry)>, PromptError> {
    if text.trim_start().starts_with('[') {
        let items: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|e| {
            bad(
                name,
                format!("line {}", e.line()),
                format!("not a valid JSON list: {e}"),
            )
        })?;
        return items
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let at = format!("element {i}");
                serde_json::from_value(v)
                    .map(|e| (at.clone(), e))
                    .map_err(|_| bad(name, at, SHAPES))
            })
            .collect();
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("line {}", n + 1);
        let v: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| bad(name, at.clone(), format!("not valid JSON: {e}")))?;
        let entry: Entry = serde_json::from_value(v).map_err(|_| bad(name, at.clone(), SHAPES))?;
        out.push((at, entry));
    }
    Ok(out)
}

fn parse_entries(name: &str, text: &str) -> Result<Vec<Prompt>, PromptError> {
    let mut out = Vec::new();
    for (at, entry) in entries(name, text)? {
        if let Some(p) = to_prompt(name, &at, entry)? {
            out.push(p);
        }
    }
    Ok(out)
}

/// A conversation of a dataset, as a conversation workload replays it: its leading system
/// messages and every user turn, in order. The assistant's turns are not kept: when it is
/// replayed, they are what the engine answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialogue {
    /// System messages before the first user turn.
    pub system: Vec<Message>,
    /// The user turns.
    pub users: Vec<String>,
}

impl Dialogue {
    /// The whole dialogue as one prompt (for digests): system, then every user turn.
    pub fn as_prompt(&self) -> Prompt {
        let mut ms = self.system.clone();
        ms.extend(self.users.iter().map(|u| Message {
            role: "user".into(),
            content: u.clone(),
        }));
        Prompt::Messages(ms)
    }
}

/// The conversations of a prompts file, every user turn kept: ShareGPT records (`human` or
/// `user` turns), `{"messages": [...]}` (its `user` messages), and strings or
/// `{"prompt"}` (one turn each). Records without a user turn are skipped; errors name the file
/// and the line or element.
pub fn dialogues(name: &str, text: &str) -> Result<Vec<Dialogue>, PromptError> {
    let entries = entries(name, text)?;
    let mut out = Vec::new();
    for (at, e) in entries {
        let (system, users): (Vec<Message>, Vec<String>) = match e {
            Entry::Text(t) | Entry::Prompt { prompt: t } => (Vec::new(), vec![t]),
            Entry::Messages { messages } => {
                let first_user = messages.iter().position(|m| m.role == "user");
                let system = messages[..first_user.unwrap_or(0)]
                    .iter()
                    .filter(|m| m.role == "system")
                    .cloned()
                    .collect();
                let users: Vec<String> = messages
                    .into_iter()
                    .filter(|m| m.role == "user")
                    .map(|m| m.content)
                    .collect();
                if users.is_empty() {
                    return Err(bad(name, at, "\"messages\" has no user message"));
                }
                (system, users)
            }
            Entry::ShareGpt { conversations } => {
                let human = |t: &Turn| t.from == "human" || t.from == "user";
                let Some(h) = conversations.iter().position(human) else {
                    continue;
                };
                let system = conversations[..h]
                    .iter()
                    .filter(|t| t.from == "system")
                    .map(|t| Message {
                        role: "system".into(),
                        content: t.value.clone(),
                    })
                    .collect();
                let users = conversations
                    .iter()
                    .filter(|t| human(t))
                    .map(|t| t.value.clone())
                    .collect();
                (system, users)
            }
        };
        if users.iter().any(String::is_empty) {
            return Err(bad(name, at, "a user turn is empty"));
        }
        out.push(Dialogue { system, users });
    }
    if out.is_empty() {
        return Err(PromptError::Empty(name.to_owned()));
    }
    Ok(out)
}

/// The answers a prompts file gives: each ShareGPT record's first `gpt` (or `assistant`) turn
/// after its first human one, each `{"messages"}` entry's first `assistant` message after its
/// first `user` one. Prompts without one give none.
pub fn answers(name: &str, text: &str) -> Result<Vec<String>, PromptError> {
    let mut out = Vec::new();
    for (_, e) in entries(name, text)? {
        let answer = match e {
            Entry::ShareGpt { conversations } => conversations
                .iter()
                .skip_while(|t| t.from != "human" && t.from != "user")
                .find(|t| t.from == "gpt" || t.from == "assistant")
                .map(|t| t.value.clone()),
            Entry::Messages { messages } => messages
                .iter()
                .skip_while(|m| m.role != "user")
                .find(|m| m.role == "assistant")
                .map(|m| m.content.clone()),
            Entry::Text(_) | Entry::Prompt { .. } => None,
        };
        out.extend(answer.filter(|a| !a.is_empty()));
    }
    Ok(out)
}

/// Turn one entry into a prompt. ShareGPT records without a human turn are skipped.
fn to_prompt(name: &str, at: &str, e: Entry) -> Result<Option<Prompt>, PromptError> {
    let p = match e {
        Entry::Text(t) | Entry::Prompt { prompt: t } => Prompt::Text(t),
        Entry::Messages { messages } => {
            if messages.is_empty() {
                return Err(bad(name, at.to_owned(), "\"messages\" is empty"));
            }
            Prompt::Messages(messages)
        }
        Entry::ShareGpt { conversations } => {
            let Some(h) = conversations
                .iter()
                .position(|t| t.from == "human" || t.from == "user")
            else {
                return Ok(None);
            };
            let mut ms: Vec<Message> = conversations[..h]
                .iter()
                .filter(|t| t.from == "system")
                .map(|t| Message {
                    role: "system".into(),
                    content: t.value.clone(),
                })
                .collect();
            ms.push(Message {
                role: "user".into(),
                content: conversations[h].value.clone(),
            });
            if ms.len() == 1 {
                Prompt::Text(ms.remove(0).content)
            } else {
                Prompt::Messages(ms)
            }
        }
    };
    let empty = match &p {
        Prompt::Text(t) => t.is_empty(),
        Prompt::Messages(ms) => ms.iter().all(|m| m.content.is_empty()),
    };
    if empty {
        return Err(bad(name, at.to_owned(), "the prompt is empty"));
    }
    Ok(Some(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_large_and_mixed() {
        let all = parse_entries("default", DEFAULT_JSONL).unwrap();
        assert!(all.len() >= 50, "{}", all.len());
        let chats = all
            .iter()
            .filter(|p| matches!(p, Prompt::Messages(_)))
            .count();
        assert!(chats >= 10 && all.len() - chats >= 10);
        assert_eq!(default_set().len(), all.len());
    }

    #[test]
    fn json_list_of_strings() {
        let p = parse("f", r#"["a", "b"]"#).unwrap();
        assert_eq!(p, vec![Prompt::Text("a".into()), Prompt::Text("b".into())]);
    }

    #[test]
    fn jsonl_both_shapes_and_blank_lines() {
        let t =
            "{\"prompt\": \"x\"}\n\n{\"messages\": [{\"role\": \"user\", \"content\": \"y\"}]}\n";
        let p = parse("f", t).unwrap();
        assert_eq!(p.len(), 2);
        assert!(matches!(&p[1], Prompt::Messages(m) if m[0].content == "y"));
    }

    #[test]
    fn sharegpt_takes_first_human_turn_and_system() {
        let t = r#"[{"id": "1", "conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "H"}, {"from": "gpt", "value": "G"}, {"from": "human", "value": "H2"}]},
                   {"conversations": [{"from": "gpt", "value": "only"}]},
                   {"conversations": [{"from": "human", "value": "plain"}]}]"#;
        let p = parse("f", t).unwrap();
        assert_eq!(p.len(), 2);
        match &p[0] {
            Prompt::Messages(m) => {
                assert_eq!((m[0].role.as_str(), m[0].content.as_str()), ("system", "S"));
                assert_eq!((m[1].role.as_str(), m[1].content.as_str()), ("user", "H"));
                assert_eq!(m.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p[1], Prompt::Text("plain".into()));
    }

    #[test]
    fn errors_name_the_line_or_element() {
        let e = parse("p.jsonl", "{\"prompt\": \"ok\"}\n{\"prompt\": 3}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("p.jsonl") && e.contains("line 2"), "{e}");
        let e = parse("p.jsonl", "{\"prompt\": \"ok\"}\n{oops\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("not valid JSON"), "{e}");
        let e = parse("p.json", r#"["a", 5]"#).unwrap_err().to_string();
        assert!(e.contains("element 1"), "{e}");
        let e = parse("p.json", "[\"a\",\n\"b\"").unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("not a valid JSON list"),
            "{e}"
        );
        let e = parse("p.json", "[]").unwrap_err().to_string();
        assert!(e.contains("no prompts"), "{e}");
        let e = parse("p.json", r#"[""]"#).unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = read_text(Path::new("/nonexistent/prompts.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/prompts.json"), "{e}");
    }

    #[test]
    fn dialogues_keep_every_user_turn() {
        let t = r#"[{"conversations": [{"from": "system", "value": "S"}, {"from": "human", "value": "H1"}, {"from": "gpt", "value": "G"}, {"from": "human", "value": "H2"}]},
                   {"conversations": [{"from": "gpt", "value": "only"}]},
                   {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"}]},
                   "plain"]"#;
        let d = dialogues("d.json", t).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].users, ["H1", "H2"]);
        assert_eq!(d[0].system[0].content, "S");
        assert_eq!(
            (d[1].system[0].content.as_str(), d[1].users.clone()),
            ("Be brief.", vec!["a".to_owned(), "c".to_owned()])
        );
        assert_eq!(d[2].users, ["plain"]);
        let e = dialogues(
            "d.jsonl",
            "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}\n",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("d.jsonl' line 1: \"messages\" has no user message"),
            "{e}"
        );
        let e = dialogues("d.jsonl", "{\"messages\": 3}\n").unwrap_err();
        assert!(e.to_string().contains("line 1"), "{e}");
    }
}
