//! A report written outside radgate (in the RIS or a speech-recognition system) and sent
//! in as HL7 ORU^R01 or a FHIR DiagnosticReport: its text is kept and, once final, it
//! counts as the study's final report for AI monitoring (through the labeller).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::ids::AccessionNumber;

/// The longest report text kept, in characters.
pub const MAX_TEXT: usize = 100_000;

/// The report's status as the sender gives it (HL7 OBR-25, FHIR DiagnosticReport.status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Preliminary,
    Final,
    /// A correction or addendum to a final report (HL7 `C`; FHIR `amended`, `corrected`,
    /// `appended`).
    Corrected,
}

impl Status {
    pub fn code(self) -> &'static str {
        match self {
            Status::Preliminary => "preliminary",
            Status::Final => "final",
            Status::Corrected => "corrected",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Preliminary, Status::Final, Status::Corrected]
            .into_iter()
            .find(|x| x.code() == s)
    }

    /// Whether a report of this status is (part of) the final report.
    pub fn is_final(self) -> bool {
        !matches!(self, Status::Preliminary)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalReportError {
    #[error("the report has no text")]
    EmptyText,
    #[error("the report text has more than {MAX_TEXT} characters")]
    TooLong,
}

/// A report from the RIS, as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExternalReport {
    pub accession: AccessionNumber,
    pub status: Status,
    pub text: String,
    /// The signing radiologist as the RIS names them (an id, not necessarily one of
    /// radgate's professionals).
    pub signer: Option<String>,
    /// When the RIS says the report was made (HL7 OBR-22, FHIR `issued`).
    pub issued_at: Option<DateTime<Utc>>,
}

impl ExternalReport {
    pub fn new(
        accession: AccessionNumber,
        status: Status,
        text: String,
        signer: Option<String>,
        issued_at: Option<DateTime<Utc>>,
    ) -> Result<ExternalReport, ExternalReportError> {
        let text = text.trim().to_owned();
        if text.is_empty() {
            return Err(ExternalReportError::EmptyText);
        }
        if text.chars().count() > MAX_TEXT {
            return Err(ExternalReportError::TooLong);
        }
        let signer = signer
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        Ok(ExternalReport {
            accession,
            status,
            text,
            signer,
            issued_at,
        })
    }

    /// What makes two copies of one report the same message, whatever route or retry
    /// brought them: status and text.
    pub fn identity(&self) -> String {
        format!("{}\u{1f}{}", self.status.code(), self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_needs_text_within_bounds_and_keeps_it_trimmed() {
        let acc = AccessionNumber::parse("RIS1").unwrap();
        let r = ExternalReport::new(
            acc.clone(),
            Status::Final,
            "  Geen longembolie.\n".into(),
            Some(" ".into()),
            None,
        )
        .unwrap();
        assert_eq!(r.text, "Geen longembolie.");
        assert_eq!(r.signer, None);
        assert_eq!(
            ExternalReport::new(acc.clone(), Status::Final, " \n".into(), None, None),
            Err(ExternalReportError::EmptyText)
        );
        assert_eq!(
            ExternalReport::new(acc, Status::Final, "x".repeat(MAX_TEXT + 1), None, None),
            Err(ExternalReportError::TooLong)
        );
        assert!(!Status::Preliminary.is_final() && Status::Corrected.is_final());
    }
}
