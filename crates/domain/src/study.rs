//! Orders and imaging studies as routing sees them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccessionNumber, PatientId, StudyInstanceUid};

/// Requested urgency. Ordered so that `Stat < Urgent < Routine`: sorting puts stat first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Stat,
    Urgent,
    Routine,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Stat, Priority::Urgent, Priority::Routine];

    pub fn code(self) -> &'static str {
        match self {
            Priority::Stat => "stat",
            Priority::Urgent => "urgent",
            Priority::Routine => "routine",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.code() == s)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A patient's name as the RIS or the modality sent it, in DICOM's person name form
/// (`Family^Given^Middle^Prefix^Suffix`; HL7's XPN reads the same). It is for the people
/// who work on the study: routing and analytics use the pseudonymous [`PatientId`], and
/// `Debug` never prints the name, so a logged study holds none.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PatientName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("a patient name is not empty")]
    Empty,
    #[error("a patient name has at most {max} characters")]
    TooLong { max: usize },
    #[error("a patient name holds no control characters")]
    Control,
}

impl PatientName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: impl Into<String>) -> Result<PatientName, NameError> {
        let raw = raw.into();
        let name = raw.trim().trim_end_matches('^').trim();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.chars().count() > Self::MAX_CHARS {
            return Err(NameError::TooLong {
                max: Self::MAX_CHARS,
            });
        }
        if name.chars().any(char::is_control) {
            return Err(NameError::Control);
        }
        Ok(PatientName(name.to_owned()))
    }

    /// As sent, components separated by `^`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As people read it: "Family, Given Middle", prefix and suffix around it; of a
    /// DICOM name with ideographic and phonetic forms (`=`), the alphabetic one.
    pub fn display(&self) -> String {
        let alphabetic = self.0.split('=').next().unwrap_or("");
        let parts: Vec<&str> = alphabetic.split('^').map(str::trim).collect();
        let part = |i: usize| parts.get(i).copied().unwrap_or("");
        let given: Vec<&str> = [part(3), part(1), part(2)]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect();
        let mut out = part(0).to_owned();
        if !given.is_empty() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&given.join(" "));
        }
        if !part(4).is_empty() {
            out.push(' ');
            out.push_str(part(4));
        }
        out
    }
}

impl std::fmt::Debug for PatientName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PatientName(<withheld>)")
    }
}

impl TryFrom<String> for PatientName {
    type Error = NameError;
    fn try_from(s: String) -> Result<Self, NameError> {
        PatientName::parse(s)
    }
}

impl From<PatientName> for String {
    fn from(n: PatientName) -> String {
        n.0
    }
}

/// Administrative sex, as DICOM (0010,0040) and HL7 table 0001 code it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    #[serde(rename = "F")]
    Female,
    #[serde(rename = "M")]
    Male,
    #[serde(rename = "O")]
    Other,
}

impl Sex {
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
            Sex::Other => "O",
        }
    }

    /// F, M or O; anything else (HL7's U for unknown, an empty value) is not a sex.
    pub fn parse(code: &str) -> Option<Sex> {
        match code.trim() {
            "F" => Some(Sex::Female),
            "M" => Some(Sex::Male),
            "O" => Some(Sex::Other),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Changed,
    Cancelled,
}

impl OrderStatus {
    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Changed => "changed",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

/// An imaging order from the RIS or EHR, before (or while) its study exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    pub accession: AccessionNumber,
    pub patient: PatientId,
    /// For the people who work on the study; never used to route or to count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<PatientName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_sex: Option<Sex>,
    pub procedure_code: String,
    pub modality: String,
    pub priority: Priority,
    pub ordering_department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinical_question: Option<String>,
    pub ordered_at: DateTime<Utc>,
    pub status: OrderStatus,
    /// How many series the acquisition makes, when the RIS or the protocol says: the
    /// receiver then completes the study as soon as they are all in (`acquisition`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_series: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("order {0} was cancelled and cannot change")]
    Cancelled(AccessionNumber),
    #[error("order {order} cannot take a message for accession {message}")]
    OtherAccession {
        order: AccessionNumber,
        message: AccessionNumber,
    },
}

impl Order {
    /// Applies a later version of the same order (HL7 ORM change): a cancelled order
    /// stays cancelled, and only the same accession number applies.
    pub fn update(&mut self, newer: Order) -> Result<(), OrderError> {
        if newer.accession != self.accession {
            return Err(OrderError::OtherAccession {
                order: self.accession.clone(),
                message: newer.accession,
            });
        }
        if self.status == OrderStatus::Cancelled {
            return Err(OrderError::Cancelled(self.accession.clone()));
        }
        *self = newer;
        Ok(())
    }
}

/// A study as routing sees it: the order's attributes plus acquisition facts.
///
/// Unknown fields are rejected so that a misspelt `body_part` is an error, not a silent miss.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    pub accession: AccessionNumber,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub study_uid: Option<StudyInstanceUid>,
    /// Pseudonymous id; routing and analytics never need the name.
    pub patient: PatientId,
    /// For the people who work on the study (the worklist, the study page); never used to
    /// route or to count, never logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<PatientName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_sex: Option<Sex>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_age_years: Option<u32>,
    /// DICOM modality code, e.g. `CT`, `DX`, `MG`.
    pub modality: String,
    pub procedure_code: String,
    /// DICOM Body Part Examined, e.g. `CHEST`.
    pub body_part: String,
    /// The priority the order was placed with.
    pub priority: Priority,
    pub site: String,
    pub ordering_department: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clinical_question: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ordered_at: Option<DateTime<Utc>>,
    pub acquired_at: DateTime<Utc>,
    /// DICOM Manufacturer and Manufacturer's Model Name, for monitoring by scanner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// DICOM Protocol Name, for monitoring by protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A value of an order or study that no interface may pass on: a time outside the
/// clinical window (before 1900, or more than a day after now: a clock a day fast is a clock
/// to fix, not a study to route), or text holding a NUL character (which PostgreSQL cannot
/// store, so that one backend would take what the other refuses).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueRefusal {
    #[error("{field} {value} lies outside the clinical window ({from} to {to})")]
    Time {
        field: &'static str,
        value: DateTime<Utc>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    #[error("{field} holds a NUL character")]
    Nul { field: &'static str },
}

impl ValueRefusal {
    pub fn field(&self) -> &'static str {
        match self {
            ValueRefusal::Time { field, .. } | ValueRefusal::Nul { field } => field,
        }
    }
}

/// Refuses `value` of `field` when it lies outside the clinical window at `now`. Every
/// time a sender states passes here before routing does arithmetic with it.
pub fn check_clinical_time(
    field: &'static str,
    value: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ValueRefusal> {
    let from = DateTime::<Utc>::from_timestamp(-2_208_988_800, 0).expect("1900-01-01 is a time");
    let to = now
        .checked_add_signed(chrono::Duration::days(1))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if value < from || value > to {
        return Err(ValueRefusal::Time {
            field,
            value,
            from,
            to,
        });
    }
    Ok(())
}

/// Refuses text holding a NUL character.
pub fn check_text(field: &'static str, value: &str) -> Result<(), ValueRefusal> {
    if value.contains('\0') {
        return Err(ValueRefusal::Nul { field });
    }
    Ok(())
}

impl Study {
    /// The study's times lie in the clinical window and its text holds no NUL, whichever
    /// interface it came through (HTTP, HL7, DICOM, FHIR).
    pub fn check_values(&self, now: DateTime<Utc>) -> Result<(), ValueRefusal> {
        check_clinical_time("acquired_at", self.acquired_at, now)?;
        if let Some(t) = self.ordered_at {
            check_clinical_time("ordered_at", t, now)?;
        }
        for (field, value) in [
            ("modality", Some(&self.modality)),
            ("procedure_code", Some(&self.procedure_code)),
            ("body_part", Some(&self.body_part)),
            ("site", Some(&self.site)),
            ("ordering_department", Some(&self.ordering_department)),
            ("clinical_question", self.clinical_question.as_ref()),
            ("manufacturer", self.manufacturer.as_ref()),
            ("model", self.model.as_ref()),
            ("protocol", self.protocol.as_ref()),
        ] {
            if let Some(v) = value {
                check_text(field, v)?;
            }
        }
        Ok(())
    }
}

impl Order {
    /// The order's time lies in the clinical window and its text holds no NUL.
    pub fn check_values(&self, now: DateTime<Utc>) -> Result<(), ValueRefusal> {
        check_clinical_time("ordered_at", self.ordered_at, now)?;
        for (field, value) in [
            ("procedure_code", Some(&self.procedure_code)),
            ("modality", Some(&self.modality)),
            ("ordering_department", Some(&self.ordering_department)),
            ("clinical_question", self.clinical_question.as_ref()),
        ] {
            if let Some(v) = value {
                check_text(field, v)?;
            }
        }
        Ok(())
    }
}

/// One study with the AI results that arrived for it: the input to routing when it is
/// asked for outside the service (`radgate policy explain`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingCase {
    pub study: Study,
    #[serde(default)]
    pub ai_results: Vec<crate::ai::AiResult>,
    /// When routing is evaluated; defaults to the latest time the case records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("ai_results[{index}].accession is {found}, but the study's accession is {expected}")]
pub struct ForeignResult {
    pub index: usize,
    pub found: AccessionNumber,
    pub expected: AccessionNumber,
}

impl RoutingCase {
    /// AI results must belong to the study they are routed with.
    pub fn validate(&self) -> Result<(), ForeignResult> {
        match self
            .ai_results
            .iter()
            .position(|r| r.accession != self.study.accession)
        {
            Some(index) => Err(ForeignResult {
                index,
                found: self.ai_results[index].accession.clone(),
                expected: self.study.accession.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The evaluation time: as given, else the latest of acquisition and result arrival.
    pub fn evaluation_time(&self) -> DateTime<Utc> {
        self.evaluated_at.unwrap_or_else(|| {
            self.ai_results
                .iter()
                .map(|r| r.received_at)
                .fold(self.study.acquired_at, DateTime::max)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patient_name_reads_as_people_write_it_and_never_shows_in_debug() {
        let n = PatientName::parse("  Doe^Jane^Q^Dr^PhD ").unwrap();
        assert_eq!(n.as_str(), "Doe^Jane^Q^Dr^PhD");
        assert_eq!(n.display(), "Doe, Dr Jane Q PhD");
        assert_eq!(PatientName::parse("Doe^^^^").unwrap().display(), "Doe");
        assert_eq!(
            PatientName::parse("Yamada^Tarou=山田^太郎")
                .unwrap()
                .display(),
            "Yamada, Tarou"
        );
        for bad in [
            "",
            "  ",
            "^^^",
            "Doe\u{0}Jane",
            "Doe\nJane",
            "Doe\u{85}Jane",
        ] {
            assert!(PatientName::parse(bad).is_err(), "{bad:?}");
        }
        assert!(PatientName::parse("x".repeat(201)).is_err());
        let study = Study {
            patient_name: Some(n.clone()),
            patient_sex: Some(Sex::Female),
            ..serde_json::from_value(serde_json::json!({"accession": "A1", "patient": "P1", "modality": "CT",
                "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine", "site": "main",
                "ordering_department": "ED", "acquired_at": "2026-12-01T10:00:00Z"}))
            .unwrap()
        };
        let logged = format!("{study:?}");
        assert!(
            !logged.contains("Jane") && !logged.contains("Doe"),
            "{logged}"
        );
        // In JSON it is as sent, and read back refused when it is not a name.
        let json = serde_json::to_value(&study).unwrap();
        assert_eq!(json["patient_name"], "Doe^Jane^Q^Dr^PhD");
        assert_eq!(json["patient_sex"], "F");
        let mut bad = json.clone();
        bad["patient_name"] = serde_json::json!("\u{1}");
        assert!(serde_json::from_value::<Study>(bad).is_err());
        assert_eq!(Sex::parse("M"), Some(Sex::Male));
        assert_eq!(Sex::parse("U"), None);
    }

    fn order(acc: &str, status: OrderStatus) -> Order {
        Order {
            accession: AccessionNumber::parse(acc).unwrap(),
            patient: PatientId::parse("P1").unwrap(),
            patient_name: None,
            patient_sex: None,
            procedure_code: "CTPA".into(),
            modality: "CT".into(),
            priority: Priority::Urgent,
            ordering_department: "ED".into(),
            clinical_question: None,
            ordered_at: "2026-03-02T09:00:00Z".parse().unwrap(),
            status,
            expected_series: None,
        }
    }

    #[test]
    fn cancelled_order_stays_cancelled() {
        let mut o = order("A1", OrderStatus::Placed);
        o.update(order("A1", OrderStatus::Cancelled)).unwrap();
        let err = o.update(order("A1", OrderStatus::Changed)).unwrap_err();
        assert_eq!(
            err,
            OrderError::Cancelled(AccessionNumber::parse("A1").unwrap())
        );
        assert_eq!(o.status, OrderStatus::Cancelled);
    }

    #[test]
    fn order_update_refuses_another_accession() {
        let mut o = order("A1", OrderStatus::Placed);
        assert!(matches!(
            o.update(order("A2", OrderStatus::Changed)),
            Err(OrderError::OtherAccession { .. })
        ));
        assert_eq!(o.accession.as_str(), "A1");
    }

    #[test]
    fn evaluation_time_defaults_to_the_latest_recorded_moment() {
        let study: Study = serde_json::from_str(r#"{"accession":"A1","patient":"P1","modality":"CT","procedure_code":"X",
            "body_part":"HEAD","priority":"stat","site":"main","ordering_department":"ED","acquired_at":"2026-03-02T10:00:00Z"}"#).unwrap();
        let case = RoutingCase {
            study,
            ai_results: vec![],
            evaluated_at: None,
        };
        assert_eq!(case.evaluation_time(), case.study.acquired_at);
    }
}
