//! Intraclass correlation for two raters who each scored every item (Shrout & Fleiss 1979;
//! McGraw & Wong 1996), from the two-way ANOVA without replication:
//!
//! - ICC(2,1), absolute agreement: raters are a random sample, and a rater who scores every
//!   item one point higher lowers it.
//! - ICC(3,1), consistency: raters are fixed, and such a constant offset does not count.
//!
//! The gap between the two is the part of the disagreement that is a systematic offset
//! between the raters; the ANOVA's F test for the rater effect says whether that offset is
//! more than noise. The 95% intervals are the F-based ones of McGraw & Wong (ICC(2,1) with
//! Satterthwaite's approximate degrees of freedom), as pingouin and R's `psych` give them.

use serde::Serialize;

use crate::special::{f_quantile, f_sf};

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Icc {
    /// ICC(2,1): two-way random effects, absolute agreement, single rater.
    pub icc2_1: f64,
    /// 95% interval of ICC(2,1); absent when the rater variance makes it undefined.
    pub icc2_1_ci: Option<[f64; 2]>,
    /// ICC(3,1): two-way mixed effects, consistency, single rater.
    pub icc3_1: f64,
    pub icc3_1_ci: Option<[f64; 2]>,
    /// F statistic and p-value of the rater effect (MS raters / MS error, df 1 and n - 1).
    pub rater_f: Option<f64>,
    pub rater_p: Option<f64>,
    pub items: usize,
}

/// ICC(2,1) and ICC(3,1) with 95% intervals. `None` when there are fewer than two items or
/// the items do not differ at all (every score the same), where the ICC is undefined.
pub fn icc(pairs: &[(f64, f64)]) -> Option<Icc> {
    let n = pairs.len();
    if n < 2 {
        return None;
    }
    let (nf, k) = (n as f64, 2.0);
    let grand = pairs.iter().map(|(a, b)| a + b).sum::<f64>() / (k * nf);
    let mean_a = pairs.iter().map(|(a, _)| a).sum::<f64>() / nf;
    let mean_b = pairs.iter().map(|(_, b)| b).sum::<f64>() / nf;
    let ss_total: f64 = pairs
        .iter()
        .map(|(a, b)| (a - grand).powi(2) + (b - grand).powi(2))
        .sum();
    let ss_items: f64 = k * pairs
        .iter()
        .map(|(a, b)| ((a + b) / k - grand).powi(2))
        .sum::<f64>();
    let ss_raters = nf * ((mean_a - grand).powi(2) + (mean_b - grand).powi(2));
    // Perfectly consistent raters leave a residual of rounding noise, not of error.
    let ss_error = ss_total - ss_items - ss_raters;
    let ss_error = if ss_error <= 1e-12 * ss_total {
        0.0
    } else {
        ss_error
    };
    let (df_items, df_error) = (nf - 1.0, (nf - 1.0) * (k - 1.0));
    let ms_items = ss_items / df_items;
    let ms_raters = ss_raters / (k - 1.0);
    let ms_error = ss_error / df_error;

    let denom3 = ms_items + (k - 1.0) * ms_error;
    let denom2 = denom3 + k * (ms_raters - ms_error) / nf;
    if denom3 <= 0.0 || denom2 <= 0.0 {
        return None;
    }
    let icc3 = (ms_items - ms_error) / denom3;
    let icc2 = (ms_items - ms_error) / denom2;

    let defined = ms_error > 0.0;
    let icc3_ci = defined.then(|| {
        let f = ms_items / ms_error;
        let lo = f / f_quantile(0.975, df_items, df_error);
        let hi = f * f_quantile(0.975, df_error, df_items);
        [(lo - 1.0) / (lo + k - 1.0), (hi - 1.0) / (hi + k - 1.0)]
    });
    let icc2_ci = if defined {
        let fj = ms_raters / ms_error;
        let a = nf * (1.0 + (k - 1.0) * icc2) - k * icc2;
        let v = df_error * (k * icc2 * fj + a).powi(2)
            / (df_items * k * k * icc2 * icc2 * fj * fj + a * a);
        if v.is_finite() && v > 0.0 {
            let f_upper = f_quantile(0.975, df_items, v);
            let f_lower = f_quantile(0.975, v, df_items);
            let spread = k * ms_raters + (k * nf - k - nf) * ms_error;
            let lo = nf * (ms_items - f_upper * ms_error) / (f_upper * spread + nf * ms_items);
            let hi = nf * (f_lower * ms_items - ms_error) / (spread + nf * f_lower * ms_items);
            Some([lo, hi])
        } else {
            None
        }
    } else {
        None
    };
    let (rater_f, rater_p) = if defined {
        let f = ms_raters / ms_error;
        (Some(f), Some(f_sf(f, k - 1.0, df_error)))
    } else {
        (None, None)
    };
    Some(Icc {
        icc2_1: icc2,
        icc2_1_ci: icc2_ci,
        icc3_1: icc3,
        icc3_1_ci: icc3_ci,
        rater_f,
        rater_p,
        items: n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_constant_offset_lowers_agreement_but_not_consistency() {
        // Rater b scores every item exactly one point below rater a.
        let pairs: Vec<(f64, f64)> = [1.0, 2.0, 3.0, 4.0, 5.0, 3.0]
            .iter()
            .map(|a| (*a, a - 1.0))
            .collect();
        let r = icc(&pairs).unwrap();
        assert!((r.icc3_1 - 1.0).abs() < 1e-12, "{r:?}");
        assert!(r.icc2_1 < 0.9, "{r:?}");
        // No residual error at all: the F intervals are undefined, not invented.
        assert_eq!(r.icc3_1_ci, None);
    }

    #[test]
    fn hand_computed_two_way_anova() {
        // Items (a, b): (1,2) (2,2) (3,4) (4,3). grand = 21/8.
        // SS items = 2 * sum((m_i - g)^2) with m = 1.5, 2, 3.5, 3.5 -> 2 * 3.1875 = 6.375.
        // mean a = 2.5, mean b = 2.75: SS raters = 4 * (0.015625 * 2) = 0.125.
        // SS total = 7.875, SS error = 1.375; MS items = 2.125, MS error = 0.458333.
        let pairs = [(1.0, 2.0), (2.0, 2.0), (3.0, 4.0), (4.0, 3.0)];
        let r = icc(&pairs).unwrap();
        let (msr, msc, mse) = (6.375 / 3.0, 0.125, 1.375 / 3.0);
        let want3 = (msr - mse) / (msr + mse);
        let want2 = (msr - mse) / (msr + mse + 2.0 * (msc - mse) / 4.0);
        assert!((r.icc3_1 - want3).abs() < 1e-12, "{r:?}");
        assert!((r.icc2_1 - want2).abs() < 1e-12, "{r:?}");
        let [lo, hi] = r.icc3_1_ci.unwrap();
        assert!(lo < r.icc3_1 && r.icc3_1 < hi, "{r:?}");
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(icc(&[(3.0, 3.0)]), None);
        assert_eq!(icc(&[(3.0, 3.0), (3.0, 3.0)]), None);
    }
}
