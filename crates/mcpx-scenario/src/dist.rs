//! Distributions: the `dist = "..."` inline tables of `mcpx-scenario/1`, compiled for sampling.
//!
//! Values are in the internal unit of their quantity ([`Unit`]): microseconds for durations,
//! bytes for sizes, plain numbers for counts. Every sampler is an explicit algorithm over
//! [`Rng`], so a seed gives the same schedule on every platform.

use crate::limits::MAX_ZIPF_RANKS;
use crate::rng::Rng;

/// The quantity a distribution describes, fixed by where it appears in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// A duration: keys end in `_ms` or `_s` (or `_us`); sampled in microseconds.
    Duration,
    /// A size: keys end in `_bytes`; sampled in bytes.
    Bytes,
    /// A plain number (a count): keys carry no unit suffix.
    Count,
}

impl Unit {
    /// How the unit is written in key names, for error messages.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Duration => "a duration (keys ending in _ms or _s, e.g. median_ms)",
            Self::Bytes => "a size (keys ending in _bytes, e.g. median_bytes)",
            Self::Count => "a plain number (keys without a unit suffix, e.g. mean)",
        }
    }
}

/// A compiled distribution (not `zipf`, which needs the number of ranks: see [`Zipf`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Dist {
    /// `ln X ~ Normal(ln median, sigma)`, then clamped (not redrawn) to `[min, max]`.
    LogNormal {
        /// Median, internal unit.
        median: f64,
        /// Standard deviation of `ln X`.
        sigma: f64,
        /// Lower clamp, internal unit (0 if absent).
        min: f64,
        /// Upper clamp, internal unit (infinite if absent).
        max: f64,
    },
    /// `offset + K`, `K ~ NegBin(mean, r)` (variance `mean + mean^2 / r`), the sum clamped to `max`.
    NegBin {
        /// Added to every draw.
        offset: u64,
        /// Mean of `K`.
        mean: f64,
        /// Dispersion.
        r: f64,
        /// Upper clamp of the sum.
        max: u64,
    },
    /// One of `values`, with relative `weights` (normalised when compiled).
    Categorical {
        /// The values, internal unit.
        values: Vec<f64>,
        /// Cumulative normalised weights, the last one 1.
        cumulative: Vec<f64>,
    },
    /// Uniform on `[min, max)`.
    Uniform {
        /// Lower bound, internal unit.
        min: f64,
        /// Upper bound, internal unit.
        max: f64,
    },
    /// Always `value`.
    Constant(f64),
}

impl Dist {
    /// A lognormal in the internal unit.
    #[must_use]
    pub fn lognormal(median: f64, sigma: f64, min: f64, max: f64) -> Self {
        Self::LogNormal {
            median,
            sigma,
            min,
            max,
        }
    }

    /// A categorical distribution; `None` if the lists are empty, of different lengths, or the
    /// weights are negative or sum to zero.
    #[must_use]
    pub fn categorical(values: Vec<f64>, weights: &[f64]) -> Option<Self> {
        let cumulative = cumulative_weights(weights)?;
        (values.len() == cumulative.len()).then_some(Self::Categorical { values, cumulative })
    }

    /// This distribution of a quantity measured in a unit `factor` times larger: every draw
    /// is multiplied by `factor` (for durations: [`crate::Scenario::scale_time`]).
    ///
    /// Exact, parameter by parameter: a lognormal's `median`, `min` and `max` (an infinite `max`
    /// stays infinite; `sigma` is a ratio and does not change), a uniform's `min` and `max`, a
    /// constant's value and a categorical's `values` (its weights do not change) are multiplied,
    /// so with the same [`Rng`] state the scaled draw is `factor` × the unscaled one (up to the
    /// rounding of one `f64` product, a relative 1e-16). `negbin` describes counts only (the parser rejects it for
    /// durations and sizes) and is returned unchanged. `factor` is meant to be finite and > 0.
    #[must_use]
    pub fn scaled(&self, factor: f64) -> Self {
        match self {
            Self::LogNormal {
                median,
                sigma,
                min,
                max,
            } => Self::LogNormal {
                median: median * factor,
                sigma: *sigma,
                min: min * factor,
                max: max * factor,
            },
            Self::NegBin { .. } => self.clone(),
            Self::Categorical { values, cumulative } => Self::Categorical {
                values: values.iter().map(|v| v * factor).collect(),
                cumulative: cumulative.clone(),
            },
            Self::Uniform { min, max } => Self::Uniform {
                min: min * factor,
                max: max * factor,
            },
            Self::Constant(v) => Self::Constant(v * factor),
        }
    }

    /// Whether every parameter is a finite number (a lognormal's `max` may be infinite: no
    /// upper clamp).
    pub(crate) fn is_finite(&self) -> bool {
        match self {
            Self::LogNormal {
                median, sigma, min, ..
            } => median.is_finite() && sigma.is_finite() && min.is_finite(),
            Self::NegBin { mean, r, .. } => mean.is_finite() && r.is_finite(),
            Self::Categorical { values, .. } => values.iter().all(|v| v.is_finite()),
            Self::Uniform { min, max } => min.is_finite() && max.is_finite(),
            Self::Constant(v) => v.is_finite(),
        }
    }

    /// One draw, in the internal unit.
    pub fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Self::LogNormal {
                median,
                sigma,
                min,
                max,
            } => {
                let x = median * (sigma * rng.normal()).exp();
                // max/min, not clamp: never panics, even on a hand-built Dist with min > max.
                x.max(*min).min(*max)
            }
            Self::NegBin {
                offset,
                mean,
                r,
                max,
            } => {
                let room = max.saturating_sub(*offset);
                (offset.saturating_add(negbin(rng, *mean, *r, room))).min(*max) as f64
            }
            Self::Categorical { values, cumulative } => {
                let i = pick_cumulative(cumulative, rng.f64());
                values.get(i).copied().unwrap_or(0.0)
            }
            Self::Uniform { min, max } => rng.uniform(*min, *max),
            Self::Constant(v) => *v,
        }
    }

    /// One draw as a whole number of the internal unit (microseconds, bytes, a count),
    /// rounded to nearest; negative draws become 0.
    pub fn sample_u64(&self, rng: &mut Rng) -> u64 {
        let x = self.sample(rng).round();
        // `as` saturates: NaN -> 0, negative -> 0, huge -> u64::MAX.
        x as u64
    }

    /// The theoretical mean (of the clamped distribution for `negbin`; of the unclamped one
    /// for `lognormal`, `median * exp(sigma^2 / 2)`, a good approximation when the clamps are
    /// far in the tails).
    #[must_use]
    pub fn mean(&self) -> f64 {
        match self {
            Self::LogNormal { median, sigma, .. } => median * (sigma * sigma / 2.0).exp(),
            Self::NegBin {
                offset,
                mean,
                r,
                max,
            } => {
                let room = max.saturating_sub(*offset);
                let mut m = 0.0;
                let mut acc = 0.0;
                let (mut pk, q) = negbin_start(*mean, *r);
                for k in 0..room {
                    m += k as f64 * pk;
                    acc += pk;
                    pk *= (k as f64 + r) / (k as f64 + 1.0) * q;
                }
                m += room as f64 * (1.0 - acc).max(0.0);
                *offset as f64 + m
            }
            Self::Categorical { values, cumulative } => {
                let mut prev = 0.0;
                let mut m = 0.0;
                for (v, c) in values.iter().zip(cumulative) {
                    m += v * (c - prev);
                    prev = *c;
                }
                m
            }
            Self::Uniform { min, max } => (min + max) / 2.0,
            Self::Constant(v) => *v,
        }
    }
}

/// `P(K = 0)` and `1 - p` of `NegBin(mean, r)`, `p = r / (r + mean)`.
fn negbin_start(mean: f64, r: f64) -> (f64, f64) {
    let p = r / (r + mean);
    (p.powf(r), 1.0 - p)
}

/// `K ~ NegBin(mean, r)` by inversion of the CDF (one uniform, `O(K)` steps, at most `room`).
///
/// Exact (no approximation), and the step count is bounded by the clamp.
fn negbin(rng: &mut Rng, mean: f64, r: f64, room: u64) -> u64 {
    if mean <= 0.0 {
        return 0;
    }
    let u = rng.f64();
    let (mut pk, q) = negbin_start(mean, r);
    let mut cdf = pk;
    let mut k = 0u64;
    while u >= cdf && k < room {
        pk *= (k as f64 + r) / (k as f64 + 1.0) * q;
        k += 1;
        cdf += pk;
    }
    k
}

/// Normalised cumulative weights, or `None` when empty, negative, non-finite or all zero.
pub(crate) fn cumulative_weights(weights: &[f64]) -> Option<Vec<f64>> {
    if weights.is_empty() || weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return None;
    }
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return None;
    }
    let mut acc = 0.0;
    let mut out: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    if let Some(last) = out.last_mut() {
        *last = 1.0;
    }
    Some(out)
}

/// The index `i` with `cumulative[i-1] <= u < cumulative[i]`, skipping zero-weight entries.
pub(crate) fn pick_cumulative(cumulative: &[f64], u: f64) -> usize {
    let i = cumulative.partition_point(|c| *c <= u);
    i.min(cumulative.len().saturating_sub(1))
}

/// Zipf over ranks `1..=n`: rank `k` has weight `k^-s` (`s = 0` is uniform).
#[derive(Debug, Clone, PartialEq)]
pub struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    /// The table for `n` ranks (at most [`MAX_ZIPF_RANKS`]); `None` if `n == 0` or `s` is not a
    /// finite number `>= 0`.
    #[must_use]
    pub fn new(s: f64, n: usize) -> Option<Self> {
        if n == 0 || n > MAX_ZIPF_RANKS || !s.is_finite() || s < 0.0 {
            return None;
        }
        let weights: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        Some(Self {
            cumulative: cumulative_weights(&weights)?,
        })
    }

    /// A table with explicit relative weights per rank (rank 1 first).
    #[must_use]
    pub fn from_weights(weights: &[f64]) -> Option<Self> {
        Some(Self {
            cumulative: cumulative_weights(weights)?,
        })
    }

    /// A rank, 0-based (0 = the most popular).
    pub fn sample(&self, rng: &mut Rng) -> usize {
        pick_cumulative(&self.cumulative, rng.f64())
    }

    /// Probability of the 0-based rank `i`.
    #[must_use]
    pub fn probability(&self, i: usize) -> f64 {
        let hi = self.cumulative.get(i).copied().unwrap_or(0.0);
        let lo = if i == 0 {
            0.0
        } else {
            self.cumulative.get(i - 1).copied().unwrap_or(1.0)
        };
        hi - lo
    }

    /// Number of ranks.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cumulative.len()
    }

    /// Never true (a table has at least one rank); for clippy's `len_without_is_empty`.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cumulative.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(d: &Dist, n: usize, seed: u64) -> Vec<f64> {
        let mut r = Rng::from_seed(seed);
        let mut v: Vec<f64> = (0..n).map(|_| d.sample(&mut r)).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn q(sorted: &[f64], p: f64) -> f64 {
        sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
    }

    fn mean(v: &[f64]) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    fn close(got: f64, want: f64, rel: f64) {
        assert!(
            (got - want).abs() <= rel * want.abs(),
            "got {got}, want {want} +- {rel}"
        );
    }

    #[test]
    fn lognormal_quantiles() {
        // think.between_steps: LN(4 s, 0.75) [0.3 s, 180 s]: p10 1.5 s, p90 10.5 s, p99 23 s.
        let d = Dist::lognormal(4e6, 0.75, 3e5, 1.8e8);
        let v = draws(&d, 200_000, 1);
        close(q(&v, 0.5), 4e6, 0.02);
        close(q(&v, 0.1), 4e6 * (-1.281_551_6f64 * 0.75).exp(), 0.02);
        close(q(&v, 0.9), 4e6 * (1.281_551_6f64 * 0.75).exp(), 0.02);
        close(q(&v, 0.99), 4e6 * (2.326_347_9f64 * 0.75).exp(), 0.04);
        close(mean(&v), d.mean(), 0.02);
        // args_size: LN(120 B, 1.1): p90 ~ 490 B.
        let a = draws(&Dist::lognormal(120.0, 1.1, 2.0, 65536.0), 200_000, 2);
        close(q(&a, 0.9), 492.0, 0.03);
    }

    #[test]
    fn lognormal_clamps() {
        let d = Dist::lognormal(100.0, 3.0, 50.0, 200.0);
        let v = draws(&d, 10_000, 3);
        assert_eq!(v[0], 50.0);
        assert_eq!(v[v.len() - 1], 200.0);
    }

    #[test]
    fn negbin_moments() {
        // session.steps: 1 + NegBin(mean 4, r 1.2), max 100: mean 5, median 4, p90 10.
        let d = Dist::NegBin {
            offset: 1,
            mean: 4.0,
            r: 1.2,
            max: 100,
        };
        let v = draws(&d, 200_000, 4);
        close(mean(&v), 5.0, 0.01);
        close(d.mean(), 5.0, 0.001);
        assert_eq!(q(&v, 0.5), 4.0);
        assert_eq!(q(&v, 0.9), 10.0);
        let m = mean(&v) - 1.0;
        let var = v.iter().map(|x| (x - 1.0 - m).powi(2)).sum::<f64>() / v.len() as f64;
        close(var, 4.0 + 16.0 / 1.2, 0.03);
        // user_turns: 1 + NegBin(2, 1.5), max 50: mean 3, median 2.
        let t = draws(
            &Dist::NegBin {
                offset: 1,
                mean: 2.0,
                r: 1.5,
                max: 50,
            },
            200_000,
            5,
        );
        close(mean(&t), 3.0, 0.01);
        assert_eq!(q(&t, 0.5), 2.0);
        // The clamp holds.
        let c = draws(
            &Dist::NegBin {
                offset: 1,
                mean: 50.0,
                r: 0.5,
                max: 20,
            },
            10_000,
            6,
        );
        assert_eq!(c[c.len() - 1], 20.0);
    }

    #[test]
    fn categorical_shares() {
        let d = Dist::categorical(
            vec![1.0, 2.0, 3.0, 4.0, 5.0],
            &[0.72, 0.17, 0.07, 0.03, 0.01],
        )
        .unwrap();
        let v = draws(&d, 200_000, 7);
        close(mean(&v), 1.44, 0.01);
        close(d.mean(), 1.44, 1e-9);
        let ones = v.iter().filter(|x| **x == 1.0).count() as f64 / v.len() as f64;
        close(ones, 0.72, 0.01);
        assert!(Dist::categorical(vec![1.0], &[0.0]).is_none());
        assert!(Dist::categorical(vec![1.0, 2.0], &[1.0]).is_none());
    }

    #[test]
    fn uniform_and_constant() {
        let v = draws(&Dist::Uniform { min: 1e6, max: 3e7 }, 100_000, 8);
        close(mean(&v), 1.55e7, 0.01);
        close(q(&v, 0.25), 1e6 + 0.25 * 2.9e7, 0.02);
        assert!(v[0] >= 1e6 && v[v.len() - 1] < 3e7);
        assert_eq!(Dist::Constant(5.0).sample(&mut Rng::from_seed(0)), 5.0);
    }

    #[test]
    fn scaled_time_distributions() {
        let f = 0.01;
        let ln = Dist::lognormal(4e6, 0.75, 3e5, 1.8e8);
        assert_eq!(
            ln.scaled(f),
            Dist::lognormal(4e6 * f, 0.75, 3e5 * f, 1.8e8 * f)
        );
        let open = Dist::lognormal(4e6, 0.75, 0.0, f64::INFINITY);
        assert_eq!(
            open.scaled(f),
            Dist::lognormal(4e6 * f, 0.75, 0.0, f64::INFINITY)
        );
        let un = Dist::Uniform { min: 1e6, max: 3e7 };
        assert_eq!(
            un.scaled(f),
            Dist::Uniform {
                min: 1e6 * f,
                max: 3e7 * f
            }
        );
        assert_eq!(Dist::Constant(5e6).scaled(f), Dist::Constant(5e6 * f));
        let cat = Dist::categorical(vec![1e5, 2e5], &[1.0, 3.0]).unwrap();
        assert_eq!(
            cat.scaled(f),
            Dist::categorical(vec![1e5 * f, 2e5 * f], &[1.0, 3.0]).unwrap()
        );
        let nb = Dist::NegBin {
            offset: 1,
            mean: 4.0,
            r: 1.2,
            max: 100,
        };
        assert_eq!(nb.scaled(f), nb);
        // Same RNG state: the scaled draw is f times the unscaled one, clamps included.
        for d in [ln, open, un, cat] {
            let s = d.scaled(f);
            let (mut a, mut b) = (Rng::from_seed(11), Rng::from_seed(11));
            for _ in 0..10_000 {
                let (x, y) = (d.sample(&mut a), s.sample(&mut b));
                assert!((y - x * f).abs() <= 1e-12 * x, "{d:?}: {x} -> {y}");
            }
            assert!((s.mean() - d.mean() * f).abs() <= 1e-9 * d.mean());
        }
        assert!(!Dist::Constant(1e300).scaled(1e10).is_finite());
    }

    #[test]
    fn zipf_ranks() {
        let z = Zipf::new(1.1, 12).unwrap();
        let h: f64 = (1..=12).map(|k| (k as f64).powf(-1.1)).sum();
        let mut r = Rng::from_seed(9);
        let mut counts = [0usize; 12];
        let n = 300_000;
        for _ in 0..n {
            counts[z.sample(&mut r)] += 1;
        }
        for (i, c) in counts.iter().enumerate() {
            let p = ((i + 1) as f64).powf(-1.1) / h;
            close(*c as f64 / n as f64, p, 0.05);
            close(z.probability(i), p, 1e-9);
        }
        assert!(Zipf::new(1.0, 0).is_none());
        assert!(Zipf::new(-1.0, 3).is_none());
    }
}
