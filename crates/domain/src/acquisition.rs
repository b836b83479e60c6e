//! From acquired images to a study routing can decide on: what one received instance
//! tells (`AcquiredInstance`, filled by the DICOM interface), when a study counts as
//! complete (`Completion`), and how the study's attributes follow from its instances and
//! its order (`study_from`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{AccessionNumber, PatientId, StudyInstanceUid};
use crate::study::{Order, PatientName, Priority, Sex, Study};

/// What one received image tells about its study. Every field is optional but the
/// study's UID: modalities leave out what they like.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AcquiredInstance {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_instance_uid: String,
    pub sop_class_uid: String,
    pub accession: Option<String>,
    pub patient_id: Option<String>,
    pub modality: Option<String>,
    pub body_part: Option<String>,
    pub study_description: Option<String>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub protocol: Option<String>,
    /// Study date and time with the modality's offset from UTC, when it states one.
    pub study_time: Option<DateTime<Utc>>,
    pub patient_age_years: Option<u32>,
    /// Patient's Name (0010,0010) and Patient's Sex (0010,0040), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_sex: Option<String>,
}

/// When a study counts as complete. A modality does not say it is done, and images of
/// one study arrive in bursts: so a study is complete when no new instance came for
/// `quiet`; or, when its order says how many series the acquisition makes, as soon as
/// that many series are in and no new instance came for `settle` (the last series is
/// still streaming when its first instance arrives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Completion {
    pub quiet: Duration,
    pub settle: Duration,
}

impl Default for Completion {
    fn default() -> Self {
        Completion {
            quiet: Duration::seconds(60),
            settle: Duration::seconds(5),
        }
    }
}

/// What the receiver knows of a study that has not been completed since its last image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrivals {
    pub last_instance_at: DateTime<Utc>,
    /// Distinct series received.
    pub series: u32,
    /// The order's expected series, when it states them.
    pub expected_series: Option<u32>,
}

impl Completion {
    /// The shorter of the two waits: studies quiet for less cannot be complete.
    pub fn shortest_wait(&self) -> Duration {
        self.quiet.min(self.settle)
    }

    pub fn is_complete(&self, a: Arrivals, now: DateTime<Utc>) -> bool {
        let silent = now - a.last_instance_at;
        silent >= self.quiet
            || a.expected_series
                .is_some_and(|n| n > 0 && a.series >= n && silent >= self.settle)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcquisitionError {
    #[error(
        "the images carry no accession number (0008,0050): the study cannot be linked to an order or routed"
    )]
    NoAccession,
    #[error("accession number (0008,0050): {0}")]
    BadAccession(String),
    #[error("the images carry no patient ID (0010,0020) and no order names the patient")]
    NoPatient,
    #[error("patient ID (0010,0020): {0}")]
    BadPatient(String),
    #[error("Study Instance UID (0020,000D): {0}")]
    BadStudyUid(String),
    #[error("the images carry no modality (0008,0060) and no order names one")]
    NoModality,
}

/// The study as routing sees it. The images say what was acquired (modality, body part,
/// scanner, protocol); the order says what was asked for (procedure, priority, ordering
/// department, clinical question) and fills what the images leave out. Without an
/// order, procedure and department are `UNKNOWN` and the priority routine, so that the
/// policy's default applies. Acquisition is the study time the modality stated with its
/// UTC offset, else when the first image arrived.
pub fn study_from(
    first: &AcquiredInstance,
    order: Option<&Order>,
    site: &str,
    first_received_at: DateTime<Utc>,
) -> Result<Study, AcquisitionError> {
    let accession = first
        .accession
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .ok_or(AcquisitionError::NoAccession)?;
    let accession = AccessionNumber::parse(accession.trim())
        .map_err(|e| AcquisitionError::BadAccession(e.to_string()))?;
    let patient = match (&first.patient_id, order) {
        (Some(p), _) if !p.trim().is_empty() => {
            PatientId::parse(p.trim()).map_err(|e| AcquisitionError::BadPatient(e.to_string()))?
        }
        (_, Some(o)) => o.patient.clone(),
        _ => return Err(AcquisitionError::NoPatient),
    };
    let modality = first
        .modality
        .clone()
        .filter(|m| !m.trim().is_empty())
        .or_else(|| order.map(|o| o.modality.clone()))
        .ok_or(AcquisitionError::NoModality)?;
    let study_uid = StudyInstanceUid::parse(first.study_uid.clone())
        .map_err(|e| AcquisitionError::BadStudyUid(e.to_string()))?;
    let unknown = || "UNKNOWN".to_owned();
    Ok(Study {
        accession,
        study_uid: Some(study_uid),
        patient,
        // Shown to people only: a name or sex the image gives in a form the domain does
        // not take is left out, the order's taken instead, and routing goes on.
        patient_name: first
            .patient_name
            .as_deref()
            .and_then(|n| PatientName::parse(n).ok())
            .or_else(|| order.and_then(|o| o.patient_name.clone())),
        patient_sex: first
            .patient_sex
            .as_deref()
            .and_then(Sex::parse)
            .or_else(|| order.and_then(|o| o.patient_sex)),
        patient_age_years: first.patient_age_years,
        modality,
        procedure_code: order.map_or_else(unknown, |o| o.procedure_code.clone()),
        body_part: first
            .body_part
            .clone()
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(unknown),
        priority: order.map_or(Priority::Routine, |o| o.priority),
        site: site.to_owned(),
        ordering_department: order.map_or_else(unknown, |o| o.ordering_department.clone()),
        clinical_question: order.and_then(|o| o.clinical_question.clone()),
        ordered_at: order.map(|o| o.ordered_at),
        acquired_at: first.study_time.unwrap_or(first_received_at),
        manufacturer: first.manufacturer.clone(),
        model: first.model.clone(),
        protocol: first.protocol.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::study::OrderStatus;

    fn instance() -> AcquiredInstance {
        AcquiredInstance {
            study_uid: "1.2.826.0.1.3680043.10.1".into(),
            series_uid: "1.2.826.0.1.3680043.10.1.1".into(),
            sop_instance_uid: "1.2.826.0.1.3680043.10.1.1.1".into(),
            sop_class_uid: "1.2.840.10008.5.1.4.1.1.2".into(),
            accession: Some("ACC9".into()),
            patient_id: Some("PSEUDO-9".into()),
            modality: Some("CT".into()),
            body_part: Some("CHEST".into()),
            manufacturer: Some("Simulated".into()),
            model: Some("CT-1".into()),
            protocol: Some("CTPA".into()),
            ..Default::default()
        }
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn images_say_what_was_acquired_and_the_order_what_was_asked() {
        let order = Order {
            accession: AccessionNumber::parse("ACC9").unwrap(),
            patient: PatientId::parse("PSEUDO-9").unwrap(),
            patient_name: None,
            patient_sex: None,
            procedure_code: "CTPA".into(),
            modality: "CT".into(),
            priority: Priority::Stat,
            ordering_department: "SEH".into(),
            clinical_question: Some("PE?".into()),
            ordered_at: t("2026-12-01T09:00:00Z"),
            status: OrderStatus::Placed,
            expected_series: None,
        };
        let received = t("2026-12-01T09:30:00Z");
        let s = study_from(&instance(), Some(&order), "main", received).unwrap();
        assert_eq!(
            (s.procedure_code.as_str(), s.priority),
            ("CTPA", Priority::Stat)
        );
        assert_eq!(s.ordering_department, "SEH");
        assert_eq!(
            (s.body_part.as_str(), s.protocol.as_deref()),
            ("CHEST", Some("CTPA"))
        );
        assert_eq!(
            s.acquired_at, received,
            "no stated offset: the arrival time"
        );
        let bare = study_from(&instance(), None, "main", received).unwrap();
        assert_eq!(
            (bare.procedure_code.as_str(), bare.priority),
            ("UNKNOWN", Priority::Routine)
        );
        let mut no_acc = instance();
        no_acc.accession = None;
        assert_eq!(
            study_from(&no_acc, None, "main", received),
            Err(AcquisitionError::NoAccession)
        );
        let mut no_patient = instance();
        no_patient.patient_id = None;
        assert_eq!(
            study_from(&no_patient, None, "main", received),
            Err(AcquisitionError::NoPatient)
        );
        assert!(study_from(&no_patient, Some(&order), "main", received).is_ok());
    }

    #[test]
    fn a_study_is_complete_after_its_quiet_period() {
        let c = Completion {
            quiet: Duration::seconds(60),
            settle: Duration::seconds(5),
        };
        let at = |series, expected_series| Arrivals {
            last_instance_at: t("2026-12-01T09:30:00Z"),
            series,
            expected_series,
        };
        assert!(!c.is_complete(at(1, None), t("2026-12-01T09:30:59Z")));
        assert!(c.is_complete(at(1, None), t("2026-12-01T09:31:00Z")));
        // Fewer series than the order expects: the quiet period still decides.
        assert!(!c.is_complete(at(2, Some(3)), t("2026-12-01T09:30:59Z")));
        assert!(c.is_complete(at(2, Some(3)), t("2026-12-01T09:31:00Z")));
    }

    #[test]
    fn a_study_with_all_its_expected_series_is_complete_once_it_settles() {
        let c = Completion::default();
        let at = |series, expected_series| Arrivals {
            last_instance_at: t("2026-12-01T09:30:00Z"),
            series,
            expected_series,
        };
        assert!(!c.is_complete(at(3, Some(3)), t("2026-12-01T09:30:04Z")));
        assert!(c.is_complete(at(3, Some(3)), t("2026-12-01T09:30:05Z")));
        assert!(c.is_complete(at(4, Some(3)), t("2026-12-01T09:30:05Z")));
        // An order that expects no series says nothing.
        assert!(!c.is_complete(at(0, Some(0)), t("2026-12-01T09:30:05Z")));
        assert_eq!(c.shortest_wait(), Duration::seconds(5));
    }
}
