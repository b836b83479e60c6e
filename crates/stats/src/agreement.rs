//! Agreement between two raters scoring the same items on an ordinal scale: Cohen's kappa,
//! unweighted or with linear or quadratic weights.
//!
//! The categories are every integer from the lowest to the highest score seen, so a scale
//! point nobody used still counts in the distance between its neighbours (scores 2 and 4
//! are two steps apart even when no one scored 3).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Weights {
    /// Only exact agreement counts.
    None,
    /// Disagreement costs |i - j| / (k - 1).
    Linear,
    /// Disagreement costs ((i - j) / (k - 1))^2.
    Quadratic,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgreementError {
    #[error("no pairs to compare")]
    Empty,
    #[error("a kappa needs at least two categories")]
    OneCategory,
    #[error("scores span {0} scale points; at most {MAX_SCALE_POINTS} are supported")]
    ScaleTooWide(u64),
}

/// Integer scale points are expected (1-5, 1-10); a wider span is a data error.
pub const MAX_SCALE_POINTS: u64 = 1000;

/// The integer scale from the lowest to the highest score seen.
pub(crate) fn scale(pairs: &[(i64, i64)]) -> Result<std::ops::RangeInclusive<i64>, AgreementError> {
    let lo = pairs
        .iter()
        .map(|(a, b)| *a.min(b))
        .min()
        .ok_or(AgreementError::Empty)?;
    let hi = pairs
        .iter()
        .map(|(a, b)| *a.max(b))
        .max()
        .ok_or(AgreementError::Empty)?;
    let points = (hi as i128 - lo as i128 + 1) as u64;
    if points > MAX_SCALE_POINTS {
        return Err(AgreementError::ScaleTooWide(points));
    }
    Ok(lo..=hi)
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Kappa {
    pub kappa: f64,
    pub observed_agreement: f64,
    pub expected_agreement: f64,
    pub items: usize,
}

/// Cohen's kappa for paired scores on the integer scale the scores span.
pub fn cohen_kappa(pairs: &[(i64, i64)], weights: Weights) -> Result<Kappa, AgreementError> {
    let scale = scale(pairs)?;
    let lo = *scale.start();
    let k = scale.count();
    if k < 2 {
        return Err(AgreementError::OneCategory);
    }
    let idx = |v: i64| (v - lo) as usize;
    let n = pairs.len() as f64;
    let mut table = vec![vec![0.0; k]; k];
    for (a, b) in pairs {
        table[idx(*a)][idx(*b)] += 1.0 / n;
    }
    let rows: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..k).map(|j| table.iter().map(|r| r[j]).sum()).collect();
    // Agreement weight of cell (i, j): 1 on the diagonal, falling with distance.
    let w = |i: usize, j: usize| {
        let d = (i as f64 - j as f64).abs() / (k - 1) as f64;
        match weights {
            Weights::None => f64::from(u8::from(i == j)),
            Weights::Linear => 1.0 - d,
            Weights::Quadratic => 1.0 - d * d,
        }
    };
    let (mut po, mut pe) = (0.0, 0.0);
    for i in 0..k {
        for j in 0..k {
            po += w(i, j) * table[i][j];
            pe += w(i, j) * rows[i] * cols[j];
        }
    }
    let kappa = if (1.0 - pe).abs() < f64::EPSILON {
        1.0
    } else {
        (po - pe) / (1.0 - pe)
    };
    Ok(Kappa {
        kappa,
        observed_agreement: po,
        expected_agreement: pe,
        items: pairs.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kappa_matches_a_textbook_example() {
        // Two raters, 50 items: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
        // po = 0.7, pe = 0.5*0.6 + 0.5*0.4 = 0.5, kappa = 0.4.
        let mut pairs = vec![(1, 1); 20];
        pairs.extend(vec![(1, 0); 5]);
        pairs.extend(vec![(0, 1); 10]);
        pairs.extend(vec![(0, 0); 15]);
        let k = cohen_kappa(&pairs, Weights::None).unwrap();
        assert!((k.kappa - 0.4).abs() < 1e-12, "{k:?}");
        assert!((k.observed_agreement - 0.7).abs() < 1e-12);
    }

    #[test]
    fn perfect_agreement_is_one_and_bad_input_is_refused() {
        let pairs = [(1, 1), (2, 2), (3, 3)];
        for w in [Weights::None, Weights::Linear, Weights::Quadratic] {
            assert!((cohen_kappa(&pairs, w).unwrap().kappa - 1.0).abs() < 1e-12);
        }
        assert_eq!(cohen_kappa(&[], Weights::None), Err(AgreementError::Empty));
        assert_eq!(
            cohen_kappa(&[(2, 2)], Weights::None),
            Err(AgreementError::OneCategory)
        );
        assert_eq!(
            cohen_kappa(&[(0, 5000)], Weights::None),
            Err(AgreementError::ScaleTooWide(5001))
        );
    }

    #[test]
    fn an_unused_scale_point_still_separates_its_neighbours() {
        // Scores 2 and 4 with nobody scoring 3: on the scale 2..=4 a 2-4 disagreement is
        // the full distance, so quadratic kappa equals unweighted kappa here; were 3 dropped
        // the two would still agree, so compare against a pair set that does use 3.
        let gap = [(2, 2), (4, 4), (2, 4), (4, 4), (2, 2)];
        let q = cohen_kappa(&gap, Weights::Quadratic).unwrap();
        let u = cohen_kappa(&gap, Weights::None).unwrap();
        assert!((q.kappa - u.kappa).abs() < 1e-12, "{q:?} {u:?}");
        // With weights on a three-point scale a one-step miss counts 3/4 agreement.
        let near = [(2, 3), (3, 3), (4, 4), (2, 2)];
        let k = cohen_kappa(&near, Weights::Quadratic).unwrap();
        assert!(
            (k.observed_agreement - (3.0 + 0.75) / 4.0).abs() < 1e-12,
            "{k:?}"
        );
    }
}
