//! Engine kinds by name, as a sweep's `[[engine]] kind` and the daemon config's
//! `[engines.KIND]` spell them. Everything else the daemon knows about a kind (how it is
//! started, when it is ready, its metric names, what a request to it may carry) is that kind's
//! row in llmsd's `kinds` table; this is only the list of names, one line per kind.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

macro_rules! kinds {
    ($($(#[$doc:meta])* $variant:ident = $name:literal,)*) => {
        /// An engine kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EngineKind {
            $($(#[$doc])* $variant,)*
        }

        impl EngineKind {
            /// Every kind, in the order lists show them.
            pub const ALL: &'static [EngineKind] = &[$(EngineKind::$variant,)*];

            /// Its name in sweeps, configs, results and on the wire.
            pub const fn name(self) -> &'static str {
                match self {
                    $(EngineKind::$variant => $name,)*
                }
            }
        }
    };
}

kinds! {
    /// A running OpenAI-compatible server at a URL; the daemon starts no process.
    External = "external",
    /// llmsd's own reference engine, which records what it sent (ground truth).
    Reference = "reference",
    /// llama.cpp's `llama-server`.
    Llamacpp = "llamacpp",
    /// vLLM's OpenAI server.
    Vllm = "vllm",
    /// SGLang's server.
    Sglang = "sglang",
    /// TensorRT-LLM's `trtllm-serve`.
    Trtllm = "trtllm",
}

impl EngineKind {
    /// The kind called `name`, exactly.
    pub fn parse(name: &str) -> Option<EngineKind> {
        Self::ALL.iter().copied().find(|k| k.name() == name)
    }

    /// Every kind's name, comma-separated (for messages).
    pub fn names() -> String {
        Self::ALL
            .iter()
            .map(|k| k.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
            .ok_or_else(|| format!("unknown engine kind '{s}' (known: {})", EngineKind::names()))
    }
}

impl Serialize for EngineKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EngineKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::EngineKind;

    #[test]
    fn names_are_unique_and_round_trip() {
        for k in EngineKind::ALL {
            assert_eq!(EngineKind::parse(k.name()), Some(*k));
            assert_eq!(k.to_string(), k.name());
            let json = serde_json::to_string(k).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", k.name()));
            assert_eq!(serde_json::from_str::<EngineKind>(&json).ok(), Some(*k));
        }
        let mut names: Vec<&str> = EngineKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), EngineKind::ALL.len());
    }

    #[test]
    fn an_unknown_name_is_refused_with_the_list() {
        assert_eq!(EngineKind::parse("VLLM"), None);
        let e = "tgi".parse::<EngineKind>().err().unwrap_or_default();
        assert_eq!(
            e,
            "unknown engine kind 'tgi' (known: external, reference, llamacpp, vllm, sglang, trtllm)"
        );
        assert!(serde_json::from_str::<EngineKind>("\"tgi\"").is_err());
    }
}
