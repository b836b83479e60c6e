//! DICOM Structured Reports from AI nodes (IHE AI Results, TID 1500 measurement reports):
//! the content tree read into what `radgate_domain::ai_sr` matches against the register.
//! Algorithm identification (TID 4019) is taken wherever it appears; a measurement group
//! is a container of concept DCM 125007, or any container naming a Finding (DCM 121071).

use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use radgate_domain::ai_sr::{
    ALGORITHM_NAME, ALGORITHM_VERSION, Concept, FINDING, SrContent, SrGroup, SrNumber,
};

use crate::dicom::DicomError;

/// The SR storage SOP classes an AI node sends results in.
pub const SR_CLASSES: [&str; 5] = [
    "1.2.840.10008.5.1.4.1.1.88.11", // Basic Text SR
    "1.2.840.10008.5.1.4.1.1.88.22", // Enhanced SR
    "1.2.840.10008.5.1.4.1.1.88.33", // Comprehensive SR
    "1.2.840.10008.5.1.4.1.1.88.34", // Comprehensive 3D SR
    "1.2.840.10008.5.1.4.1.1.88.35", // Extensible SR
];

/// What an AI node sends beside its report, by SOP class: stored and linked to the
/// application's results, not interpreted.
pub fn ai_object_kind(sop_class: &str) -> Option<&'static str> {
    Some(match sop_class.trim_end_matches('\0') {
        "1.2.840.10008.5.1.4.1.1.66.4" => "segmentation",
        "1.2.840.10008.5.1.4.1.1.30" => "parametric_map",
        "1.2.840.10008.5.1.4.1.1.7"
        | "1.2.840.10008.5.1.4.1.1.7.1"
        | "1.2.840.10008.5.1.4.1.1.7.2"
        | "1.2.840.10008.5.1.4.1.1.7.3"
        | "1.2.840.10008.5.1.4.1.1.7.4" => "secondary_capture",
        "1.2.840.10008.5.1.4.1.1.104.1" => "encapsulated_pdf",
        _ => return None,
    })
}

/// The names an AI object gives the algorithm that made it: each segment's Segment
/// Algorithm Name and Algorithm Name (0066,0036) in its algorithm identification, and the
/// Manufacturer's Model Name.
pub fn algorithm_names(dataset: &[u8], ts_uid: &str) -> Result<Vec<String>, DicomError> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid.trim_end_matches('\0'))
        .ok_or_else(|| DicomError::TransferSyntax(ts_uid.to_owned()))?;
    let obj = InMemDicomObject::read_dataset_with_ts(dataset, ts)
        .map_err(|e| DicomError::DataSet(e.to_string()))?;
    let mut names = Vec::new();
    let segments = obj.get(tags::SEGMENT_SEQUENCE).and_then(|e| e.items());
    for segment in segments.into_iter().flatten() {
        names.extend(text(segment, tags::SEGMENT_ALGORITHM_NAME));
        let ids = segment
            .get(tags::SEGMENTATION_ALGORITHM_IDENTIFICATION_SEQUENCE)
            .and_then(|e| e.items());
        for id in ids.into_iter().flatten() {
            names.extend(text(id, tags::ALGORITHM_NAME));
        }
    }
    names.extend(text(&obj, tags::MANUFACTURER_MODEL_NAME));
    names.dedup();
    Ok(names)
}

/// The concept of a TID 1501 measurement group.
const MEASUREMENT_GROUP: (&str, &str) = ("DCM", "125007");

pub fn is_sr(sop_class: &str) -> bool {
    SR_CLASSES.contains(&sop_class.trim_end_matches('\0'))
}

/// An SR as radgate reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct SrDocument {
    pub sop_instance_uid: String,
    pub study_uid: String,
    pub accession: Option<String>,
    pub content: SrContent,
}

/// Reads a received SR data set (its bytes as they came, in `ts_uid`).
pub fn read_sr(dataset: &[u8], ts_uid: &str) -> Result<SrDocument, DicomError> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid.trim_end_matches('\0'))
        .ok_or_else(|| DicomError::TransferSyntax(ts_uid.to_owned()))?;
    let obj = InMemDicomObject::read_dataset_with_ts(dataset, ts)
        .map_err(|e| DicomError::DataSet(e.to_string()))?;
    let required = |tag: Tag, name: &str| {
        text(&obj, tag).ok_or_else(|| DicomError::DataSet(format!("the SR has no {name}")))
    };
    let mut content = SrContent::default();
    walk(&obj, &mut content, None);
    Ok(SrDocument {
        sop_instance_uid: required(tags::SOP_INSTANCE_UID, "SOP Instance UID")?,
        study_uid: required(tags::STUDY_INSTANCE_UID, "Study Instance UID")?,
        accession: text(&obj, tags::ACCESSION_NUMBER),
        content,
    })
}

fn text(o: &InMemDicomObject, tag: Tag) -> Option<String> {
    let v = o.get(tag)?.to_str().ok()?;
    let v = v.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!v.is_empty()).then(|| v.to_owned())
}

fn code(o: &InMemDicomObject, seq: Tag) -> Option<Concept> {
    let item = o.get(seq)?.items()?.first()?;
    let value = text(item, tags::CODE_VALUE)
        .or_else(|| text(item, tags::LONG_CODE_VALUE))
        .or_else(|| text(item, tags::URN_CODE_VALUE))?;
    Some(Concept::new(
        text(item, tags::CODING_SCHEME_DESIGNATOR).unwrap_or_default(),
        value,
    ))
}

fn is(c: &Option<Concept>, (scheme, value): (&str, &str)) -> bool {
    c.as_ref()
        .is_some_and(|c| c.scheme == scheme && c.value == value)
}

fn number(item: &InMemDicomObject) -> Option<(f64, Option<Concept>)> {
    let measured = item.get(tags::MEASURED_VALUE_SEQUENCE)?.items()?.first()?;
    let value = measured.get(tags::NUMERIC_VALUE)?.to_float64().ok()?;
    Some((value, code(measured, tags::MEASUREMENT_UNITS_CODE_SEQUENCE)))
}

/// Walks the content items under `node`; `group` is the index of the measurement group
/// being read, if inside one.
fn walk(node: &InMemDicomObject, out: &mut SrContent, group: Option<usize>) {
    let Some(items) = node.get(tags::CONTENT_SEQUENCE).and_then(|e| e.items()) else {
        return;
    };
    for item in items {
        let concept = code(item, tags::CONCEPT_NAME_CODE_SEQUENCE);
        match text(item, tags::VALUE_TYPE).as_deref() {
            Some("TEXT") if is(&concept, ALGORITHM_NAME) => {
                out.algorithm_name = out
                    .algorithm_name
                    .take()
                    .or_else(|| text(item, tags::TEXT_VALUE));
            }
            Some("TEXT") if is(&concept, ALGORITHM_VERSION) => {
                out.algorithm_version = out
                    .algorithm_version
                    .take()
                    .or_else(|| text(item, tags::TEXT_VALUE));
            }
            Some("CODE") if is(&concept, FINDING) => {
                if let (Some(g), Some(c)) = (group, code(item, tags::CONCEPT_CODE_SEQUENCE)) {
                    out.groups[g].findings.push(c);
                }
            }
            Some("NUM") => {
                if let (Some(g), Some(concept), Some((value, unit))) =
                    (group, concept.clone(), number(item))
                {
                    out.groups[g].numbers.push(SrNumber {
                        concept,
                        value,
                        unit,
                    });
                }
            }
            Some("CONTAINER") => {
                let names_finding = item
                    .get(tags::CONTENT_SEQUENCE)
                    .and_then(|e| e.items())
                    .is_some_and(|children| {
                        children
                            .iter()
                            .any(|c| is(&code(c, tags::CONCEPT_NAME_CODE_SEQUENCE), FINDING))
                    });
                if group.is_none() && (is(&concept, MEASUREMENT_GROUP) || names_finding) {
                    out.groups.push(SrGroup::default());
                    walk(item, out, Some(out.groups.len() - 1));
                    continue;
                }
            }
            _ => {}
        }
        walk(item, out, group);
    }
}
