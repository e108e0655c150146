//! Per-point GPU figures: a pure fold over samples (no clock), fed round by round by the
//! sampler and usable later on stored samples.
//!
//! The definitions are on [`summarize`].

use llms_shared::{GpuPointStats, GpuSample, PointGpu};
use std::collections::{BTreeMap, BTreeSet};

/// Running figures of one point; the sampler adds each round as it comes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PointAcc {
    gpus: BTreeMap<u32, GpuAcc>,
    rounds: u32,
}

#[derive(Debug, Clone, Default)]
struct GpuAcc {
    samples: u32,
    peak_mem: Option<u64>,
    util_sum: f64,
    util_n: u32,
    power_sum_w: f64,
    power_n: u32,
    /// (mJ, unix ms) of the first and the latest counter reading.
    first_energy: Option<(u64, u64)>,
    last_energy: Option<(u64, u64)>,
    energy_n: u32,
    energy_backwards: bool,
    engine_peak: Option<u64>,
}

impl PointAcc {
    /// Adds one sampling round: `samples` of the point's GPUs, `pids` the engine's now.
    pub(crate) fn push_round<'a>(
        &mut self,
        samples: impl IntoIterator<Item = &'a GpuSample>,
        pids: &BTreeSet<u32>,
    ) {
        self.rounds += 1;
        for s in samples {
            self.push(s, pids);
        }
    }

    /// Rounds added so far.
    pub(crate) fn rounds(&self) -> u32 {
        self.rounds
    }

    fn push(&mut self, s: &GpuSample, pids: &BTreeSet<u32>) {
        let g = self.gpus.entry(s.index).or_default();
        g.samples += 1;
        if let Some(m) = s.mem_used {
            g.peak_mem = Some(g.peak_mem.map_or(m, |p| p.max(m)));
        }
        if let Some(u) = s.util_pct {
            g.util_sum += f64::from(u);
            g.util_n += 1;
        }
        if let Some(p) = s.power_mw {
            g.power_sum_w += f64::from(p) / 1000.0;
            g.power_n += 1;
        }
        if let Some(e) = s.energy_mj {
            if g.last_energy.is_some_and(|(last, _)| e < last) {
                g.energy_backwards = true;
            }
            g.first_energy.get_or_insert((e, s.unix_ms));
            g.last_energy = Some((e, s.unix_ms));
            g.energy_n += 1;
        }
        if !pids.is_empty() {
            let engine: u64 = s
                .processes
                .iter()
                .filter(|(pid, _)| pids.contains(pid))
                .map(|p| p.1)
                .sum();
            g.engine_peak = Some(g.engine_peak.map_or(engine, |p| p.max(engine)));
        }
    }

    /// The figures; `None` when no GPU sample came in. `baseline`: idle watts per GPU index.
    pub(crate) fn finish(
        &self,
        baseline: &BTreeMap<u32, f64>,
        output_tokens: u64,
    ) -> Option<PointGpu> {
        if self.gpus.is_empty() {
            return None;
        }
        let gpus: Vec<GpuPointStats> = self
            .gpus
            .iter()
            .map(|(&i, g)| g.stats(i, baseline.get(&i).copied()))
            .collect();
        let energy: Option<f64> = gpus.iter().map(|g| g.energy_j).sum();
        let tokens_per_joule = energy
            .filter(|e| *e > 0.0)
            .map(|e| output_tokens as f64 / e);
        Some(PointGpu {
            gpus,
            tokens_per_joule,
            samples: self.rounds,
            driver: None,
        })
    }
}

impl GpuAcc {
    fn stats(&self, index: u32, idle_power_w: Option<f64>) -> GpuPointStats {
        let mean = |sum: f64, n: u32| (n > 0).then(|| sum / f64::from(n));
        let (energy_j, span_s) = match (self.first_energy, self.last_energy) {
            (Some((e0, t0)), Some((e1, t1))) if self.energy_n >= 2 && !self.energy_backwards => (
                Some((e1 - e0) as f64 / 1000.0),
                t1.saturating_sub(t0) as f64 / 1000.0,
            ),
            _ => (None, 0.0),
        };
        GpuPointStats {
            index,
            name: None,
            peak_mem_used: self.peak_mem,
            mean_util_pct: mean(self.util_sum, self.util_n),
            mean_power_w: mean(self.power_sum_w, self.power_n),
            energy_j,
            idle_power_w,
            energy_above_idle_j: energy_j
                .zip(idle_power_w)
                .map(|(e, idle)| e - idle * span_s),
            engine_mem_peak: self.engine_peak,
        }
    }
}

/// A point's GPU figures from its samples: `baseline` is idle watts per GPU index, `pids`
/// the engine's processes; each GPU's samples in time order, GPUs interleaved or not. The
/// sampler computes the same figures live, round by round. `None` without samples.
///
/// Per GPU, over the point's samples of that GPU:
/// - `peak_mem_used`: max `mem_used`; `mean_util_pct`, `mean_power_w`: means over the
///   samples that carry the reading (`None` when none does).
/// - `energy_j`: (last − first `energy_mj`) / 1000 between the first and the last sample
///   that carry the counter. `None` with fewer than two such samples, or when the counter
///   ever went backwards (driver reload): a wrong number is worse than none.
/// - `idle_power_w`: the baseline given (mean idle power before the point).
/// - `energy_above_idle_j` = `energy_j` − `idle_power_w` × (t_last − t_first), the times
///   (`unix_ms`) of those same two samples. Not clamped: slightly negative means the point
///   drew about idle power.
/// - `engine_mem_peak`: max over samples of the summed memory of the engine's pids on that
///   GPU (0 when they hold none); `None` when no engine pid was given.
///
/// `tokens_per_joule` = output tokens / Σ `energy_j` (total energy, idle included), `None`
/// unless every GPU of the point has `energy_j` and the sum is positive. `samples` is the
/// round count: live, the rounds the point saw; here, the most samples any one GPU has.
pub fn summarize(
    samples: &[GpuSample],
    baseline: &BTreeMap<u32, f64>,
    pids: &[u32],
    output_tokens: u64,
) -> Option<PointGpu> {
    let pids: BTreeSet<u32> = pids.iter().copied().collect();
    let mut acc = PointAcc::default();
    for s in samples {
        acc.push(s, &pids);
    }
    acc.rounds = acc.gpus.values().map(|g| g.samples).max().unwrap_or(0);
    acc.finish(baseline, output_tokens)
}

#[cfg(test)]
#[path = "summary_tests.rs"]
mod tests;
