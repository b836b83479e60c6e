//! AI results as AI products send them: a DICOM Structured Report (TID 1500 measurement
//! report, IHE AI Results). The register declares how each application's SR speaks (the
//! algorithm name it gives itself, and per finding the concept of the finding, of its
//! score and the score's unit); this module reads what interop found in an SR against
//! that declaration into an [`AiResult`], or says why the SR does not match it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Department;
use crate::ai::{AiApplication, AiFinding, AiResult};
use crate::ids::AccessionNumber;

/// A coded concept as an SR carries it: coding scheme designator and code value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Concept {
    pub scheme: String,
    pub value: String,
}

impl Concept {
    pub fn new(scheme: impl Into<String>, value: impl Into<String>) -> Self {
        Concept {
            scheme: scheme.into(),
            value: value.into(),
        }
    }

    /// Reads `SCHEME:VALUE`, as the department file writes a concept.
    pub fn parse(s: &str) -> Option<Concept> {
        let (scheme, value) = s.split_once(':')?;
        let (scheme, value) = (scheme.trim(), value.trim());
        (!scheme.is_empty() && !value.is_empty()).then(|| Concept::new(scheme, value))
    }
}

impl std::fmt::Display for Concept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.scheme, self.value)
    }
}

/// DICOM's codes for an algorithm's identification (TID 4019).
pub const ALGORITHM_NAME: (&str, &str) = ("DCM", "111001");
pub const ALGORITHM_VERSION: (&str, &str) = ("DCM", "111003");
/// The concept of a measurement group's finding (TID 1501 row "Finding").
pub const FINDING: (&str, &str) = ("DCM", "121071");
/// The UCUM coding scheme, in which a score's unit is declared.
pub const UCUM: &str = "UCUM";

/// How an application's SR names itself (register: `[ai_application.sr]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrDeclaration {
    /// The Algorithm Name (DCM 111001) its reports carry.
    pub algorithm_name: String,
}

/// How one finding appears in the SR (register: `sr = { finding, score, unit }`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SrFinding {
    /// The finding's code, e.g. SNOMED CT 59282003 for pulmonary embolism.
    pub finding: Concept,
    /// The concept name of the numeric measurement that holds the score.
    pub score: Concept,
    /// The score's UCUM unit, e.g. `1` for a probability.
    pub unit: String,
    /// The codes' meanings, for the reports radgate writes (`finding_meaning`,
    /// `score_meaning`); unset, words made from the finding's code, and "Score".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding_meaning: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_meaning: Option<String>,
}

/// One numeric measurement of an SR.
#[derive(Debug, Clone, PartialEq)]
pub struct SrNumber {
    pub concept: Concept,
    pub value: f64,
    pub unit: Option<Concept>,
}

/// One measurement group: the findings it names and its numbers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrGroup {
    pub findings: Vec<Concept>,
    pub numbers: Vec<SrNumber>,
}

/// What interop read from an SR's content tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SrContent {
    pub algorithm_name: Option<String>,
    pub algorithm_version: Option<String>,
    pub groups: Vec<SrGroup>,
}

/// Why an SR is not read into a result: it is kept and lands on the reconciliation list.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SrMismatch {
    #[error("the SR names no algorithm (Algorithm Name, DCM 111001)")]
    NoAlgorithm,
    #[error("algorithm `{0}` is not declared by any application in the AI register")]
    UnknownAlgorithm(String),
    #[error("the SR of `{app}` names no algorithm version (DCM 111003)")]
    NoVersion { app: String },
    #[error("the SR of `{app}` reports none of the findings its register entry declares")]
    NoDeclaredFinding { app: String },
    #[error("finding `{finding}` ({concept}) of `{app}` has no score {score} in the SR")]
    MissingScore {
        app: String,
        finding: String,
        concept: String,
        score: String,
    },
    #[error(
        "the score of finding `{finding}` of `{app}` is in unit `{got}`, the register declares `{declared}`"
    )]
    WrongUnit {
        app: String,
        finding: String,
        got: String,
        declared: String,
    },
    #[error("finding `{finding}` ({concept}) of `{app}` appears in more than one group")]
    Repeated {
        app: String,
        finding: String,
        concept: String,
    },
    #[error("{0}")]
    Refused(String),
}

/// The application an AI object (a segmentation, a parametric map, a secondary capture)
/// came from: the one whose declared Algorithm Name the object gives; none when no
/// register entry names itself so.
pub fn object_application<'a>(
    register: &'a [AiApplication],
    names: &[String],
) -> Option<&'a AiApplication> {
    register.iter().find(|a| {
        a.sr.as_ref()
            .is_some_and(|s| names.iter().any(|n| n.trim() == s.algorithm_name))
    })
}

/// radgate's local coding scheme, for findings and scores the register gives no codes
/// (`99` is for local use, PS3.16 8.2).
pub const LOCAL_SCHEME: &str = "99RADGATE";

/// What radgate's own report of an AI result says about one finding (IHE AI Results).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedFinding {
    pub finding: Concept,
    pub finding_meaning: String,
    /// The score, its concept, the concept's meaning and the UCUM unit.
    pub score: Option<(f64, Concept, String, String)>,
    /// The application's call at the register's operating point.
    pub present: bool,
}

/// The findings of `result` as radgate reports them: coded as the register declares for
/// the application's SR, else in radgate's local scheme; the call by the one monitoring
/// rule (`monitoring::ai_positive`).
pub fn reported_findings(app: &AiApplication, result: &AiResult) -> Vec<ReportedFinding> {
    result
        .findings
        .iter()
        .map(|f| {
            let spec = app.finding(f.code.as_str());
            let sr = spec.and_then(|s| s.sr.as_ref());
            let words = {
                let w = f.code.as_str().replace('_', " ");
                let mut c = w.chars();
                c.next()
                    .map(|first| first.to_uppercase().chain(c).collect())
                    .unwrap_or(w)
            };
            let (finding, finding_meaning) = match sr {
                Some(d) => (
                    d.finding.clone(),
                    d.finding_meaning.clone().unwrap_or(words),
                ),
                None => (Concept::new(LOCAL_SCHEME, f.code.as_str()), words),
            };
            let score = f.score.map(|score| match sr {
                Some(d) => (
                    score,
                    d.score.clone(),
                    d.score_meaning.clone().unwrap_or_else(|| "Score".into()),
                    d.unit.clone(),
                ),
                None => (
                    score,
                    Concept::new(LOCAL_SCHEME, "score"),
                    "Score".into(),
                    "{score}".into(),
                ),
            });
            ReportedFinding {
                finding,
                finding_meaning,
                score,
                present: crate::monitoring::ai_positive(spec, f),
            }
        })
        .collect()
}

/// Reads an SR's content against the register into the result of the application that
/// names itself in it. `id` makes the result idempotent (the SR's SOP Instance UID).
pub fn result_from_sr(
    dept: &Department,
    content: &SrContent,
    id: &str,
    accession: AccessionNumber,
    received_at: DateTime<Utc>,
) -> Result<AiResult, SrMismatch> {
    let name = content
        .algorithm_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or(SrMismatch::NoAlgorithm)?;
    let app = dept
        .ai_applications
        .iter()
        .find(|a| a.sr.as_ref().is_some_and(|s| s.algorithm_name == name))
        .ok_or_else(|| SrMismatch::UnknownAlgorithm(name.to_owned()))?;
    let app_id = app.id.as_str().to_owned();
    let version = content
        .algorithm_version
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SrMismatch::NoVersion {
            app: app_id.clone(),
        })?;
    let mut findings = Vec::new();
    for spec in &app.findings {
        let Some(sr) = &spec.sr else { continue };
        let mut groups = content
            .groups
            .iter()
            .filter(|g| g.findings.contains(&sr.finding));
        let Some(group) = groups.next() else { continue };
        if groups.next().is_some() {
            return Err(SrMismatch::Repeated {
                app: app_id,
                finding: spec.code.to_string(),
                concept: sr.finding.to_string(),
            });
        }
        let number = group
            .numbers
            .iter()
            .find(|n| n.concept == sr.score)
            .ok_or_else(|| SrMismatch::MissingScore {
                app: app_id.clone(),
                finding: spec.code.to_string(),
                concept: sr.finding.to_string(),
                score: sr.score.to_string(),
            })?;
        let unit_ok = number
            .unit
            .as_ref()
            .is_some_and(|u| u.scheme == UCUM && u.value == sr.unit);
        if !unit_ok {
            return Err(SrMismatch::WrongUnit {
                app: app_id,
                finding: spec.code.to_string(),
                got: number
                    .unit
                    .as_ref()
                    .map_or_else(|| "none".to_owned(), Concept::to_string),
                declared: format!("{UCUM}:{}", sr.unit),
            });
        }
        findings.push(AiFinding {
            code: spec.code.clone(),
            score: Some(number.value),
            critical: false,
            normal: false,
        });
    }
    if findings.is_empty() {
        return Err(SrMismatch::NoDeclaredFinding { app: app_id });
    }
    let result = AiResult {
        id: id.to_owned(),
        app: app.id.clone(),
        app_version: version.to_owned(),
        accession,
        received_at,
        findings,
    };
    // The same reading as a JSON result gets: version, score ranges, operating points.
    dept.read_ai_result(&result)
        .map_err(|e| SrMismatch::Refused(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

    fn dept() -> Department {
        Department::parse(DEPARTMENT).unwrap()
    }

    fn pe_report(score: f64, unit: &str) -> SrContent {
        SrContent {
            algorithm_name: Some("Simulated PE Detector".into()),
            algorithm_version: Some("3.2.0".into()),
            groups: vec![SrGroup {
                findings: vec![Concept::new("SCT", "59282003")],
                numbers: vec![
                    SrNumber {
                        concept: Concept::new("DCM", "121211"),
                        value: 12.0,
                        unit: Some(Concept::new(UCUM, "mm")),
                    },
                    SrNumber {
                        concept: Concept::new("DCM", "122157"),
                        value: score,
                        unit: Some(Concept::new(UCUM, unit)),
                    },
                ],
            }],
        }
    }

    fn read(c: &SrContent) -> Result<AiResult, SrMismatch> {
        let at = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap();
        result_from_sr(
            &dept(),
            c,
            "sr:1.2.3",
            AccessionNumber::parse("ACC1").unwrap(),
            at,
        )
    }

    #[test]
    fn a_matching_report_reads_as_the_applications_result_with_its_operating_points() {
        let r = read(&pe_report(0.93, "1")).unwrap();
        assert_eq!(r.app.as_str(), "pe-detect");
        assert_eq!(r.app_version, "3.2.0");
        assert_eq!(r.id, "sr:1.2.3");
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(f.code.as_str(), "pulmonary_embolism");
        assert_eq!(f.score, Some(0.93));
        assert!(f.critical, "0.93 is above the register's critical_at 0.6");
        assert!(!read(&pe_report(0.2, "1")).unwrap().findings[0].critical);
    }

    #[test]
    fn a_report_that_does_not_match_its_declaration_says_why() {
        let mut c = pe_report(0.93, "%");
        assert!(matches!(read(&c), Err(SrMismatch::WrongUnit { got, .. }) if got == "UCUM:%"));
        c.groups[0].numbers[1].unit = None;
        assert!(matches!(read(&c), Err(SrMismatch::WrongUnit { got, .. }) if got == "none"));
        c.groups[0].numbers.pop();
        let e = read(&c).unwrap_err();
        assert!(matches!(e, SrMismatch::MissingScore { .. }));
        assert!(e.to_string().contains("DCM:122157"), "{e}");

        let mut c = pe_report(0.93, "1");
        c.algorithm_name = Some("Other Detector".into());
        assert_eq!(
            read(&c),
            Err(SrMismatch::UnknownAlgorithm("Other Detector".into()))
        );
        c.algorithm_name = None;
        assert_eq!(read(&c), Err(SrMismatch::NoAlgorithm));

        let mut c = pe_report(0.93, "1");
        c.algorithm_version = None;
        assert!(matches!(read(&c), Err(SrMismatch::NoVersion { .. })));
        c.algorithm_version = Some("9.9".into());
        let e = read(&c).unwrap_err();
        assert!(
            matches!(&e, SrMismatch::Refused(m) if m.contains("9.9")),
            "{e}"
        );

        let mut c = pe_report(0.93, "1");
        c.groups[0].findings = vec![Concept::new("SCT", "1234")];
        assert!(matches!(
            read(&c),
            Err(SrMismatch::NoDeclaredFinding { .. })
        ));

        let mut c = pe_report(0.93, "1");
        c.groups.push(c.groups[0].clone());
        assert!(matches!(read(&c), Err(SrMismatch::Repeated { .. })));

        // A score outside the declared range is refused as a JSON result would be.
        let e = read(&pe_report(7.0, "1")).unwrap_err();
        assert!(matches!(e, SrMismatch::Refused(_)), "{e}");
    }

    #[test]
    fn an_ai_object_belongs_to_the_application_whose_algorithm_name_it_gives() {
        let d = dept();
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let found = object_application(
            &d.ai_applications,
            &names(&["PE Detector", "Simulated PE Detector"]),
        );
        assert_eq!(found.map(|a| a.id.as_str()), Some("pe-detect"));
        assert!(object_application(&d.ai_applications, &names(&["Other"])).is_none());
    }

    #[test]
    fn concepts_read_as_scheme_and_value() {
        assert_eq!(
            Concept::parse("SCT:59282003"),
            Some(Concept::new("SCT", "59282003"))
        );
        assert_eq!(Concept::parse("SCT:").map(|c| c.value), None);
        assert_eq!(Concept::parse("59282003"), None);
        assert_eq!(Concept::new("DCM", "122157").to_string(), "DCM:122157");
    }

    #[test]
    fn the_department_file_declares_an_applications_sr_and_refuses_a_malformed_one() {
        let d = dept();
        let pe = d.ai_application("pe-detect").unwrap();
        assert_eq!(
            pe.sr.as_ref().map(|s| s.algorithm_name.as_str()),
            Some("Simulated PE Detector")
        );
        let f = pe
            .finding("pulmonary_embolism")
            .unwrap()
            .sr
            .as_ref()
            .unwrap();
        assert_eq!(f.finding, Concept::new("SCT", "59282003"));
        assert_eq!(f.unit, "1");
        let bad = DEPARTMENT.replace("finding = \"SCT:59282003\"", "finding = \"59282003\"");
        let e = format!("{:?}", Department::parse(&bad).unwrap_err());
        assert!(e.contains("SCHEME:VALUE"), "{e}");
        let bad = DEPARTMENT.replace("template = \"1500\"", "template = \"2000\"");
        let e = format!("{:?}", Department::parse(&bad).unwrap_err());
        assert!(e.contains("known: 1500"), "{e}");
    }
}
