#![allow(clippy::unwrap_used)]

use super::*;

fn ok_engine(_: &str, _: &EngineDef, _: Option<&[u32]>) -> Result<(), String> {
    Ok(())
}

fn no_vllm(field: &str, e: &EngineDef, _: Option<&[u32]>) -> Result<(), String> {
    if e.kind == "vllm" {
        Err(format!("{field}.kind: 'vllm' is not configured"))
    } else {
        Ok(())
    }
}

fn checks(engine: EngineCheck<'_>) -> Checks<'_> {
    Checks {
        gpus: 2,
        engine,
        files: &[],
    }
}

const SMOKE: &str = r#"
name = "smoke"
[[engine]]
kind = "external"
url = "http://127.0.0.1:8000"
model = "truth"
[load]
concurrency = [1, 2, 4]
requests = 8
output_tokens = 16
"#;

#[test]
fn the_smoke_sweep_expands_to_three_points() {
    let (s, plan) = parse(SMOKE, None, None, &checks(&ok_engine)).unwrap();
    assert_eq!(s.engines[0].name.as_deref(), Some("external"));
    assert_eq!(plan.len(), 3);
    assert_eq!(plan[2].load, Load::Concurrency { concurrency: 4 });
    let c = run_config(
        &s,
        "http://127.0.0.1:8000",
        None,
        Some("truth".into()),
        Vec::new(),
    )
    .unwrap();
    assert_eq!(c.loads.len(), 3);
    assert_eq!(c.stop, crate::bench::PointStop::Requests(8));
    assert_eq!(c.workload.output_tokens, 16);
}

#[test]
fn engines_times_loads_with_unique_names_and_resolved_paths() {
    let text = r#"
name = "two"
model = "m.gguf"
[[engine]]
kind = "llamacpp"
[[engine]]
kind = "llamacpp"
args = ["-np", "4"]
[load]
batch = [1, 8]
"#;
    let (s, plan) = parse(text, Some(Path::new("/data")), None, &checks(&ok_engine)).unwrap();
    assert_eq!(plan.len(), 4);
    assert_eq!(plan[3].engine, "llamacpp-2");
    assert_eq!(s.engines[1].model.as_deref(), Some("/data/m.gguf"));
}

#[test]
fn every_error_names_its_field() {
    let cases: &[(&str, &str)] = &[
        ("name = \"x\"\n[load]\nconcurrency=[1]\n", "engine"),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\nrequests=\"a\"\n",
            "load.requests",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurency=[1]\n",
            "concurency",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[[engine]]\nkind=\"vllm\"\n[load]\nconcurrency=[1]\n",
            "engine[1].kind",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1, 0]\n",
            "load.concurrency[1]",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\nrate=[2.0]\n",
            "only one",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\nburstiness=2.0\n",
            "load.burstiness",
        ),
        (
            "name = \"x\"\ngpus=[0, 5]\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\n",
            "gpus[1]",
        ),
        (
            "name = \"x\"\nprompts=\"/nonexistent/p.jsonl\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\n",
            "prompts",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\nname=\"a\"\n[[engine]]\nkind=\"external\"\nname=\"a\"\n[load]\nconcurrency=[1]\n",
            "engine[1].name",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\nready_timeout_s=-1\n[load]\nconcurrency=[1]\n",
            "engine[0].ready_timeout_s",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\nconcurrency=[1]\nrequests=5\nduration_s=3\n",
            "load.duration_s",
        ),
        ("name = \n", "line 1"),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\ngpu_memory_fraction = 1.5\n[load]\nconcurrency=[1]\n",
            "engine[0].gpu_memory_fraction",
        ),
        (
            "name = \"x\"\n[[engine]]\nkind=\"external\"\nmax_batch = 0\n[load]\nconcurrency=[1]\n",
            "engine[0].max_batch",
        ),
        // Workloads: every field by name.
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "concurrency=[1]\n[workload]\nkind=\"chat\"\n"
            ),
            "workload.kind",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "concurrency=[1]\n[workload]\nkind=\"shared_prefix\"\ngroups=2\n"
            ),
            "workload.prefix_tokens",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "concurrency=[1]\n[workload]\ninput_dist=\"uniform:9,3\"\n"
            ),
            "workload.input_dist",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "concurrency=[1]\ninput_tokens=50\n[workload]\ninput_dist=\"fixed:50\"\n"
            ),
            "workload.input_dist",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "batch=[2]\n[workload]\nkind=\"conversation\"\nturns=2\n"
            ),
            "load.batch",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "speed=[1.0]\n"
            ),
            "load.speed",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "concurrency=[1]\n[workload]\nkind=\"trace\"\ntrace=\"t.jsonl\"\n"
            ),
            "load: a trace replays",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "speed=[0.0]\n[workload]\nkind=\"trace\"\ntrace=\"t.jsonl\"\n"
            ),
            "load.speed[0]",
        ),
        (
            concat!(
                "name = \"x\"\n[[engine]]\nkind=\"external\"\n[load]\n",
                "speed=[1.0]\n[workload]\nkind=\"trace\"\ntrace=\"t.jsonl\"\n"
            ),
            "workload.trace: the contents",
        ),
    ];
    for (text, want) in cases {
        let e = parse(text, None, Some("s.toml"), &checks(&no_vllm)).unwrap_err();
        assert!(e.contains(want) && e.starts_with("s.toml: "), "{want}: {e}");
    }
}

fn file(field: &str, path: &str, text: &str) -> AttachedFile {
    AttachedFile {
        field: field.into(),
        path: path.into(),
        text: text.into(),
    }
}

#[test]
fn named_files_come_with_the_sweep_and_are_never_opened_here() {
    // /dev/zero would hang or exhaust memory if it were read: the daemon must not open it.
    let text = "name = \"x\"\nprompts = \"/dev/zero\"\n[[engine]]\nkind = \"external\"\n[load]\nconcurrency = [1]\n";
    let e = parse(text, None, None, &checks(&ok_engine)).unwrap_err();
    assert!(
        e.starts_with("prompts: the contents of '/dev/zero' did not come"),
        "{e}"
    );
    let sent = [file("prompts", "/dev/zero", "[\"hello\"]")];
    let c = Checks {
        files: &sent,
        ..checks(&ok_engine)
    };
    let (s, _) = parse(text, None, None, &c).unwrap();
    assert!(check_files(&s, &sent).is_ok());
    assert!(check_files(&s, &[]).is_err());
    let c = run_config(&s, "http://127.0.0.1:8000", None, None, sent.to_vec()).unwrap();
    assert_eq!(c.workload.attached.len(), 1);
    // Bad contents are named by field; files the sweep does not name are refused.
    let bad = [file("prompts", "/p", "{not json")];
    let e = parse(
        text,
        None,
        None,
        &Checks {
            files: &bad,
            ..checks(&ok_engine)
        },
    )
    .unwrap_err();
    assert!(e.starts_with("prompts: prompts file '/dev/zero'"), "{e}");
    let extra = [sent[0].clone(), file("load.tokenizer", "/t", "{}")];
    let e = parse(
        text,
        None,
        None,
        &Checks {
            files: &extra,
            ..checks(&ok_engine)
        },
    )
    .unwrap_err();
    assert!(
        e.starts_with("files: 'load.tokenizer' came with the sweep"),
        "{e}"
    );
}
