//! Every statistic against an independent implementation, on generated cases:
//! statsmodels (McNemar, Cohen's kappa), scipy (Kolmogorov-Smirnov), and numpy written
//! in the direct O(n m) form (population stability index, AUC with DeLong's variance);
//! scipy's chi2_contingency and numpy for the input mix.
//! `scripts/test` installs them; RADGATE_PYTHON names the interpreter that has them.

mod common;

use common::{Gen, close, reference};
use radgate_stats::{Weights, auc_delong, cohen_kappa, ks_two_sample, mcnemar, psi};
use serde_json::json;

const PYTHON: &str = r#"
import json, sys
import numpy as np
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.inter_rater import cohens_kappa
from scipy.stats import ks_2samp, kstwobign

inp = json.load(sys.stdin)
out = {"mcnemar": [], "kappa": [], "ks": [], "psi": [], "auc": []}
for b, c in inp["mcnemar"]:
    table = [[0, b], [c, 0]]
    exact = mcnemar(table, exact=True).pvalue
    r = mcnemar(table, exact=False, correction=True)
    out["mcnemar"].append([float(exact), float(r.statistic), float(r.pvalue)])
for pairs, wt in inp["kappa"]:
    scores = [s for pair in pairs for s in pair]
    cats = list(range(min(scores), max(scores) + 1))
    idx = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for a, b in pairs:
        table[idx[a], idx[b]] += 1
    out["kappa"].append(float(cohens_kappa(table, wt=wt).kappa))
for a, b in inp["ks"]:
    r = ks_2samp(a, b)
    en = np.sqrt(len(a) * len(b) / (len(a) + len(b)))
    out["ks"].append([float(r.statistic), float(kstwobign.sf(en * r.statistic))])
for base, cur, edges in inp["psi"]:
    def share(xs):
        counts, _ = np.histogram(np.clip(xs, edges[0], edges[-1]), bins=edges)
        return np.maximum(counts / len(xs), 1e-4)
    p, q = share(np.array(base)), share(np.array(cur))
    out["psi"].append(float(np.sum((q - p) * np.log(q / p))))
for pos, neg in inp["auc"]:
    x, y = np.array(pos)[:, None], np.array(neg)[None, :]
    psi = (x > y) + 0.5 * (x == y)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    out["auc"].append([float(psi.mean()), float(se)])
print(json.dumps(out))
"#;

#[test]
fn statistics_match_independent_implementations() {
    let mut g = Gen(0x9E37_79B9_7F4A_7C15);
    let mcnemar_cases: Vec<(u64, u64)> = (0..60).map(|_| (g.below(40), g.below(40) + 1)).collect();
    let mut kappa_cases = Vec::new();
    for i in 0..60 {
        let k = 2 + g.below(4) as i64;
        let pairs: Vec<(i64, i64)> = (0..20 + g.below(60))
            .map(|_| {
                let a = g.below(k as u64) as i64 + 1;
                // Raters agree more often than chance.
                let b = if g.unit() < 0.6 {
                    a
                } else {
                    g.below(k as u64) as i64 + 1
                };
                (a, b)
            })
            .collect();
        let wt = [None, Some("linear"), Some("quadratic")][i % 3];
        kappa_cases.push((pairs, wt));
    }
    let sample = |g: &mut Gen, n: u64, shift: f64| -> Vec<f64> {
        (0..n)
            .map(|_| ((g.unit() + g.unit() + g.unit()) / 3.0 + shift).clamp(0.0, 1.0))
            .collect()
    };
    let ks_cases: Vec<(Vec<f64>, Vec<f64>)> = (0..40)
        .map(|i| {
            let (n, m) = (20 + g.below(200), 20 + g.below(200));
            (
                sample(&mut g, n, 0.0),
                sample(&mut g, m, 0.02 * (i % 5) as f64),
            )
        })
        .collect();
    let edges = vec![0.0, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0];
    let psi_cases: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = (0..40)
        .map(|i| {
            let (n, m) = (50 + g.below(300), 50 + g.below(300));
            (
                sample(&mut g, n, 0.0),
                sample(&mut g, m, 0.03 * (i % 4) as f64),
                edges.clone(),
            )
        })
        .collect();
    let auc_cases: Vec<(Vec<f64>, Vec<f64>)> = (0..40)
        .map(|i| {
            let (m, n) = (5 + g.below(80), 5 + g.below(200));
            // Rounded scores make ties, which DeLong's method must count half.
            let round = |v: Vec<f64>| {
                v.into_iter()
                    .map(|x| (x * 20.0).round() / 20.0)
                    .collect::<Vec<_>>()
            };
            (
                round(sample(&mut g, m, 0.05 + 0.05 * (i % 3) as f64)),
                round(sample(&mut g, n, 0.0)),
            )
        })
        .collect();

    let r = reference(
        PYTHON,
        &json!({
            "mcnemar": mcnemar_cases,
            "kappa": kappa_cases,
            "ks": ks_cases,
            "psi": psi_cases,
            "auc": auc_cases,
        }),
    );

    for ((b, c), want) in mcnemar_cases.iter().zip(r["mcnemar"].as_array().unwrap()) {
        let m = mcnemar(*b, *c);
        close(
            m.p_exact,
            want[0].as_f64().unwrap(),
            1e-10,
            &format!("McNemar exact p ({b}, {c})"),
        );
        if b == c {
            // No discordance to correct: statistic 0 and p 1, as R's mcnemar.test; statsmodels
            // over-corrects to 1 / (b + c) here.
            assert_eq!((m.statistic, m.p_corrected), (0.0, 1.0));
            continue;
        }
        close(
            m.statistic,
            want[1].as_f64().unwrap(),
            1e-10,
            &format!("McNemar statistic ({b}, {c})"),
        );
        close(
            m.p_corrected,
            want[2].as_f64().unwrap(),
            1e-10,
            &format!("McNemar corrected p ({b}, {c})"),
        );
    }
    for ((pairs, wt), want) in kappa_cases.iter().zip(r["kappa"].as_array().unwrap()) {
        let w = match wt {
            None => Weights::None,
            Some("linear") => Weights::Linear,
            _ => Weights::Quadratic,
        };
        close(
            cohen_kappa(pairs, w).unwrap().kappa,
            want.as_f64().unwrap(),
            1e-10,
            &format!("kappa {wt:?}"),
        );
    }
    for ((a, b), want) in ks_cases.iter().zip(r["ks"].as_array().unwrap()) {
        let ks = ks_two_sample(a, b).unwrap();
        close(
            ks.statistic,
            want[0].as_f64().unwrap(),
            1e-12,
            "KS statistic",
        );
        close(ks.p_value, want[1].as_f64().unwrap(), 1e-9, "KS p-value");
    }
    for ((base, cur, edges), want) in psi_cases.iter().zip(r["psi"].as_array().unwrap()) {
        close(
            psi(base, cur, edges, 1e-4).unwrap(),
            want.as_f64().unwrap(),
            1e-10,
            "PSI",
        );
    }
    for ((pos, neg), want) in auc_cases.iter().zip(r["auc"].as_array().unwrap()) {
        let a = auc_delong(pos, neg, 0.95).unwrap();
        close(a.auc, want[0].as_f64().unwrap(), 1e-12, "AUC");
        close(a.se, want[1].as_f64().unwrap(), 1e-12, "DeLong SE");
    }
}

const MIX_PYTHON: &str = r#"
import json, sys
import numpy as np
from scipy.stats import chi2_contingency

inp = json.load(sys.stdin)
out = []
for a, b in inp:
    t = np.array([a, b], dtype=float)
    t = t[:, t.sum(axis=0) > 0]
    stat, p, dof, _ = chi2_contingency(t, correction=False)
    pa = np.maximum(np.array(a) / sum(a), 1e-4)
    pb = np.maximum(np.array(b) / sum(b), 1e-4)
    out.append([float(stat), float(p), int(dof), float(np.sum((pb - pa) * np.log(pb / pa)))])
print(json.dumps(out))
"#;

#[test]
fn input_mix_homogeneity_and_category_psi_match_scipy_and_numpy() {
    use radgate_stats::{chi2_homogeneity, psi_counts};
    let mut g = Gen(0x005e_ed0f_ca7e);
    let mut cases: Vec<(Vec<u64>, Vec<u64>)> = (0..40)
        .map(|_| {
            let k = 2 + g.below(5) as usize;
            let a = (0..k).map(|_| g.below(200)).collect();
            let b = (0..k).map(|_| g.below(200)).collect();
            (a, b)
        })
        .filter(|(a, b): &(Vec<u64>, Vec<u64>)| {
            a.iter().sum::<u64>() > 0
                && b.iter().sum::<u64>() > 0
                && a.iter().zip(b).filter(|(x, y)| *x + *y > 0).count() >= 2
        })
        .collect();
    // A scanner only the recent window has, and one only the baseline had.
    cases.push((vec![120, 80, 0], vec![60, 0, 90]));
    let r = reference(MIX_PYTHON, &json!(cases));
    for ((a, b), want) in cases.iter().zip(r.as_array().unwrap()) {
        let h = chi2_homogeneity(a, b).unwrap();
        let label = format!("{a:?} vs {b:?}");
        close(h.statistic, want[0].as_f64().unwrap(), 1e-9, &label);
        close(h.p_value, want[1].as_f64().unwrap(), 1e-9, &label);
        assert_eq!(h.df, want[2].as_u64().unwrap(), "{label}");
        close(
            psi_counts(a, b, 1e-4).unwrap(),
            want[3].as_f64().unwrap(),
            1e-10,
            &label,
        );
    }
}

const ROC_PYTHON: &str = r#"
import json, sys
from sklearn.metrics import roc_curve

out = []
for pos, neg in json.load(sys.stdin):
    fpr, tpr, _ = roc_curve([1] * len(pos) + [0] * len(neg), pos + neg, drop_intermediate=False)
    out.append([[float(f), float(t)] for f, t in zip(fpr, tpr)])
print(json.dumps(out))
"#;

#[test]
fn the_roc_curve_matches_scikit_learn_ties_included() {
    use radgate_stats::roc_curve;
    let mut g = Gen(0x0000_00c0_ffee);
    let mut cases: Vec<(Vec<f64>, Vec<f64>)> = (0..20)
        .map(|_| {
            let m = 1 + g.below(30) as usize;
            let n = 1 + g.below(30) as usize;
            // Scores on a coarse grid, so that ties across the classes happen.
            let pos = (0..m).map(|_| (g.below(10) as f64 + 3.0) / 13.0).collect();
            let neg = (0..n).map(|_| g.below(10) as f64 / 13.0).collect();
            (pos, neg)
        })
        .collect();
    cases.push((vec![0.9, 0.8], vec![0.1, 0.2])); // perfect separation
    cases.push((vec![0.5, 0.5], vec![0.5])); // every score tied
    let r = reference(ROC_PYTHON, &json!(cases));
    for ((pos, neg), want) in cases.iter().zip(r.as_array().unwrap()) {
        let got = roc_curve(pos, neg).unwrap();
        let want: Vec<(f64, f64)> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
            .collect();
        assert_eq!(got.len(), want.len(), "{pos:?} {neg:?}");
        for (g, w) in got.iter().zip(&want) {
            close(g.0, w.0, 1e-12, "FPR");
            close(g.1, w.1, 1e-12, "TPR");
        }
    }
}

/// Clopper-Pearson bounds against statsmodels' `proportion_confint(method="beta")` from a
/// thousand to 10^15 trials, to 1e-9: past 10^9 trials the continued fraction gave way
/// (5e11 of 10^12 had its lower bound above its upper).
#[test]
fn exact_intervals_match_statsmodels_up_to_ten_to_the_fifteen_trials() {
    let cases = reference(
        r#"
import json, sys
from statsmodels.stats.proportion import proportion_confint
out = []
for n in [10**3, 10**6, 10**8, 10**9, 5 * 10**9, 10**10, 10**12, 10**13, 10**15]:
    for k in sorted({0, 1, 3, 5, 37, n // 1000, n // 3, n // 2, n - 5, n - 1, n}):
        lo, hi = proportion_confint(k, n, alpha=0.05, method="beta")
        out.append([k, n, float(lo), float(hi)])
print(json.dumps(out))
"#,
        &json!({}),
    );
    for c in cases.as_array().unwrap() {
        let (k, n) = (c[0].as_u64().unwrap(), c[1].as_u64().unwrap());
        let i = radgate_stats::proportion(k, n, radgate_stats::Method::Exact, 0.95).unwrap();
        close(
            i.lower,
            c[2].as_f64().unwrap(),
            1e-9,
            &format!("lower {k}/{n}"),
        );
        close(
            i.upper,
            c[3].as_f64().unwrap(),
            1e-9,
            &format!("upper {k}/{n}"),
        );
        assert!(
            i.lower <= i.estimate && i.estimate <= i.upper,
            "{k}/{n}: {i:?}"
        );
        // Bounds of a few events in 10^12 or more trials are tiny; absolute agreement says
        // little there, so the digits are compared too: the lower bound to 1e-9, the upper
        // to 2e-3 (its continued fraction sees x through 1 - x; the error is below 1e-17).
        let rel = |ours: f64, theirs: f64| (ours - theirs).abs() / theirs.abs().max(1e-300);
        let (lo, hi) = (c[2].as_f64().unwrap(), c[3].as_f64().unwrap());
        if lo > 0.0 && lo < 1e-6 {
            assert!(
                rel(i.lower, lo) < 1e-9,
                "lower {k}/{n}: ours {} vs {lo}",
                i.lower
            );
        }
        if hi < 1e-6 {
            assert!(
                rel(i.upper, hi) < 2e-3,
                "upper {k}/{n}: ours {} vs {hi}",
                i.upper
            );
        }
    }
}
