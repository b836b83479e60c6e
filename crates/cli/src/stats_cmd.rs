//! `radgate stats ...`.

use std::path::Path;

use anyhow::Result;
use radgate_domain::assessor_agreement::{AgreementReport, OVERALL, agreement_report, parse_pairs};
use radgate_stats::{Method, SignedRankMethod, proportion as interval};

use crate::load::{self, Reported};
use crate::{Format, IntervalMethod};

pub fn proportion(
    successes: u64,
    trials: u64,
    method: IntervalMethod,
    confidence: f64,
) -> Result<()> {
    let method = match method {
        IntervalMethod::Wald => Method::Wald,
        IntervalMethod::Wilson => Method::Wilson,
        IntervalMethod::Exact => Method::Exact,
    };
    let i = interval(successes, trials, method, confidence)?;
    println!("{}", serde_json::to_string(&i)?);
    Ok(())
}

/// `radgate stats agreement --file PAIRS.csv`: agreement and bias between two assessors,
/// per criterion and overall.
pub fn agreement(file: &Path, format: Format) -> Result<()> {
    let text = load::read(file)?;
    let pairs = match parse_pairs(&text) {
        Ok(p) => p,
        Err(rows) => {
            for e in &rows {
                eprintln!("{}:{}: {}", file.display(), e.row, e.message);
            }
            return Err(Reported.into());
        }
    };
    let report = agreement_report(&pairs)?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Text => print!("{}", agreement_text(&report)),
    }
    Ok(())
}

fn agreement_text(report: &AgreementReport) -> String {
    let num = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    let ci = |v: Option<f64>, ci: Option<[f64; 2]>| match (v, ci) {
        (Some(v), Some([l, u])) => format!("{v:.3} [{l:.3}, {u:.3}]"),
        (v, _) => num(v),
    };
    let mut out = String::new();
    let groups = report
        .criteria
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .chain([(OVERALL, &report.overall)]);
    for (name, c) in groups {
        let b = &c.bias;
        out += &format!("{name} (n = {})\n", c.n);
        out += &format!("  kappa (quadratic)           {}\n", num(c.kappa_quadratic));
        out += &format!(
            "  ICC(2,1) agreement          {}\n",
            ci(c.icc2_1, c.icc2_1_ci)
        );
        out += &format!(
            "  ICC(3,1) consistency        {}\n",
            ci(c.icc3_1, c.icc3_1_ci)
        );
        out += &format!(
            "  Krippendorff alpha (ord.)   {}\n",
            num(c.krippendorff_alpha_ordinal)
        );
        out += &format!(
            "  mean a - b [95% LoA]        {} [{}, {}]\n",
            num(c.mean_difference),
            num(c.loa_lower),
            num(c.loa_upper)
        );
        out += &format!(
            "  Gwet AC2 (quadratic)        {}\n",
            num(b.gwet_ac2_quadratic)
        );
        out += &format!(
            "  bias: ICC(3,1) - ICC(2,1)   {}   rater effect p {}\n",
            num(b.icc_consistency_minus_agreement),
            num(b.rater_effect_p)
        );
        if let Some(sm) = b.stuart_maxwell {
            out += &format!(
                "  bias: Stuart-Maxwell        chi2 {:.3}, df {}, p {:.4}\n",
                sm.statistic, sm.df, sm.p_value
            );
        }
        if let Some(w) = b.wilcoxon {
            out += &format!(
                "  bias: Wilcoxon signed-rank  W+ {}, W- {}, p {:.4} ({} non-zero, {})\n",
                w.w_plus,
                w.w_minus,
                w.p_value,
                w.nonzero,
                match w.method {
                    SignedRankMethod::Exact => "exact",
                    SignedRankMethod::Normal => "normal approximation",
                }
            );
        }
    }
    out
}
