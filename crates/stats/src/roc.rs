//! Area under the ROC curve with DeLong's variance (DeLong, DeLong and Clarke-Pearson,
//! Biometrics 1988), for an AI application's scores against the final report's truth.

use serde::Serialize;

use crate::special::normal_quantile;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Auc {
    pub auc: f64,
    pub se: f64,
    pub lower: f64,
    pub upper: f64,
    pub positives: usize,
    pub negatives: usize,
}

/// The empirical ROC curve: `(false positive rate, true positive rate)` from (0, 0) at a
/// threshold above every score, one point per distinct score from the highest down
/// (calling "positive" at or above it), to (1, 1). Tied scores move both rates at once, as
/// scikit-learn's `roc_curve(..., drop_intermediate=False)` does. `None` unless both
/// classes have a finite score.
pub fn roc_curve(positives: &[f64], negatives: &[f64]) -> Option<Vec<(f64, f64)>> {
    if positives.is_empty()
        || negatives.is_empty()
        || positives.iter().chain(negatives).any(|x| !x.is_finite())
    {
        return None;
    }
    let mut all: Vec<(f64, bool)> = positives
        .iter()
        .map(|&x| (x, true))
        .chain(negatives.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (m, n) = (positives.len() as f64, negatives.len() as f64);
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut curve = vec![(0.0, 0.0)];
    let mut i = 0;
    while i < all.len() {
        let threshold = all[i].0;
        while i < all.len() && all[i].0 == threshold {
            if all[i].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        curve.push((fp / n, tp / m));
    }
    Some(curve)
}

/// `None` unless both classes have at least two finite scores.
pub fn auc_delong(positives: &[f64], negatives: &[f64], confidence: f64) -> Option<Auc> {
    let (m, n) = (positives.len(), negatives.len());
    if m < 2
        || n < 2
        || positives.iter().chain(negatives).any(|x| !x.is_finite())
        || !(0.0 < confidence && confidence < 1.0)
    {
        return None;
    }
    let mut neg = negatives.to_vec();
    let mut pos = positives.to_vec();
    neg.sort_by(f64::total_cmp);
    pos.sort_by(f64::total_cmp);
    // psi(x, y) = 1 if x > y, 1/2 if equal: counted with two binary searches per score.
    let below_or_tied = |sorted: &[f64], x: f64| {
        let below = sorted.partition_point(|v| *v < x);
        let tied = sorted.partition_point(|v| *v <= x) - below;
        below as f64 + 0.5 * tied as f64
    };
    let v10: Vec<f64> = positives
        .iter()
        .map(|x| below_or_tied(&neg, *x) / n as f64)
        .collect();
    let v01: Vec<f64> = negatives
        .iter()
        .map(|y| {
            let above = m - pos.partition_point(|v| *v <= *y);
            let tied = pos.partition_point(|v| *v <= *y) - pos.partition_point(|v| *v < *y);
            (above as f64 + 0.5 * tied as f64) / m as f64
        })
        .collect();
    let auc = v10.iter().sum::<f64>() / m as f64;
    let var = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let se = (var(&v10) / m as f64 + var(&v01) / n as f64).sqrt();
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    Some(Auc {
        auc,
        se,
        lower: (auc - z * se).max(0.0),
        upper: (auc + z * se).min(1.0),
        positives: m,
        negatives: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_separation_and_ties() {
        let a = auc_delong(&[0.8, 0.9, 0.95], &[0.1, 0.2, 0.3], 0.95).unwrap();
        assert_eq!(a.auc, 1.0);
        assert_eq!(a.se, 0.0);
        let t = auc_delong(&[0.5, 0.5], &[0.5, 0.5], 0.95).unwrap();
        assert_eq!(t.auc, 0.5, "all ties count half");
        assert!(auc_delong(&[0.5], &[0.1, 0.2], 0.95).is_none());
    }

    #[test]
    fn auc_is_the_share_of_correctly_ordered_pairs() {
        // Pairs (pos, neg): (0.6>0.2) (0.6>0.7? no) (0.9>0.2) (0.9>0.7) -> 3 of 4.
        let a = auc_delong(&[0.6, 0.9], &[0.2, 0.7], 0.95).unwrap();
        assert!((a.auc - 0.75).abs() < 1e-15);
    }
}
