//! The Prometheus text parser (`loadgen::metrics`), fuzzed: real `/metrics` captures of
//! llama.cpp, vLLM 0.20.1 and SGLang 0.5.15 (and llmsd's own exporter) are the seeds; each is
//! mutated at random (bytes flipped, inserted, deleted, lines spliced from other captures)
//! and every parser entry point must hold its properties on every mutant:
//!
//! - no panic, whatever the bytes;
//! - a line's samples depend on that line only: lines left alone parse as before;
//! - a parsed sample written back out (escapes and all) parses to itself.
//!
//! `LLMS_FUZZ_ITERS` sets the mutants per seed (default 150; `bench/fuzz-metrics.sh` runs
//! far more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use llmsd::loadgen::metrics::{Sample, counters, histogram, parse, sample, samples};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn seeds() -> Vec<(&'static str, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    [
        "llamacpp-metrics.txt",
        "vllm-0.20.1-metrics.prom",
        "sglang-0.5.15-metrics.prom",
    ]
    .into_iter()
    .map(|f| {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        // llama.cpp's capture starts with the HTTP response head: the body is the seed.
        let body = match text.starts_with("HTTP/") {
            true => text
                .replace("\r\n", "\n")
                .split_once("\n\n")
                .map_or(String::new(), |(_, b)| b.to_owned()),
            false => text,
        };
        (f, body)
    })
    .collect()
}

fn iters() -> usize {
    std::env::var("LLMS_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150)
}

/// A sample as the text format writes it.
fn write(s: &Sample<'_>) -> String {
    let labels: Vec<String> = s
        .labels
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    let value = match s.value {
        v if v.is_nan() => "NaN".to_owned(),
        v if v == f64::INFINITY => "+Inf".to_owned(),
        v if v == f64::NEG_INFINITY => "-Inf".to_owned(),
        v => format!("{v:?}"),
    };
    match labels.is_empty() {
        true => format!("{} {value}", s.name),
        false => format!("{}{{{}}} {value}", s.name, labels.join(",")),
    }
}

fn same(a: &Sample<'_>, b: &Sample<'_>) -> bool {
    a.name == b.name
        && a.labels == b.labels
        && (a.value == b.value || (a.value.is_nan() && b.value.is_nan()))
}

/// One line mutated: a byte-level edit kept within UTF-8 (the parser takes `&str`).
fn mutate_line(rng: &mut StdRng, line: &str, donors: &[&str]) -> String {
    let mut b = line.as_bytes().to_vec();
    let junk = b"{}\",=\\ \t#+-.eEInfNa0123456789_:le";
    for _ in 0..rng.random_range(1..4) {
        let at = rng.random_range(0..=b.len());
        match rng.random_range(0..5) {
            0 if at < b.len() => {
                b.remove(at);
            }
            1 => b.insert(at, junk[rng.random_range(0..junk.len())]),
            2 if at < b.len() => b[at] = junk[rng.random_range(0..junk.len())],
            3 => {
                let d = donors[rng.random_range(0..donors.len())].as_bytes();
                let from = rng.random_range(0..=d.len());
                let to = rng.random_range(from..=d.len());
                b.splice(at..at, d[from..to].iter().copied());
            }
            _ => b.truncate(at),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn every_real_sample_line_parses() {
    for (name, text) in seeds() {
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        let parsed: Vec<Sample<'_>> = samples(&text).collect();
        assert_eq!(parsed.len(), lines.len(), "{name}: a real line was skipped");
        for (l, s) in lines.iter().zip(&parsed) {
            assert!(l.starts_with(s.name), "{name}: {l}");
        }
    }
}

#[test]
fn mutants_never_panic_and_leave_other_lines_alone() {
    let seeds = seeds();
    let donors: Vec<&str> = seeds.iter().flat_map(|(_, t)| t.lines()).collect();
    let mut rng = StdRng::seed_from_u64(0x6c6c_6d73);
    for (name, text) in &seeds {
        let lines: Vec<&str> = text.lines().collect();
        for _ in 0..iters() {
            let mut mutant: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            let hit = rng.random_range(0..mutant.len());
            mutant[hit] = mutate_line(&mut rng, &mutant[hit], &donors);
            // The mutated line may now hold a line break: it is several lines.
            let whole = mutant.join("\n");
            // Every entry point, on the whole mutant.
            let _ = parse(&whole);
            let _ = counters(&whole);
            let _ = llmsd::engine::map_metrics(&whole);
            for h in [
                "vllm:inter_token_latency_seconds",
                "sglang:inter_token_latency_seconds",
            ] {
                if let Some(h) = histogram(&whole, h) {
                    let q = h.quantile(0.99);
                    assert!(
                        !q.is_nan() || h.buckets.iter().any(|b| b.1.is_nan()),
                        "{name}"
                    );
                }
            }
            // The whole text parses to the other lines' samples, as before, with the mutated
            // line's in its place: an unterminated quote or brace does not run on.
            let expect: Vec<Sample<'_>> = lines[..hit]
                .iter()
                .copied()
                .chain(mutant[hit].lines())
                .chain(lines[hit + 1..].iter().copied())
                .filter_map(sample)
                .collect();
            let got: Vec<Sample<'_>> = samples(&whole).collect();
            assert_eq!(got.len(), expect.len(), "{name}: line {hit} ran on");
            assert!(got.iter().zip(&expect).all(|(a, b)| same(a, b)), "{name}");
            // What the mutated line parses to, written back out, parses to itself.
            for line in mutant[hit].lines() {
                if let Some(s) = sample(line) {
                    let again = write(&s);
                    let back = sample(&again).unwrap_or_else(|| {
                        panic!("{name}: {line:?} parsed, but its rewrite {again:?} did not")
                    });
                    assert!(same(&s, &back), "{name}: {line:?} -> {again:?}");
                }
            }
        }
    }
}

#[test]
fn labels_with_commas_quotes_and_braces_do_not_confuse_histograms() {
    // A hostile model name holding what looks like another `le` label and a closing brace.
    let t = "x_bucket{model=\"a,le=\\\"0.5\\\"} 9\",le=\"0.1\"} 3\n\
             x_bucket{model=\"a,le=\\\"0.5\\\"} 9\",le=\"+Inf\"} 4\n";
    let h = histogram(t, "x").unwrap();
    assert_eq!(h.buckets, vec![(0.1, 3.0), (f64::INFINITY, 4.0)]);
    let s = sample(t.lines().next().unwrap()).unwrap();
    assert_eq!(s.label("model"), Some("a,le=\"0.5\"} 9"));
    // A value that is not a number is no sample; a timestamp after it is ignored.
    assert!(sample("x{a=\"b\"} seven").is_none());
    assert_eq!(sample("x 7 1700000000000").unwrap().value, 7.0);
    assert!(sample("x{a=\"unterminated} 7").is_none());
}
