//! A deterministic GPU source for tests and for demos on machines without a GPU
//! (`gpu = "fake:N"`).
//!
//! Round k (the k-th call of `sample`, from 0) of GPU i reports:
//! - `util_pct` = `UTIL_PATTERN[(k + i) % 8]`;
//! - `power_mw` = 60 W + 2.4 W per util percent + 1 W per GPU index;
//! - `temp_c` = 35 + util / 2, `sm_clock_mhz` = 210 + 15 per util percent;
//! - `processes`: every pid given through `watch_pids` that is still alive (`/proc/PID`
//!   exists), each holding `PROCESS_BYTES`; a pid is forgotten once it has exited;
//! - `mem_used` = `BASE_MEM_BYTES` + the processes' bytes, of `TOTAL_MEM_BYTES`.
//!
//! Everything above depends only on k, i and the live watched pids. The two things that
//! follow the clock: `unix_ms` (wall clock, so stored samples have real times) and
//! `energy_mj`, which starts at `(i + 1) * 1_000_000` mJ and grows by the reported power
//! times the monotonic time since the previous round, so the counter agrees with the power.

use super::source::{GpuSource, unix_ms};
use llms_shared::GpuSample;
use std::collections::BTreeSet;
use std::time::Instant;

/// Utilization of round k, GPU i: `UTIL_PATTERN[(k + i) % 8]`.
pub const UTIL_PATTERN: [u32; 8] = [10, 40, 70, 100, 90, 60, 30, 0];
/// GPU memory each live watched pid holds on every fake GPU, bytes.
pub const PROCESS_BYTES: u64 = 2 << 30;
/// Memory used with no process, bytes.
pub const BASE_MEM_BYTES: u64 = 512 << 20;
/// Memory of each fake GPU, bytes.
pub const TOTAL_MEM_BYTES: u64 = 80 << 30;

/// A deterministic fake of `n` GPUs (see the module docs for its values).
pub struct FakeSource {
    gpus: u32,
    round: u64,
    energy_mj: Vec<u64>,
    last: Option<Instant>,
    watched: BTreeSet<u32>,
}

impl FakeSource {
    /// A fake of `gpus` GPUs, at round 0 with no watched pid.
    pub fn new(gpus: u32) -> FakeSource {
        FakeSource {
            gpus,
            round: 0,
            energy_mj: (0..gpus).map(|i| (u64::from(i) + 1) * 1_000_000).collect(),
            last: None,
            watched: BTreeSet::new(),
        }
    }

    /// One round as if `dt_ms` had passed since the previous one, stamped `unix_ms`: the
    /// clock-free core of `sample` (tests drive it directly).
    fn step(&mut self, dt_ms: u64, unix_ms: u64) -> Vec<GpuSample> {
        self.watched.retain(|pid| pid_alive(*pid));
        let processes: Vec<(u32, u64)> = self.watched.iter().map(|&p| (p, PROCESS_BYTES)).collect();
        let held: u64 = processes.iter().map(|p| p.1).sum();
        let round = self.round;
        self.round += 1;
        (0..self.gpus)
            .zip(self.energy_mj.iter_mut())
            .map(|(i, energy)| {
                let util = UTIL_PATTERN[pattern_slot(round, i)];
                let power_mw = 60_000 + util * 2_400 + i * 1_000;
                *energy += u64::from(power_mw) * dt_ms / 1_000;
                GpuSample {
                    unix_ms,
                    index: i,
                    name: "llms fake GPU".to_string(),
                    util_pct: Some(util),
                    mem_used: Some(BASE_MEM_BYTES + held),
                    mem_total: Some(TOTAL_MEM_BYTES),
                    power_mw: Some(power_mw),
                    power_limit_mw: Some(700_000),
                    energy_mj: Some(*energy),
                    temp_c: Some(35 + util / 2),
                    sm_clock_mhz: Some(210 + util * 15),
                    processes: processes.clone(),
                }
            })
            .collect()
    }
}

impl GpuSource for FakeSource {
    fn driver(&self) -> Option<String> {
        Some("fake".into())
    }

    fn sample(&mut self) -> Vec<GpuSample> {
        let now = Instant::now();
        let dt_ms = self.last.map_or(0, |last| {
            u64::try_from(now.duration_since(last).as_millis()).unwrap_or(u64::MAX)
        });
        self.last = Some(now);
        self.step(dt_ms, unix_ms())
    }

    fn watch_pids(&mut self, pids: &[u32]) {
        self.watched.extend(pids.iter().copied());
    }
}

fn pattern_slot(round: u64, gpu: u32) -> usize {
    // The pattern has 8 entries, so only the low 3 bits of the sum matter.
    usize::from(u8::try_from((round.wrapping_add(u64::from(gpu))) % 8).unwrap_or(0))
}

/// Whether `pid` exists (a zombie counts until it is reaped).
fn pid_alive(pid: u32) -> bool {
    pid != 0 && std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn same_rounds_same_values() {
        let (mut a, mut b) = (FakeSource::new(3), FakeSource::new(3));
        for k in 0..20 {
            let (sa, sb) = (a.step(100, 1_000 + k), b.step(100, 1_000 + k));
            assert_eq!(sa, sb);
            assert_eq!(sa.len(), 3);
            for s in &sa {
                let util = UTIL_PATTERN[pattern_slot(k, s.index)];
                assert_eq!(s.util_pct, Some(util));
                assert_eq!(s.power_mw, Some(60_000 + util * 2_400 + s.index * 1_000));
                assert_eq!(s.mem_used, Some(BASE_MEM_BYTES));
                assert!(s.processes.is_empty());
            }
        }
    }

    #[test]
    fn energy_follows_power() {
        let mut f = FakeSource::new(1);
        let first = f.step(0, 0)[0].energy_mj.unwrap();
        assert_eq!(first, 1_000_000);
        let s = f.step(500, 500).remove(0);
        // 0.5 s at the power reported this round.
        assert_eq!(
            s.energy_mj.unwrap() - first,
            u64::from(s.power_mw.unwrap()) / 2
        );
    }

    #[test]
    fn watched_pids_hold_memory_only_while_alive() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        let mut f = FakeSource::new(2);
        f.watch_pids(&[me, dead]);
        for s in f.step(0, 0) {
            assert_eq!(s.processes, vec![(me, PROCESS_BYTES)]);
            assert_eq!(s.mem_used, Some(BASE_MEM_BYTES + PROCESS_BYTES));
        }
    }
}
