//! Agreement between two raters scoring the same items on an ordinal scale: Cohen's kappa,
//! unweighted or with linear or quadratic weights.

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
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Kappa {
    pub kappa: f64,
    pub observed_agreement: f64,
    pub expected_agreement: f64,
    pub items: usize,
}

/// Cohen's kappa for paired scores; categories are the distinct scores seen, in order.
pub fn cohen_kappa(pairs: &[(i64, i64)], weights: Weights) -> Result<Kappa, AgreementError> {
    if pairs.is_empty() {
        return Err(AgreementError::Empty);
    }
    let mut cats: Vec<i64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    cats.sort_unstable();
    cats.dedup();
    let k = cats.len();
    if k < 2 {
        return Err(AgreementError::OneCategory);
    }
    let idx = |v: i64| cats.binary_search(&v).expect("category seen");
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
    }
}
