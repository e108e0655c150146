//! Capacity search: the highest load at which a server still meets a set of latency
//! objectives. What a search is asked ([`SearchDef`], `[load.search]` in a sweep and
//! `llmsd bench --search*`), and what it found ([`SearchReport`]): the answer, what limited
//! it, and every probe point it ran. The search itself runs in `llmsd`.

use crate::result::{LatencyStats, Load, PointResult};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a search varies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchOver {
    /// Requests (or conversation sessions) in flight, a whole number.
    Concurrency,
    /// Arrivals (or session starts) per second.
    Rate,
}

impl SearchOver {
    /// `concurrency` or `rate`.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchOver::Concurrency => "concurrency",
            SearchOver::Rate => "rate",
        }
    }
}

/// `[load.search]`: what to search over, where, how finely, against which objectives. The
/// same names as `llmsd bench --search`, `--search-min`, `--search-max`,
/// `--search-resolution` and `--search-slo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchDef {
    /// `concurrency` or `rate`.
    pub over: SearchOver,
    /// Lowest load tried (the search starts there).
    pub min: f64,
    /// Highest load tried.
    pub max: f64,
    /// Stop when the highest load that passed and the lowest that failed are this close
    /// [default: 1 for concurrency, a 64th of the range for rate].
    #[serde(default)]
    pub resolution: Option<f64>,
    /// Objectives: `METRIC_STAT = limit`, METRIC one of ttft, tpot, itl, e2e (ms) and STAT
    /// one of p50, p90, p95, p99, mean, max; and `error_rate` (0 to 1) [default: 0.01].
    pub slo: BTreeMap<String, f64>,
}

/// Error rate a search tolerates when its objectives do not name one.
pub const DEFAULT_SEARCH_ERROR_RATE: f64 = 0.01;

/// One objective key, parsed: `tpot_p99` is (`tpot`, `p99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// A latency statistic of the point, ms.
    Latency {
        /// `ttft`, `tpot`, `itl` or `e2e`.
        metric: &'static str,
        /// `p50`, `p90`, `p95`, `p99`, `mean` or `max`.
        stat: &'static str,
    },
    /// Failed requests over all requests.
    ErrorRate,
}

const METRICS: [&str; 4] = ["ttft", "tpot", "itl", "e2e"];
const STATS: [&str; 6] = ["p50", "p90", "p95", "p99", "mean", "max"];

impl Objective {
    /// Parse a key; the error says which keys there are.
    pub fn parse(key: &str) -> Result<Objective, String> {
        if key == "error_rate" {
            return Ok(Objective::ErrorRate);
        }
        let bad = || {
            format!(
                "unknown objective '{key}' (use METRIC_STAT: METRIC one of ttft, tpot, itl, e2e; STAT one of p50, p90, p95, p99, mean, max; or error_rate)"
            )
        };
        let (m, s) = key.split_once('_').ok_or_else(bad)?;
        let metric = METRICS.iter().find(|x| **x == m).ok_or_else(bad)?;
        let stat = STATS.iter().find(|x| **x == s).ok_or_else(bad)?;
        Ok(Objective::Latency { metric, stat })
    }

    /// The figure of `point` this objective judges (ms, or a share for the error rate).
    pub fn value(self, point: &PointResult) -> f64 {
        match self {
            Objective::ErrorRate => point.error_rate,
            Objective::Latency { metric, stat } => {
                let l: &LatencyStats = match metric {
                    "ttft" => &point.ttft_ms,
                    "tpot" => &point.tpot_ms,
                    "itl" => &point.itl_ms,
                    _ => &point.e2e_ms,
                };
                match stat {
                    "p50" => l.p50,
                    "p90" => l.p90,
                    "p95" => l.p95,
                    "p99" => l.p99,
                    "mean" => l.mean,
                    _ => l.max,
                }
            }
        }
    }

    /// How people read the key: `TPOT p99`, `error rate`.
    pub fn label(self) -> String {
        match self {
            Objective::ErrorRate => "error rate".into(),
            Objective::Latency { metric, stat } => format!("{} {stat}", metric.to_uppercase()),
        }
    }
}

impl SearchDef {
    /// The resolution in effect.
    pub fn resolution(&self) -> f64 {
        match (self.resolution, self.over) {
            (Some(r), _) => r,
            (None, SearchOver::Concurrency) => 1.0,
            (None, SearchOver::Rate) => (self.max - self.min) / 64.0,
        }
    }

    /// The objectives with their limits, the error rate's default added.
    pub fn objectives(&self) -> Result<Vec<(String, Objective, f64)>, String> {
        let mut out = Vec::new();
        for (k, &v) in &self.slo {
            out.push((k.clone(), Objective::parse(k)?, v));
        }
        if !self.slo.contains_key("error_rate") {
            out.push((
                "error_rate".into(),
                Objective::ErrorRate,
                DEFAULT_SEARCH_ERROR_RATE,
            ));
        }
        Ok(out)
    }

    /// Check the definition; `Err((field, why))` names the field at fault (`min`, `slo.x`).
    pub fn check(&self) -> Result<(), (String, String)> {
        let f = |field: &str, why: String| Err((field.to_owned(), why));
        for (name, v) in [("min", self.min), ("max", self.max)] {
            if !(v.is_finite() && v > 0.0) {
                return f(name, format!("must be a positive number, got {v}"));
            }
        }
        if self.over == SearchOver::Concurrency {
            for (name, v) in [("min", self.min), ("max", self.max)] {
                if v.fract() != 0.0 || v > 100_000.0 {
                    return f(
                        name,
                        format!("concurrency is a whole number up to 100000, got {v}"),
                    );
                }
            }
        }
        if self.min >= self.max {
            return f(
                "max",
                format!("must be above min ({} >= {})", self.min, self.max),
            );
        }
        if let Some(r) = self.resolution {
            if !(r.is_finite() && r > 0.0) {
                return f("resolution", format!("must be a positive number, got {r}"));
            }
            if self.over == SearchOver::Concurrency && r.fract() != 0.0 {
                return f(
                    "resolution",
                    format!("concurrency steps are whole, got {r}"),
                );
            }
            if r > self.max - self.min {
                return f(
                    "resolution",
                    format!("{r} is wider than the range {}..{}", self.min, self.max),
                );
            }
        }
        if self.slo.is_empty() {
            return f(
                "slo",
                "give at least one objective, e.g. ttft_p99=500,tpot_p99=40".into(),
            );
        }
        for (k, &v) in &self.slo {
            let field = format!("slo.{k}");
            let o = Objective::parse(k).map_err(|e| (field.clone(), e))?;
            let ok = match o {
                Objective::ErrorRate => v.is_finite() && (0.0..=1.0).contains(&v),
                Objective::Latency { .. } => v.is_finite() && v > 0.0,
            };
            if !ok {
                return f(
                    &field,
                    match o {
                        Objective::ErrorRate => format!("must be between 0 and 1, got {v}"),
                        Objective::Latency { .. } => {
                            format!("must be a positive number of ms, got {v}")
                        }
                    },
                );
            }
        }
        Ok(())
    }

    /// The load of one probe at `value`, with the rate mode's arrivals.
    pub fn load(&self, value: f64, arrival: crate::Arrival, burstiness: Option<f64>) -> Load {
        match self.over {
            SearchOver::Concurrency => Load::Concurrency {
                concurrency: value.round().clamp(1.0, f64::from(u32::MAX)) as u32,
            },
            SearchOver::Rate => Load::Rate {
                rate: value,
                arrival,
                burstiness,
            },
        }
    }

    /// The searched value of `load` (`None`: a load of another kind).
    pub fn value_of(&self, load: &Load) -> Option<f64> {
        match (self.over, load) {
            (SearchOver::Concurrency, Load::Concurrency { concurrency }) => {
                Some(f64::from(*concurrency))
            }
            (SearchOver::Rate, Load::Rate { rate, .. }) => Some(*rate),
            _ => None,
        }
    }
}

/// A point's part in a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchRole {
    /// A load tried on the way to the answer.
    Probe,
    /// The answer, run again to confirm it.
    Confirm,
}

impl SearchRole {
    /// `probe` or `confirm`, as the JSON writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            SearchRole::Probe => "probe",
            SearchRole::Confirm => "confirm",
        }
    }
}

/// One probe: its load, whether it met every objective, and the figures judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// The load tried.
    pub load: Load,
    /// `probe` or `confirm`.
    pub role: SearchRole,
    /// Whether every objective was met.
    pub pass: bool,
    /// Each objective's figure at this load (ms, or a share for `error_rate`); absent when
    /// the point has no figures.
    pub values: BTreeMap<String, f64>,
    /// The objectives it broke (`point` when the point produced no figures at all).
    pub failed: Vec<String>,
    /// Why the point produced no figures, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a capacity search found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchReport {
    /// `concurrency` or `rate`.
    pub over: SearchOver,
    /// The objectives, with the error rate's default where none was given.
    pub slo: BTreeMap<String, f64>,
    /// The range searched and its resolution.
    pub min: f64,
    /// See `min`.
    pub max: f64,
    /// See `min`.
    pub resolution: f64,
    /// The highest load that met every objective: 0 when even `min` did not; `None` when
    /// the search could not finish (a point produced no figures, the probe limit).
    pub capacity: Option<f64>,
    /// The objective the next load up broke first (`tpot_p99`), `max` when the search's
    /// highest load passed, none when the search did not finish.
    pub limited_by: Option<String>,
    /// Whether the answer passed again when run once more.
    pub confirmed: bool,
    /// One sentence: the answer, what limited it, the load that failed and by how much.
    pub verdict: String,
    /// Every point the search ran, in order.
    pub probes: Vec<ProbeReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(slo: &[(&str, f64)]) -> SearchDef {
        SearchDef {
            over: SearchOver::Concurrency,
            min: 1.0,
            max: 64.0,
            resolution: None,
            slo: slo.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
        }
    }

    #[test]
    fn objectives_parse_and_read_their_figure() {
        let mut p = PointResult::empty(Load::Concurrency { concurrency: 1 });
        p.tpot_ms.p99 = 41.0;
        p.e2e_ms.p90 = 900.0;
        p.error_rate = 0.5;
        let d = def(&[("tpot_p99", 40.0), ("e2e_p90", 1000.0)]);
        let got: Vec<(String, f64)> = d
            .objectives()
            .unwrap()
            .into_iter()
            .map(|(k, o, _)| (k, o.value(&p)))
            .collect();
        assert_eq!(
            got,
            [
                ("e2e_p90".to_owned(), 900.0),
                ("tpot_p99".to_owned(), 41.0),
                ("error_rate".to_owned(), 0.5)
            ]
        );
        assert_eq!(Objective::parse("tpot_p99").unwrap().label(), "TPOT p99");
    }

    #[test]
    fn bad_definitions_name_the_field() {
        let e = def(&[("ttft_p77", 1.0)]).check().unwrap_err();
        assert_eq!(e.0, "slo.ttft_p77");
        assert!(e.1.contains("p99"), "{}", e.1);
        let e = def(&[("error_rate", 2.0)]).check().unwrap_err();
        assert_eq!(e.0, "slo.error_rate");
        let mut d = def(&[("ttft_p99", 500.0)]);
        d.min = 64.0;
        assert_eq!(d.check().unwrap_err().0, "max");
        d.min = 1.5;
        assert_eq!(d.check().unwrap_err().0, "min");
        d.min = 1.0;
        d.resolution = Some(100.0);
        assert_eq!(d.check().unwrap_err().0, "resolution");
        assert_eq!(def(&[]).check().unwrap_err().0, "slo");
        assert!(def(&[("ttft_p99", 500.0)]).check().is_ok());
    }
}
