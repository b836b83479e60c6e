//! Binomial proportions with confidence intervals (Wald, Wilson, Clopper-Pearson).

use serde::{Deserialize, Serialize};

use crate::special::{beta_quantile, normal_quantile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Normal approximation; poor near 0 and 1 and for small n, kept for comparison.
    Wald,
    /// Wilson score interval; the default for rates such as discrepancies.
    Wilson,
    /// Clopper-Pearson "exact" interval from the beta distribution; conservative.
    Exact,
}

impl Method {
    pub fn parse(s: &str) -> Option<Method> {
        match s {
            "wald" => Some(Method::Wald),
            "wilson" => Some(Method::Wilson),
            "exact" | "clopper-pearson" => Some(Method::Exact),
            _ => None,
        }
    }
}

/// A proportion and its two-sided interval, all as fractions in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProportionError {
    #[error("trials must be at least 1")]
    NoTrials,
    #[error("successes ({successes}) cannot exceed trials ({trials})")]
    TooManySuccesses { successes: u64, trials: u64 },
    #[error("confidence must lie strictly between 0 and 1, got {0}")]
    BadConfidence(f64),
}

/// `successes` out of `trials` with a two-sided `confidence` interval (e.g. 0.95).
///
/// Wald and Wilson bounds are clipped to [0, 1], as statsmodels' `proportion_confint` does.
pub fn proportion(
    successes: u64,
    trials: u64,
    method: Method,
    confidence: f64,
) -> Result<Interval, ProportionError> {
    if trials == 0 {
        return Err(ProportionError::NoTrials);
    }
    if successes > trials {
        return Err(ProportionError::TooManySuccesses { successes, trials });
    }
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(ProportionError::BadConfidence(confidence));
    }
    let (x, n) = (successes as f64, trials as f64);
    let p = x / n;
    let alpha = 1.0 - confidence;
    let (lower, upper) = match method {
        Method::Wald => {
            let z = normal_quantile(1.0 - alpha / 2.0);
            let half = z * (p * (1.0 - p) / n).sqrt();
            (p - half, p + half)
        }
        Method::Wilson => {
            let z = normal_quantile(1.0 - alpha / 2.0);
            let z2 = z * z;
            let denom = 1.0 + z2 / n;
            let centre = (p + z2 / (2.0 * n)) / denom;
            let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
            (centre - half, centre + half)
        }
        Method::Exact => {
            // At 0 and n successes the bounds have closed forms, (alpha/2)^(1/n) from the
            // other end; written with exp and expm1 they keep their digits at any n.
            let tail = (alpha / 2.0).ln() / n;
            let lower = match successes {
                0 => 0.0,
                k if k == trials => tail.exp(),
                _ => beta_quantile(alpha / 2.0, x, n - x + 1.0),
            };
            let upper = match successes {
                k if k == trials => 1.0,
                0 => -tail.exp_m1(),
                _ => beta_quantile(1.0 - alpha / 2.0, x + 1.0, n - x),
            };
            (lower, upper)
        }
    };
    // The bounds straddle the estimate in exact arithmetic; the last bit of rounding in a
    // bisection or a square root must not put one on the wrong side.
    Ok(Interval {
        estimate: p,
        lower: lower.clamp(0.0, p),
        upper: upper.clamp(p, 1.0),
    })
}

/// The number of trials at which the Wilson interval around the rate `p` (as if it held
/// exactly) is no wider than `width`: the sample size a review needs for an agreed
/// precision. Searches upward from `at_least`; `None` when `width` is not in (0, 1).
pub fn trials_for_wilson_width(p: f64, width: f64, confidence: f64, at_least: u64) -> Option<u64> {
    if !(width > 0.0 && width < 1.0 && (0.0..=1.0).contains(&p)) {
        return None;
    }
    let wide = |n: u64| -> bool {
        let successes = (p * n as f64).round() as u64;
        proportion(successes, n, Method::Wilson, confidence)
            .map(|i| i.upper - i.lower > width)
            .unwrap_or(true)
    };
    let mut lo = at_least.max(1);
    if !wide(lo) {
        return Some(lo);
    }
    let mut hi = lo * 2;
    while wide(hi) {
        lo = hi;
        hi *= 2;
        if hi > 1 << 40 {
            return None;
        }
    }
    // The width shrinks with n (up to the rounding of successes): bisect the first fit.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if wide(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trials_for_a_wilson_width_by_closed_form_at_one_hundred_percent() {
        // At p = 1 the Wilson interval is [n / (n + z^2), 1]: width z^2 / (n + z^2) <= w
        // from n = z^2 (1 - w) / w on. z = 1.959964, w = 0.05: n >= 72.99, so 73.
        assert_eq!(trials_for_wilson_width(1.0, 0.05, 0.95, 1), Some(73));
        assert_eq!(trials_for_wilson_width(1.0, 0.05, 0.95, 500), Some(500));
        // Around 50% it takes about (2 z / w)^2 = 1537 (Wald's rule; Wilson is close).
        let n = trials_for_wilson_width(0.5, 0.05, 0.95, 1).unwrap();
        assert!((1530..=1540).contains(&n), "{n}");
        assert_eq!(trials_for_wilson_width(0.5, 0.0, 0.95, 1), None);
    }

    #[test]
    fn exact_interval_at_zero_successes_has_closed_form() {
        // Clopper-Pearson upper bound for x = 0 is 1 - (alpha/2)^(1/n).
        for n in [1u64, 5, 20, 263] {
            let i = proportion(0, n, Method::Exact, 0.95).unwrap();
            assert_eq!(i.lower, 0.0);
            let expected = 1.0 - 0.025f64.powf(1.0 / n as f64);
            assert!(
                (i.upper - expected).abs() < 1e-12,
                "n={n}: {} vs {expected}",
                i.upper
            );
        }
    }

    #[test]
    fn exact_interval_at_all_successes_has_closed_form() {
        for n in [1u64, 7, 50] {
            let i = proportion(n, n, Method::Exact, 0.95).unwrap();
            assert_eq!(i.upper, 1.0);
            let expected = 0.025f64.powf(1.0 / n as f64);
            assert!((i.lower - expected).abs() < 1e-12);
        }
    }

    #[test]
    fn wilson_matches_newcombe_1998_example() {
        // Newcombe (1998), Statistics in Medicine 17:857, table I: 81/263, Wilson
        // 0.2553 to 0.3662.
        let i = proportion(81, 263, Method::Wilson, 0.95).unwrap();
        assert!((i.lower - 0.2553).abs() < 5e-5, "{i:?}");
        assert!((i.upper - 0.3662).abs() < 5e-5, "{i:?}");
    }

    #[test]
    fn bad_input_is_a_typed_error() {
        assert_eq!(
            proportion(1, 0, Method::Wald, 0.95),
            Err(ProportionError::NoTrials)
        );
        assert_eq!(
            proportion(5, 4, Method::Wald, 0.95),
            Err(ProportionError::TooManySuccesses {
                successes: 5,
                trials: 4
            })
        );
        assert_eq!(
            proportion(1, 4, Method::Wald, 1.0),
            Err(ProportionError::BadConfidence(1.0))
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn trials() -> impl Strategy<Value = u64> {
        prop_oneof![
            1u64..1_000,
            1u64..1_000_000_000,
            1u64..=1_000_000_000_000_000,
            Just(u64::MAX / 2)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_interval_holds_its_estimate(n in trials(), share in 0.0f64..=1.0, conf in 0.5f64..0.999) {
            let k = ((n as f64) * share).floor().min(n as f64) as u64;
            for m in [Method::Wald, Method::Wilson, Method::Exact] {
                let i = proportion(k, n, m, conf).unwrap();
                prop_assert!(0.0 <= i.lower && i.lower <= i.estimate && i.estimate <= i.upper && i.upper <= 1.0,
                    "{m:?} {k}/{n} at {conf}: {i:?}");
            }
        }
    }
}
