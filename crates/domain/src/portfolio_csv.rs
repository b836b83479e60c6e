//! Reading assessments from CSV (`radgate portfolio import`). All or nothing: every bad
//! row is reported with its row number and reason, and a file with any bad row yields no
//! assessments at all.
//!
//! Columns, in this order, with a header row:
//! `id, assessee, assessor, assessor_background, task, placement, date, expertise,
//! communication, collaboration, organisation, knowledge_science, professionalism,
//! entrustment, narrative, status`. Domain scores are 1-5, or empty or `n/o` for "not
//! observed"; `assessor_background` is medical, technical or other; `status` is
//! confirmed or requested; dates are YYYY-MM-DD.

use chrono::NaiveDate;

use crate::department::Department;
use crate::ids::{ProfessionalId, TaskTypeId};
use crate::portfolio::{Assessment, AssessmentStatus, AssessorBackground, Entrustment};

pub const HEADER: [&str; 16] = [
    "id",
    "assessee",
    "assessor",
    "assessor_background",
    "task",
    "placement",
    "date",
    "expertise",
    "communication",
    "collaboration",
    "organisation",
    "knowledge_science",
    "professionalism",
    "entrustment",
    "narrative",
    "status",
];

/// One bad row; `row` counts the header as row 1, as a spreadsheet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub message: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "row {}: {}", self.row, self.message)
    }
}

/// Parses and checks every row against the department (people, task catalog) and the
/// assessment rules; returns all assessments or every problem.
/// The assessments of `text`, each admitted as on `today` ([`Assessment::admit`]): the
/// stated background must match the assessor's record, no date lies after today, and every
/// assessor may assess their assessee.
pub fn parse_assessments(
    text: &str,
    dept: &Department,
    today: chrono::NaiveDate,
) -> Result<Vec<Assessment>, Vec<RowError>> {
    let (_, records, mut errors) = read_rows(text, |h| {
        if h.iter().map(String::as_str).eq(HEADER.iter().copied()) {
            Ok(())
        } else {
            Err(format!(
                "header must be `{}`, found `{}`",
                HEADER.join(","),
                h.join(",")
            ))
        }
    })?;
    let mut out = Vec::new();
    let mut ids = std::collections::HashMap::new();
    for (row, record) in records {
        match parse_row(&record, dept, today) {
            Ok(a) => {
                if let Some(first) = ids.insert(a.id.clone(), row) {
                    errors.push(RowError {
                        row,
                        message: format!("id `{}` was already used on row {first}", a.id),
                    });
                } else {
                    out.push(a);
                }
            }
            Err(message) => errors.push(RowError { row, message }),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Rows read from a CSV file with a header: the header, every record that has as many
/// fields as the header (with its row number), and the errors of the rows that could not
/// be read or have the wrong number of fields. A header `check` refuses is the only error.
pub(crate) type Rows = (Vec<String>, Vec<(usize, csv::StringRecord)>, Vec<RowError>);

pub(crate) fn read_rows(
    text: &str,
    check: impl Fn(&[String]) -> Result<(), String>,
) -> Result<Rows, Vec<RowError>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(str::to_owned).collect(),
        Err(e) => {
            return Err(vec![RowError {
                row: 1,
                message: format!("unreadable header: {e}"),
            }]);
        }
    };
    check(&header).map_err(|message| vec![RowError { row: 1, message }])?;
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for (i, record) in reader.records().enumerate() {
        let row = i + 2;
        match record {
            Err(e) => errors.push(RowError {
                row,
                message: format!("unreadable: {e}"),
            }),
            Ok(r) if r.len() != header.len() => errors.push(RowError {
                row,
                message: format!("has {} fields, expected {}", r.len(), header.len()),
            }),
            Ok(r) => records.push((row, r)),
        }
    }
    Ok((header, records, errors))
}

fn parse_row(
    r: &csv::StringRecord,
    dept: &Department,
    today: chrono::NaiveDate,
) -> Result<Assessment, String> {
    let field = |i: usize| r.get(i).unwrap_or("");
    let person = |i: usize| -> Result<ProfessionalId, String> {
        let v = field(i);
        if dept.professional(v).is_none() {
            return Err(format!(
                "{}: `{v}` is not a professional of the department",
                HEADER[i]
            ));
        }
        ProfessionalId::parse(v).map_err(|e| format!("{}: {e}", HEADER[i]))
    };
    let id = field(0);
    if id.is_empty() {
        return Err("id: must not be empty".into());
    }
    let assessee = person(1)?;
    let assessor = person(2)?;
    let assessor_background = match field(3) {
        "medical" => AssessorBackground::Medical,
        "technical" => AssessorBackground::Technical,
        "other" => AssessorBackground::Other,
        v => {
            return Err(format!(
                "assessor_background: `{v}` is not medical, technical or other"
            ));
        }
    };
    let task = TaskTypeId::parse(field(4)).map_err(|e| format!("task: {e}"))?;
    if dept.task(task.as_str()).is_none() {
        return Err(format!(
            "task: `{task}` is not in the department's task catalog"
        ));
    }
    let date = NaiveDate::parse_from_str(field(6), "%Y-%m-%d")
        .map_err(|_| format!("date: `{}` is not YYYY-MM-DD", field(6)))?;
    let mut scores = [None; 6];
    for (k, score) in scores.iter_mut().enumerate() {
        let v = field(7 + k);
        *score = match v {
            "" | "n/o" => None,
            v => Some(
                v.parse::<u8>()
                    .ok()
                    .filter(|s| (1..=5).contains(s))
                    .ok_or_else(|| format!("{}: `{v}` is not a score 1-5 or n/o", HEADER[7 + k]))?,
            ),
        };
    }
    let entrustment = field(13)
        .parse::<u8>()
        .map_err(|_| format!("entrustment: `{}` is not a level 1-5", field(13)))
        .and_then(|l| Entrustment::try_from(l).map_err(|e| format!("entrustment: {e}")))?;
    let status = match field(15) {
        "confirmed" => AssessmentStatus::Confirmed,
        "requested" => AssessmentStatus::Requested,
        v => return Err(format!("status: `{v}` is not confirmed or requested")),
    };
    let a = Assessment {
        id: id.to_string(),
        assessee,
        assessor,
        assessor_background,
        task,
        placement: field(5).to_string(),
        date,
        scores,
        entrustment,
        narrative: field(14).to_string(),
        status,
    };
    a.admit(Some(assessor_background), dept, today)
        .map_err(|e| format!("{}: {e}", e.field()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");

    fn today() -> chrono::NaiveDate {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap()
    }
    const HEAD: &str = "id,assessee,assessor,assessor_background,task,placement,date,expertise,communication,collaboration,organisation,knowledge_science,professionalism,entrustment,narrative,status\n";

    #[test]
    fn good_rows_parse_with_not_observed_scores_and_quoted_narrative() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let text = format!(
            "{HEAD}k1,mbb-jansen,rad-devries,medical,cxr_gatekeeping,thorax,2026-03-01,4,4,n/o,,5,4,4,\"Good, calm triage\",confirmed\n"
        );
        let a = parse_assessments(&text, &dept, today()).unwrap();
        assert_eq!(a.len(), 1);
        assert_eq!(
            a[0].scores,
            [Some(4), Some(4), None, None, Some(5), Some(4)]
        );
        assert_eq!(a[0].narrative, "Good, calm triage");
    }

    #[test]
    fn every_bad_row_is_named_and_nothing_is_returned() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let text = format!(
            "{HEAD}k1,mbb-jansen,rad-devries,medical,cxr_gatekeeping,thorax,2026-03-01,4,4,4,4,4,4,4,,confirmed\n\
             k2,nobody,rad-devries,medical,cxr_gatekeeping,thorax,2026-03-01,4,4,4,4,4,4,4,,confirmed\n\
             k3,mbb-jansen,rad-devries,medical,cxr_gatekeeping,thorax,2026-13-01,4,4,4,4,4,4,4,,confirmed\n\
             k4,mbb-jansen,rad-devries,medical,cxr_gatekeeping,thorax,2026-03-01,4,4,4,4,4,4,2,,confirmed\n\
             k1,mbb-jansen,rad-devries,medical,cxr_gatekeeping,thorax,2026-03-02,4,4,4,4,4,4,4,,confirmed\n"
        );
        let errors = parse_assessments(&text, &dept, today()).unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            shown,
            [
                "row 3: assessee: `nobody` is not a professional of the department",
                "row 4: date: `2026-13-01` is not YYYY-MM-DD",
                "row 5: narrative: narrative feedback is required when the entrustment is 2 or lower or a domain scores 2 or lower",
                "row 6: id `k1` was already used on row 2",
            ]
        );
    }

    #[test]
    fn assessments_come_from_assessors_with_their_recorded_background_and_no_future_dates() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        // A PA and a peer AP assess nobody; a radiologist is medical, not technical; the
        // day after today is refused.
        let text = format!(
            "{HEAD}k1,ap-smit,pa-mulder,medical,oncology_preliminary_report,onc,2026-03-01,4,4,4,4,4,4,5,,confirmed\n\
             k2,ap-smit,ap-dekker,technical,oncology_preliminary_report,onc,2026-03-01,4,4,4,4,4,4,5,,confirmed\n\
             k3,ap-smit,rad-devries,technical,oncology_preliminary_report,onc,2026-03-01,4,4,4,4,4,4,5,,confirmed\n\
             k4,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,2026-12-02,4,4,4,4,4,4,5,,confirmed\n\
             k5,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,2026-12-01,4,4,4,4,4,4,5,,confirmed\n"
        );
        let errors = parse_assessments(&text, &dept, today()).unwrap_err();
        let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        assert_eq!(shown.len(), 4, "{shown:?}");
        assert!(
            shown[0].starts_with("row 2: assessor: pa-mulder is not an assessor"),
            "{shown:?}"
        );
        assert!(
            shown[1].starts_with("row 3: assessor: ap-dekker is not an assessor"),
            "{shown:?}"
        );
        assert!(
            shown[2].starts_with("row 4: assessor_background: "),
            "{shown:?}"
        );
        assert!(
            shown[3].starts_with("row 5: date: 2026-12-02 is after today"),
            "{shown:?}"
        );
    }

    #[test]
    fn header_lists_the_competence_domains_in_their_order() {
        assert_eq!(&HEADER[7..13], &crate::portfolio::DOMAINS);
    }

    #[test]
    fn a_wrong_header_is_refused() {
        let dept = Department::parse(DEPARTMENT).unwrap();
        let errors = parse_assessments("id,who\nk1,x\n", &dept, today()).unwrap_err();
        assert_eq!(errors[0].row, 1);
        assert!(errors[0].message.starts_with("header must be"));
    }
}
