#![allow(clippy::unwrap_used)]

use super::*;
use crate::compare::rows;
use crate::failure::EXIT_USAGE;
use crate::fixtures::{failed_row, job, sweep};
use llms_shared::{JobState, Load};
use serde_json::Value;
use std::collections::BTreeSet;

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let p = std::env::temp_dir().join(format!("llms-report-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn two_jobs() -> Vec<(JobSummary, Vec<ResultRow>)> {
    let a = sweep();
    let mut b = sweep();
    b.0.id = 4;
    b.0.name = "rerun".into();
    vec![a, b]
}

fn expected_files() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = Metric::ALL
        .iter()
        .flat_map(|m| [format!("{}.svg", m.key()), format!("{}.png", m.key())])
        .collect();
    names.insert("throughput_bars.svg".into());
    names.insert("throughput_bars.png".into());
    names.insert("frontier.svg".into());
    names.insert("frontier.png".into());
    names.insert("report.md".into());
    names
}

fn listing(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Width and height from a PNG's IHDR chunk (after checking the signature).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG too short");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk is IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn text_has_the_long_table_and_pivots() {
    let out = compare(&[sweep()], false, false).unwrap();
    assert!(out.starts_with("job 3 \"qwen2.5-3b engines\": failed, 10/10 points (1 failed)\n"));
    let header = out.lines().find(|l| l.starts_with("series")).unwrap();
    for h in [
        "concurrency",
        "tok/s",
        "req/s",
        "TTFT",
        "p99",
        "ITL",
        "GiB",
        "tok/J",
        "status",
    ] {
        assert!(header.contains(h), "{h} in {header}");
    }
    assert!(out.contains("FAILED: engine llamacpp exited during the point"));
    assert!(out.contains("client_bound"));
    assert!(out.contains("\noutput tok/s by concurrency\n"));
    assert!(out.contains("\ntok/J by concurrency\n"));
    // vllm at concurrency 8: 4 * sqrt(8) * 100 = 1131 tok/s.
    assert!(
        out.lines()
            .any(|l| l.starts_with("vllm") && l.contains("1131"))
    );
    // Everything but the statuses of failed and flagged rows fits in 80 columns.
    for l in out
        .lines()
        .filter(|l| !l.contains("FAILED") && !l.contains("client_bound"))
    {
        assert!(
            l.chars().count() <= 80,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    // The flagged point is starred in the pivots, the failed one is a dash.
    let pivot = out.split("output tok/s by concurrency\n").nth(1).unwrap();
    let line16 = pivot
        .lines()
        .find(|l| l.trim_start().starts_with("16"))
        .unwrap();
    assert!(line16.contains('*'), "{line16}");
    let line32 = pivot
        .lines()
        .find(|l| l.trim_start().starts_with("32"))
        .unwrap();
    assert_eq!(
        line32.split_whitespace().collect::<Vec<_>>(),
        ["32", "-", "2263"]
    );
}

#[test]
fn markdown_has_a_table_per_section() {
    let out = compare(&[sweep()], true, false).unwrap();
    assert!(out.starts_with("# Comparison: qwen2.5-3b engines\n"));
    assert!(out.contains("| 3 | qwen2.5-3b engines | failed | 10/10 | 1 |"));
    assert!(out.contains("## Points\n\n| series | load | output tok/s | req/s |"));
    assert!(out.contains("| vllm | c=8 | 1131 |"));
    assert!(out.contains("FAILED: engine llamacpp exited"));
    for m in Metric::ALL {
        assert!(out.contains(&format!(
            "## {} by concurrency\n\n| concurrency | llamacpp | vllm |",
            m.title()
        )));
    }
    assert!(
        out.contains("| 16 | 400\\* | 1600 |"),
        "flagged cells starred, escaped"
    );
    // Every row of the points table has all twelve cells (the frontier column added).
    let points = out
        .split("## Points\n\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    for l in points.lines() {
        assert_eq!(l.matches(" | ").count(), 11, "{l}");
    }
}

#[test]
fn json_has_every_key_and_nulls_for_the_failed_point() {
    let v: Value = serde_json::from_str(&compare(&[sweep()], false, true).unwrap()).unwrap();
    assert_eq!(
        v["jobs"][0],
        serde_json::json!({"id": 3, "name": "qwen2.5-3b engines", "state": "failed", "imported": null})
    );
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    let keys = [
        "job",
        "series",
        "kind",
        "mode",
        "x",
        "error",
        "flags",
        "failed_requests",
        "throughput",
        "req_per_s",
        "goodput",
        "ttft_p50",
        "ttft_p99",
        "itl_p50",
        "itl_p99",
        "peak_mem_gib",
        "tokens_per_joule",
        "cache_hit_pct",
        "steady_throughput",
        "per_user",
        "per_gpu",
        "gpus",
        "role",
        "on_frontier",
        "search_pass",
    ];
    for r in rows {
        let have: BTreeSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(have, keys.into_iter().collect::<BTreeSet<_>>());
    }
    // The failed point has no figures, but it has its load.
    let failed: Vec<&Value> = rows.iter().filter(|r| !r["error"].is_null()).collect();
    assert_eq!(failed.len(), 1);
    let failed = failed[0];
    assert_eq!(failed["series"], "llamacpp");
    assert_eq!(failed["x"], 32.0);
    assert!(failed["error"].as_str().unwrap().contains("exited"));
    for k in keys[8..]
        .iter()
        .filter(|k| !["gpus", "on_frontier"].contains(k))
    {
        assert!(failed[k].is_null(), "{k} is {}", failed[k]);
    }
    assert_eq!(
        (&failed["gpus"], &failed["on_frontier"]),
        (&0.into(), &false.into())
    );
    let flagged = rows
        .iter()
        .find(|r| r["series"] == "llamacpp" && r["x"] == 16.0)
        .unwrap();
    assert_eq!(flagged["flags"], serde_json::json!(["client_bound"]));
    assert!(flagged["error"].is_null());
    assert_eq!(flagged["mode"], "concurrency");
    assert!(flagged["throughput"].as_f64().unwrap() > 0.0);
}

#[test]
fn several_jobs_name_series_by_job() {
    let jobs = two_jobs();
    let v: Value = serde_json::from_str(&compare(&jobs, false, true).unwrap()).unwrap();
    let series: BTreeSet<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["series"].as_str().unwrap())
        .collect();
    let want: BTreeSet<&str> = ["3/llamacpp", "3/vllm", "4/llamacpp", "4/vllm"].into();
    assert_eq!(series, want);
    assert_eq!(v["jobs"].as_array().unwrap().len(), 2);
    let text = compare(&jobs, false, false).unwrap();
    assert!(text.contains("job 4 \"rerun\""));
    assert!(text.lines().any(|l| l.starts_with("4/vllm")));
    let md = compare(&jobs, true, false).unwrap();
    assert!(md.contains("| concurrency | 3/llamacpp | 3/vllm | 4/llamacpp | 4/vllm |"));
    let title = |jobs: &[(JobSummary, Vec<ResultRow>)]| {
        let md = markdown::report(jobs, &rows(jobs), &[], &[]);
        md.lines().next().unwrap().to_owned()
    };
    assert_eq!(title(&jobs), "# llms report: qwen2.5-3b engines, rerun");
    // One sweep in two parts (two daemons): its name once.
    let mut parts = two_jobs();
    parts[1].0.name = parts[0].0.name.clone();
    assert_eq!(title(&parts), "# llms report: qwen2.5-3b engines");
}

#[test]
fn write_produces_every_chart_and_the_report() {
    let dir = TempDir::new("all");
    let out = dir.0.join("nested/report");
    let started = std::time::Instant::now();
    let listed = write(&[sweep()], &out).unwrap();
    eprintln!("write(fixtures::sweep()) took {:?}", started.elapsed());
    let want = expected_files();
    // Every file is listed once, one per line, and nothing else (no temporary) is left.
    let lines: BTreeSet<String> = listed
        .lines()
        .map(|l| {
            Path::new(l)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(listed.lines().count(), want.len());
    assert_eq!(lines, want);
    assert_eq!(listing(&out), want);
    for name in &want {
        let path = out.join(name);
        let bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".svg") {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.trim_start().starts_with("<svg"), "{name}");
            assert!(svg.trim_end().ends_with("</svg>"), "{name}");
            assert!(svg.contains(r#"width="1000""#) && svg.contains(r#"height="600""#));
            // plotters puts each text on its own line inside <text>.
            for text in ["vllm", "llamacpp"] {
                assert!(svg.lines().any(|l| l == text), "{name}: series {text}");
            }
            assert!(svg.contains("qwen2.5-3b engines"), "{name}: title");
        } else if name.ends_with(".png") {
            assert_eq!(png_size(&bytes), charts::SIZE, "{name}");
        }
    }
    let tput = std::fs::read_to_string(out.join("throughput.svg")).unwrap();
    assert!(
        tput.lines().any(|l| l == "concurrency"),
        "x axis names the mode"
    );
    for x in ["1", "4", "8", "16", "32"] {
        assert!(tput.lines().any(|l| l == x), "x label {x}");
    }
    assert!(
        tput.contains("* flagged point"),
        "flagged points are explained"
    );
    let bars = std::fs::read_to_string(out.join("throughput_bars.svg")).unwrap();
    assert!(bars.contains("at c=16"), "largest common load value");

    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.starts_with("# llms report: qwen2.5-3b engines\n"));
    assert!(md.contains("| 3 | qwen2.5-3b engines | failed | 10/10 | 1 |"));
    assert!(md.contains("| series | load | output tok/s |"));
    assert!(md.contains("| vllm | c=8 | 1131 |"));
    // Which engine version on which GPU and driver, as the points recorded them.
    let hw = md.split("## Engines and hardware\n\n").nth(1).unwrap();
    assert!(
        hw.contains("| 3 | vllm | vllm | 0.20.1 | NVIDIA H200 | 580.95.05 |"),
        "{hw}"
    );
    // Every linked file exists, and every chart is linked as SVG and PNG.
    let links: BTreeSet<String> = md
        .split("](")
        .skip(1)
        .map(|s| s.split(')').next().unwrap().to_owned())
        .collect();
    let charts: BTreeSet<String> = want.iter().filter(|n| *n != "report.md").cloned().collect();
    assert_eq!(links, charts);
    assert!(md.contains("![qwen2.5-3b engines (on NVIDIA H200): TTFT p99 ms](ttft_p99.svg)"));
    let failed = md.split("## Failed and flagged points\n\n").nth(1).unwrap();
    assert!(
        failed.contains("- llamacpp c=32: FAILED: engine llamacpp exited"),
        "{failed}"
    );
    assert!(failed.contains("- llamacpp c=16: client_bound"));
}

#[test]
fn a_metric_without_figures_is_left_out_and_said_so() {
    let (j, mut points) = sweep();
    for p in &mut points {
        p.gpu = None;
    }
    let dir = TempDir::new("nogpu");
    // An earlier report into the same directory did draw memory: that chart goes.
    write(&[sweep()], &dir.0).unwrap();
    assert!(dir.0.join("peak_mem.png").is_file());
    let listed = write(&[(j, points)], &dir.0).unwrap();
    assert!(!dir.0.join("peak_mem.png").exists() && !dir.0.join("peak_mem.svg").exists());
    assert!(!listed.contains("peak_mem") && !listed.contains("tokens_per_joule"));
    assert!(listed.contains("throughput.png"));
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    assert!(md.contains("No peak mem GiB chart: no point has this figure."));
    assert!(md.contains("No tok/J chart: no point has this figure."));
    assert!(!md.contains("peak_mem.svg"));
}

#[test]
fn an_unwritable_directory_is_exit_2_naming_it() {
    let dir = TempDir::new("unwritable");
    let file = dir.0.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let out = file.join("report");
    let f = write(&[sweep()], &out).unwrap_err();
    assert_eq!(f.code, EXIT_USAGE);
    assert!(
        f.message.contains(&out.display().to_string()),
        "{}",
        f.message
    );
}

#[test]
fn no_finished_point_is_refused_and_writes_nothing() {
    let dir = TempDir::new("empty");
    let out = dir.0.join("report");
    let failed = (
        job(5, "broken", JobState::Failed, 1, 1),
        vec![failed_row(
            0,
            "vllm",
            "vllm",
            Load::Concurrency { concurrency: 1 },
            "engine did not start",
        )],
    );
    let queued = (job(6, "waiting", JobState::Queued, 0, 4), Vec::new());
    let f = write(&[failed, queued], &out).unwrap_err();
    assert_eq!(f.code, EXIT_USAGE);
    assert!(
        f.message.contains("no finished points in job 5, 6"),
        "{}",
        f.message
    );
    assert!(!out.exists());
}

#[test]
fn charts_leave_failed_points_out_and_mark_flagged_ones() {
    let rows = rows(&[sweep()]);
    let c = charts::line_chart(&rows, Metric::Throughput, "t").unwrap();
    let charts::Body::Lines { xs, lines } = &c.body else {
        panic!("a line chart")
    };
    assert_eq!(xs, &vec![1.0, 4.0, 8.0, 16.0, 32.0]);
    let llama = lines.iter().find(|l| l.name == "llamacpp").unwrap();
    let got: Vec<(f64, bool)> = llama.points.iter().map(|p| (p.0, p.2)).collect();
    assert_eq!(
        got,
        vec![(1.0, false), (4.0, false), (8.0, false), (16.0, true)]
    );
    assert_eq!(charts::common_x(&rows), Some(16.0));
    assert_eq!(c.title, "t: output tok/s");
    assert_eq!(c.x_desc, "concurrency");
}

/// report.md of one job, without charts.
fn report_md(job: JobSummary, points: Vec<ResultRow>) -> String {
    let one = [(job, points)];
    markdown::report(&one, &rows(&one), &[], &[])
}

/// The cross-check table says, per job and engine, how many points the engine's counter
/// checked and whether it agreed; a disagreement and its size are there to see, and an engine
/// with no counter says so.
#[test]
fn cross_checks_tell_agreement_and_disagreement_per_engine() {
    use llms_shared::ServerCheck;
    let check = |tokens: f64, agrees: Option<bool>| ServerCheck {
        metric: "m".into(),
        output_tokens: tokens,
        input_tokens: None,
        agrees,
        client_output_tokens: None,
        cached_tokens: None,
        cache_queried_tokens: None,
        itl: None,
    };
    let (j, mut points) = sweep();
    let mut llama = 0;
    for r in &mut points {
        let Some(p) = &mut r.point else { continue };
        p.server = match r.engine.as_str() {
            "vllm" => Some(ServerCheck {
                metric: "vllm:generation_tokens_total".into(),
                ..check(8192.0, Some(true))
            }),
            _ => {
                llama += 1;
                match llama {
                    1 => Some(check(8190.0, Some(false))),
                    2 => Some(check(8192.0, None)),
                    _ => None,
                }
            }
        };
    }
    let md = report_md(j.clone(), points.clone());
    let t = md.split("## Cross-checks\n\n").nth(1).unwrap();
    assert!(
        t.contains("| 3 | vllm | vllm:generation_tokens_total | 5/5 | 40960 | 40960 | +0.00 % | equal in all 5 |"),
        "{t}"
    );
    assert!(
        t.contains(
            "| 3 | llamacpp | m | 2/4 | 8192 | 8190 | +0.02 % | DISAGREE in 1, not judged in 1 |"
        ),
        "{t}"
    );
    // No counter anywhere: said, not left blank.
    for r in &mut points {
        if let Some(p) = &mut r.point {
            p.server = None;
        }
    }
    let md = report_md(j, points);
    let t = md.split("## Cross-checks\n\n").nth(1).unwrap();
    assert!(
        t.contains("| 3 | vllm | - | 0/5 | - | - | - | no counter |"),
        "{t}"
    );
}

/// The memory check puts NVML's peak beside the engine's own processes: equal for an engine
/// alone on its GPU, a gap where something else held memory during a point.
#[test]
fn memory_check_shows_the_gap_to_the_engines_own_processes() {
    let (j, mut points) = sweep();
    let other = points
        .iter_mut()
        .find(|r| r.engine == "llamacpp" && r.gpu.is_some())
        .unwrap();
    other.gpu.as_mut().unwrap().gpus[0].engine_mem_peak = Some(6 << 30);
    let md = report_md(j, points);
    let t = md.split("GPU memory: ").nth(1).unwrap();
    assert!(t.contains("| 3 | vllm | 5 | 60.0 | 60.0 | +0.0 |"), "{t}");
    // The gap is per point: 2 GiB held by something else in one point shows, although the
    // engine's own 8 GiB peak came in another.
    assert!(t.contains("| 3 | llamacpp | 4 | 8.0 | 8.0 | +2.0 |"), "{t}");
    let (j, mut points) = sweep();
    for r in points.iter_mut().filter(|r| r.engine == "llamacpp") {
        if let Some(g) = &mut r.gpu {
            g.gpus[0].engine_mem_peak = Some(6 << 30);
        }
    }
    let md = report_md(j, points);
    assert!(
        md.contains("| 3 | llamacpp | 4 | 8.0 | 6.0 | +2.0 |"),
        "{md}"
    );
}

/// The client count a point was judged by is the one totalled (failed requests' usage
/// included), a restart or an engine that counted nothing is said as such, and the verdict
/// names only what happened.
#[test]
fn cross_checks_total_the_compared_count_and_name_each_outcome() {
    use llms_shared::ServerCheck;
    let (j, mut points) = sweep();
    let vllm: Vec<&mut ResultRow> = points.iter_mut().filter(|r| r.engine == "vllm").collect();
    let mut outcomes = vec![
        // Every request failed as blank text, yet usage says 12 tokens and so does the engine.
        (12.0, Some(true), Some(12), 0),
        (8192.0, Some(true), Some(8192), 8192),
        (8192.0, Some(true), Some(8192), 8192),
        // The counter went down: the engine restarted.
        (-100.0, None, None, 8192),
        // The engine counted nothing the client was sent.
        (0.0, Some(false), Some(8192), 8192),
    ]
    .into_iter();
    for r in vllm {
        let (engine, agrees, client, completed_tokens) = outcomes.next().unwrap();
        let p = r.point.as_mut().unwrap();
        p.output_tokens = completed_tokens;
        p.server = Some(ServerCheck {
            metric: "m".into(),
            output_tokens: engine,
            input_tokens: None,
            agrees,
            client_output_tokens: client,
            cached_tokens: None,
            cache_queried_tokens: None,
            itl: None,
        });
    }
    let md = report_md(j, points);
    let t = md.split("## Cross-checks\n\n").nth(1).unwrap();
    assert!(
        t.contains("| 3 | vllm | m | 5/5 | 24588 | 16396 | engine counted 0 | equal in 3, DISAGREE in 1, engine restarted in 1 |"),
        "{t}"
    );
}

/// Points with prefix-cache figures get their hit rate in every form of the comparison.
#[test]
fn compare_shows_the_prefix_cache_hit_rate_where_there_is_one() {
    let (j, mut points) = crate::fixtures::sweep();
    let none = compare(&[(j.clone(), points.clone())], false, false).unwrap();
    assert!(!none.contains("prefix cache hit %"));
    for r in points.iter_mut() {
        if let Some(p) = r.point.as_mut() {
            p.prefix_cache = Some(llms_shared::PrefixCacheHits {
                source: "usage".into(),
                cached_tokens: 60,
                prompt_tokens: 100,
                hit_rate: 0.6,
                template_tokens: None,
                shared_tokens: None,
                excess_hit_rate: 0.0,
                unique_prompts: true,
            });
        }
    }
    let jobs = [(j, points)];
    let text = compare(&jobs, false, false).unwrap();
    assert!(
        text.contains("\nprefix cache hit % by concurrency\n"),
        "{text}"
    );
    // The hit rates are in the cache table itself (60.0 is also vLLM's memory, elsewhere).
    let table = &text[text.find("prefix cache hit % by concurrency").unwrap()..];
    let rows: Vec<&str> = table
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!rows.is_empty(), "{table}");
    for r in rows {
        assert!(
            r.split_whitespace()
                .skip(1)
                .all(|c| c.trim_end_matches('*') == "60.0" || c == "-"),
            "{r}"
        );
    }
    let md = compare(&jobs, true, false).unwrap();
    assert!(md.contains("## prefix cache hit % by concurrency"), "{md}");
    let json: Value = serde_json::from_str(&compare(&jobs, false, true).unwrap()).unwrap();
    assert_eq!(json["rows"][0]["cache_hit_pct"], 60.0);
}

/// A line chart whose figures span more than ten times gets a log axis from the decade
/// below its lowest figure; one within ten times keeps the linear axis.
#[test]
fn wide_ranges_get_a_log_axis() {
    let chart = |ys: &[f64]| charts::Chart {
        title: String::new(),
        x_desc: String::new(),
        y_desc: "TTFT p99 ms".into(),
        body: charts::Body::Lines {
            xs: (0..ys.len()).map(|i| i as f64).collect(),
            lines: vec![charts::Line {
                name: "a".into(),
                color: 0,
                points: ys
                    .iter()
                    .enumerate()
                    .map(|(i, y)| (i as f64, *y, false))
                    .collect(),
            }],
        },
    };
    assert_eq!(chart(&[21.3, 607.0]).log_range(), Some((10.0, 607.0 * 1.5)));
    assert_eq!(chart(&[21.3, 200.0]).log_range(), None);
    // A zero has no place on a log axis.
    assert_eq!(chart(&[0.0, 607.0]).log_range(), None);
    // The axis says which it is.
    assert!(
        chart(&[21.3, 607.0])
            .svg()
            .unwrap()
            .contains("TTFT p99 ms (log scale)")
    );
    assert!(!chart(&[21.3, 200.0]).svg().unwrap().contains("log scale"));
}

#[test]
fn the_default_report_directory_is_the_dashboards() {
    assert_eq!(
        super::default_dir(&[3, 7]),
        std::path::PathBuf::from("llms-report-3-7")
    );
}

/// A failure reason that carries the engine's last log lines stays on one line in the
/// text table (its first line, then ` …`), and the table says where the rest is; the
/// Markdown report keeps it whole.
#[test]
fn a_multi_line_failure_is_one_line_in_the_compare_table() {
    let (j, mut rows) = sweep();
    let failed = rows.iter_mut().find(|r| r.error.is_some()).unwrap();
    failed.error = Some(
        "engine llamacpp exited during the point: exited with status 1\n\
         last log lines:\n  CUDA error: out of memory\n  aborting"
            .into(),
    );
    let out = compare(&[(j.clone(), rows.clone())], false, false).unwrap();
    assert!(!out.contains("CUDA error"), "{out}");
    let line = out.lines().find(|l| l.contains("FAILED")).unwrap();
    assert!(line.ends_with("exited with status 1 …"), "{line}");
    assert!(
        out.contains("… a failure's full reason and engine log lines: `llms results 3`\n"),
        "{out}"
    );
    let md = compare(&[(j, rows)], true, false).unwrap();
    assert!(md.contains("CUDA error: out of memory"), "{md}");
}

/// Goodput appears in compare's tables when some point was given objectives, and only then.
#[test]
fn goodput_is_compared_when_objectives_were_given() {
    let (j, mut rows) = sweep();
    let out = compare(&[(j.clone(), rows.clone())], false, false).unwrap();
    assert!(!out.contains("goodput"), "{out}");
    for r in rows.iter_mut().filter_map(|r| r.point.as_mut()) {
        r.slo.tpot = Some(40.0);
        r.goodput = r.request_throughput / 2.0;
    }
    let out = compare(&[(j.clone(), rows.clone())], false, false).unwrap();
    let header = out.lines().find(|l| l.starts_with("series")).unwrap();
    assert!(header.contains("req/s  goodput  TTFT"), "{header}");
    let md = compare(&[(j.clone(), rows.clone())], true, false).unwrap();
    assert!(
        md.contains("| req/s | goodput req/s | TTFT p50 ms |"),
        "{md}"
    );
    let v: Value = serde_json::from_str(&compare(&[(j, rows)], false, true).unwrap()).unwrap();
    assert!(v["rows"][0]["goodput"].is_number());
}

/// `--size` draws every chart at the size asked for, PNG and SVG alike, and a size out of
/// bounds is refused naming the bounds.
#[test]
fn charts_come_at_the_size_asked_for() {
    let dir = TempDir::new("sized");
    super::write_at(&[sweep()], &dir.0, (1920, 1080)).unwrap();
    let png = std::fs::read(dir.0.join("throughput.png")).unwrap();
    assert_eq!(png_size(&png), (1920, 1080));
    let svg = std::fs::read_to_string(dir.0.join("frontier.svg")).unwrap();
    assert!(svg.contains(r#"width="1920""#) && svg.contains(r#"height="1080""#));
    assert_eq!(crate::cli::chart_size("1600x900"), Ok((1600, 900)));
    let e = crate::cli::chart_size("100x100").unwrap_err();
    assert!(e.contains("400x300 to 4000x3000"), "{e}");
    assert!(crate::cli::chart_size("wide").is_err());
}
