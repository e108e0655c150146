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

/// A dataset's conversations bring their own system messages: a shared one as well is refused
/// at submit, before an engine starts.
#[test]
fn a_datasets_conversations_refuse_a_shared_system_prompt() {
    let text = concat!(
        "name = \"x\"\nprompts = \"chats.json\"\n[[engine]]\nkind=\"external\"\n[load]\n",
        "concurrency=[1]\n[workload]\nkind=\"conversation\"\nturns=2\nprefix_tokens=64\n"
    );
    let sent = [file("prompts", "chats.json", "[\"hello\"]")];
    let c = Checks {
        files: &sent,
        ..checks(&ok_engine)
    };
    let e = parse(text, None, None, &c).unwrap_err();
    assert!(e.starts_with("workload.prefix_tokens: a dataset"), "{e}");
    // Without the shared prompt, the same sweep is taken.
    let text = text.replace("prefix_tokens=64\n", "");
    assert!(parse(&text, None, None, &c).is_ok());
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

const SEARCH: &str = r#"
name = "capacity"
[[engine]]
kind = "external"
url = "http://127.0.0.1:8000"
model = "truth"
[load]
requests = 16
[load.search]
over = "concurrency"
min = 1
max = 64
slo = { ttft_p99 = 500, tpot_p99 = 40 }
"#;

/// A search alone plans no point up front (its probes are planned as it goes) and reaches
/// the session as given.
#[test]
fn a_search_sweep_plans_its_probes_as_it_goes() {
    let (s, plan) = parse(SEARCH, None, None, &checks(&ok_engine)).unwrap();
    assert!(plan.is_empty());
    let c = run_config(&s, "http://h", None, None, Vec::new()).unwrap();
    let d = c.search.clone().unwrap();
    assert_eq!((d.min, d.max, d.resolution()), (1.0, 64.0, 1.0));
    assert_eq!(d.slo["tpot_p99"], 40.0);
    assert_eq!(c.search_unit(), "in flight");
    assert_eq!(
        c.search_load(8.0),
        Some(Load::Concurrency { concurrency: 8 })
    );
    // With a list too, the list's points come first.
    let both = SEARCH.replace("requests = 16", "requests = 16\nconcurrency = [1, 2]");
    let (_, plan) = parse(&both, None, None, &checks(&ok_engine)).unwrap();
    assert_eq!(plan.len(), 2);
}

/// Contradictory or unknown search settings are refused, naming the field.
#[test]
fn bad_search_settings_name_the_field() {
    let err = |from: &str, to: &str| {
        let text = SEARCH.replace(from, to);
        parse(&text, None, None, &checks(&ok_engine)).unwrap_err()
    };
    let e = err("max = 64", "max = 1");
    assert!(e.contains("load.search.max: must be above min"), "{e}");
    let e = err("min = 1", "min = 0.5");
    assert!(
        e.contains("load.search.min: concurrency is a whole number"),
        "{e}"
    );
    let e = err("tpot_p99 = 40", "tpot_p42 = 40");
    assert!(e.contains("load.search.slo.tpot_p42"), "{e}");
    let e = err("over = \"concurrency\"", "over = \"batch\"");
    assert!(
        e.contains("load.search.over: unknown variant `batch`"),
        "{e}"
    );
    let e = err("max = 64", "max = 64\nstep = 2");
    assert!(e.contains("load.search.step: unknown field `step`"), "{e}");
    let e = err("[load.search]", "arrival = \"gamma\"\n[load.search]");
    assert!(e.contains("load.arrival"), "{e}");
    // Arrivals are the rate search's.
    let rate = SEARCH.replace("\"concurrency\"", "\"rate\"");
    let rate = rate.replace("[load.search]", "arrival = \"constant\"\n[load.search]");
    assert!(parse(&rate, None, None, &checks(&ok_engine)).is_ok());
}
