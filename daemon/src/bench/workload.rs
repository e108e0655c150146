//! The workload a session sends, as one value: `single` (one prompt per request) or
//! `shared_prefix` (groups of requests sharing a system prompt); how groups are drawn; and
//! the report of what was sent (kind, parameters, seed, a digest of the prompts).

use crate::loadgen::request::Prompt;
use llms_shared::{WorkloadDef, WorkloadReport};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Most groups a shared-prefix workload may have.
pub const MAX_GROUPS: u32 = 10_000;

/// What the requests send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// One prompt per request, each made unique at its start (the default).
    Single,
    /// `groups` groups, each with a system prompt of exactly `prefix_tokens` tokens (its tag
    /// included), drawn uniformly or by Zipf's law with exponent `zipf`; each request's own
    /// part follows, made unique at its start.
    SharedPrefix {
        /// Groups.
        groups: u32,
        /// Tokens of each group's prefix.
        prefix_tokens: u32,
        /// Zipf exponent (none: uniform).
        zipf: Option<f64>,
    },
}

impl Shape {
    /// Its name in sweeps, reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Single => "single",
            Shape::SharedPrefix { .. } => "shared_prefix",
        }
    }

    /// Tokens every request of a group shares by design (the prefix), beyond the template.
    pub fn shared_tokens(self) -> Option<u64> {
        match self {
            Shape::Single => None,
            Shape::SharedPrefix { prefix_tokens, .. } => Some(u64::from(prefix_tokens)),
        }
    }

    /// The shape of a sweep's `[workload]`; `Err("workload.FIELD: why")`. Checked the same
    /// way as `llmsd bench`'s flags ([`Shape::of`]).
    pub fn from_def(d: Option<&WorkloadDef>) -> Result<Shape, String> {
        let Some(d) = d else {
            return Ok(Shape::Single);
        };
        let kind = match d.kind.as_deref() {
            None | Some("single") => "single",
            Some("shared_prefix") => "shared_prefix",
            Some(k) => {
                return Err(format!(
                    "workload.kind: '{k}' is not single or shared_prefix"
                ));
            }
        };
        Shape::of(kind, d.groups, d.prefix_tokens, d.zipf)
            .map_err(|(f, m)| format!("workload.{f}: {m}"))
    }

    /// The shape of kind `kind` (`single`, `shared_prefix`) with its parameters;
    /// `Err((field, why))` with the field's sweep name.
    pub fn of(
        kind: &str,
        groups: Option<u32>,
        prefix_tokens: Option<u32>,
        zipf: Option<f64>,
    ) -> Result<Shape, (&'static str, String)> {
        if kind != "shared_prefix" {
            let set = [
                ("groups", groups.is_some()),
                ("prefix_tokens", prefix_tokens.is_some()),
                ("zipf", zipf.is_some()),
            ];
            return match set.iter().find(|(_, s)| *s) {
                Some((f, _)) => Err((f, "only for the shared_prefix workload".into())),
                None => Ok(Shape::Single),
            };
        }
        let groups = match groups {
            None => return Err(("groups", "required by the shared_prefix workload".into())),
            Some(g @ 1..=MAX_GROUPS) => g,
            Some(g) => {
                return Err((
                    "groups",
                    format!("must be between 1 and {MAX_GROUPS}, got {g}"),
                ));
            }
        };
        let prefix_tokens = match prefix_tokens {
            None => {
                return Err((
                    "prefix_tokens",
                    "required by the shared_prefix workload".into(),
                ));
            }
            Some(0) => return Err(("prefix_tokens", "must be at least 1".into())),
            Some(p) => p,
        };
        if let Some(z) = zipf
            && !(z.is_finite() && z > 0.0 && z <= 10.0)
        {
            return Err(("zipf", format!("must be above 0 and at most 10, got {z}")));
        }
        Ok(Shape::SharedPrefix {
            groups,
            prefix_tokens,
            zipf,
        })
    }
}

/// The group of each of `n` prompts: seeded draws, uniform over `groups` or by Zipf's law
/// with exponent `zipf` (group 0 the most often: weight `1 / (g + 1)^zipf`).
pub fn draw_groups(n: usize, groups: u32, zipf: Option<f64>, seed: u64) -> Vec<u32> {
    let groups = groups.max(1);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0x6772_6f75_7073);
    let Some(s) = zipf else {
        return (0..n).map(|_| rng.random_range(0..groups)).collect();
    };
    let mut cdf: Vec<f64> = Vec::with_capacity(groups as usize);
    let mut total = 0.0;
    for g in 0..groups {
        total += 1.0 / f64::from(g + 1).powf(s);
        cdf.push(total);
    }
    (0..n)
        .map(|_| {
            let u = rng.random::<f64>() * total;
            cdf.partition_point(|c| *c <= u).min(groups as usize - 1) as u32
        })
        .collect()
}

/// SHA-256 (hex) of `prompts` in order, each as its role-labelled text and a separator.
pub fn digest(prompts: &[Prompt]) -> String {
    let mut h = Sha256::new();
    for p in prompts {
        h.update(p.as_text().as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The report of a workload: `prompts` as built.
pub fn report(
    shape: Shape,
    prompts: &[Prompt],
    input_tokens: Option<u32>,
    output_tokens: u32,
    seed: u64,
    unique: bool,
) -> WorkloadReport {
    let (groups, prefix_tokens, zipf) = match shape {
        Shape::Single => (None, None, None),
        Shape::SharedPrefix {
            groups,
            prefix_tokens,
            zipf,
        } => (Some(groups), Some(prefix_tokens), zipf),
    };
    WorkloadReport {
        kind: shape.name().into(),
        groups,
        prefix_tokens,
        zipf,
        input_tokens,
        output_tokens,
        seed,
        unique_prompts: unique,
        prompts: prompts.len() as u64,
        prompts_sha256: digest(prompts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_with_the_field_named() {
        assert_eq!(Shape::from_def(None), Ok(Shape::Single));
        let def = |kind: &str, groups, prefix_tokens, zipf| WorkloadDef {
            kind: Some(kind.into()),
            groups,
            prefix_tokens,
            zipf,
        };
        assert_eq!(
            Shape::from_def(Some(&def("shared_prefix", Some(4), Some(64), None))),
            Ok(Shape::SharedPrefix {
                groups: 4,
                prefix_tokens: 64,
                zipf: None
            })
        );
        for (d, want) in [
            (
                def("chat", None, None, None),
                "workload.kind: 'chat' is not",
            ),
            (
                def("single", Some(2), None, None),
                "workload.groups: only for",
            ),
            (
                def("shared_prefix", None, Some(8), None),
                "workload.groups: required",
            ),
            (
                def("shared_prefix", Some(0), Some(8), None),
                "workload.groups: must be between",
            ),
            (
                def("shared_prefix", Some(2), None, None),
                "workload.prefix_tokens: required",
            ),
            (
                def("shared_prefix", Some(2), Some(0), None),
                "workload.prefix_tokens: must be",
            ),
            (
                def("shared_prefix", Some(2), Some(8), Some(-1.0)),
                "workload.zipf: must be",
            ),
        ] {
            let e = Shape::from_def(Some(&d)).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn groups_are_drawn_uniformly_or_by_zipf_and_repeat_with_the_seed() {
        let n = 20_000;
        let count = |v: &[u32], g: u32| v.iter().filter(|x| **x == g).count() as f64;
        let u = draw_groups(n, 4, None, 7);
        assert_eq!(u, draw_groups(n, 4, None, 7));
        assert_ne!(u, draw_groups(n, 4, None, 8));
        for g in 0..4 {
            assert!((count(&u, g) / n as f64 - 0.25).abs() < 0.02, "{g}");
        }
        assert!(u.iter().all(|g| *g < 4));
        // Zipf with exponent 1 over 4 groups: weights 1, 1/2, 1/3, 1/4 of 25/12.
        let z = draw_groups(n, 4, Some(1.0), 7);
        for (g, w) in [
            (0, 12.0 / 25.0),
            (1, 6.0 / 25.0),
            (2, 4.0 / 25.0),
            (3, 3.0 / 25.0),
        ] {
            assert!((count(&z, g) / n as f64 - w).abs() < 0.02, "{g}");
        }
    }

    #[test]
    fn the_digest_follows_the_prompts() {
        let a = [Prompt::Text("a".into()), Prompt::Text("b".into())];
        let b = [Prompt::Text("ab".into())];
        assert_eq!(digest(&a), digest(&a.clone()));
        assert_ne!(digest(&a), digest(&b));
        assert_eq!(digest(&[]).len(), 64);
    }
}
