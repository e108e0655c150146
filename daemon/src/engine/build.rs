//! TensorRT-LLM's engine mode (releases up to 1.2.x): `convert_checkpoint.py`, then
//! `trtllm-build`, as a stage of the engine's start with its own progress (state `building`)
//! and its output in the engine's log. Engines are cached under the state dir by a hash of
//! what they are built from (the model's files, dtype, build options, GPU name, TensorRT-LLM
//! version) and reused when the hash matches. A build goes to a `.partial` dir, synced to disk
//! and renamed into place when complete (removed if it fails), so neither a crash nor a power
//! loss leaves a half engine that looks whole.

use super::logs::LogSink;
use super::process;
use super::{EngineError, EngineHandle, EngineSpec};
use crate::kinds::{self, EngineKind, engine_mode};
use llms_shared::EngineState;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest a build step may take.
const STEP_LIMIT: Duration = Duration::from_secs(4 * 3600);

/// The programs of engine mode, from `[engines.trtllm]` in the daemon config.
#[derive(Debug, Clone)]
pub struct TrtTools {
    /// `convert` (the model family's `convert_checkpoint.py`, with its interpreter); engine mode
    /// is refused without it.
    pub convert: Option<Vec<String>>,
    /// `build` [default `["trtllm-build"]`].
    pub build: Vec<String>,
    /// `version_command`: prints the TensorRT-LLM version as its last line [default
    /// `python3 -c "import tensorrt_llm; print(tensorrt_llm.__version__)"`].
    pub version: Vec<String>,
}

impl Default for TrtTools {
    fn default() -> Self {
        Self {
            convert: None,
            build: vec!["trtllm-build".into()],
            version: vec![
                "python3".into(),
                "-c".into(),
                "import tensorrt_llm; print(tensorrt_llm.__version__)".into(),
            ],
        }
    }
}

/// Whether `spec` needs a build before it is served.
pub(crate) fn needed(spec: &EngineSpec) -> bool {
    spec.kind == EngineKind::Trtllm && engine_mode(&spec.options)
}

impl EngineHandle {
    /// The engine dir for `spec` (engine `id`): from the cache, or converted and built now.
    pub(crate) async fn built_engine(
        &self,
        id: u64,
        spec: &EngineSpec,
        logs: &Arc<LogSink>,
        cancel: &CancellationToken,
    ) -> Result<PathBuf, EngineError> {
        let cfg = &self.inner.cfg;
        let tools = &cfg.trtllm;
        let convert = tools.convert.clone().ok_or_else(|| {
            EngineError::Invalid(
                "engine.mode: 'engine' needs [engines.trtllm] convert in the daemon config".into(),
            )
        })?;
        let model = spec.model.clone().unwrap_or_default();
        self.inner
            .set_state(id, EngineState::Building("TensorRT-LLM version".into()));
        let version = self.version(&tools.version, spec, logs, cancel).await?;
        let gpus: Vec<String> = match &spec.gpus {
            Some(g) => g
                .iter()
                .filter_map(|i| cfg.gpu_names.get(*i as usize).cloned())
                .collect(),
            None => cfg.gpu_names.clone(),
        };
        let (convert_flags, build_flags) = kinds::trtllm_build_flags(&spec.options);
        let key = json!({
            "model": model,
            "model_files": model_files(Path::new(&model)),
            "convert": convert_flags,
            "build": build_flags,
            "gpus": gpus,
            "tensorrt_llm": version,
        });
        let hash = hex(&Sha256::digest(key.to_string().as_bytes()))[..16].to_owned();
        let root = cfg.cache_dir.join("trtllm-engines");
        let done = root.join(&hash);
        if complete(&done) {
            logs.note(&format!(
                "reusing the engine built before: {}",
                done.display()
            ));
            return Ok(done.join("engine"));
        }
        let tmp = Partial(root.join(format!("{hash}.partial-{id}")));
        let _ = std::fs::remove_dir_all(&tmp.0);
        std::fs::create_dir_all(&tmp.0)
            .map_err(|e| EngineError::Spawn(format!("cannot create {}: {e}", tmp.0.display())))?;
        logs.note(&format!(
            "building engine {hash} in {}: {key}",
            tmp.0.display()
        ));
        let ckpt = tmp.0.join("checkpoint");
        let engine = tmp.0.join("engine");
        let path = |p: &Path| p.display().to_string();
        let mut argv = convert;
        argv.extend([
            "--model_dir".into(),
            model.clone(),
            "--output_dir".into(),
            path(&ckpt),
        ]);
        argv.extend(convert_flags);
        self.step(id, "convert 1/2", &argv, spec, logs, cancel)
            .await?;
        let mut argv = tools.build.clone();
        argv.extend([
            "--checkpoint_dir".into(),
            path(&ckpt),
            "--output_dir".into(),
            path(&engine),
        ]);
        argv.extend(build_flags);
        self.step(id, "build 2/2", &argv, spec, logs, cancel)
            .await?;
        let _ = std::fs::remove_dir_all(&ckpt);
        // On disk before it is renamed into place: after a power loss, a dir that looks whole is.
        let write = std::fs::write(tmp.0.join("key.json"), key.to_string() + "\n")
            .and_then(|()| sync_tree(&tmp.0))
            .and_then(|()| std::fs::rename(&tmp.0, &done))
            .and_then(|()| std::fs::File::open(&root)?.sync_all());
        if let Err(e) = write {
            // Another job built the same engine meanwhile: use that one.
            if !complete(&done) {
                return Err(EngineError::Spawn(format!(
                    "cannot store the engine in {}: {e}",
                    done.display()
                )));
            }
        }
        logs.note(&format!("engine built: {}", done.display()));
        Ok(done.join("engine"))
    }

    /// Run one build step in a process group of its own, output to the engine's log.
    async fn step(
        &self,
        id: u64,
        what: &str,
        argv: &[String],
        spec: &EngineSpec,
        logs: &Arc<LogSink>,
        cancel: &CancellationToken,
    ) -> Result<(), EngineError> {
        let inner = &self.inner;
        // A stop that came while no step ran (the version probe, between steps) ends it here.
        if inner.with(id, |r| r.info.state == EngineState::Stopped) != Some(false) {
            return Err(EngineError::Cancelled);
        }
        inner.set_state(id, EngineState::Building(what.to_owned()));
        logs.note(&format!("{what}: {argv:?}"));
        let owner = inner.cfg.log_dir.display().to_string();
        let p = process::launch(
            argv,
            &spec.env,
            &owner,
            id,
            process::Place {
                gpus: spec.gpus.as_deref(),
                cwd: &super::launch::scratch(&inner.cfg, id)?,
            },
            logs.clone(),
            |_| {},
        )
        .map_err(|e| EngineError::Spawn(format!("{what}: {}: {e}", argv[0])))?;
        inner.update(id, |r| r.proc = Some(p.clone()));
        let end = tokio::select! {
            e = p.exited() => Ok(e),
            () = cancel.cancelled() => Err(EngineError::Cancelled),
            () = tokio::time::sleep(STEP_LIMIT) => Err(EngineError::NotReady(super::failure(
                &format!("{what} took over {STEP_LIMIT:?}"),
                logs,
            ))),
        };
        if end.is_err() {
            p.terminate(inner.cfg.grace).await;
        }
        inner.update(id, |r| r.proc = None);
        match end? {
            e if e.deliberate => Err(EngineError::Cancelled),
            e if e.status == process::describe(std::process::ExitStatus::default()) => Ok(()),
            e => Err(EngineError::NotReady(super::failure(
                &format!("{what} {}", e.status),
                logs,
            ))),
        }
    }

    /// The last line `argv` prints (the TensorRT-LLM version).
    async fn version(
        &self,
        argv: &[String],
        spec: &EngineSpec,
        logs: &Arc<LogSink>,
        cancel: &CancellationToken,
    ) -> Result<String, EngineError> {
        let (prog, args) = argv.split_first().ok_or_else(|| {
            EngineError::Invalid("engines.trtllm.version_command is empty".into())
        })?;
        let mut cmd = tokio::process::Command::new(prog);
        cmd.args(args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::select! {
            o = tokio::time::timeout(Duration::from_secs(120), cmd.output()) => o,
            () = cancel.cancelled() => return Err(EngineError::Cancelled),
        };
        let fail = |why: String| {
            logs.note(&format!(
                "cannot tell the TensorRT-LLM version ({argv:?}): {why}"
            ));
            EngineError::NotReady(super::Failure::plain(format!(
                "cannot tell the TensorRT-LLM version with {argv:?}: {why}"
            )))
        };
        let out = match out {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => return Err(fail(e.to_string())),
            Err(_) => return Err(fail("no answer in 120 s".into())),
        };
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().map(str::trim).rfind(|l| !l.is_empty()) {
            Some(v) if out.status.success() => {
                logs.note(&format!("TensorRT-LLM {v}"));
                Ok(v.to_owned())
            }
            _ => Err(fail(format!(
                "{}; {}",
                process::describe(out.status),
                String::from_utf8_lossy(&out.stderr).trim()
            ))),
        }
    }
}

/// Whether `dir` holds a finished engine: its config and the key written last.
fn complete(dir: &Path) -> bool {
    dir.join("engine").join("config.json").is_file() && dir.join("key.json").is_file()
}

/// fsync every file and directory under `dir` (the build's output, then the key).
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            sync_tree(&p)?;
        } else {
            std::fs::File::open(&p)?.sync_all()?;
        }
    }
    std::fs::File::open(dir)?.sync_all()
}

/// A build's `.partial` directory: removed when dropped, whatever ended the build (renamed
/// into place first when it succeeded, so nothing is left to remove then).
struct Partial(PathBuf);

impl Drop for Partial {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// (name, size, modified seconds) of the files directly in `dir`, sorted: a changed
/// checkpoint gets a new engine.
fn model_files(dir: &Path) -> Vec<(String, u64, u64)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, u64, u64)> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let m = e.metadata().ok()?;
            let mtime = m
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            m.is_file()
                .then(|| (e.file_name().to_string_lossy().into_owned(), m.len(), mtime))
        })
        .collect();
    v.sort();
    v
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
