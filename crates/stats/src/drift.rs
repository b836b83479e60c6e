//! Label-free drift signals: has the distribution of an AI application's scores moved
//! away from a baseline window? Two-sample Kolmogorov-Smirnov and the population
//! stability index; for categories (the input mix: site, scanner, protocol), the PSI of
//! counts and the chi-square test of homogeneity.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KolmogorovSmirnov {
    /// The largest distance between the two empirical distribution functions.
    pub statistic: f64,
    /// Asymptotic two-sided p-value (Kolmogorov distribution of sqrt(n m / (n + m)) D).
    pub p_value: f64,
}

/// Two-sample KS test; `None` when a sample is empty or holds a non-finite value.
pub fn ks_two_sample(a: &[f64], b: &[f64]) -> Option<KolmogorovSmirnov> {
    if a.is_empty() || b.is_empty() || a.iter().chain(b).any(|x| !x.is_finite()) {
        return None;
    }
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (n, m) = (a.len(), b.len());
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < n && j < m {
        // Step past every copy of the smaller value in both samples, so ties move together.
        let x = a[i].min(b[j]);
        while i < n && a[i] <= x {
            i += 1;
        }
        while j < m && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n as f64 - j as f64 / m as f64).abs());
    }
    let en = (n as f64 * m as f64 / (n + m) as f64).sqrt();
    Some(KolmogorovSmirnov {
        statistic: d,
        p_value: kolmogorov_q(en * d),
    })
}

/// P(K > x) for the Kolmogorov distribution: 2 sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2).
fn kolmogorov_q(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if x < 0.2 {
        // The alternating series converges slowly here, and the value is 1 to 15 digits.
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let term = (-2.0 * (k * k) as f64 * x * x).exp();
        sum += if k % 2 == 1 { term } else { -term };
        if term < 1e-18 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Population stability index of `current` against `baseline` over the bins given by
/// `edges` (k + 1 increasing edges make k bins; values outside go to the end bins). Empty
/// bins get `epsilon` of probability so the logarithm stays finite.
pub fn psi(baseline: &[f64], current: &[f64], edges: &[f64], epsilon: f64) -> Option<f64> {
    if baseline.is_empty() || current.is_empty() || edges.len() < 2 {
        return None;
    }
    let bins = edges.len() - 1;
    let share = |xs: &[f64]| {
        let mut counts = vec![0.0; bins];
        for x in xs {
            let i = edges[1..edges.len() - 1].partition_point(|e| e <= x);
            counts[i] += 1.0;
        }
        counts
            .into_iter()
            .map(|c| (c / xs.len() as f64).max(epsilon))
            .collect::<Vec<_>>()
    };
    let (p, q) = (share(baseline), share(current));
    Some(p.iter().zip(&q).map(|(p, q)| (q - p) * (q / p).ln()).sum())
}

/// Population stability index of two category count vectors (the same categories in the
/// same order); empty categories get `epsilon` of probability. `None` when either side
/// counts nothing or the lengths differ.
pub fn psi_counts(baseline: &[u64], current: &[u64], epsilon: f64) -> Option<f64> {
    let (nb, nc) = (baseline.iter().sum::<u64>(), current.iter().sum::<u64>());
    if nb == 0 || nc == 0 || baseline.len() != current.len() {
        return None;
    }
    Some(
        baseline
            .iter()
            .zip(current)
            .map(|(&b, &c)| {
                let p = (b as f64 / nb as f64).max(epsilon);
                let q = (c as f64 / nc as f64).max(epsilon);
                (q - p) * (q / p).ln()
            })
            .sum(),
    )
}

/// Pearson's chi-square test of homogeneity of two count vectors over the same
/// categories (a 2 x k table, no continuity correction).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Homogeneity {
    pub statistic: f64,
    /// Categories seen on either side, less one.
    pub df: u64,
    pub p_value: f64,
}

/// `None` when either side counts nothing, the lengths differ, or only one category is
/// seen at all. Categories empty on both sides are left out.
pub fn chi2_homogeneity(a: &[u64], b: &[u64]) -> Option<Homogeneity> {
    let (na, nb) = (a.iter().sum::<u64>() as f64, b.iter().sum::<u64>() as f64);
    if na == 0.0 || nb == 0.0 || a.len() != b.len() {
        return None;
    }
    let n = na + nb;
    let mut statistic = 0.0;
    let mut seen = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        let col = (x + y) as f64;
        if col == 0.0 {
            continue;
        }
        seen += 1;
        let (ea, eb) = (na * col / n, nb * col / n);
        statistic += (x as f64 - ea).powi(2) / ea + (y as f64 - eb).powi(2) / eb;
    }
    if seen < 2 {
        return None;
    }
    let df = seen - 1;
    Some(Homogeneity {
        statistic,
        df,
        p_value: crate::special::chi2_sf(statistic, df as f64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_psi_by_hand() {
        // p = (0.5, 0.5), q = (0.8, 0.2): 0.3 ln(1.6) + (-0.3) ln(0.4) = 0.41589.
        let v = psi_counts(&[50, 50], &[80, 20], 1e-4).unwrap();
        let hand = 0.3 * 1.6f64.ln() - 0.3 * 0.4f64.ln();
        assert!((v - hand).abs() < 1e-12, "{v} {hand}");
        assert!(psi_counts(&[10, 0], &[10, 0], 1e-4).unwrap().abs() < 1e-15);
        assert_eq!(psi_counts(&[0, 0], &[1, 2], 1e-4), None);
    }

    #[test]
    fn identical_samples_do_not_drift() {
        let a: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
        let ks = ks_two_sample(&a, &a).unwrap();
        assert_eq!(ks.statistic, 0.0);
        assert_eq!(ks.p_value, 1.0);
        assert!(
            psi(&a, &a, &[0.0, 0.25, 0.5, 0.75, 1.0], 1e-4)
                .unwrap()
                .abs()
                < 1e-15
        );
    }

    #[test]
    fn disjoint_samples_have_distance_one() {
        let ks = ks_two_sample(&[0.1, 0.2, 0.3], &[0.7, 0.8, 0.9]).unwrap();
        assert_eq!(ks.statistic, 1.0);
        assert!(ks_two_sample(&[], &[1.0]).is_none());
    }

    #[test]
    fn psi_matches_its_definition() {
        // Baseline half/half; current 0.8/0.2: (0.8-0.5) ln(1.6) + (0.2-0.5) ln(0.4).
        let base = [0.1, 0.2, 0.7, 0.8];
        let cur = [0.1, 0.1, 0.1, 0.1, 0.9];
        let expected = 0.3 * 1.6f64.ln() + (-0.3) * 0.4f64.ln();
        assert!((psi(&base, &cur, &[0.0, 0.5, 1.0], 1e-6).unwrap() - expected).abs() < 1e-12);
    }
}
