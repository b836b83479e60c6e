//! Bland-Altman analysis of paired scores: the mean difference a - b (the bias) and the 95%
//! limits of agreement, mean ± 1.96 SD of the differences (Bland & Altman, Lancet 1986).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BlandAltman {
    pub mean_difference: f64,
    /// Sample standard deviation of the differences (n - 1 in the denominator).
    pub sd_difference: f64,
    pub loa_lower: f64,
    pub loa_upper: f64,
    pub items: usize,
}

/// Bland & Altman's multiplier, kept at their published 1.96.
pub const LOA_Z: f64 = 1.96;

/// `None` with fewer than two pairs: one difference has no spread.
pub fn bland_altman(pairs: &[(f64, f64)]) -> Option<BlandAltman> {
    let n = pairs.len();
    if n < 2 {
        return None;
    }
    let diffs = pairs.iter().map(|(a, b)| a - b);
    let mean = diffs.clone().sum::<f64>() / n as f64;
    let var = diffs.map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    Some(BlandAltman {
        mean_difference: mean,
        sd_difference: sd,
        loa_lower: mean - LOA_Z * sd,
        loa_upper: mean + LOA_Z * sd,
        items: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed() {
        // Differences 1, 0, 2, 1: mean 1, SD sqrt(2/3).
        let r = bland_altman(&[(3.0, 2.0), (2.0, 2.0), (5.0, 3.0), (4.0, 3.0)]).unwrap();
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((r.mean_difference - 1.0).abs() < 1e-12);
        assert!((r.loa_lower - (1.0 - 1.96 * sd)).abs() < 1e-12);
        assert!((r.loa_upper - (1.0 + 1.96 * sd)).abs() < 1e-12);
        assert_eq!(bland_altman(&[(1.0, 2.0)]), None);
    }
}
