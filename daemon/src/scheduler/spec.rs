//! Sweep files: parse, validate completely (every error names its field), normalize, and
//! expand into points. Nothing here runs anything; engine checks that need the daemon's
//! configuration come in through a callback.

use crate::bench::dist::Dist;
use crate::bench::workload::options_fit;
use crate::bench::{PointStop, RunConfig, Shape, WorkloadConfig};
use crate::config::one_line;
use crate::engine::EngineKind;
use crate::kinds::{self, Need};
use crate::loadgen::request::Endpoint;
use crate::loadgen::{prompts, synth};
use llms_shared::{
    Arrival, AttachedFile, EngineDef, Load, LoadDef, MAX_ATTACHED_BYTES, PROMPTS_FIELD, PointPlan,
    Sweep, TOKENIZER_FIELD, TRACE_FIELD,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Checks one `[[engine]]`: (field to name, the entry, the sweep's GPUs).
pub type EngineCheck<'a> = &'a dyn Fn(&str, &EngineDef, Option<&[u32]>) -> Result<(), String>;

/// What the daemon knows that a spec is checked against.
pub struct Checks<'a> {
    /// GPUs on this host.
    pub gpus: u32,
    /// Is this engine runnable here (kind known and configured, model present), given the
    /// sweep's GPUs? `field` is the place to name in the message, e.g. `engine[1]`.
    pub engine: EngineCheck<'a>,
    /// The files that came with the spec (read by the client): the daemon never opens a
    /// path a client names.
    pub files: &'a [AttachedFile],
}

/// The contents of the file the sweep names at `field`, which must have come with it.
fn named_file<'a>(
    files: &'a [AttachedFile],
    field: &str,
    path: &str,
) -> Result<&'a AttachedFile, String> {
    AttachedFile::find(files, field).ok_or_else(|| {
        format!(
            "{field}: the contents of '{path}' did not come with the sweep; submit it with \
             `llms submit`, which reads the file with your permissions (llmsd never opens a \
             path a client names)"
        )
    })
}

/// Every file the sweep names came with it (a job stored by an older llmsd has none: it
/// must be submitted again).
pub fn check_files(s: &Sweep, files: &[AttachedFile]) -> Result<(), String> {
    for (field, path) in s.named_files() {
        named_file(files, field, path)?;
    }
    Ok(())
}

/// Every attached file is named by the sweep, and together they fit the limit.
fn check_attached(s: &Sweep, files: &[AttachedFile]) -> Result<(), String> {
    let mut total = 0u64;
    for f in files {
        let named = s.named_files().iter().any(|(field, _)| *field == f.field);
        if !named {
            return Err(format!(
                "files: '{}' came with the sweep, but the sweep names no such file",
                f.field
            ));
        }
        total += f.text.len() as u64;
    }
    if total > MAX_ATTACHED_BYTES {
        return Err(format!(
            "files: {total} bytes came with the sweep; at most {MAX_ATTACHED_BYTES} may"
        ));
    }
    Ok(())
}

/// Parse and validate a sweep; returns the normalized sweep and its points. `base_dir` is
/// where relative paths are resolved; `file` only names the spec in messages.
pub fn parse(
    text: &str,
    base_dir: Option<&Path>,
    file: Option<&str>,
    checks: &Checks<'_>,
) -> Result<(Sweep, Vec<PointPlan>), String> {
    let at = |m: String| match file {
        Some(f) => format!("{f}: {m}"),
        None => m,
    };
    let mut sweep: Sweep = toml::from_str(text).map_err(|e| at(one_line(text, &e)))?;
    normalize(&mut sweep, base_dir).map_err(at)?;
    validate(&sweep, checks).map_err(at)?;
    let plan = expand(&sweep).map_err(at)?;
    Ok((sweep, plan))
}

fn resolve(base: Option<&Path>, p: &str) -> String {
    let path = PathBuf::from(p);
    match base {
        Some(b) if path.is_relative() => b.join(path).display().to_string(),
        _ => p.to_owned(),
    }
}

/// Make relative paths absolute and give every engine a unique name.
fn normalize(s: &mut Sweep, base: Option<&Path>) -> Result<(), String> {
    s.prompts = s.prompts.as_deref().map(|p| resolve(base, p));
    s.load.tokenizer = s.load.tokenizer.as_deref().map(|p| resolve(base, p));
    if let Some(w) = s.workload.as_mut() {
        w.trace = w.trace.as_deref().map(|p| resolve(base, p));
    }
    let model = s.model.clone();
    let mut names: Vec<String> = Vec::new();
    for (i, e) in s.engines.iter_mut().enumerate() {
        // Kinds that need a model get the sweep's; only those that take a file get it
        // resolved as a path (a served name, "Qwen/Qwen2.5-3B", is left alone).
        let need = kinds::find(&e.kind).map_or(Need::Nothing, |k| k.model);
        if e.model.is_none() && need != Need::Nothing {
            e.model = model.clone();
        }
        if need == Need::File {
            e.model = e.model.as_deref().map(|m| resolve(base, m));
        }
        let name = match &e.name {
            Some(n) => {
                if n.trim().is_empty() || n.len() > 64 || n.contains(char::is_whitespace) {
                    return Err(format!(
                        "engine[{i}].name: '{n}' must be 1 to 64 characters without spaces"
                    ));
                }
                if names.contains(n) {
                    return Err(format!(
                        "engine[{i}].name: '{n}' is used by an earlier engine"
                    ));
                }
                n.clone()
            }
            None => {
                let mut n = e.kind.clone();
                let mut k = 2;
                while names.contains(&n) {
                    n = format!("{}-{k}", e.kind);
                    k += 1;
                }
                n
            }
        };
        e.name = Some(name.clone());
        names.push(name);
    }
    Ok(())
}

fn validate(s: &Sweep, checks: &Checks<'_>) -> Result<(), String> {
    if s.name.trim().is_empty() || s.name.len() > 200 {
        return Err("name: give the sweep a name of 1 to 200 characters".into());
    }
    if s.engines.is_empty() {
        return Err("engine: give at least one [[engine]]".into());
    }
    if let Some(e) = &s.endpoint
        && e != "chat"
        && e != "completions"
    {
        return Err(format!("endpoint: '{e}' is not chat or completions"));
    }
    check_attached(s, checks.files)?;
    if let Some(p) = &s.prompts {
        let f = named_file(checks.files, PROMPTS_FIELD, p)?;
        let got = prompts::parse(p, &f.text).map_err(|e| format!("prompts: {e}"))?;
        if got.is_empty() {
            return Err(format!("prompts: '{p}' holds no prompts"));
        }
    }
    if let Some(g) = &s.gpus {
        if g.is_empty() {
            return Err("gpus: give at least one GPU index, or leave gpus out".into());
        }
        for (i, idx) in g.iter().enumerate() {
            if *idx >= checks.gpus {
                return Err(format!(
                    "gpus[{i}]: GPU {idx} does not exist (this host has {} GPU{})",
                    checks.gpus,
                    if checks.gpus == 1 { "" } else { "s" }
                ));
            }
            if g[..i].contains(idx) {
                return Err(format!("gpus[{i}]: GPU {idx} is listed twice"));
            }
        }
    }
    for (i, e) in s.engines.iter().enumerate() {
        let field = format!("engine[{i}]");
        if let Some(t) = e.ready_timeout_s
            && !(t.is_finite() && t > 0.0 && t <= 86_400.0)
        {
            return Err(format!(
                "{field}.ready_timeout_s: must be between 0 and 86400, got {t}"
            ));
        }
        let positive = [
            ("max_batch", e.max_batch),
            ("max_model_len", e.max_model_len),
            ("tensor_parallel", e.tensor_parallel),
        ];
        if let Some((k, _)) = positive.iter().find(|(_, v)| *v == Some(0)) {
            return Err(format!("{field}.{k}: must be at least 1"));
        }
        if let Some(f) = e.gpu_memory_fraction
            && !(f.is_finite() && f > 0.0 && f <= 1.0)
        {
            return Err(format!(
                "{field}.gpu_memory_fraction: must be above 0 and at most 1, got {f}"
            ));
        }
        for k in e.env.keys() {
            if k.is_empty() || k.contains('=') || k.contains('\0') {
                return Err(format!("{field}.env: '{k}' is not a variable name"));
            }
        }
        (checks.engine)(&field, e, s.gpus.as_deref())?;
    }
    validate_load(&s.load, checks.files)?;
    let shape = Shape::from_def(s.workload.as_ref())?;
    let input_dist = dist_of(s, |w| w.input_dist.as_deref(), "input_dist")?;
    let output_dist = dist_of(s, |w| w.output_dist.as_deref(), "output_dist")?;
    options_fit(&shape, (input_dist, output_dist), s.prompts.is_some())
        .map_err(|(f, m)| format!("workload.{f}: {m}"))?;
    if input_dist.is_some() && (s.load.input_tokens.is_some() || s.prompts.is_some()) {
        return Err(
            "workload.input_dist: draws the prompts' lengths; leave out load.input_tokens and prompts"
                .into(),
        );
    }
    let trace = matches!(shape, Shape::Trace { .. });
    if trace != s.load.speed.is_some() {
        return Err(match trace {
            true => {
                "load: a trace replays at its own times: give load.speed (a list of speed factors)"
            }
            false => "load.speed: only for a trace ([workload] kind = \"trace\")",
        }
        .into());
    }
    if trace && (s.prompts.is_some() || s.load.input_tokens.is_some()) {
        return Err(
            "workload.trace: the trace gives each request's lengths; leave out prompts and load.input_tokens"
                .into(),
        );
    }
    if let Some(t) = s.workload.as_ref().and_then(|w| w.trace.as_deref()) {
        let f = named_file(checks.files, TRACE_FIELD, t)?;
        crate::loadgen::trace::parse(t, &f.text).map_err(|e| format!("{TRACE_FIELD}: {e}"))?;
    }
    if shape.turns() > 1 && s.load.batch.is_some() {
        return Err(
            "load.batch: a conversation does not run in batches (use load.concurrency for sessions in flight or load.rate for session starts)"
                .into(),
        );
    }
    Ok(())
}

fn validate_load(l: &LoadDef, files: &[AttachedFile]) -> Result<(), String> {
    let given = [
        l.concurrency.is_some(),
        l.batch.is_some(),
        l.rate.is_some(),
        l.speed.is_some(),
    ];
    match given.iter().filter(|g| **g).count() {
        0 if l.search.is_none() => {
            return Err(
                "load: give one of concurrency, batch, rate or speed (a list), or [load.search]"
                    .into(),
            );
        }
        0 | 1 => {}
        _ => return Err("load: give only one of concurrency, batch, rate and speed".into()),
    }
    if let Some(d) = &l.search {
        d.check()
            .map_err(|(field, why)| format!("load.search.{field}: {why}"))?;
        if l.speed.is_some() {
            return Err(
                "load.search: a trace replays at its own times; search over concurrency or rate with another workload"
                    .into(),
            );
        }
    }
    let open_loop = l.rate.is_some()
        || l.search
            .as_ref()
            .is_some_and(|d| d.over == llms_shared::SearchOver::Rate);
    if let Some(v) = &l.speed {
        if v.is_empty() {
            return Err("load.speed: the list is empty".into());
        }
        if let Some(i) = v
            .iter()
            .position(|s| !(s.is_finite() && (1e-3..=1e3).contains(s)))
        {
            return Err(format!(
                "load.speed[{i}]: must be between 0.001 and 1000, got {}",
                v[i]
            ));
        }
    }
    for (key, list) in [("concurrency", &l.concurrency), ("batch", &l.batch)] {
        if let Some(v) = list {
            if v.is_empty() {
                return Err(format!("load.{key}: the list is empty"));
            }
            if let Some(i) = v.iter().position(|&c| c == 0 || c > 100_000) {
                return Err(format!(
                    "load.{key}[{i}]: must be between 1 and 100000, got {}",
                    v[i]
                ));
            }
        }
    }
    if let Some(v) = &l.rate {
        if v.is_empty() {
            return Err("load.rate: the list is empty".into());
        }
        if let Some(i) = v
            .iter()
            .position(|r| !(r.is_finite() && (1e-4..=1e6).contains(r)))
        {
            return Err(format!(
                "load.rate[{i}]: must be between 0.0001 and 1000000 per second, got {}",
                v[i]
            ));
        }
    }
    let arrival = l.arrival.unwrap_or(Arrival::Poisson);
    if l.arrival.is_some() && !open_loop {
        return Err("load.arrival: only applies to rate".into());
    }
    if let Some(b) = l.burstiness {
        if arrival != Arrival::Gamma {
            return Err("load.burstiness: only applies to arrival = \"gamma\"".into());
        }
        if !(b.is_finite() && (0.01..=100.0).contains(&b)) {
            return Err(format!(
                "load.burstiness: must be between 0.01 and 100, got {b}"
            ));
        }
    }
    if let Some(m) = l.max_concurrency {
        if !open_loop {
            return Err(
                "load.max_concurrency: only applies to rate (use concurrency for a closed loop)"
                    .into(),
            );
        }
        if m == 0 {
            return Err("load.max_concurrency: must be at least 1".into());
        }
    }
    if l.requests.is_some() && l.duration_s.is_some() {
        return Err("load.duration_s: give requests or duration_s, not both".into());
    }
    // A point's records are held in memory until it is stored (~2 KB per 128-token request).
    if let Some(r) = l.requests
        && !(1..=1_000_000).contains(&r)
    {
        return Err(format!(
            "load.requests: must be between 1 and 1000000, got {r}"
        ));
    }
    let secs = |key: &str, v: Option<f64>| match v {
        Some(d) if !(d.is_finite() && (1e-3..=864_000.0).contains(&d)) => Err(format!(
            "load.{key}: must be between 0.001 and 864000 seconds, got {d}"
        )),
        _ => Ok(()),
    };
    secs("duration_s", l.duration_s)?;
    secs("timeout_s", l.timeout_s)?;
    if let Some(o) = l.output_tokens
        && !(1..=1_000_000).contains(&o)
    {
        return Err(format!(
            "load.output_tokens: must be between 1 and 1000000, got {o}"
        ));
    }
    if let Some(n) = l.input_tokens
        && !(1..=10_000_000).contains(&n)
    {
        return Err(format!(
            "load.input_tokens: must be between 1 and 10000000, got {n}"
        ));
    }
    if let Some(t) = &l.tokenizer {
        if l.input_tokens.is_none() {
            return Err("load.tokenizer: only applies with input_tokens".into());
        }
        let f = named_file(files, TOKENIZER_FIELD, t)?;
        synth::Codec::from_text(t, &f.text).map_err(|e| format!("load.tokenizer: {e}"))?;
    }
    if let Some(w) = l.warmup_requests
        && w > 100_000
    {
        return Err(format!(
            "load.warmup_requests: must be at most 100000, got {w}"
        ));
    }
    if let Some(m) = l.max_error_rate
        && !(m.is_finite() && (0.0..=1.0).contains(&m))
    {
        return Err(format!(
            "load.max_error_rate: must be between 0 and 1, got {m}"
        ));
    }
    if let Some(slo) = &l.slo {
        for (k, v) in [("ttft", slo.ttft), ("tpot", slo.tpot), ("e2e", slo.e2e)] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(format!("load.slo.{k}: must be a positive number of ms"));
            }
        }
    }
    Ok(())
}

/// Engine x load setting, in run order.
fn expand(s: &Sweep) -> Result<Vec<PointPlan>, String> {
    let loads = loads(&s.load);
    let mut plan = Vec::new();
    for e in &s.engines {
        for load in &loads {
            plan.push(PointPlan {
                index: plan.len() as u32,
                engine: e.name.clone().unwrap_or_else(|| e.kind.clone()),
                load: load.clone(),
                role: None,
            });
        }
    }
    if plan.len() > 100_000 {
        return Err(format!(
            "load: {} points is more than one job may hold (100000)",
            plan.len()
        ));
    }
    Ok(plan)
}

/// The load settings of `[load]`, in order.
pub fn loads(l: &LoadDef) -> Vec<Load> {
    let arrival = l.arrival.unwrap_or(Arrival::Poisson);
    if let Some(c) = &l.concurrency {
        c.iter()
            .map(|&concurrency| Load::Concurrency { concurrency })
            .collect()
    } else if let Some(b) = &l.batch {
        b.iter().map(|&batch| Load::Batch { batch }).collect()
    } else if let Some(s) = &l.speed {
        s.iter().map(|&speed| Load::Trace { speed }).collect()
    } else {
        l.rate
            .iter()
            .flatten()
            .map(|&rate| Load::Rate {
                rate,
                arrival,
                burstiness: (arrival == Arrival::Gamma).then_some(l.burstiness.unwrap_or(1.0)),
            })
            .collect()
    }
}

/// The distribution a sweep's `[workload]` names at `field`, checked.
fn dist_of(
    s: &Sweep,
    get: impl Fn(&llms_shared::WorkloadDef) -> Option<&str>,
    field: &str,
) -> Result<Option<Dist>, String> {
    match s.workload.as_ref().and_then(get) {
        None => Ok(None),
        Some(d) => Dist::parse(d)
            .map(Some)
            .map_err(|e| format!("workload.{field}: {e}")),
    }
}

/// What one engine of a sweep runs: the engine of `kind` serving at `url`, with the files
/// that came with the sweep. The defaults are `llmsd bench`'s. `Err` names the field of a
/// sweep that does not pass its checks (a stored one always does).
pub fn run_config(
    s: &Sweep,
    url: &str,
    kind: Option<EngineKind>,
    model: Option<String>,
    files: Vec<AttachedFile>,
) -> Result<RunConfig, String> {
    let l = &s.load;
    Ok(RunConfig {
        url: url.to_owned(),
        kind,
        model,
        workload: WorkloadConfig {
            shape: Shape::from_def(s.workload.as_ref())?,
            endpoint: match s.endpoint.as_deref() {
                Some("completions") => Endpoint::Completions,
                _ => Endpoint::Chat,
            },
            output_tokens: l.output_tokens.unwrap_or(128),
            input_tokens: l.input_tokens,
            tokenizer: l.tokenizer.as_ref().map(PathBuf::from),
            prompts: s.prompts.as_ref().map(PathBuf::from),
            trace: s
                .workload
                .as_ref()
                .and_then(|w| w.trace.as_ref())
                .map(PathBuf::from),
            input_dist: dist_of(s, |w| w.input_dist.as_deref(), "input_dist")?,
            output_dist: dist_of(s, |w| w.output_dist.as_deref(), "output_dist")?,
            attached: files,
            verbatim_prompts: l.verbatim_prompts.unwrap_or(false),
        },
        loads: loads(l),
        // A trace is replayed whole unless told otherwise.
        stop: match l.speed.is_some() {
            true => PointStop::of(l.requests.or(Some(u64::MAX)), l.duration_s),
            false => PointStop::of(l.requests, l.duration_s),
        },
        warmup: l.warmup_requests.unwrap_or(0),
        max_concurrency: l.max_concurrency,
        seed: l.seed.unwrap_or(0),
        timeout: Duration::from_secs_f64(l.timeout_s.unwrap_or(600.0)),
        slo: l.slo,
        max_error_rate: l.max_error_rate,
        search: l.search.clone(),
        arrival: l.arrival.unwrap_or(Arrival::Poisson),
        burstiness: l.burstiness,
    })
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
