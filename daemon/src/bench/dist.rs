//! Length distributions for a run's prompts and answers: `fixed:N`, `uniform:MIN,MAX`,
//! `normal:MEAN,SD` (clipped to three deviations and at least 1), `lognormal:MEAN,SD` (of the
//! lengths themselves; clipped to at least 1 and at most 100 means), and `dataset` (output
//! lengths only: the lengths of the prompts file's own answers, drawn with replacement).
//! Draws are seeded, so a run can be repeated exactly.

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use std::fmt;

/// Longest length a distribution may give.
pub const MAX_LEN: u32 = 1_000_000;

/// A distribution of token lengths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always `n`.
    Fixed(u32),
    /// Uniform over `min..=max`.
    Uniform(u32, u32),
    /// Normal, clipped to `mean ± 3 sd` and at least 1.
    Normal(f64, f64),
    /// Log-normal with this mean and standard deviation of the lengths.
    LogNormal(f64, f64),
    /// The lengths of the prompts file's answers (its empirical distribution), which the
    /// session counts with the server's tokenizer; see [`draw_pool`].
    Dataset,
}

impl Dist {
    /// Parse `KIND:PARAMS`; the message says what is wrong.
    pub fn parse(s: &str) -> Result<Dist, String> {
        if s.trim() == "dataset" {
            return Ok(Dist::Dataset);
        }
        let (kind, params) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not KIND:PARAMS (fixed:N, uniform:MIN,MAX, normal:MEAN,SD, lognormal:MEAN,SD) or dataset"))?;
        let nums: Vec<f64> = params
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("'{params}' is not a list of numbers"))?;
        let len = |v: f64| -> Result<u32, String> {
            match v {
                v if v.fract() == 0.0 && (1.0..=f64::from(MAX_LEN)).contains(&v) => Ok(v as u32),
                v => Err(format!(
                    "{v} is not a whole number of tokens from 1 to {MAX_LEN}"
                )),
            }
        };
        let positive =
            |v: f64, what: &str| match v.is_finite() && v > 0.0 && v <= f64::from(MAX_LEN) {
                true => Ok(v),
                false => Err(format!(
                    "the {what} must be above 0 and at most {MAX_LEN}, got {v}"
                )),
            };
        match (kind.trim(), nums.as_slice()) {
            ("fixed", [n]) => Ok(Dist::Fixed(len(*n)?)),
            ("uniform", [a, b]) => match (len(*a)?, len(*b)?) {
                (a, b) if a <= b => Ok(Dist::Uniform(a, b)),
                (a, b) => Err(format!("uniform:{a},{b}: the minimum is above the maximum")),
            },
            ("normal", [m, sd]) => Ok(Dist::Normal(
                positive(*m, "mean")?,
                positive(*sd, "standard deviation")?,
            )),
            ("lognormal", [m, sd]) => Ok(Dist::LogNormal(
                positive(*m, "mean")?,
                positive(*sd, "standard deviation")?,
            )),
            ("fixed" | "uniform" | "normal" | "lognormal", _) => {
                Err(format!("'{s}': wrong number of parameters"))
            }
            (k, _) => Err(format!("'{k}' is not fixed, uniform, normal or lognormal")),
        }
    }

    /// One length.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> u32 {
        let clip = |v: f64, lo: f64, hi: f64| {
            v.clamp(lo.max(1.0), hi.min(f64::from(MAX_LEN))).round() as u32
        };
        match *self {
            // Resolved into a pool by the session; never drawn from alone.
            Dist::Fixed(n) => n,
            Dist::Dataset => 1,
            Dist::Uniform(a, b) => rng.random_range(a..=b),
            Dist::Normal(m, sd) => match Normal::new(m, sd) {
                Ok(d) => clip(d.sample(rng), m - 3.0 * sd, m + 3.0 * sd),
                Err(_) => clip(m, 1.0, m),
            },
            Dist::LogNormal(m, sd) => {
                let sigma2 = (1.0 + (sd * sd) / (m * m)).ln();
                let mu = m.ln() - sigma2 / 2.0;
                match LogNormal::new(mu, sigma2.sqrt()) {
                    Ok(d) => clip(d.sample(rng), 1.0, 100.0 * m),
                    Err(_) => clip(m, 1.0, m),
                }
            }
        }
    }

    /// Most it can give.
    pub fn max(&self) -> u32 {
        let top = |v: f64| v.clamp(1.0, f64::from(MAX_LEN)).round() as u32;
        match *self {
            Dist::Fixed(n) => n,
            Dist::Dataset => MAX_LEN,
            Dist::Uniform(_, b) => b,
            Dist::Normal(m, sd) => top(m + 3.0 * sd),
            Dist::LogNormal(m, _) => top(100.0 * m),
        }
    }
}

impl fmt::Display for Dist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dist::Fixed(n) => write!(f, "fixed:{n}"),
            Dist::Uniform(a, b) => write!(f, "uniform:{a},{b}"),
            Dist::Normal(m, sd) => write!(f, "normal:{m},{sd}"),
            Dist::LogNormal(m, sd) => write!(f, "lognormal:{m},{sd}"),
            Dist::Dataset => f.write_str("dataset"),
        }
    }
}

/// `n` lengths drawn from `d`, seeded by `seed` (and `salt`, so input and output lengths of
/// one run are drawn apart).
pub fn draw(d: &Dist, n: usize, seed: u64, salt: u64) -> Vec<u32> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ salt);
    (0..n).map(|_| d.sample(&mut rng)).collect()
}

/// `n` lengths drawn with replacement from `pool` (a dataset's), seeded like [`draw`].
pub fn draw_pool(pool: &[u32], n: usize, seed: u64, salt: u64) -> Vec<u32> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ salt);
    match pool.len() {
        0 => Vec::new(),
        k => (0..n).map(|_| pool[rng.random_range(0..k)]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_parse_and_refuse_with_the_reason() {
        assert_eq!(Dist::parse("fixed:128"), Ok(Dist::Fixed(128)));
        assert_eq!(Dist::parse("uniform:10, 20"), Ok(Dist::Uniform(10, 20)));
        assert_eq!(Dist::parse("normal:300,50"), Ok(Dist::Normal(300.0, 50.0)));
        assert_eq!(
            Dist::parse("lognormal:300,150"),
            Ok(Dist::LogNormal(300.0, 150.0))
        );
        for (bad, want) in [
            ("128", "is not KIND:PARAMS"),
            ("uniform:20,10", "the minimum is above the maximum"),
            ("uniform:0,10", "0 is not a whole number"),
            ("normal:300,-5", "the standard deviation must be above 0"),
            ("normal:300", "wrong number of parameters"),
            ("zipf:1,2", "'zipf' is not fixed"),
            ("fixed:1.5", "1.5 is not a whole number"),
            ("fixed:x", "'x' is not a list of numbers"),
        ] {
            let e = Dist::parse(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        for d in [
            "fixed:7",
            "uniform:1,9",
            "normal:300,50",
            "lognormal:300,150",
        ] {
            assert_eq!(Dist::parse(d).unwrap().to_string(), d);
        }
    }

    #[test]
    fn draws_repeat_with_the_seed_and_follow_the_distribution() {
        let n = 20_000;
        let mean = |v: &[u32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64;
        let u = draw(&Dist::Uniform(10, 20), n, 3, 1);
        assert_eq!(u, draw(&Dist::Uniform(10, 20), n, 3, 1));
        assert_ne!(u, draw(&Dist::Uniform(10, 20), n, 3, 2));
        assert!(u.iter().all(|x| (10..=20).contains(x)));
        assert!((mean(&u) - 15.0).abs() < 0.2);
        let g = draw(&Dist::Normal(300.0, 50.0), n, 3, 1);
        assert!(g.iter().all(|x| (150..=450).contains(x)));
        assert!((mean(&g) - 300.0).abs() < 3.0);
        let l = draw(&Dist::LogNormal(300.0, 150.0), n, 3, 1);
        assert!((mean(&l) - 300.0).abs() < 10.0, "{}", mean(&l));
        assert!(l.iter().all(|x| *x >= 1));
        assert_eq!(draw(&Dist::Fixed(9), 3, 0, 0), [9, 9, 9]);
        // A dataset's pool: only its own lengths, each drawn, seeded.
        let p = draw_pool(&[5, 9], 1000, 3, 1);
        assert!(p.iter().all(|x| *x == 5 || *x == 9));
        assert!(p.contains(&5) && p.contains(&9));
        assert_eq!(p, draw_pool(&[5, 9], 1000, 3, 1));
        assert!(draw_pool(&[], 3, 0, 0).is_empty());
        assert_eq!(Dist::parse("dataset"), Ok(Dist::Dataset));
    }
}
