//! The user-facing documents cite only what the repository has: every relative link and
//! every repository path in backticks names a file or folder that exists, and no document of
//! the developers' own (which users do not have) is named.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn documents() -> Vec<PathBuf> {
    let r = root();
    let mut v = vec![
        r.join("README.md"),
        r.join("sweeps/README.md"),
        r.join("systemd/README.md"),
    ];
    let mut stack = vec![r.join("docs")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "md") {
                v.push(p);
            }
        }
    }
    v.into_iter().filter(|p| p.is_file()).collect()
}

/// `](target)` links that are neither URLs nor anchors.
fn links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let end = rest.find(')')?;
            let t = rest[..end].split('#').next()?.trim();
            (!t.is_empty() && !t.contains("://") && !t.starts_with("mailto:")).then(|| t.to_owned())
        })
        .collect()
}

/// Paths in backticks that start with one of the repository's top folders.
fn repo_paths(text: &str) -> Vec<String> {
    const TOP: [&str; 9] = [
        "sweeps/", "scripts/", "bench/", "docs/", "systemd/", "prompts/", "daemon/", "tui/",
        "shared/",
    ];
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|t| TOP.iter().any(|p| t.starts_with(p)))
        .map(|t| t.split_whitespace().next().unwrap_or(t).to_owned())
        .filter(|t| !t.contains('*') && !t.contains('<') && !t.contains("..."))
        .collect()
}

#[test]
fn documents_cite_only_what_the_repository_has() {
    let r = root();
    let mut missing = Vec::new();
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let here = doc.parent().unwrap();
        for l in links(&text) {
            if !here.join(&l).exists() {
                missing.push(format!("{}: link {l}", doc.display()));
            }
        }
        for p in repo_paths(&text) {
            let p = p.trim_end_matches([',', '.', ':', ')']);
            if !r.join(p).exists() {
                missing.push(format!("{}: path {p}", doc.display()));
            }
        }
        for private in [
            "ENGINES.md",
            "DESIGN.md",
            "GPU-VLLM.md",
            "GPU-SGLANG.md",
            "PEERS.md",
            "CRATES.md",
            "STYLE.md",
            "CI-ENGINE.md",
        ] {
            if text.contains(private) {
                missing.push(format!("{}: names {private}", doc.display()));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}
