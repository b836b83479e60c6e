//! Gwet's AC2 with quadratic weights for two raters (Gwet, Handbook of Inter-Rater
//! Reliability, 4th ed.). Its chance agreement does not grow when the scores pile up at
//! one end of the scale, where kappa's does and kappa collapses ("the kappa paradox"), so
//! the two side by side show whether a low kappa is disagreement or a skewed scale.

use crate::agreement::{AgreementError, scale};

/// AC2 with quadratic weights on the integer scale the scores span. `None` when every score
/// is the same value (a one-point scale has no chance agreement to correct for).
pub fn gwet_ac2_quadratic(pairs: &[(i64, i64)]) -> Result<Option<f64>, AgreementError> {
    let scale = scale(pairs)?;
    let lo = *scale.start();
    let q = scale.count();
    if q < 2 {
        return Ok(None);
    }
    let span = (q - 1) as f64;
    let weight = |a: i64, b: i64| 1.0 - ((a - b) as f64 / span).powi(2);
    let n = pairs.len() as f64;
    let observed = pairs.iter().map(|(a, b)| weight(*a, *b)).sum::<f64>() / n;
    let mut share = vec![0.0; q];
    for (a, b) in pairs {
        share[(a - lo) as usize] += 0.5 / n;
        share[(b - lo) as usize] += 0.5 / n;
    }
    // Sum of all q x q weights, in closed form over the distances.
    let total_weight: f64 = (0..q)
        .flat_map(|i| (0..q).map(move |j| (i, j)))
        .map(|(i, j)| weight(i as i64, j as i64))
        .sum();
    let chance = total_weight / (q as f64 * (q as f64 - 1.0))
        * share.iter().map(|p| p * (1.0 - p)).sum::<f64>();
    if (1.0 - chance).abs() < f64::EPSILON {
        return Ok(None);
    }
    Ok(Some((observed - chance) / (1.0 - chance)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_agreement_is_one() {
        let ac2 = gwet_ac2_quadratic(&[(1, 1), (3, 3), (5, 5)])
            .unwrap()
            .unwrap();
        assert!((ac2 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_two_point_case() {
        // Scale 0..=1: weights are the identity, T_w = 2, q(q-1) = 2.
        // Items (1,1) x3 and (1,0): pa = 3/4; pi_1 = 7/8, pi_0 = 1/8.
        // pe = (2/2) * 2 * (7/8)(1/8) = 14/64; AC2 = (3/4 - 14/64)/(1 - 14/64) = 34/50.
        let ac2 = gwet_ac2_quadratic(&[(1, 1), (1, 1), (1, 1), (1, 0)])
            .unwrap()
            .unwrap();
        assert!((ac2 - 34.0 / 50.0).abs() < 1e-12, "{ac2}");
    }

    #[test]
    fn stays_high_when_scores_pile_up_where_kappa_collapses() {
        // 48 items both 5, two items one point apart: kappa is poor, AC2 is not.
        let mut pairs = vec![(5, 5); 48];
        pairs.extend([(4, 5), (5, 4)]);
        let ac2 = gwet_ac2_quadratic(&pairs).unwrap().unwrap();
        let kappa = crate::cohen_kappa(&pairs, crate::Weights::Quadratic)
            .unwrap()
            .kappa;
        assert!(ac2 > 0.95 && kappa < 0.0, "ac2 {ac2}, kappa {kappa}");
    }
}
