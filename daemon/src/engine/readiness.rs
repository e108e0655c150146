//! Readiness: poll the health endpoint until it answers 200, the process ends, the deadline
//! passes or the caller cancels.

use super::process::{Exit, Proc};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Between probes.
const POLL: Duration = Duration::from_millis(250);
/// Bound of one probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How waiting for readiness ended.
#[derive(Debug)]
pub(crate) enum Ready {
    /// Healthy.
    Yes,
    /// The process ended first.
    Exited(Exit),
    /// Not healthy by the deadline; the last probe's outcome.
    TimedOut(String),
    /// The engine logged a line that means it will not start (CUDA out of memory, port in
    /// use, model not found): no point waiting for the deadline.
    Fatal(String),
    /// The caller cancelled.
    Cancelled,
}

/// What ends the wait before the engine is healthy.
pub(crate) struct Until<'a> {
    /// The readiness deadline.
    pub deadline: Instant,
    /// The caller's cancel.
    pub cancel: &'a CancellationToken,
    /// The engine process, whose end ends the wait.
    pub proc: Option<&'a Proc>,
    /// The first fatal log line, once there is one.
    pub fatal: &'a (dyn Fn() -> Option<String> + Sync),
    /// Told each failed probe's outcome (the engine's start stage follows it).
    pub seen: &'a (dyn Fn(&str) + Sync),
}

/// What a failed probe says of a starting engine's stage.
pub(crate) fn stage(probe: &str) -> String {
    let p = probe.to_ascii_lowercase();
    if p.contains("refused") {
        "loading: its port is not open yet".into()
    } else if p.contains(": 503") {
        "warming up: it answers 503 (loading or warming up)".into()
    } else {
        format!("waiting: {probe}")
    }
}

/// Poll `{url}{health}` (for `external`, `/v1/models` when `/health` is 404) until ready.
pub(crate) async fn wait(
    http: &reqwest::Client,
    url: &str,
    health: &str,
    external: bool,
    until: Until<'_>,
) -> Ready {
    let Until {
        deadline,
        cancel,
        proc,
        fatal,
        seen,
    } = until;
    let mut last = String::from("no answer yet");
    loop {
        if let Some(line) = fatal() {
            return Ready::Fatal(line);
        }
        let exited = async {
            match proc {
                Some(p) => p.exited().await,
                None => std::future::pending().await,
            }
        };
        let attempt = async {
            match probe(http, url, health, external).await {
                Ok(()) => None,
                Err(e) => {
                    tokio::time::sleep(POLL).await;
                    Some(e)
                }
            }
        };
        tokio::select! {
            biased;
            () = cancel.cancelled() => return Ready::Cancelled,
            e = exited => return Ready::Exited(e),
            () = tokio::time::sleep_until(deadline.into()) => return Ready::TimedOut(last),
            r = attempt => match r {
                None => return Ready::Yes,
                Some(e) => {
                    seen(&e);
                    last = e;
                }
            },
        }
    }
}

/// One probe: `Ok` when healthy, else what was seen.
async fn probe(
    http: &reqwest::Client,
    url: &str,
    health: &str,
    external: bool,
) -> Result<(), String> {
    let get = |path: &str| {
        http.get(format!("{url}{path}"))
            .timeout(PROBE_TIMEOUT)
            .send()
    };
    let status = get(health)
        .await
        .map_err(|e| format!("GET {health}: {}", without_url(&e)))?
        .status();
    if status.is_success() {
        return Ok(());
    }
    if external && status == reqwest::StatusCode::NOT_FOUND {
        let s = get("/v1/models")
            .await
            .map_err(|e| format!("GET /v1/models: {}", without_url(&e)))?
            .status();
        return match s.is_success() {
            true => Ok(()),
            false => Err(format!("GET {health}: 404, GET /v1/models: {s}")),
        };
    }
    Err(format!("GET {health}: {status}"))
}

/// A reqwest error's innermost cause ("Connection refused"), not its URL-laden summary.
fn without_url(e: &reqwest::Error) -> String {
    let mut src: &dyn std::error::Error = e;
    while let Some(s) = src.source() {
        src = s;
    }
    match e.is_timeout() {
        true => "timed out".into(),
        false => src.to_string(),
    }
}
