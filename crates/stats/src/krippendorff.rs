//! Krippendorff's alpha for two raters on an ordinal scale, without missing scores
//! (Krippendorff, Content Analysis, 4th ed., ch. 12).
//!
//! alpha = 1 - D_o / D_e from the coincidence matrix, with the ordinal distance
//! d(c, k) = (sum of n_g for g from c to k  -  (n_c + n_k) / 2)^2, so a disagreement costs
//! more the more scores lie between the two values.

/// Krippendorff's ordinal alpha; `None` with fewer than two items or when every score is the
/// same value (no expected disagreement to compare with).
pub fn krippendorff_alpha_ordinal(pairs: &[(i64, i64)]) -> Option<f64> {
    if pairs.len() < 2 {
        return None;
    }
    let mut values: Vec<i64> = pairs.iter().flat_map(|(a, b)| [*a, *b]).collect();
    values.sort_unstable();
    values.dedup();
    let v = values.len();
    if v < 2 {
        return None;
    }
    let idx = |x: i64| values.binary_search(&x).expect("value seen");
    // Each item with two scores adds both ordered pairs to the coincidence matrix.
    let mut coincidences = vec![vec![0.0f64; v]; v];
    for (a, b) in pairs {
        coincidences[idx(*a)][idx(*b)] += 1.0;
        coincidences[idx(*b)][idx(*a)] += 1.0;
    }
    let marginal: Vec<f64> = coincidences.iter().map(|r| r.iter().sum()).collect();
    let n: f64 = marginal.iter().sum();
    // Prefix sums make each distance O(1).
    let mut prefix = vec![0.0; v + 1];
    for c in 0..v {
        prefix[c + 1] = prefix[c] + marginal[c];
    }
    let distance = |c: usize, k: usize| {
        let (lo, hi) = (c.min(k), c.max(k));
        let between = prefix[hi + 1] - prefix[lo];
        (between - (marginal[c] + marginal[k]) / 2.0).powi(2)
    };
    let (mut observed, mut expected) = (0.0, 0.0);
    for c in 0..v {
        for k in 0..v {
            if c != k {
                let d = distance(c, k);
                observed += coincidences[c][k] * d;
                expected += marginal[c] * marginal[k] * d;
            }
        }
    }
    if expected <= 0.0 {
        return None;
    }
    Some(1.0 - (n - 1.0) * observed / expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_agreement_is_one() {
        let a = krippendorff_alpha_ordinal(&[(1, 1), (2, 2), (3, 3)]).unwrap();
        assert!((a - 1.0).abs() < 1e-12);
    }

    #[test]
    fn hand_computed_binary_case() {
        // Two values: ordinal distance between them is (n_0/2 + n_1/2)^2 = (n/2)^2, which
        // cancels, so alpha equals the nominal alpha: 1 - (n - 1) o_01 / (n_0 n_1).
        // Items (0,0) (0,1) (1,1) (1,1): o_01 = 1 (+1 mirrored), n_0 = 3, n_1 = 5, n = 8.
        let a = krippendorff_alpha_ordinal(&[(0, 0), (0, 1), (1, 1), (1, 1)]).unwrap();
        let want = 1.0 - 7.0 * 2.0 / (2.0 * 3.0 * 5.0);
        assert!((a - want).abs() < 1e-12, "{a} vs {want}");
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(krippendorff_alpha_ordinal(&[(2, 2), (2, 2)]), None);
        assert_eq!(krippendorff_alpha_ordinal(&[(1, 2)]), None);
    }
}
