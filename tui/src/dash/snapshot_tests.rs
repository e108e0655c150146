//! Every screen drawn into a TestBackend at 80x24 and 200x60 with fixed data and time,
//! compared with the reviewed snapshots in `dash/snapshots/`.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::dash::model::{ConnState, Drill, Filter, ListId, Picker, ResultsView};
use crate::dash::testdata;
use crate::fixtures;
use llms_shared::{JobState, Load};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const SIZES: [(u16, u16); 2] = [(80, 24), (200, 60)];

fn draw(m: &Model, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| render(m, f)).unwrap();
    t
}

fn snap(name: &str, m: &Model) {
    for (w, h) in SIZES {
        let t = draw(m, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), t.backend());
    }
}

fn on(s: Screen) -> Model {
    let mut m = testdata::model();
    m.ui.screen = s;
    m
}

#[test]
fn live() {
    snap("live", &on(Screen::Live));
}

#[test]
fn live_without_gpus() {
    snap("live_no_gpu", &testdata::model_no_gpu());
}

#[test]
fn live_idle() {
    let mut m = on(Screen::Live);
    m.latest.live.clear();
    m.tokens.points.clear();
    snap("live_idle", &m);
}

/// No point runs while job 4's engine starts: Live shows the engine, its time against its
/// readiness timeout, its stage and its last log lines; Engines selects it.
#[test]
fn live_while_an_engine_starts() {
    let m = testdata::model_engine_starting();
    snap("live_engine_starting", &m);
    let mut m = m;
    m.ui.screen = Screen::Engines;
    let t = draw(&m, 80, 24);
    insta::assert_snapshot!("engines_following_the_start_80x24", t.backend());
}

#[test]
fn queue() {
    let mut m = on(Screen::Queue);
    m.ui.queue_sel = Some(5);
    snap("queue", &m);
}

#[test]
fn queue_picker_with_an_error() {
    let mut m = on(Screen::Queue);
    m.ui.picker = Some(Picker {
        files: vec!["sweeps/demo.toml".into(), "sweeps/engines.toml".into()],
        selected: 1,
        input: String::new(),
    });
    m.ui.status = Some(crate::dash::model::Status {
        // A refusal with its fix hint at the end: the status line wraps to keep it.
        text: "sweeps/bad.toml: engine[0].model: /models/qwen2.5-3b.gguf does not exist on \
               llmsd's host; fix: give a path llmsd can read there, or an hf: name"
            .into(),
        error: true,
        at_ms: testdata::NOW,
        ttl_ms: STATUS_MS,
    });
    snap("queue_picker", &m);
}

#[test]
fn engines_with_a_log_tail() {
    snap("engines", &on(Screen::Engines));
}

#[test]
fn results_comparison_of_the_sweep() {
    snap("results", &on(Screen::Results));
    let mut m = on(Screen::Results);
    m.ui.results_view = ResultsView::Bars;
    let t = draw(&m, 80, 24);
    insta::assert_snapshot!("results_bars_80x24", t.backend());
}

#[test]
fn results_of_two_picked_jobs() {
    let mut m = on(Screen::Results);
    let (_, mut rows) = fixtures::sweep();
    for r in &mut rows {
        r.engine = format!("{}-tp2", r.engine);
    }
    m.results.insert(4, rows[..5].to_vec());
    m.ui.picks = vec![3, 4];
    m.refresh_comparison();
    m.ui.metric = crate::compare::Metric::TtftP99;
    let t = draw(&m, 200, 60);
    insta::assert_snapshot!("results_picked_200x60", t.backend());
}

/// The Results screen of a capacity search: each engine's capacity above the table, the
/// frontier marked, each point's part in the search in its note.
#[test]
fn results_of_a_capacity_search() {
    let mut m = on(Screen::Results);
    let (job, rows) = fixtures::search_job();
    m.all_jobs.push(job);
    m.results.insert(7, rows);
    m.ui.results_sel = Some(7);
    m.refresh_comparison();
    snap("results_capacity", &m);
}

#[test]
fn capacity_lines_pack_cut_and_say_there_is_more() {
    let mut m = on(Screen::Results);
    let (job, rows) = fixtures::search_job();
    m.all_jobs.push(job);
    m.results.insert(7, rows);
    m.ui.results_sel = Some(7);
    m.refresh_comparison();
    let lines = |m: &Model, w, n| super::results::capacity_lines(&m.comparison, w, n);
    assert_eq!(
        lines(&m, 80, 1),
        ["capacity: vllm 24 sessions (TPOT p99), sglang 28 sessions (TTFT p99)"]
    );
    assert_eq!(
        lines(&m, 40, 2),
        [
            "capacity: vllm 24 sessions (TPOT p99),",
            "  sglang 28 sessions (TTFT p99)"
        ]
    );
    assert_eq!(
        lines(&m, 40, 1),
        ["capacity: vllm 24 sessions (TPOT p99), …"]
    );
    assert_eq!(lines(&m, 20, 1), ["capacity: vllm 24 s…"]);
    m.comparison.capacity[0].report.confirmed = false;
    m.comparison.capacity[1].report.capacity = None;
    assert_eq!(
        lines(&m, 100, 1),
        ["capacity: vllm 24 sessions (TPOT p99), unconfirmed, sglang search did not finish"]
    );
}

/// Job 3 with its failed point's reason quoting the engine's last log lines, and that
/// engine's (6) log, as the daemon gives them.
fn failed_job(m: &mut Model) {
    let rows = m.results.get_mut(&3).unwrap();
    let failed = rows.iter_mut().find(|r| r.error.is_some()).unwrap();
    failed.error = Some(
        "engine llamacpp exited during the point: exited with status 1; its last log lines:\n\
         ggml_cuda_init: found 1 CUDA devices\n\
         CUDA error: out of memory\n\
         current device: 0, in function ggml_cuda_pool_malloc at ggml-cuda.cu:412"
            .into(),
    );
    let flagged = rows.iter_mut().find(|r| r.index == 8).unwrap();
    let p = flagged.point.as_mut().unwrap();
    p.slo = llms_shared::Slo {
        ttft: Some(500.0),
        tpot: Some(40.0),
        e2e: None,
    };
    p.goodput = 0.75 * p.request_throughput;
    p.errors.insert("http_500".into(), 2);
    p.failed = 2;
    m.log = Some(crate::dash::model::EngineLog {
        engine: 6,
        lines: (0..30)
            .map(|i| format!("srv  log line {i}: slot 0 | task {i} | prompt processing progress, n_past = {}", i * 512))
            .chain([
                "ggml_cuda_init: found 1 CUDA devices".to_string(),
                "CUDA error: out of memory".to_string(),
                "  current device: 0, in function ggml_cuda_pool_malloc at ggml-cuda.cu:412".to_string(),
                "/llama.cpp/ggml/src/ggml-cuda/ggml-cuda.cu:75: CUDA error".to_string(),
                "Aborted (core dumped)".to_string(),
            ])
            .collect(),
    });
    m.refresh_comparison();
}

#[test]
fn results_with_a_failed_point() {
    let mut m = on(Screen::Results);
    failed_job(&mut m);
    snap("results_failed", &m);
}

/// Enter on job 3: its points, the failed one selected, its reason on one line.
#[test]
fn drill_into_a_jobs_points() {
    let mut m = on(Screen::Results);
    failed_job(&mut m);
    m.ui.drill = vec![Drill::Points { job: 3 }];
    snap("points", &m);
}

/// Enter on the failed point: the reason in full, and the engine's log around it.
#[test]
fn drill_into_a_failed_point() {
    let mut m = on(Screen::Results);
    failed_job(&mut m);
    m.ui.drill = vec![Drill::Points { job: 3 }, Drill::Point { job: 3, index: 9 }];
    snap("point_failed", &m);
}

/// A flagged point: its figures, goodput against its objectives, its flag's meaning.
#[test]
fn drill_into_a_flagged_point() {
    let mut m = on(Screen::Results);
    failed_job(&mut m);
    m.ui.drill = vec![Drill::Points { job: 3 }, Drill::Point { job: 3, index: 8 }];
    snap("point_flagged", &m);
}

/// `/` on Queue: the list keeps the jobs that match, the title shows what is typed.
#[test]
fn a_filtered_queue() {
    let mut m = on(Screen::Queue);
    m.ui.filter = Some(Filter {
        list: ListId::Queue,
        text: "qwen".into(),
        editing: true,
    });
    snap("queue_filtered", &m);
}

#[test]
fn help() {
    snap("help", &on(Screen::Help));
}

#[test]
fn reconnecting_header() {
    let mut m = on(Screen::Live);
    m.conn = ConnState::Reconnecting {
        since_ms: testdata::NOW - 12_000,
        reason: "cannot reach llmsd at /run/llmsd/llmsd.sock: Connection refused (os error 111)"
            .into(),
    };
    snap("reconnecting", &m);
}

#[test]
fn too_small() {
    let t = draw(&on(Screen::Live), 30, 8);
    insta::assert_snapshot!("too_small_30x8", t.backend());
}

#[test]
fn no_color_draws_no_colour() {
    for s in Screen::ALL {
        let mut m = on(s);
        m.ui.no_color = true;
        let t = draw(&m, 200, 60);
        for c in t.backend().buffer().content() {
            assert_eq!((c.fg, c.bg), (Color::Reset, Color::Reset), "{s:?}");
        }
    }
    let m = on(Screen::Live);
    let t = draw(&m, 200, 60);
    assert!(
        t.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset)
    );
}

/// 200 jobs x 50 points, all cached: rendering Results must not cost in proportion to the
/// points stored (only the visible rows are built).
#[test]
fn results_with_ten_thousand_points_renders_fast() {
    let mut m = on(Screen::Results);
    m.all_jobs.clear();
    m.results.clear();
    for id in 1..=200u64 {
        m.all_jobs.push(fixtures::job(
            id,
            &format!("sweep {id}"),
            JobState::Done,
            50,
            50,
        ));
        let rows = (0..50u32)
            .map(|i| {
                let load = Load::Concurrency {
                    concurrency: 1 + i % 25,
                };
                let engine = if i < 25 { "vllm" } else { "sglang" };
                let p = fixtures::point(load, 1.0 + id as f64 / 100.0);
                fixtures::row(i, engine, engine, p, Some(fixtures::gpu(40.0, 3.0)))
            })
            .collect();
        m.results.insert(id, rows);
    }
    m.ui.results_sel = Some(100);
    let t0 = std::time::Instant::now();
    m.refresh_comparison();
    let one_job = t0.elapsed();
    let mut term = Terminal::new(TestBackend::new(200, 60)).unwrap();
    let mut time = |m: &Model| {
        let t0 = std::time::Instant::now();
        for _ in 0..100 {
            term.draw(|f| render(m, f)).unwrap();
        }
        t0.elapsed() / 100
    };
    let per_frame_one = time(&m);
    m.ui.picks = (1..=200).collect();
    let t0 = std::time::Instant::now();
    m.refresh_comparison();
    let all_jobs = t0.elapsed();
    assert_eq!(m.comparison.rows.len(), 10_000);
    let per_frame_all = time(&m);
    m.ui.cmp_scroll = 9_990;
    let per_frame_end = time(&m);
    println!(
        "10,000 stored points: render {per_frame_one:?}/frame comparing 1 job (50 rows), \
         {per_frame_all:?}/frame comparing all 200 (10,000 rows), {per_frame_end:?}/frame \
         scrolled to the end; comparison recomputed in {one_job:?} (1 job) and {all_jobs:?} \
         (200 jobs)"
    );
}

#[test]
fn every_screen_draws_at_every_small_size() {
    // Short and narrow terminals (and a status line or "reconnecting" taking a row) must
    // never panic a layout.
    for s in Screen::ALL {
        for reconnecting in [false, true] {
            let mut m = on(s);
            if reconnecting {
                m.conn = ConnState::Reconnecting {
                    since_ms: testdata::NOW,
                    reason: "connection refused".into(),
                };
            }
            for w in [20u16, 40, 60, 80] {
                for h in 1u16..=24 {
                    draw(&m, w, h);
                }
            }
        }
    }
}

/// While the daemon is away the figures shown are from before: the body is dimmed, the
/// header and the status line are not.
#[test]
fn stale_figures_are_dimmed_while_reconnecting() {
    use ratatui::style::Modifier;
    let dim_rows = |m: &Model| -> Vec<bool> {
        let t = draw(m, 80, 24);
        let buf = t.backend().buffer();
        (0..24)
            .map(|y| buf[(40, y)].modifier.contains(Modifier::DIM))
            .collect()
    };
    let mut m = on(Screen::Live);
    // Connected: the chart's inner rows are not dimmed.
    assert!(!dim_rows(&m)[20]);
    m.conn = ConnState::Reconnecting {
        since_ms: testdata::NOW - 12_000,
        reason: "connection refused".into(),
    };
    let rows = dim_rows(&m);
    assert!(!rows[0], "the header");
    assert!(rows[1] && rows[10] && rows[20], "the body");
    assert!(!rows[23], "the hints");
}

#[test]
fn gpu_names_keep_what_tells_them_apart() {
    use super::live::gpu_name;
    assert_eq!(gpu_name("NVIDIA H100 80GB HBM3", 10), "H100 80GB…");
    assert_eq!(gpu_name("NVIDIA H200", 10), "H200");
    assert_eq!(gpu_name("NVIDIA GeForce RTX 4090", 10), "RTX 4090");
    assert_eq!(gpu_name("NVIDIA H100 80GB HBM3", 16), "H100 80GB HBM3");
}

/// On a large terminal Live shows the running job's whole sweep: its two finished points as
/// their means, then the running point second by second, and a table of those points.
#[test]
fn live_shows_the_sweep_on_a_large_terminal() {
    let mut m = on(Screen::Live);
    let mut p0 = fixtures::point(Load::Concurrency { concurrency: 4 }, 1.0);
    p0.duration_s = 20.0;
    let mut p1 = fixtures::point(Load::Concurrency { concurrency: 8 }, 1.0);
    p1.duration_s = 20.0;
    let mut r0 = fixtures::row(0, "vllm", "vllm", p0.clone(), None);
    let mut r1 = fixtures::row(1, "vllm", "vllm", p1.clone(), None);
    // Point 0 ran from 100 s to 80 s before now, point 1 from 70 s to 50 s before; the
    // running point began 42 s ago.
    r0.finished_ms = testdata::NOW - 80_000;
    r1.finished_ms = testdata::NOW - 50_000;
    m.results.insert(4, vec![r1, r0]);
    let pts = super::sweep::series(&m);
    assert_eq!(
        pts[..4],
        [
            (0.0, p0.output_throughput),
            (20.0, p0.output_throughput),
            (30.0, p1.output_throughput),
            (50.0, p1.output_throughput)
        ]
    );
    // The running point's first reading sits where it began: 100 - 42 = 58 s in.
    assert!((pts[4].0 - 58.0).abs() < 1e-9, "{:?}", pts[4]);
    let t = draw(&m, 200, 60);
    insta::assert_snapshot!("live_sweep_200x60", t.backend());
}
