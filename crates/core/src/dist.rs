//! Service, think and inter-arrival time distributions.
//!
//! A [`Dist`] is built from the parameters engineers know (a mean, a
//! coefficient of variation, a median and a 99th percentile) and samples in
//! nanoseconds. Each constructor checks its parameters and says what is wrong
//! with a [`DistError`]; sampling never fails.

use std::fmt;

use rand_distr::{Distribution, Gamma, StandardNormal};

use crate::rng::Stream;

/// The standard normal quantile at 0.99, used to fit a lognormal from p50 and p99.
pub const Z99: f64 = 2.326_347_874_040_840_8;

/// A probability distribution of a non-negative duration, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Const {
        /// The value, in nanoseconds.
        value: f64,
    },
    /// Exponential.
    Exp {
        /// The mean, in nanoseconds.
        mean: f64,
    },
    /// Uniform on `[low, high]`.
    Uniform {
        /// Lower bound, in nanoseconds.
        low: f64,
        /// Upper bound, in nanoseconds.
        high: f64,
    },
    /// Erlang: the sum of `k` independent exponential phases.
    Erlang {
        /// Number of phases.
        k: u32,
        /// The mean of the whole, in nanoseconds.
        mean: f64,
    },
    /// Gamma with a given mean and coefficient of variation.
    Gamma {
        /// The mean, in nanoseconds.
        mean: f64,
        /// The coefficient of variation (standard deviation over mean).
        cv: f64,
        /// The sampler, built once.
        sampler: Gamma<f64>,
    },
    /// Two-phase hyperexponential with balanced means (`p1/mu1 = p2/mu2`).
    HyperExp {
        /// The mean, in nanoseconds.
        mean: f64,
        /// The coefficient of variation, at least 1.
        cv: f64,
        /// Probability of the first phase.
        p1: f64,
        /// Mean of the first phase, in nanoseconds.
        mean1: f64,
        /// Mean of the second phase, in nanoseconds.
        mean2: f64,
    },
    /// Lognormal: `exp(mu + sigma Z)` with `Z` standard normal (in nanoseconds).
    LogNormal {
        /// Location of the underlying normal (log-nanoseconds).
        mu: f64,
        /// Scale of the underlying normal.
        sigma: f64,
    },
}

/// Why a distribution's parameters were refused.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum DistError {
    /// A mean, value or bound must be positive (or non-negative for bounds) and finite.
    NotPositive {
        /// The parameter's name, as the user writes it.
        param: &'static str,
    },
    /// `uniform(a, b)` needs `a <= b`.
    EmptyRange,
    /// `erlang(k=..)` needs `k >= 1`.
    BadPhases,
    /// A coefficient of variation outside what the law can take.
    BadCv {
        /// The smallest value the law accepts (exclusive when `inclusive` is false).
        min: f64,
        /// Whether `min` itself is accepted.
        inclusive: bool,
    },
    /// `lognormal(p50=.., p99=..)` needs `p99 > p50`.
    P99BelowP50,
}

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistError::NotPositive { param } => write!(f, "`{param}` must be positive and finite"),
            DistError::EmptyRange => write!(f, "the lower bound is above the upper bound"),
            DistError::BadPhases => write!(f, "`k` must be a whole number of phases, at least 1"),
            DistError::BadCv {
                min,
                inclusive: true,
            } => write!(f, "`cv` must be at least {min}"),
            DistError::BadCv {
                min,
                inclusive: false,
            } => write!(f, "`cv` must be above {min}"),
            DistError::P99BelowP50 => write!(f, "`p99` must be above `p50`"),
        }
    }
}

impl std::error::Error for DistError {}

fn positive(value: f64, param: &'static str) -> Result<f64, DistError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(DistError::NotPositive { param })
    }
}

impl Dist {
    /// A deterministic duration (zero allowed).
    pub fn constant(value: f64) -> Result<Dist, DistError> {
        if value.is_finite() && value >= 0.0 {
            Ok(Dist::Const { value })
        } else {
            Err(DistError::NotPositive { param: "value" })
        }
    }

    /// Exponential with the given mean.
    pub fn exp(mean: f64) -> Result<Dist, DistError> {
        Ok(Dist::Exp {
            mean: positive(mean, "mean")?,
        })
    }

    /// Uniform on `[low, high]`.
    pub fn uniform(low: f64, high: f64) -> Result<Dist, DistError> {
        if !(low.is_finite() && low >= 0.0) {
            return Err(DistError::NotPositive { param: "min" });
        }
        if !high.is_finite() {
            return Err(DistError::NotPositive { param: "max" });
        }
        if low > high {
            return Err(DistError::EmptyRange);
        }
        if high == 0.0 {
            return Err(DistError::NotPositive { param: "max" });
        }
        Ok(Dist::Uniform { low, high })
    }

    /// Erlang-`k` with the given mean.
    pub fn erlang(k: u32, mean: f64) -> Result<Dist, DistError> {
        if k == 0 {
            return Err(DistError::BadPhases);
        }
        Ok(Dist::Erlang {
            k,
            mean: positive(mean, "mean")?,
        })
    }

    /// Gamma with the given mean and coefficient of variation (shape `1/cv²`).
    pub fn gamma(mean: f64, cv: f64) -> Result<Dist, DistError> {
        let mean = positive(mean, "mean")?;
        if !(cv.is_finite() && cv > 0.0) {
            return Err(DistError::BadCv {
                min: 0.0,
                inclusive: false,
            });
        }
        let shape = 1.0 / (cv * cv);
        let sampler = Gamma::new(shape, mean / shape).map_err(|_| DistError::BadCv {
            min: 0.0,
            inclusive: false,
        })?;
        Ok(Dist::Gamma { mean, cv, sampler })
    }

    /// Two-phase hyperexponential with balanced means; needs `cv >= 1`.
    ///
    /// With `r = (cv² - 1) / (cv² + 1)`, the phases have probabilities
    /// `p1 = (1 + sqrt(r)) / 2`, `p2 = 1 - p1` and means `mean / (2 p1)`,
    /// `mean / (2 p2)`, which gives the requested mean and cv exactly.
    pub fn hyperexp(mean: f64, cv: f64) -> Result<Dist, DistError> {
        let mean = positive(mean, "mean")?;
        if !(cv.is_finite() && cv >= 1.0) {
            return Err(DistError::BadCv {
                min: 1.0,
                inclusive: true,
            });
        }
        let scv = cv * cv;
        let p1 = 0.5 * (1.0 + ((scv - 1.0) / (scv + 1.0)).sqrt());
        let p2 = 1.0 - p1;
        Ok(Dist::HyperExp {
            mean,
            cv,
            p1,
            mean1: mean / (2.0 * p1),
            mean2: mean / (2.0 * p2),
        })
    }

    /// Lognormal with the given mean and coefficient of variation:
    /// `sigma² = ln(1 + cv²)`, `mu = ln(mean) - sigma²/2`.
    pub fn lognormal_mean_cv(mean: f64, cv: f64) -> Result<Dist, DistError> {
        let mean = positive(mean, "mean")?;
        if !(cv.is_finite() && cv > 0.0) {
            return Err(DistError::BadCv {
                min: 0.0,
                inclusive: false,
            });
        }
        let sigma2 = (1.0 + cv * cv).ln();
        Ok(Dist::LogNormal {
            mu: mean.ln() - 0.5 * sigma2,
            sigma: sigma2.sqrt(),
        })
    }

    /// Lognormal with the given median and 99th percentile:
    /// `mu = ln(p50)`, `sigma = (ln p99 - ln p50) / z_0.99`.
    pub fn lognormal_p50_p99(p50: f64, p99: f64) -> Result<Dist, DistError> {
        let p50 = positive(p50, "p50")?;
        let p99 = positive(p99, "p99")?;
        if p99 <= p50 {
            return Err(DistError::P99BelowP50);
        }
        Ok(Dist::LogNormal {
            mu: p50.ln(),
            sigma: (p99.ln() - p50.ln()) / Z99,
        })
    }

    /// The same law with every duration multiplied by `factor` (> 0): the
    /// mean scales by `factor`, the coefficient of variation is unchanged.
    /// Used to turn work at the reference speed into time on a faster or
    /// slower machine.
    pub fn scaled(&self, factor: f64) -> Result<Dist, DistError> {
        let factor = positive(factor, "factor")?;
        match *self {
            Dist::Const { value } => Dist::constant(value * factor),
            Dist::Exp { mean } => Dist::exp(mean * factor),
            Dist::Uniform { low, high } => Dist::uniform(low * factor, high * factor),
            Dist::Erlang { k, mean } => Dist::erlang(k, mean * factor),
            Dist::Gamma { mean, cv, .. } => Dist::gamma(mean * factor, cv),
            Dist::HyperExp { mean, cv, .. } => Dist::hyperexp(mean * factor, cv),
            Dist::LogNormal { mu, sigma } => Ok(Dist::LogNormal {
                mu: mu + factor.ln(),
                sigma,
            }),
        }
    }

    /// The mean, in nanoseconds.
    pub fn mean(&self) -> f64 {
        match *self {
            Dist::Const { value } => value,
            Dist::Exp { mean } => mean,
            Dist::Uniform { low, high } => 0.5 * (low + high),
            Dist::Erlang { mean, .. } => mean,
            Dist::Gamma { mean, .. } => mean,
            Dist::HyperExp { mean, .. } => mean,
            Dist::LogNormal { mu, sigma } => (mu + 0.5 * sigma * sigma).exp(),
        }
    }

    /// The squared coefficient of variation (variance over mean squared).
    pub fn scv(&self) -> f64 {
        match *self {
            Dist::Const { .. } => 0.0,
            Dist::Exp { .. } => 1.0,
            Dist::Uniform { low, high } => {
                let m = 0.5 * (low + high);
                (high - low).powi(2) / 12.0 / (m * m)
            }
            Dist::Erlang { k, .. } => 1.0 / f64::from(k),
            Dist::Gamma { cv, .. } | Dist::HyperExp { cv, .. } => cv * cv,
            Dist::LogNormal { sigma, .. } => (sigma * sigma).exp() - 1.0,
        }
    }

    /// One draw, in nanoseconds (never negative).
    #[inline(always)]
    pub fn sample(&self, stream: &mut Stream) -> f64 {
        // The common laws inline in the engine's loop; the others out of line.
        match *self {
            Dist::Const { value } => value,
            Dist::Exp { mean } => -mean * stream.uniform_open0().ln(),
            _ => self.sample_other(stream),
        }
    }

    #[inline(never)]
    fn sample_other(&self, stream: &mut Stream) -> f64 {
        match *self {
            Dist::Const { value } => value,
            Dist::Exp { mean } => -mean * stream.uniform_open0().ln(),
            Dist::Uniform { low, high } => low + (high - low) * stream.uniform(),
            Dist::Erlang { k, mean } => {
                // The product of k uniforms has the law of exp(-Erlang(k, 1)).
                // Take logs in chunks so the product never underflows.
                let mut total = 0.0;
                let mut left = k;
                while left > 0 {
                    let chunk = left.min(16);
                    let mut product = 1.0;
                    for _ in 0..chunk {
                        product *= stream.uniform_open0();
                    }
                    total -= product.ln();
                    left -= chunk;
                }
                total * mean / f64::from(k)
            }
            Dist::Gamma { ref sampler, .. } => sampler.sample(stream.rng()),
            Dist::HyperExp {
                p1, mean1, mean2, ..
            } => {
                let phase_mean = if stream.uniform() < p1 { mean1 } else { mean2 };
                -phase_mean * stream.uniform_open0().ln()
            }
            Dist::LogNormal { mu, sigma } => {
                let z: f64 = StandardNormal.sample(stream.rng());
                (mu + sigma * z).exp()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1e6;

    /// Sample mean and squared coefficient of variation from `n` draws.
    fn moments(dist: &Dist, n: usize, seed: u64) -> (f64, f64) {
        let mut s = Stream::new(seed);
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let x = dist.sample(&mut s);
            assert!(x >= 0.0);
            sum += x;
            sum2 += x * x;
        }
        let mean = sum / n as f64;
        let var = sum2 / n as f64 - mean * mean;
        (mean, var / (mean * mean))
    }

    /// Every law's sample mean and scv agree with its formulas. With 400,000
    /// draws the standard error of the mean is at most sqrt(scv/n) ≈ 0.5% of the
    /// mean for scv <= 9; we allow 5 standard errors.
    #[test]
    fn sample_moments_match_parameters() {
        let cases = vec![
            Dist::constant(2.0 * MS).unwrap(),
            Dist::exp(4.0 * MS).unwrap(),
            Dist::uniform(1.0 * MS, 3.0 * MS).unwrap(),
            Dist::erlang(3, 9.0 * MS).unwrap(),
            Dist::erlang(40, 9.0 * MS).unwrap(),
            Dist::gamma(4.0 * MS, 0.5).unwrap(),
            Dist::gamma(4.0 * MS, 2.0).unwrap(),
            Dist::hyperexp(4.0 * MS, 3.0).unwrap(),
            Dist::lognormal_mean_cv(5.0 * MS, 1.5).unwrap(),
        ];
        let n = 400_000;
        for (i, dist) in cases.iter().enumerate() {
            let (mean, scv) = moments(dist, n, 100 + i as u64);
            let se = (dist.scv() / n as f64).sqrt() * dist.mean();
            assert!(
                (mean - dist.mean()).abs() <= 5.0 * se + 1e-9 * dist.mean(),
                "{dist:?}: mean {mean} vs {}",
                dist.mean()
            );
            // The scv estimate is noisier (fourth moments); 10% is ample for
            // these laws at this n except the heavy lognormal, given 20%.
            let tol = if matches!(dist, Dist::LogNormal { .. }) {
                0.2
            } else {
                0.1
            };
            assert!(
                (scv - dist.scv()).abs() <= tol * dist.scv().max(0.01),
                "{dist:?}: scv {scv} vs {}",
                dist.scv()
            );
        }
    }

    #[test]
    fn lognormal_from_percentiles_hits_them() {
        let dist = Dist::lognormal_p50_p99(5.0 * MS, 40.0 * MS).unwrap();
        let mut s = Stream::new(9);
        let mut xs: Vec<f64> = (0..200_000).map(|_| dist.sample(&mut s)).collect();
        xs.sort_by(f64::total_cmp);
        let p50 = xs[100_000];
        let p99 = xs[198_000];
        assert!((p50 / (5.0 * MS) - 1.0).abs() < 0.02, "p50 {p50}");
        assert!((p99 / (40.0 * MS) - 1.0).abs() < 0.05, "p99 {p99}");
    }

    #[test]
    fn scaling_keeps_the_shape() {
        let laws = [
            Dist::constant(2.0).unwrap(),
            Dist::exp(4.0).unwrap(),
            Dist::uniform(1.0, 3.0).unwrap(),
            Dist::erlang(3, 9.0).unwrap(),
            Dist::gamma(4.0, 0.5).unwrap(),
            Dist::hyperexp(4.0, 3.0).unwrap(),
            Dist::lognormal_mean_cv(5.0, 1.5).unwrap(),
        ];
        for d in laws {
            let s = d.scaled(0.25).unwrap();
            assert!(
                (s.mean() - 0.25 * d.mean()).abs() < 1e-9 * d.mean(),
                "{d:?}"
            );
            assert!((s.scv() - d.scv()).abs() < 1e-9, "{d:?}");
        }
        assert!(Dist::exp(1.0).unwrap().scaled(0.0).is_err());
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert_eq!(
            Dist::exp(0.0),
            Err(DistError::NotPositive { param: "mean" })
        );
        assert_eq!(
            Dist::exp(-1.0),
            Err(DistError::NotPositive { param: "mean" })
        );
        assert_eq!(Dist::uniform(3.0, 1.0), Err(DistError::EmptyRange));
        assert_eq!(Dist::erlang(0, 1.0), Err(DistError::BadPhases));
        assert!(Dist::hyperexp(1.0, 0.5).is_err());
        assert!(Dist::gamma(1.0, 0.0).is_err());
        assert_eq!(
            Dist::lognormal_p50_p99(5.0, 4.0),
            Err(DistError::P99BelowP50)
        );
    }
}
