//! Wilcoxon's signed-rank test on paired differences a - b: is one rater systematically
//! higher? Zero differences are dropped (Wilcoxon's own rule) and tied absolute
//! differences get average ranks.
//!
//! With at most [`EXACT_MAX`] non-zero differences the p-value is exact: the distribution of
//! the positive rank sum over all 2^n sign assignments, ties included (the conditional
//! permutation distribution, which is Wilcoxon's exact distribution when there are no
//! ties). Above that, the normal approximation with the tie-corrected variance and no
//! continuity correction.

use serde::Serialize;

use crate::special::normal_cdf;

/// Largest count of non-zero differences for which the exact distribution is enumerated.
pub const EXACT_MAX: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignedRankMethod {
    Exact,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SignedRank {
    /// Sum of the ranks of the positive differences (a > b).
    pub w_plus: f64,
    /// Sum of the ranks of the negative differences.
    pub w_minus: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    pub method: SignedRankMethod,
    /// Differences that were not zero, the test's effective sample size.
    pub nonzero: usize,
}

pub fn wilcoxon_signed_rank(differences: &[f64]) -> SignedRank {
    let mut nz: Vec<f64> = differences.iter().copied().filter(|d| *d != 0.0).collect();
    nz.sort_by(|a, b| a.abs().total_cmp(&b.abs()));
    let n = nz.len();
    // Average ranks for runs of equal |d|, doubled so every rank is an integer.
    let mut rank2 = vec![0u64; n];
    let mut ties_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && nz[j + 1].abs() == nz[i].abs() {
            j += 1;
        }
        // Ranks i+1 ..= j+1 average to (i + j + 2) / 2; doubled: i + j + 2.
        for r in &mut rank2[i..=j] {
            *r = (i + j + 2) as u64;
        }
        let t = (j - i + 1) as f64;
        ties_term += t * t * t - t;
        i = j + 1;
    }
    let w_plus2: u64 = nz
        .iter()
        .zip(&rank2)
        .filter(|(d, _)| **d > 0.0)
        .map(|(_, r)| r)
        .sum();
    let total2: u64 = rank2.iter().sum();
    let w_plus = w_plus2 as f64 / 2.0;
    let w_minus = (total2 - w_plus2) as f64 / 2.0;
    if n == 0 {
        // Every pair agreed exactly: the only possible outcome, no evidence of a shift.
        return SignedRank {
            w_plus,
            w_minus,
            p_value: 1.0,
            method: SignedRankMethod::Exact,
            nonzero: 0,
        };
    }
    if n <= EXACT_MAX {
        // counts[s] = number of sign assignments whose doubled positive rank sum is s.
        let mut counts = vec![0.0f64; total2 as usize + 1];
        counts[0] = 1.0;
        let mut reach = 0usize;
        for r in &rank2 {
            let r = *r as usize;
            for s in (0..=reach).rev() {
                if counts[s] > 0.0 {
                    counts[s + r] += counts[s];
                }
            }
            reach += r;
        }
        let all = 2f64.powi(n as i32);
        let at_most: f64 = counts[..=w_plus2 as usize].iter().sum::<f64>() / all;
        let at_least: f64 = counts[w_plus2 as usize..].iter().sum::<f64>() / all;
        return SignedRank {
            w_plus,
            w_minus,
            p_value: (2.0 * at_most.min(at_least)).min(1.0),
            method: SignedRankMethod::Exact,
            nonzero: n,
        };
    }
    let nf = n as f64;
    let mean = nf * (nf + 1.0) / 4.0;
    let sd = ((nf * (nf + 1.0) * (2.0 * nf + 1.0) - ties_term / 2.0) / 24.0).sqrt();
    let z = (w_plus - mean) / sd;
    SignedRank {
        w_plus,
        w_minus,
        p_value: (2.0 * normal_cdf(-z.abs())).min(1.0),
        method: SignedRankMethod::Normal,
        nonzero: n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_small_case_by_hand() {
        // Differences 1, 2, 3 all positive: W+ = 6, the largest of 8 equally likely sums,
        // so the two-sided p is 2/8.
        let r = wilcoxon_signed_rank(&[1.0, 2.0, 3.0, 0.0]);
        assert_eq!((r.w_plus, r.w_minus, r.nonzero), (6.0, 0.0, 3));
        assert!((r.p_value - 0.25).abs() < 1e-15, "{r:?}");
        assert_eq!(r.method, SignedRankMethod::Exact);
    }

    #[test]
    fn ties_get_average_ranks_and_all_zero_gives_one() {
        // |d| = 1, 1, 2: ranks 1.5, 1.5, 3. Signs + - +: W+ = 4.5, W- = 1.5.
        let r = wilcoxon_signed_rank(&[1.0, -1.0, 2.0]);
        assert_eq!((r.w_plus, r.w_minus), (4.5, 1.5));
        assert_eq!(wilcoxon_signed_rank(&[0.0, 0.0]).p_value, 1.0);
    }

    #[test]
    fn large_samples_use_the_normal_approximation() {
        let d: Vec<f64> = (1..=60)
            .map(|i| if i % 3 == 0 { -1.0 } else { 1.0 } * i as f64)
            .collect();
        let r = wilcoxon_signed_rank(&d);
        assert_eq!(r.method, SignedRankMethod::Normal);
        assert!(r.p_value > 0.0 && r.p_value < 0.05, "{r:?}");
    }
}
