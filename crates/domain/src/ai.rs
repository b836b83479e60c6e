//! AI applications in the department's register and the results they send.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccessionNumber, AiAppId, FindingCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AiStatus {
    /// Receives studies; its results are stored, monitored and shown to the RAIO, but
    /// routing never uses them and clinicians never see them.
    Shadow,
    Pilot,
    Production,
    Suspended,
    Retired,
}

impl AiStatus {
    pub const ALL: [AiStatus; 5] = [
        AiStatus::Shadow,
        AiStatus::Pilot,
        AiStatus::Production,
        AiStatus::Suspended,
        AiStatus::Retired,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AiStatus::Shadow => "shadow",
            AiStatus::Pilot => "pilot",
            AiStatus::Production => "production",
            AiStatus::Suspended => "suspended",
            AiStatus::Retired => "retired",
        }
    }

    pub fn parse(s: &str) -> Option<AiStatus> {
        AiStatus::ALL.into_iter().find(|a| a.code() == s)
    }

    /// Whether routing may rely on the application's results.
    pub fn in_use(self) -> bool {
        matches!(self, AiStatus::Pilot | AiStatus::Production)
    }

    /// Whether its results are measured: in use, or in shadow mode.
    pub fn monitored(self) -> bool {
        self.in_use() || self == AiStatus::Shadow
    }

    /// Whether clinicians may see its results (on worklists, study pages, FHIR): all but
    /// a shadow application's, which only the RAIO sees.
    pub fn shown_to_clinicians(self) -> bool {
        self != AiStatus::Shadow
    }
}

/// Which EU regulation the CE certificate was issued under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CeRegime {
    Mdr,
    Mdd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CeMarking {
    /// Device class, e.g. `IIa`.
    pub class: String,
    pub regime: CeRegime,
    pub certificate_expires: Option<NaiveDate>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCard {
    pub training_data: Option<String>,
    pub validation: Option<String>,
    pub known_limits: Option<String>,
}

/// What an application reports for one finding, and how its scores map to flags.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingSpec {
    pub code: FindingCode,
    /// Inclusive range of the scores this finding reports; `[0, 1]` for probabilities,
    /// `[1, 10]` for an exam-level risk score such as the one in the MASAI trial.
    pub score_range: (f64, f64),
    /// Operating point: at or above this score the application flags the finding critical.
    pub critical_at: Option<f64>,
    /// Operating point: below this score the application calls the exam normal for it.
    pub normal_below: Option<f64>,
    /// Operating point for performance monitoring: at or above it the application's call
    /// is "present". Defaults to `critical_at`, else `normal_below`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive_at: Option<f64>,
    /// The lowest sensitivity the department accepts; monitoring alarms when the Wilson
    /// 95% lower bound falls below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensitivity_floor: Option<f64>,
    /// How the finding appears in the application's DICOM SR, if it sends one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sr: Option<crate::ai_sr::SrFinding>,
}

impl FindingSpec {
    /// The flags the application raises for `score` at its declared operating points.
    pub fn flags(&self, score: f64) -> (bool, bool) {
        let critical = self.critical_at.is_some_and(|t| score >= t);
        let normal = self.normal_below.is_some_and(|t| score < t);
        (critical, normal)
    }
}

/// An entry in the department's AI register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AiApplication {
    pub id: AiAppId,
    pub name: String,
    pub vendor: String,
    pub version: String,
    pub intended_use: String,
    pub modalities: Vec<String>,
    pub body_parts: Vec<String>,
    pub status: AiStatus,
    pub ce: Option<CeMarking>,
    /// EU AI Act risk class; radiology AI is `high`.
    pub ai_act_risk: String,
    pub model_card: ModelCard,
    pub findings: Vec<FindingSpec>,
    /// While a monitoring alarm on it is active, routing ignores its results (the study
    /// goes the way it would without AI) until the RAIO clears the alarm.
    #[serde(default)]
    pub fallback_on_alarm: bool,
    /// How its DICOM SR results name it, if it sends them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sr: Option<crate::ai_sr::SrDeclaration>,
}

impl AiApplication {
    pub fn finding(&self, code: &str) -> Option<&FindingSpec> {
        self.findings.iter().find(|f| f.code.as_str() == code)
    }

    /// Whether a study of this modality and body part is within the intended use.
    pub fn covers(&self, modality: &str, body_part: &str) -> bool {
        self.modalities.iter().any(|m| m == modality)
            && (self.body_parts.is_empty() || self.body_parts.iter().any(|b| b == body_part))
    }
}

/// One finding in an AI result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiFinding {
    pub code: FindingCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub normal: bool,
}

/// What one AI application returned for one study.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AiResult {
    /// The sender's id for this result; ingest is idempotent on it.
    pub id: String,
    pub app: AiAppId,
    pub app_version: String,
    pub accession: AccessionNumber,
    pub received_at: DateTime<Utc>,
    pub findings: Vec<AiFinding>,
}

/// Why an AI result is not heard: each names the field of the result it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResultRefusal {
    #[error("application `{0}` is not in the AI register")]
    UnknownApp(String),
    #[error("version `{got}` of `{app}` is not in the AI register (registered: `{registered}`)")]
    UnknownVersion {
        app: String,
        got: String,
        registered: String,
    },
    #[error("a result reports at least one finding")]
    NoFindings,
    #[error("`{app}` reports no finding `{code}` in the AI register (it reports: {known})")]
    UnknownFinding {
        index: usize,
        app: String,
        code: String,
        known: String,
    },
    #[error("finding `{code}` is reported twice")]
    DuplicateFinding { index: usize, code: String },
    #[error(
        "finding `{code}` needs a score: its flags are read from the score at the register's operating points"
    )]
    MissingScore { index: usize, code: String },
    #[error("score {score} of `{code}` lies outside its declared range [{lo}, {hi}]")]
    ScoreOutOfRange {
        index: usize,
        code: String,
        score: f64,
        lo: f64,
        hi: f64,
    },
    #[error("`{flag}` on `{code}` at score {score} is not what the register gives: {rule}")]
    Flag {
        index: usize,
        code: String,
        flag: &'static str,
        score: f64,
        rule: String,
    },
}

impl ResultRefusal {
    /// The field of the result the refusal is about, as a problem's `field` names it.
    pub fn field(&self) -> String {
        match self {
            ResultRefusal::UnknownApp(_) => "app".into(),
            ResultRefusal::UnknownVersion { .. } => "app_version".into(),
            ResultRefusal::NoFindings => "findings".into(),
            ResultRefusal::UnknownFinding { index, .. }
            | ResultRefusal::DuplicateFinding { index, .. } => format!("findings[{index}].code"),
            ResultRefusal::MissingScore { index, .. }
            | ResultRefusal::ScoreOutOfRange { index, .. } => format!("findings[{index}].score"),
            ResultRefusal::Flag { index, flag, .. } => format!("findings[{index}].{flag}"),
        }
    }
}

impl FindingSpec {
    fn flag_rule(&self, flag: &'static str) -> String {
        let point = match flag {
            "critical" => self.critical_at.map(|t| format!("at {t} and above")),
            _ => self.normal_below.map(|t| format!("below {t}")),
        };
        match point {
            Some(p) => format!("`{}` is {flag} {p}", self.code),
            None => format!("the register gives `{}` no `{flag}` flag", self.code),
        }
    }
}

/// Reads an AI result as the register says it means: the application, its version and
/// every finding must be registered, every score must lie in its declared range, and the
/// `critical` and `normal` flags are those of the register's operating points
/// ([`FindingSpec::flags`]). A flag the sender sets that the register does not give at
/// that score is refused rather than believed. Live ingest, `policy explain`, monitoring
/// and the simulator all read results through here, so the same scores mean the same.
pub fn read_result(register: &[AiApplication], r: &AiResult) -> Result<AiResult, ResultRefusal> {
    let app = register
        .iter()
        .find(|a| a.id == r.app)
        .ok_or_else(|| ResultRefusal::UnknownApp(r.app.to_string()))?;
    if r.app_version != app.version {
        return Err(ResultRefusal::UnknownVersion {
            app: app.id.to_string(),
            got: r.app_version.clone(),
            registered: app.version.clone(),
        });
    }
    if r.findings.is_empty() {
        return Err(ResultRefusal::NoFindings);
    }
    let mut findings = Vec::with_capacity(r.findings.len());
    for (index, f) in r.findings.iter().enumerate() {
        let code = f.code.to_string();
        let Some(spec) = app.finding(f.code.as_str()) else {
            let known: Vec<&str> = app.findings.iter().map(|s| s.code.as_str()).collect();
            return Err(ResultRefusal::UnknownFinding {
                index,
                app: app.id.to_string(),
                code,
                known: known.join(", "),
            });
        };
        if r.findings[..index].iter().any(|e| e.code == f.code) {
            return Err(ResultRefusal::DuplicateFinding { index, code });
        }
        let Some(score) = f.score else {
            return Err(ResultRefusal::MissingScore { index, code });
        };
        let (lo, hi) = spec.score_range;
        // `!(..)` also refuses NaN.
        if !(score >= lo && score <= hi) {
            return Err(ResultRefusal::ScoreOutOfRange {
                index,
                code,
                score,
                lo,
                hi,
            });
        }
        let (critical, normal) = spec.flags(score);
        for (flag, sent, given) in [
            ("critical", f.critical, critical),
            ("normal", f.normal, normal),
        ] {
            if sent && !given {
                return Err(ResultRefusal::Flag {
                    index,
                    code,
                    flag,
                    score,
                    rule: spec.flag_rule(flag),
                });
            }
        }
        findings.push(AiFinding {
            code: f.code.clone(),
            score: Some(score),
            critical,
            normal,
        });
    }
    Ok(AiResult {
        findings,
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_operating_points() {
        let spec = FindingSpec {
            code: FindingCode::parse("pe").unwrap(),
            score_range: (0.0, 1.0),
            critical_at: Some(0.6),
            normal_below: Some(0.1),
            positive_at: None,
            sensitivity_floor: None,
            sr: None,
        };
        assert_eq!(spec.flags(0.6), (true, false));
        assert_eq!(spec.flags(0.59), (false, false));
        assert_eq!(spec.flags(0.05), (false, true));
        assert_eq!(spec.flags(0.1), (false, false));
    }

    fn register() -> Vec<AiApplication> {
        let dept = crate::Department::parse(include_str!("../../../examples/department.toml"))
            .expect("the example department parses");
        dept.ai_applications
    }

    fn result(app: &str, version: &str, findings: Vec<AiFinding>) -> AiResult {
        AiResult {
            id: "r1".into(),
            app: AiAppId::parse(app).unwrap(),
            app_version: version.into(),
            accession: AccessionNumber::parse("A1").unwrap(),
            received_at: "2026-06-01T10:00:00Z".parse().unwrap(),
            findings,
        }
    }

    #[test]
    fn a_decision_reports_the_latest_result_of_each_version_it_used_and_none_hidden() {
        let reg = register();
        let evidence = |app: &str, version: &str| crate::decision::AiEvidence {
            app: AiAppId::parse(app).unwrap(),
            app_version: version.into(),
            finding: FindingCode::parse("pulmonary_embolism").unwrap(),
            score: Some(0.9),
            critical: false,
            normal: false,
        };
        let d = crate::Decision {
            policy_version: "1".into(),
            rule: None,
            pathway: crate::decision::Pathway::RadiologistRead,
            task: crate::ids::TaskTypeId::parse("final_report").unwrap(),
            priority: crate::Priority::Stat,
            sla_minutes: 60,
            due: "2026-06-01T11:00:00Z".parse().unwrap(),
            readers: 1,
            review_fraction: 0.0,
            flags: Vec::new(),
            reasons: Vec::new(),
            ai_evidence: vec![
                evidence("pe-detect", "3.2.0"),
                evidence("ich-detect", "4.0.1"),
            ],
            explanation: String::new(),
        };
        let with_id = |id: &str, app: &str, version: &str| AiResult {
            id: id.into(),
            ..result(app, version, Vec::new())
        };
        let results = [
            with_id("old", "pe-detect", "3.2.0"),
            with_id("other-version", "pe-detect", "3.1.0"),
            with_id("new", "pe-detect", "3.2.0"),
            with_id("ich", "ich-detect", "4.0.1"),
            with_id("unused", "cxr-normal", "1.0.0"),
        ];
        let ids = |changes: &[StatusChange]| -> Vec<String> {
            used_by(&d, &results, &reg, changes)
                .iter()
                .map(|r| r.id.clone())
                .collect()
        };
        assert_eq!(ids(&[]), ["new", "ich"]);
        let shadow = StatusChange {
            app: AiAppId::parse("ich-detect").unwrap(),
            from: AiStatus::Production,
            to: AiStatus::Shadow,
            reason: "silent trial".into(),
            by: "bakker".into(),
            at: "2026-06-01T09:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            ids(&[shadow]),
            ["new"],
            "a shadow application's are not shown"
        );
    }

    fn finding(code: &str, score: Option<f64>, critical: bool, normal: bool) -> AiFinding {
        AiFinding {
            code: FindingCode::parse(code).unwrap(),
            score,
            critical,
            normal,
        }
    }

    #[test]
    fn flags_come_from_the_register_not_from_the_sender() {
        let reg = register();
        // cxr-normal: abnormality normal below 0.15; pneumothorax critical at 0.8.
        let read = read_result(
            &reg,
            &result(
                "cxr-normal",
                "2.1.0",
                vec![finding("abnormality", Some(0.04), false, false)],
            ),
        )
        .unwrap();
        assert!(read.findings[0].normal, "0.04 is below normal_below 0.15");
        let refused = read_result(
            &reg,
            &result(
                "cxr-normal",
                "2.1.0",
                vec![finding("pneumothorax", Some(0.5), true, false)],
            ),
        )
        .unwrap_err();
        assert_eq!(refused.field(), "findings[0].critical");
        assert!(
            refused.to_string().contains("at 0.8 and above"),
            "{refused}"
        );
        let no_such_flag = read_result(
            &reg,
            &result(
                "cxr-normal",
                "2.1.0",
                vec![finding("pneumothorax", Some(0.01), false, true)],
            ),
        )
        .unwrap_err();
        assert_eq!(no_such_flag.field(), "findings[0].normal");
        assert!(
            no_such_flag.to_string().contains("no `normal` flag"),
            "{no_such_flag}"
        );
    }

    #[test]
    fn unregistered_or_out_of_range_results_are_refused_naming_the_field() {
        let reg = register();
        let f = |code: &str, score: Option<f64>| vec![finding(code, score, false, false)];
        let field = |r: AiResult| read_result(&reg, &r).unwrap_err().field();
        assert_eq!(
            field(result("no-such-ai", "1", f("abnormality", Some(0.1)))),
            "app"
        );
        assert_eq!(
            field(result("cxr-normal", "9.9", f("abnormality", Some(0.1)))),
            "app_version"
        );
        assert_eq!(field(result("cxr-normal", "2.1.0", vec![])), "findings");
        assert_eq!(
            field(result("cxr-normal", "2.1.0", f("fracture", Some(0.1)))),
            "findings[0].code"
        );
        assert_eq!(
            field(result("cxr-normal", "2.1.0", f("abnormality", None))),
            "findings[0].score"
        );
        for bad in [1.5, -0.1, f64::NAN, f64::INFINITY] {
            assert_eq!(
                field(result("cxr-normal", "2.1.0", f("abnormality", Some(bad)))),
                "findings[0].score",
                "{bad}"
            );
        }
        let twice = vec![
            finding("abnormality", Some(0.1), false, false),
            finding("abnormality", Some(0.2), false, false),
        ];
        assert_eq!(
            field(result("cxr-normal", "2.1.0", twice)),
            "findings[1].code"
        );
    }
}

/// Something in an AI register entry that the RAIO should act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum RegisterWarning {
    CertificateExpiring {
        until: NaiveDate,
        days: i64,
    },
    CertificateExpired {
        until: NaiveDate,
    },
    /// MDD certificates lapse by the end of 2028 at the latest, whatever they state.
    MddOnly {
        lapses_by: NaiveDate,
    },
    MissingModelCard {
        field: &'static str,
    },
    ProductionWithoutValidation,
    ProductionWithoutCeMarking,
}

impl std::fmt::Display for RegisterWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegisterWarning::CertificateExpiring { until, days } => {
                write!(f, "CE certificate expires on {until}, in {days} days")
            }
            RegisterWarning::CertificateExpired { until } => {
                write!(f, "CE certificate expired on {until}")
            }
            RegisterWarning::MddOnly { lapses_by } => write!(
                f,
                "certified under the MDD only: the certificate lapses by {lapses_by} at the latest"
            ),
            RegisterWarning::MissingModelCard { field } => write!(f, "model card lacks `{field}`"),
            RegisterWarning::ProductionWithoutValidation => {
                write!(f, "in production without validation evidence")
            }
            RegisterWarning::ProductionWithoutCeMarking => {
                write!(f, "in production without CE marking")
            }
        }
    }
}

impl RegisterWarning {
    /// Whether using the application stops being lawful, not merely something to act on
    /// soon: an expired CE certificate, or production use without CE marking.
    pub fn is_error(&self) -> bool {
        matches!(
            self,
            RegisterWarning::CertificateExpired { .. }
                | RegisterWarning::ProductionWithoutCeMarking
        )
    }
}

/// How far ahead a certificate's expiry is flagged.
pub const CERTIFICATE_NOTICE_DAYS: i64 = 180;

impl AiApplication {
    /// The register's warnings for this application on `today`.
    pub fn register_warnings(&self, today: NaiveDate) -> Vec<RegisterWarning> {
        let mut w = Vec::new();
        let mdd_end = NaiveDate::from_ymd_opt(2028, 12, 31).expect("a valid date");
        match &self.ce {
            Some(ce) => {
                let until = match (ce.regime, ce.certificate_expires) {
                    (CeRegime::Mdd, Some(d)) => Some(d.min(mdd_end)),
                    (CeRegime::Mdd, None) => Some(mdd_end),
                    (CeRegime::Mdr, d) => d,
                };
                if let Some(until) = until {
                    let days = (until - today).num_days();
                    if days < 0 {
                        w.push(RegisterWarning::CertificateExpired { until });
                    } else if days <= CERTIFICATE_NOTICE_DAYS {
                        w.push(RegisterWarning::CertificateExpiring { until, days });
                    }
                }
                if ce.regime == CeRegime::Mdd {
                    w.push(RegisterWarning::MddOnly { lapses_by: mdd_end });
                }
            }
            None if self.status == AiStatus::Production => {
                w.push(RegisterWarning::ProductionWithoutCeMarking)
            }
            None => {}
        }
        let card = &self.model_card;
        for (field, value) in [
            ("training_data", &card.training_data),
            ("validation", &card.validation),
            ("known_limits", &card.known_limits),
        ] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                w.push(RegisterWarning::MissingModelCard { field });
            }
        }
        if self.status == AiStatus::Production
            && card
                .validation
                .as_deref()
                .is_none_or(|v| v.trim().is_empty())
        {
            w.push(RegisterWarning::ProductionWithoutValidation);
        }
        w
    }
}

/// The results a viewer may see: all of them for the one who keeps the register (the
/// RAIO), else all but those of applications in shadow mode (status in force, given the
/// latest change of each application). Results of applications outside the register stay
/// visible: they were never the RAIO's to hide.
pub fn visible_results(
    results: Vec<AiResult>,
    register: &[AiApplication],
    changes: &[StatusChange],
    keeps_register: bool,
) -> Vec<AiResult> {
    if keeps_register {
        return results;
    }
    results
        .into_iter()
        .filter(|r| !hidden_from_clinicians(register, changes, r.app.as_str()))
        .collect()
}

/// The results of `results` (oldest first) that decision `d` used and clinicians may see,
/// for radgate's report of them: of an application, the latest of the version the
/// decision's evidence names.
pub fn used_by<'a>(
    d: &crate::Decision,
    results: &'a [AiResult],
    register: &[AiApplication],
    changes: &[StatusChange],
) -> Vec<&'a AiResult> {
    let mut used: Vec<&AiResult> = Vec::new();
    for r in results {
        let evidence = d
            .ai_evidence
            .iter()
            .any(|e| e.app == r.app && e.app_version == r.app_version);
        if evidence && !hidden_from_clinicians(register, changes, r.app.as_str()) {
            used.retain(|u| u.app != r.app || u.app_version != r.app_version);
            used.push(r);
        }
    }
    used
}

/// Whether clinicians may not see application `app`'s results: it is in the register and
/// its status in force is shadow.
pub fn hidden_from_clinicians(
    register: &[AiApplication],
    changes: &[StatusChange],
    app: &str,
) -> bool {
    register
        .iter()
        .find(|a| a.id.as_str() == app)
        .is_some_and(|a| !a.in_force(changes).status.shown_to_clinicians())
}

/// Why a status change of a register entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusChangeError {
    #[error("the application is already {}", .0.code())]
    Unchanged(AiStatus),
    #[error("a retired application stays retired; register a new entry instead")]
    Retired,
    #[error("say why the status changes")]
    NoReason,
}

/// One change of an application's status in the register, by the RAIO or by an edit of
/// the department file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub app: AiAppId,
    pub from: AiStatus,
    pub to: AiStatus,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl AiStatus {
    /// Whether the register may move from this status to `to`: any change but to the same
    /// status, and none out of retired (a retired product's history must stay its own).
    pub fn change_to(self, to: AiStatus, reason: &str) -> Result<(), StatusChangeError> {
        if self == AiStatus::Retired {
            return Err(StatusChangeError::Retired);
        }
        if self == to {
            return Err(StatusChangeError::Unchanged(to));
        }
        if reason.trim().is_empty() {
            return Err(StatusChangeError::NoReason);
        }
        Ok(())
    }
}

impl AiApplication {
    /// The status in force: the latest recorded change, else the register entry's own.
    pub fn effective_status(&self, latest: Option<&StatusChange>) -> AiStatus {
        latest.map_or(self.status, |c| c.to)
    }

    /// The entry as it stands: its status set to the one in force, given the latest
    /// change of each application (`changes`).
    pub fn in_force(&self, changes: &[StatusChange]) -> AiApplication {
        AiApplication {
            status: self.effective_status(changes.iter().find(|c| c.app == self.id)),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod status_tests {
    use super::*;

    #[test]
    fn status_changes_need_a_reason_and_never_leave_retired() {
        use AiStatus::*;
        assert_eq!(Pilot.change_to(Production, "pilot met its targets"), Ok(()));
        assert_eq!(Production.change_to(Suspended, "alarm"), Ok(()));
        assert_eq!(Suspended.change_to(Production, "patched"), Ok(()));
        assert_eq!(Production.change_to(Retired, "contract ended"), Ok(()));
        assert_eq!(
            Production.change_to(Production, "x"),
            Err(StatusChangeError::Unchanged(Production))
        );
        assert_eq!(
            Retired.change_to(Production, "again"),
            Err(StatusChangeError::Retired)
        );
        assert_eq!(
            Pilot.change_to(Suspended, "  "),
            Err(StatusChangeError::NoReason)
        );
    }
}
