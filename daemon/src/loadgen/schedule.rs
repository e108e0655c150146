//! Arrival schedules for open-loop load: seeded, so a run can be repeated exactly.
//!
//! Gaps between arrivals: `constant` is `1/rate`; `poisson` is exponential with mean `1/rate`;
//! `gamma` has shape `burstiness` and scale `1/(rate * burstiness)`, so its mean is also
//! `1/rate` (vLLM's definition: burstiness 1 is Poisson, lower is burstier).

use llms_shared::Arrival;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp, Gamma};
use std::time::Duration;

/// Why a schedule cannot be built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    /// Rate is not a positive finite number.
    #[error("--rate must be a positive number, got {0}")]
    Rate(f64),
    /// Burstiness is not a positive finite number.
    #[error("--burstiness must be a positive number, got {0}")]
    Burstiness(f64),
}

/// An endless, seeded sequence of arrival offsets from the start of a point.
pub struct Schedule {
    gaps: Gaps,
    rng: StdRng,
    at: f64,
}

enum Gaps {
    Constant(f64),
    Exp(Exp<f64>),
    Gamma(Gamma<f64>),
}

impl Schedule {
    /// A schedule of `rate` arrivals per second, spaced by `arrival`.
    pub fn new(
        rate: f64,
        arrival: Arrival,
        burstiness: f64,
        seed: u64,
    ) -> Result<Self, ScheduleError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ScheduleError::Rate(rate));
        }
        let gaps = match arrival {
            Arrival::Constant => Gaps::Constant(1.0 / rate),
            Arrival::Poisson => Gaps::Exp(Exp::new(rate).map_err(|_| ScheduleError::Rate(rate))?),
            Arrival::Gamma => {
                if !(burstiness.is_finite() && burstiness > 0.0) {
                    return Err(ScheduleError::Burstiness(burstiness));
                }
                let g = Gamma::new(burstiness, 1.0 / (rate * burstiness));
                Gaps::Gamma(g.map_err(|_| ScheduleError::Burstiness(burstiness))?)
            }
        };
        Ok(Self {
            gaps,
            rng: StdRng::seed_from_u64(seed),
            at: 0.0,
        })
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    /// The next arrival's offset. The first request arrives at 0.
    fn next(&mut self) -> Option<Duration> {
        let now = self.at;
        let gap = match &self.gaps {
            Gaps::Constant(g) => *g,
            Gaps::Exp(d) => d.sample(&mut self.rng),
            Gaps::Gamma(d) => d.sample(&mut self.rng),
        };
        self.at += gap;
        // Far beyond any run when the numbers are extreme: the caller stops at its end.
        Some(Duration::try_from_secs_f64(now).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_gap(s: Schedule, n: usize) -> f64 {
        let v: Vec<f64> = s.take(n + 1).map(|d| d.as_secs_f64()).collect();
        v[n] / n as f64
    }

    #[test]
    fn constant_is_exact() {
        let v: Vec<Duration> = Schedule::new(4.0, Arrival::Constant, 1.0, 1)
            .unwrap()
            .take(3)
            .collect();
        assert_eq!(
            v,
            vec![
                Duration::ZERO,
                Duration::from_millis(250),
                Duration::from_millis(500)
            ]
        );
    }

    #[test]
    fn same_seed_same_schedule_other_seed_other_schedule() {
        let a: Vec<_> = Schedule::new(10.0, Arrival::Poisson, 1.0, 7)
            .unwrap()
            .take(50)
            .collect();
        let b: Vec<_> = Schedule::new(10.0, Arrival::Poisson, 1.0, 7)
            .unwrap()
            .take(50)
            .collect();
        let c: Vec<_> = Schedule::new(10.0, Arrival::Poisson, 1.0, 8)
            .unwrap()
            .take(50)
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn poisson_and_gamma_keep_the_mean_rate() {
        for (arr, burst) in [
            (Arrival::Poisson, 1.0),
            (Arrival::Gamma, 0.5),
            (Arrival::Gamma, 4.0),
        ] {
            let m = mean_gap(Schedule::new(20.0, arr, burst, 3).unwrap(), 20_000);
            assert!(
                (m - 0.05).abs() < 0.05 * 0.05,
                "{arr:?} {burst}: mean gap {m}"
            );
        }
    }

    #[test]
    fn gamma_burstiness_changes_the_spread() {
        let cv = |b: f64| {
            let v: Vec<f64> = Schedule::new(10.0, Arrival::Gamma, b, 5)
                .unwrap()
                .take(20_001)
                .map(|d| d.as_secs_f64())
                .collect();
            let g: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
            let m = g.iter().sum::<f64>() / g.len() as f64;
            let var = g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / g.len() as f64;
            var.sqrt() / m
        };
        // Coefficient of variation of a gamma is 1/sqrt(shape).
        assert!((cv(0.25) - 2.0).abs() < 0.15, "{}", cv(0.25));
        assert!((cv(4.0) - 0.5).abs() < 0.05, "{}", cv(4.0));
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            Schedule::new(0.0, Arrival::Poisson, 1.0, 0).err(),
            Some(ScheduleError::Rate(0.0))
        );
        let e = Schedule::new(1.0, Arrival::Gamma, -1.0, 0).err().unwrap();
        assert!(e.to_string().contains("--burstiness"));
    }
}
