//! Everything radgate reports on two raters who scored the same items: agreement
//! (quadratic kappa, ICC, Krippendorff's alpha, Bland-Altman) and the tests for a
//! systematic bias between them that agreement figures alone hide.

use serde::Serialize;

use crate::agreement::{AgreementError, Weights, cohen_kappa};
use crate::bland_altman::bland_altman;
use crate::gwet::gwet_ac2_quadratic;
use crate::icc::icc;
use crate::krippendorff::krippendorff_alpha_ordinal;
use crate::marginal::{StuartMaxwell, stuart_maxwell};
use crate::signed_rank::{SignedRank, wilcoxon_signed_rank};

/// Figures that are undefined for the data at hand (one item, one score value) are `None`
/// (JSON null) rather than a made-up number.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RaterComparison {
    pub n: usize,
    pub kappa_quadratic: Option<f64>,
    pub icc2_1: Option<f64>,
    pub icc2_1_ci: Option<[f64; 2]>,
    pub icc3_1: Option<f64>,
    pub icc3_1_ci: Option<[f64; 2]>,
    pub krippendorff_alpha_ordinal: Option<f64>,
    /// Mean of a - b: positive when rater a scores higher.
    pub mean_difference: Option<f64>,
    pub sd_difference: Option<f64>,
    pub loa_lower: Option<f64>,
    pub loa_upper: Option<f64>,
    pub bias: Bias,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bias {
    /// ICC(3,1) - ICC(2,1): the share of agreement lost to a constant offset between raters.
    pub icc_consistency_minus_agreement: Option<f64>,
    /// p-value of the two-way ANOVA's rater effect.
    pub rater_effect_p: Option<f64>,
    /// Do the raters use the scale points equally often?
    pub stuart_maxwell: Option<StuartMaxwell>,
    /// Are the differences a - b centred on zero?
    pub wilcoxon: Option<SignedRank>,
    /// Gwet's AC2 (quadratic weights): stays interpretable when scores pile up at one end.
    pub gwet_ac2_quadratic: Option<f64>,
}

pub fn compare_raters(pairs: &[(i64, i64)]) -> Result<RaterComparison, AgreementError> {
    if pairs.is_empty() {
        return Err(AgreementError::Empty);
    }
    let kappa = match cohen_kappa(pairs, Weights::Quadratic) {
        Ok(k) => Some(k.kappa),
        Err(AgreementError::OneCategory) => None,
        Err(e) => return Err(e),
    };
    let gwet = gwet_ac2_quadratic(pairs)?;
    let real: Vec<(f64, f64)> = pairs.iter().map(|(a, b)| (*a as f64, *b as f64)).collect();
    let icc = icc(&real);
    let ba = bland_altman(&real);
    let diffs: Vec<f64> = real.iter().map(|(a, b)| a - b).collect();
    let mean_difference = diffs.iter().sum::<f64>() / diffs.len() as f64;
    Ok(RaterComparison {
        n: pairs.len(),
        kappa_quadratic: kappa,
        icc2_1: icc.map(|i| i.icc2_1),
        icc2_1_ci: icc.and_then(|i| i.icc2_1_ci),
        icc3_1: icc.map(|i| i.icc3_1),
        icc3_1_ci: icc.and_then(|i| i.icc3_1_ci),
        krippendorff_alpha_ordinal: krippendorff_alpha_ordinal(pairs),
        mean_difference: Some(mean_difference),
        sd_difference: ba.map(|b| b.sd_difference),
        loa_lower: ba.map(|b| b.loa_lower),
        loa_upper: ba.map(|b| b.loa_upper),
        bias: Bias {
            icc_consistency_minus_agreement: icc.map(|i| i.icc3_1 - i.icc2_1),
            rater_effect_p: icc.and_then(|i| i.rater_p),
            stuart_maxwell: stuart_maxwell(pairs),
            wilcoxon: Some(wilcoxon_signed_rank(&diffs)),
            gwet_ac2_quadratic: gwet,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lenient_rater_is_caught_by_every_bias_test() {
        // Rater a scores one point above b on most items, otherwise they track each other.
        let b_scores = [1, 2, 3, 4, 2, 3, 1, 2, 3, 4, 2, 3, 1, 2, 3, 4, 3, 2, 1, 4];
        let pairs: Vec<(i64, i64)> = b_scores
            .iter()
            .enumerate()
            .map(|(i, b)| (if i % 5 == 0 { *b } else { b + 1 }, *b))
            .collect();
        let r = compare_raters(&pairs).unwrap();
        assert!(r.mean_difference.unwrap() > 0.7, "{r:?}");
        assert!(
            r.bias.icc_consistency_minus_agreement.unwrap() > 0.1,
            "{r:?}"
        );
        assert!(r.bias.rater_effect_p.unwrap() < 0.001, "{r:?}");
        assert!(r.bias.wilcoxon.unwrap().p_value < 0.001, "{r:?}");
        assert!(r.bias.stuart_maxwell.unwrap().p_value < 0.05, "{r:?}");
    }

    #[test]
    fn one_pair_reports_what_is_defined_and_nulls_the_rest() {
        let r = compare_raters(&[(3, 4)]).unwrap();
        assert_eq!(r.n, 1);
        assert_eq!(r.mean_difference, Some(-1.0));
        assert_eq!(
            (r.icc2_1, r.loa_lower, r.krippendorff_alpha_ordinal),
            (None, None, None)
        );
        assert_eq!(compare_raters(&[]), Err(AgreementError::Empty));
    }
}
