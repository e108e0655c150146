//! What a kind's row does with a spec: its command line, its option flags and config file,
//! and the checks on a job's own `args`.

use super::{EngineOptions, Kind};
use std::path::Path;

/// What one start of an engine puts on its command line.
pub(crate) struct Launch<'a> {
    /// The spec's model (a GGUF for llama.cpp, a name or directory for the GPU engines).
    pub model: Option<&'a str>,
    /// The spec's common options.
    pub options: &'a EngineOptions,
    /// The spec's own `args`, appended last.
    pub args: &'a [String],
    /// The port the daemon picked.
    pub port: u16,
    /// Where [`Kind::config_file`] was written, for kinds that read one.
    pub config: Option<&'a Path>,
    /// The engine dir of TensorRT-LLM's engine mode.
    pub built: Option<&'a Path>,
}

impl Kind {
    /// Its name in specs and the daemon config.
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The full argv: configured prefix, template, the options' flags, then the spec's `args`.
    pub fn argv(&self, prefix: &[String], l: &Launch<'_>) -> Vec<String> {
        let mut v = prefix.to_vec();
        v.extend((self.template)(l));
        v.extend((self.options)(l.options).unwrap_or_default());
        v.extend(l.args.iter().cloned());
        v
    }

    /// The options as flags, or `Err("field: why")`.
    pub fn option_flags(&self, o: &EngineOptions) -> Result<Vec<String>, String> {
        (self.options)(o)
    }

    /// The config file's text, for kinds that read one.
    pub fn config_file(&self, o: &EngineOptions) -> Option<String> {
        self.config.map(|c| c(o))
    }

    /// Whether `flag` names one of the file-writing flags: exactly, with `_` for `-` (vLLM
    /// and SGLang take both), or as an unambiguous abbreviation (Python's argparse takes any
    /// prefix of a long option).
    fn writes_with(&self, flag: &str) -> bool {
        let norm = flag.replace('_', "-");
        self.writes.iter().any(|w| {
            *w == norm || (norm.starts_with("--") && norm.len() >= 5 && w.starts_with(&norm))
        })
    }

    /// The first file-writing flag of `args` whose path is absolute or climbs out with `..`
    /// (relative paths land in the scratch directory, the engine's working directory).
    pub fn write_outside<'a>(&self, args: &'a [String]) -> Option<(&'a str, &'a str)> {
        let mut it = args.iter().map(String::as_str).peekable();
        while let Some(a) = it.next() {
            let (flag, value) = match a.split_once('=') {
                Some((f, v)) if f.starts_with('-') => (f, Some(v)),
                _ => (a, None),
            };
            if !self.writes_with(flag) {
                continue;
            }
            let value = match value {
                Some(v) => v,
                None => it.next().unwrap_or_default(),
            };
            let p = Path::new(value);
            let climbs = p.components().any(|c| {
                matches!(
                    c,
                    std::path::Component::ParentDir | std::path::Component::RootDir
                )
            });
            if value.is_empty() || climbs || value.starts_with('~') {
                return Some((flag, value));
            }
        }
        None
    }

    /// The first of `args` that the daemon sets itself (`--port` or `--port=...`).
    pub fn reserved_in<'a>(&self, args: &'a [String]) -> Option<&'a str> {
        args.iter().map(String::as_str).find(|a| {
            self.reserved
                .iter()
                .any(|r| a == r || a.strip_prefix(r).is_some_and(|t| t.starts_with('=')))
        })
    }
}
