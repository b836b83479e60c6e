//! Assessor agreement: items scored by two assessors (a medical and a technical assessor on
//! the same rubric, say), compared per criterion and overall.
//!
//! The CSV (`radgate stats agreement --file PAIRS.csv`, `POST /api/v1/stats/agreement`) has
//! a header row and the columns `item, rater_a_score, rater_b_score` and optionally
//! `criterion`. Scores are whole scale points (1-5, 1-10). A row without a criterion counts
//! only towards `overall`; `overall` pools every row, each (item, criterion) pair as one
//! scored unit. All rows are checked and every bad one reported before anything is
//! computed.

use std::collections::BTreeMap;

use radgate_stats::{AgreementError, RaterComparison, compare_raters};
use serde::{Deserialize, Serialize};

use crate::portfolio_csv::{RowError, read_rows};

pub const OVERALL: &str = "overall";
const COLUMNS: [&str; 4] = ["item", "rater_a_score", "rater_b_score", "criterion"];

/// One item scored by both assessors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScorePair {
    pub item: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub criterion: Option<String>,
    pub rater_a_score: i64,
    pub rater_b_score: i64,
}

/// Per criterion under its own name, and `overall`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementReport {
    #[serde(flatten)]
    pub criteria: BTreeMap<String, RaterComparison>,
    pub overall: RaterComparison,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AgreementReportError {
    #[error("no scored items")]
    Empty,
    #[error("criterion `{criterion}`: {source}")]
    Criterion {
        criterion: String,
        source: AgreementError,
    },
    #[error("{0}")]
    Overall(AgreementError),
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Rows(Vec<RowError>),
}

pub fn parse_pairs(text: &str) -> Result<Vec<ScorePair>, Vec<RowError>> {
    let (header, records, mut errors) = read_rows(text, |h| {
        if h == COLUMNS || h == &COLUMNS[..3] {
            Ok(())
        } else {
            Err(format!(
                "header must be `{}` or `{}`, found `{}`",
                COLUMNS[..3].join(","),
                COLUMNS.join(","),
                h.join(",")
            ))
        }
    })?;
    let with_criterion = header.len() == COLUMNS.len();
    let mut pairs = Vec::new();
    for (row, record) in records {
        let criterion = with_criterion
            .then(|| record[3].to_owned())
            .filter(|c| !c.is_empty());
        let pair = ScorePair {
            item: record[0].to_owned(),
            criterion,
            rater_a_score: 0,
            rater_b_score: 0,
        };
        let score = |i: usize| -> Result<i64, String> {
            record[i].parse::<i64>().map_err(|_| {
                format!(
                    "{}: `{}` is not a whole scale point",
                    COLUMNS[i], &record[i]
                )
            })
        };
        match (score(1), score(2)) {
            (Ok(a), Ok(b)) => pairs.push((
                row,
                ScorePair {
                    rater_a_score: a,
                    rater_b_score: b,
                    ..pair
                },
            )),
            (a, b) => errors.extend(
                [a.err(), b.err()]
                    .into_iter()
                    .flatten()
                    .map(|message| RowError { row, message }),
            ),
        }
    }
    errors.extend(check_pairs(&pairs));
    if errors.is_empty() {
        Ok(pairs.into_iter().map(|(_, p)| p).collect())
    } else {
        errors.sort_by_key(|e| e.row);
        Err(errors)
    }
}

/// The rules a set of pairs must meet whatever its source: named items, no (item,
/// criterion) scored twice, no criterion that would collide with `overall`.
fn check_pairs(pairs: &[(usize, ScorePair)]) -> Vec<RowError> {
    let mut errors = Vec::new();
    let mut seen: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    for (row, p) in pairs {
        let row = *row;
        if p.item.is_empty() {
            errors.push(RowError {
                row,
                message: "item: empty".into(),
            });
        }
        if p.criterion.as_deref() == Some(OVERALL) {
            errors.push(RowError {
                row,
                message: format!("criterion: `{OVERALL}` is reserved for the pooled figures"),
            });
        }
        if let Some(first) = seen.insert((&p.item, p.criterion.as_deref()), row) {
            errors.push(RowError {
                row,
                message: format!(
                    "item `{}`{} was already scored on row {first}",
                    p.item,
                    p.criterion
                        .as_deref()
                        .map(|c| format!(" on criterion `{c}`"))
                        .unwrap_or_default()
                ),
            });
        }
    }
    errors
}

/// The report for pairs from any source (CSV, JSON body, stored rubric scores). JSON pairs
/// are numbered from 1 in errors, as their position in the list.
pub fn agreement_report(pairs: &[ScorePair]) -> Result<AgreementReport, AgreementReportError> {
    if pairs.is_empty() {
        return Err(AgreementReportError::Empty);
    }
    let numbered: Vec<(usize, ScorePair)> = pairs
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, p)| (i + 1, p))
        .collect();
    let errors = check_pairs(&numbered);
    if !errors.is_empty() {
        return Err(AgreementReportError::Rows(errors));
    }
    let mut by_criterion: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for p in pairs {
        if let Some(c) = &p.criterion {
            by_criterion
                .entry(c.clone())
                .or_default()
                .push((p.rater_a_score, p.rater_b_score));
        }
    }
    let mut criteria = BTreeMap::new();
    for (criterion, scores) in by_criterion {
        let comparison =
            compare_raters(&scores).map_err(|source| AgreementReportError::Criterion {
                criterion: criterion.clone(),
                source,
            })?;
        criteria.insert(criterion, comparison);
    }
    let all: Vec<(i64, i64)> = pairs
        .iter()
        .map(|p| (p.rater_a_score, p.rater_b_score))
        .collect();
    let overall = compare_raters(&all).map_err(AgreementReportError::Overall)?;
    Ok(AgreementReport { criteria, overall })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CSV: &str = "item,rater_a_score,rater_b_score,criterion\n\
        t1,4,3,method\nt2,3,3,method\nt3,5,4,method\nt1,4,4,writing\nt2,2,3,writing\nt3,5,5,writing\n";

    #[test]
    fn reports_each_criterion_and_overall_under_their_names() {
        let pairs = parse_pairs(CSV).unwrap();
        let report = agreement_report(&pairs).unwrap();
        assert_eq!(
            report.criteria.keys().collect::<Vec<_>>(),
            ["method", "writing"]
        );
        assert_eq!(report.criteria["method"].n, 3);
        assert_eq!(report.overall.n, 6);
        // Method: a - b = 1, 0, 1.
        let md = report.criteria["method"].mean_difference.unwrap();
        assert!((md - 2.0 / 3.0).abs() < 1e-12);
        let json = serde_json::to_value(&report).unwrap();
        for key in ["method", "writing", "overall"] {
            for field in [
                "kappa_quadratic",
                "icc2_1",
                "icc3_1",
                "krippendorff_alpha_ordinal",
                "mean_difference",
                "loa_lower",
                "loa_upper",
                "n",
            ] {
                assert!(json[key].get(field).is_some(), "{key}.{field} missing");
            }
        }
    }

    #[test]
    fn the_criterion_column_is_optional() {
        let pairs = parse_pairs("item,rater_a_score,rater_b_score\na,1,2\nb,3,3\n").unwrap();
        let report = agreement_report(&pairs).unwrap();
        assert!(report.criteria.is_empty());
        assert_eq!(report.overall.n, 2);
    }

    #[test]
    fn every_bad_row_is_reported_with_its_number() {
        let text = "item,rater_a_score,rater_b_score,criterion\n\
            a,4,3,m\nb,x,3,m\na,4,4,m\nc,1,2,overall\nd,1\n,2,2,m\n";
        let errors = parse_pairs(text).unwrap_err();
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "row 3: rater_a_score: `x` is not a whole scale point",
                "row 4: item `a` on criterion `m` was already scored on row 2",
                "row 5: criterion: `overall` is reserved for the pooled figures",
                "row 6: has 2 fields, expected 4",
                "row 7: item: empty",
            ]
        );
        let bad_header = parse_pairs("item,a,b\n").unwrap_err();
        assert_eq!(bad_header[0].row, 1);
        assert!(bad_header[0].message.contains("rater_a_score"));
    }

    #[test]
    fn empty_input_is_an_error_not_a_report() {
        assert_eq!(agreement_report(&[]), Err(AgreementReportError::Empty));
    }
}
