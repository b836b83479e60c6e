//! The assessor-agreement figures against the packages a statistician would reach for:
//! scikit-learn (weighted kappa), pingouin (ICC with intervals), krippendorff (ordinal
//! alpha), statsmodels (Stuart-Maxwell), scipy (Wilcoxon signed-rank), irrCAC (Gwet's AC2)
//! and numpy (Bland-Altman), on generated pairs of rater scores.

mod common;

use common::{Gen, close, reference};
use radgate_stats::{SignedRankMethod, compare_raters, wilcoxon_signed_rank};
use serde_json::json;

const PYTHON: &str = r#"
import json, sys, warnings
import numpy as np, pandas as pd
import pingouin, krippendorff
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.contingency_tables import SquareTable
from scipy.stats import wilcoxon
from irrCAC.raw import CAC

warnings.simplefilter("ignore")
pingouin.options["round"] = None
pingouin.options["round.column.CI95"] = None
inp = json.load(sys.stdin)
out = {"pairs": [], "wilcoxon": []}
for pairs in inp["pairs"]:
    a = np.array([p[0] for p in pairs]); b = np.array([p[1] for p in pairs])
    lo, hi = int(min(a.min(), b.min())), int(max(a.max(), b.max()))
    scale = list(range(lo, hi + 1))
    r = {}
    r["kappa"] = float(cohen_kappa_score(a, b, weights="quadratic", labels=scale))
    long = pd.DataFrame({"item": list(range(len(a))) * 2, "rater": ["a"] * len(a) + ["b"] * len(b),
                         "score": np.concatenate([a, b]).astype(float)})
    icc = pingouin.intraclass_corr(long, targets="item", raters="rater", ratings="score").set_index("Type")
    r["icc2"] = float(icc.loc["ICC(A,1)", "ICC"]); r["icc2_ci"] = [float(x) for x in icc.loc["ICC(A,1)", "CI95"]]
    r["icc3"] = float(icc.loc["ICC(C,1)", "ICC"]); r["icc3_ci"] = [float(x) for x in icc.loc["ICC(C,1)", "CI95"]]
    r["alpha"] = float(krippendorff.alpha(reliability_data=np.array([a, b], dtype=float),
                                          level_of_measurement="ordinal"))
    d = a - b
    sd = d.std(ddof=1)
    r["ba"] = [float(d.mean()), float(d.mean() - 1.96 * sd), float(d.mean() + 1.96 * sd)]
    cats = sorted(set(a.tolist()) | set(b.tolist()))
    idx = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for x, y in zip(a, b):
        table[idx[x], idx[y]] += 1
    sm = SquareTable(table, shift_zeros=False).homogeneity()
    r["stuart_maxwell"] = [float(sm.statistic), int(sm.df), float(sm.pvalue)]
    g = CAC(pd.DataFrame({"a": a, "b": b}), weights="quadratic", categories=scale, digits=15).gwet()
    r["gwet"] = float(g["est"]["coefficient_value"])
    out["pairs"].append(r)
for d, method in inp["wilcoxon"]:
    res = wilcoxon(np.array(d), method=method, correction=False) if method != "auto" else wilcoxon(np.array(d))
    out["wilcoxon"].append([float(res.statistic), float(res.pvalue)])
def clean(o):
    if isinstance(o, float) and o != o:
        return None
    if isinstance(o, list):
        return [clean(x) for x in o]
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    return o
print(json.dumps(clean(out)))
"#;

fn some(v: Option<f64>, what: &str) -> f64 {
    v.unwrap_or_else(|| panic!("{what} is undefined"))
}

#[test]
fn rater_agreement_matches_independent_implementations() {
    let mut g = Gen(0x2545_F491_4F6C_DD1D);
    let mut cases: Vec<Vec<(i64, i64)>> = Vec::new();
    for i in 0..40 {
        // 1-5 KKB-like scales and 1-10 rubric-like ones; some raters lenient by a point.
        let (lo, hi) = if i % 2 == 0 { (1i64, 5i64) } else { (1, 10) };
        let bias = [0, 0, 1, -1][i % 4];
        let n = 6 + g.below(80);
        let span = (hi - lo + 1) as u64;
        let pairs = (0..n)
            .map(|_| {
                let a = lo + g.below(span) as i64;
                let noise = g.below(3) as i64 - 1;
                let b = (a + bias + if g.unit() < 0.5 { 0 } else { noise }).clamp(lo, hi);
                (a, b)
            })
            .collect();
        cases.push(pairs);
    }
    // Wilcoxon regimes scipy computes the same way we do: small samples with ties (its
    // exhaustive permutation test), tie-free samples up to 50 (its exact distribution),
    // and larger samples (its normal approximation).
    let mut wilcoxon_cases: Vec<(Vec<f64>, &str)> = Vec::new();
    for _ in 0..15 {
        let n = 4 + g.below(10);
        let d = (0..n).map(|_| g.below(7) as f64 - 2.0).collect();
        wilcoxon_cases.push((d, "auto"));
    }
    for _ in 0..15 {
        let n = 5 + g.below(46);
        let d = (0..n).map(|_| g.unit() * 4.0 - 1.5).collect();
        wilcoxon_cases.push((d, "exact"));
    }
    for _ in 0..15 {
        let n = 60 + g.below(200);
        let d = (0..n).map(|_| g.below(5) as f64 - 1.0).collect();
        wilcoxon_cases.push((d, "asymptotic"));
    }
    let r = reference(
        PYTHON,
        &json!({ "pairs": cases, "wilcoxon": wilcoxon_cases }),
    );
    let mut compared_sm = 0;
    for (pairs, want) in cases.iter().zip(r["pairs"].as_array().unwrap()) {
        let ours = compare_raters(pairs).unwrap();
        let w = |k: &str| want[k].as_f64().unwrap();
        let wi = |k: &str, i: usize| want[k][i].as_f64().unwrap();
        close(
            some(ours.kappa_quadratic, "kappa"),
            w("kappa"),
            1e-10,
            "kappa",
        );
        close(some(ours.icc2_1, "icc2"), w("icc2"), 1e-10, "ICC(2,1)");
        close(some(ours.icc3_1, "icc3"), w("icc3"), 1e-10, "ICC(3,1)");
        let [l2, u2] = ours.icc2_1_ci.expect("ICC(2,1) interval");
        close(l2, wi("icc2_ci", 0), 1e-8, "ICC(2,1) lower");
        close(u2, wi("icc2_ci", 1), 1e-8, "ICC(2,1) upper");
        let [l3, u3] = ours.icc3_1_ci.expect("ICC(3,1) interval");
        close(l3, wi("icc3_ci", 0), 1e-8, "ICC(3,1) lower");
        close(u3, wi("icc3_ci", 1), 1e-8, "ICC(3,1) upper");
        close(
            some(ours.krippendorff_alpha_ordinal, "alpha"),
            w("alpha"),
            1e-10,
            "Krippendorff alpha",
        );
        close(
            some(ours.mean_difference, "mean"),
            wi("ba", 0),
            1e-12,
            "mean a-b",
        );
        close(some(ours.loa_lower, "loa"), wi("ba", 1), 1e-12, "LoA lower");
        close(some(ours.loa_upper, "loa"), wi("ba", 2), 1e-12, "LoA upper");
        close(
            some(ours.bias.gwet_ac2_quadratic, "ac2"),
            w("gwet"),
            1e-9,
            "Gwet AC2",
        );
        // statsmodels drops one category and inverts, which is only right when the table
        // is one block of confusable categories (full rank); we use a generalised inverse
        // that also covers split tables (unit-tested by hand), so compare where both apply.
        let sm = ours.bias.stuart_maxwell.expect("Stuart-Maxwell");
        let their_df = want["stuart_maxwell"][1].as_u64().unwrap();
        if sm.df as u64 == their_df {
            close(
                sm.statistic,
                wi("stuart_maxwell", 0),
                1e-8,
                "Stuart-Maxwell",
            );
            close(
                sm.p_value,
                wi("stuart_maxwell", 2),
                1e-9,
                "Stuart-Maxwell p",
            );
            compared_sm += 1;
        }
    }
    assert!(
        compared_sm >= 20,
        "only {compared_sm} Stuart-Maxwell cases compared"
    );
    for ((d, method), want) in wilcoxon_cases.iter().zip(r["wilcoxon"].as_array().unwrap()) {
        let ours = wilcoxon_signed_rank(d);
        let expected_method = if *method == "asymptotic" {
            SignedRankMethod::Normal
        } else {
            SignedRankMethod::Exact
        };
        assert_eq!(ours.method, expected_method, "{d:?}");
        let p = want[1].as_f64().expect("scipy p-value");
        close(
            ours.p_value,
            p,
            1e-9,
            &format!("Wilcoxon p ({method}, {} nonzero)", ours.nonzero),
        );
    }
}
