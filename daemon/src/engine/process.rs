//! Engine processes: launch in a process group of their own with output piped to a
//! [`LogSink`], wait for the leader, scan `/proc` for the group's members, and stop the group
//! (SIGTERM, grace, SIGKILL, reap).

use super::logs::{LogSink, pump};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the leader ended.
#[derive(Debug, Clone)]
pub(crate) struct Exit {
    /// "exited with status N" or "killed by signal S".
    pub status: String,
    /// Whether the daemon was stopping it.
    pub deliberate: bool,
}

/// A launched engine process group.
pub(crate) struct Proc {
    /// Process-group id = the leader's pid.
    pub pgid: u32,
    /// `LLMSD_ENGINE_OWNER=... LLMSD_ENGINE_ID=...` as its environment has them: how members
    /// that left the group (`setsid`, MPI workers under `orted`) are found.
    marker: Marker,
    stopping: Arc<AtomicBool>,
    exit: watch::Receiver<Option<Exit>>,
    /// Serializes stops.
    pub stop_lock: tokio::sync::Mutex<()>,
}

/// Every engine carries `LLMSD_ENGINE_OWNER=<the daemon's log dir>` in its environment, so a
/// daemon restarted after a kill -9 finds the engines its predecessor left ([`orphans`]).
pub(crate) const OWNER_ENV: &str = "LLMSD_ENGINE_OWNER";

/// Every engine also carries `LLMSD_ENGINE_ID=<its id>`, so descendants that left its process
/// group are still found ([`escaped`]).
pub(crate) const ID_ENV: &str = "LLMSD_ENGINE_ID";

/// The environment entries that mark one engine's processes.
#[derive(Debug, Clone)]
struct Marker {
    owner: String,
    id: String,
}

/// Where an engine process runs: its GPUs and its working directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    /// `CUDA_VISIBLE_DEVICES`, when the job names GPUs.
    pub gpus: Option<&'a [u32]>,
    /// The engine's own scratch directory (never the state directory).
    pub cwd: &'a std::path::Path,
}

/// Start `argv` (no shell) in a new process group, output to `sink`. When the leader ends,
/// `on_exit` runs before [`Proc::exited`] resolves.
pub(crate) fn launch(
    argv: &[String],
    env: &[(String, String)],
    owner: &str,
    id: u64,
    place: Place<'_>,
    sink: Arc<LogSink>,
    on_exit: impl FnOnce(&Exit) + Send + 'static,
) -> std::io::Result<Arc<Proc>> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(args)
        .current_dir(place.cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(OWNER_ENV, owner)
        .env(ID_ENV, id.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(g) = place.gpus {
        let list: Vec<String> = g.iter().map(u32::to_string).collect();
        cmd.env("CUDA_VISIBLE_DEVICES", list.join(","));
    }
    let mut child = cmd.spawn()?;
    let pgid = child
        .id()
        .ok_or_else(|| std::io::Error::other("the process ended at once"))?;
    let mut pumps = tokio::task::JoinSet::new();
    if let Some(out) = child.stdout.take() {
        pumps.spawn(pump(out, sink.clone()));
    }
    if let Some(err) = child.stderr.take() {
        pumps.spawn(pump(err, sink.clone()));
    }
    let stopping = Arc::new(AtomicBool::new(false));
    let (tx, exit) = watch::channel(None);
    let flag = stopping.clone();
    let marker = Marker {
        owner: owner.to_owned(),
        id: id.to_string(),
    };
    let mark = marker.clone();
    tokio::spawn(async move {
        let status = match child.wait().await {
            Ok(s) => describe(s),
            Err(e) => format!("could not be waited for: {e}"),
        };
        let deliberate = flag.load(Ordering::SeqCst);
        if !deliberate {
            // The leader died on its own: its helpers (vLLM's EngineCore, ...) must not
            // outlive it holding the GPU.
            let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
            let esc = escaped(&mark, pgid);
            for p in &esc {
                let _ = nix::sys::signal::kill(Pid::from_raw(*p as i32), Signal::SIGKILL);
            }
            // Reparented to the daemon (a subreaper): reap them as they finish dying. A
            // SIGKILLed process takes a moment to become a zombie, so one pass is not enough.
            gone_within(pgid, &esc, Duration::from_secs(5)).await;
        }
        // The pipes close when the last holder is gone; give the readers time to drain.
        let _ = tokio::time::timeout(Duration::from_secs(2), pumps.join_all()).await;
        reap(pgid);
        sink.note(&status);
        let exit = Exit { status, deliberate };
        on_exit(&exit);
        let _ = tx.send(Some(exit));
    });
    Ok(Arc::new(Proc {
        pgid,
        marker,
        stopping,
        exit,
        stop_lock: tokio::sync::Mutex::new(()),
    }))
}

impl Proc {
    /// How the leader ended, once it has (and its output is drained).
    pub async fn exited(&self) -> Exit {
        let mut rx = self.exit.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(e) => e.clone().unwrap_or_else(lost),
            Err(_) => lost(),
        }
    }

    /// The leader's end, if it has ended.
    pub fn exit_now(&self) -> Option<Exit> {
        self.exit.borrow().clone()
    }

    /// SIGTERM to the group (and to the engine's processes that left it), up to `grace` for
    /// all of them to go, then SIGKILL. Returns whether SIGKILL was needed and the processes
    /// left (none, normally).
    pub async fn terminate(&self, grace: Duration) -> (bool, Vec<u32>) {
        self.stopping.store(true, Ordering::SeqCst);
        // Those that left the group are looked up once (a /proc walk reading environments),
        // then followed by pid.
        let esc = self.escaped_pids();
        self.signal_all(Signal::SIGTERM, &esc);
        let forced = !gone_within(self.pgid, &esc, grace).await;
        if forced {
            self.signal_all(Signal::SIGKILL, &esc);
            gone_within(self.pgid, &esc, Duration::from_secs(5)).await;
        }
        // The leader reaped and its output drained (bounded: a stuck member was reported).
        let _ = tokio::time::timeout(Duration::from_secs(5), self.exited()).await;
        reap(self.pgid);
        reap_pids(&esc);
        let mut left = members(self.pgid);
        left.extend(self.escaped_pids());
        (forced, left)
    }

    /// The engine's live processes outside its group (they called `setsid`).
    pub fn escaped_pids(&self) -> Vec<u32> {
        escaped(&self.marker, self.pgid)
    }

    fn signal_all(&self, sig: Signal, esc: &[u32]) {
        let _ = killpg(self.pid(), sig);
        for p in esc {
            let _ = nix::sys::signal::kill(Pid::from_raw(*p as i32), sig);
        }
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.pgid as i32)
    }
}

/// Whether group `pgid` and the escaped `esc` are all gone within `limit`, reaping those that
/// are our zombies on the way (a zombie is gone but still has a `/proc` entry until reaped).
async fn gone_within(pgid: u32, esc: &[u32], limit: Duration) -> bool {
    let end = Instant::now() + limit;
    loop {
        reap(pgid);
        reap_pids(esc);
        if members(pgid).is_empty() && !esc.iter().any(|p| alive(*p)) {
            // A multi-threaded process shows as a zombie before its last thread is gone, and
            // cannot be reaped until then: keep reaping a little while. Zombies that are not
            // ours (no subreaper) stay; they hold nothing.
            let settle = Instant::now() + Duration::from_millis(500);
            while (scan(pgid).iter().any(|&(p, _)| p != pgid) || esc.iter().any(|p| zombie(*p)))
                && Instant::now() < settle
            {
                tokio::time::sleep(Duration::from_millis(10)).await;
                reap(pgid);
                reap_pids(esc);
            }
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lost() -> Exit {
    Exit {
        status: "exit status lost".into(),
        deliberate: false,
    }
}

/// "exited with status N" / "killed by signal SIGKILL".
pub(crate) fn describe(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(sig)) => match Signal::try_from(sig) {
            Ok(name) => format!("killed by signal {sig} ({name})"),
            Err(_) => format!("killed by signal {sig}"),
        },
        (None, None) => format!("ended ({s})"),
    }
}

/// Live (not zombie) processes of group `pgid`, from `/proc`.
pub(crate) fn members(pgid: u32) -> Vec<u32> {
    scan(pgid)
        .into_iter()
        .filter(|(_, st)| *st != 'Z' && *st != 'X')
        .map(|(p, _)| p)
        .collect()
}

/// Live processes of the engine `m` marks that are not in its group `pgid` (they called
/// `setsid`), from their environment in `/proc`. Zombies are reaped on the way.
fn escaped(m: &Marker, pgid: u32) -> Vec<u32> {
    let owner = format!("{OWNER_ENV}={}", m.owner);
    let id = format!("{ID_ENV}={}", m.id);
    marked(&[&owner, &id])
        .into_iter()
        .filter(|&(_, g)| g != pgid)
        .map(|(p, _)| p)
        .collect()
}

/// (pid, process group) of every live process whose environment holds all of `entries`
/// (`KEY=value`), from `/proc`.
fn marked(entries: &[&str]) -> Vec<(u32, u32)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ")).is_ok_and(|env| {
                entries
                    .iter()
                    .all(|want| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
            })
        })
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&stat)
                .filter(|(st, _)| *st != 'Z' && *st != 'X')
                .map(|(_, g)| (pid, g))
        })
        .collect()
}

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse_stat(&s))
        .is_some_and(|(st, _)| st != 'Z' && st != 'X')
}

/// Whether `pid` is a zombie (ended, not reaped yet).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse_stat(&s))
        .is_some_and(|(st, _)| st == 'Z')
}

/// Reap those of `pids` that are our zombies (escaped processes reparented to the daemon).
/// Only zombies: a pid that is gone may have been reused by another child of the daemon (an
/// engine's leader, which tokio waits for), whose exit status must not be taken here.
fn reap_pids(pids: &[u32]) {
    for p in pids.iter().filter(|p| zombie(**p)) {
        let _ = waitpid(Pid::from_raw(*p as i32), Some(WaitPidFlag::WNOHANG));
    }
}

/// Process groups with a member whose environment says `owner` owns it: engines of an
/// earlier run of this daemon (same state directory) that outlived it.
pub(crate) fn orphans(owner: &str) -> Vec<u32> {
    let want = format!("{OWNER_ENV}={owner}");
    let mut groups: Vec<u32> = marked(&[&want]).into_iter().map(|(_, g)| g).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

/// SIGTERM to group `pgid`, up to `grace` for it to go, then SIGKILL. For groups that are
/// not our children (a predecessor's), so nothing to reap.
pub(crate) async fn terminate_group(pgid: u32, grace: Duration) -> bool {
    let pid = Pid::from_raw(pgid as i32);
    let _ = killpg(pid, Signal::SIGTERM);
    let end = Instant::now() + grace;
    while !members(pgid).is_empty() {
        if Instant::now() >= end {
            let _ = killpg(pid, Signal::SIGKILL);
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Reap the group's zombies that are our children: with the daemon a child subreaper, the
/// orphans of a killed leader are. Others (and the leader, which tokio reaps) are left alone.
fn reap(pgid: u32) {
    for (pid, st) in scan(pgid) {
        if st == 'Z' && pid != pgid {
            let _ = waitpid(Pid::from_raw(pid as i32), Some(WaitPidFlag::WNOHANG));
        }
    }
}

/// (pid, state) of every process whose process group is `pgid`.
fn scan(pgid: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (state, pgrp) = parse_stat(&stat)?;
            (pgrp == pgid).then_some((pid, state))
        })
        .collect()
}

/// State and process group from a `/proc/PID/stat` line (`pid (comm) S ppid pgrp ...`; comm
/// may hold spaces and parentheses, so parse after the last `)`).
fn parse_stat(stat: &str) -> Option<(char, u32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    Some((state, f.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100";
        assert_eq!(parse_stat(s), Some(('S', 4242)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_in_its_group() {
        let me = std::process::id();
        let pgid = nix::unistd::getpgrp().as_raw() as u32;
        assert!(members(pgid).contains(&me));
    }

    #[test]
    fn statuses() {
        assert_eq!(
            describe(ExitStatus::from_raw(3 << 8)),
            "exited with status 3"
        );
        assert_eq!(
            describe(ExitStatus::from_raw(9)),
            "killed by signal 9 (SIGKILL)"
        );
    }
}
