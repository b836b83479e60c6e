//! Paired comparison of two binary readings on the same cases (AI against the initial human
//! report): McNemar's test on the discordant pairs.

use serde::Serialize;

use crate::special::{beta_inc, gamma_q};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McNemar {
    /// Cases where only the first reading was positive (or correct).
    pub b: u64,
    /// Cases where only the second reading was positive (or correct).
    pub c: u64,
    /// Chi-square statistic with continuity correction, (|b - c| - 1)^2 / (b + c), and 0
    /// when b = c: the correction never pushes the difference past zero (as R's
    /// `mcnemar.test`; statsmodels reports 1 / (b + c) there).
    pub statistic: f64,
    /// Two-sided p-value of the corrected chi-square test (1 degree of freedom).
    pub p_corrected: f64,
    /// Two-sided exact p-value: binomial test of b against Binomial(b + c, 1/2).
    pub p_exact: f64,
}

/// McNemar's test from the discordant counts `b` and `c`.
pub fn mcnemar(b: u64, c: u64) -> McNemar {
    let n = b + c;
    if n == 0 {
        return McNemar {
            b,
            c,
            statistic: 0.0,
            p_corrected: 1.0,
            p_exact: 1.0,
        };
    }
    let diff = (b as f64 - c as f64).abs();
    let statistic = (diff - 1.0).max(0.0).powi(2) / n as f64;
    // P(chi2_1 > x) = Q(1/2, x/2).
    let p_corrected = gamma_q(0.5, statistic / 2.0);
    // Two-sided exact: twice the smaller tail, at most 1. P(X <= k) = I_{1/2}(n-k, k+1).
    let k = b.min(c);
    let tail = if k == n {
        1.0
    } else {
        beta_inc((n - k) as f64, (k + 1) as f64, 0.5)
    };
    McNemar {
        b,
        c,
        statistic,
        p_corrected,
        p_exact: (2.0 * tail).min(1.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_p_matches_a_hand_computed_binomial_tail() {
        // b=1, c=9: P(X<=1 | n=10, p=1/2) = 11/1024, two-sided 22/1024.
        let m = mcnemar(1, 9);
        assert!((m.p_exact - 22.0 / 1024.0).abs() < 1e-13, "{m:?}");
        assert_eq!(mcnemar(5, 5).p_exact, 1.0);
        assert_eq!(mcnemar(0, 0).p_corrected, 1.0);
    }

    #[test]
    fn corrected_statistic_follows_its_formula() {
        let m = mcnemar(15, 5);
        assert!((m.statistic - 81.0 / 20.0).abs() < 1e-12);
    }
}
