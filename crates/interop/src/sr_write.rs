//! Writing an AI result as a DICOM structured report (IHE AI Results, TID 1500 measurement
//! report in a Comprehensive SR), so the radiologist sees it in the viewer. dicom-rs has
//! no SR writer; this builds the small part needed on `dicom-object`: the IOD's modules
//! (patient, study, SR document series, equipment, SR document general and content, SOP
//! common) and a content tree of
//!
//! - the observation context: the language, the device that observed (the AI
//!   application: its UID, name and manufacturer), the procedure reported;
//! - an image library (empty: radgate does not reference the images);
//! - the imaging measurements: a measurement group per finding with its tracking
//!   identifiers, the finding, the algorithm's name and version, the score as a numeric
//!   measurement with its unit, and the operating point's call (present or absent);
//! - qualitative evaluations as text: how radgate routed the study with it.

use chrono::{DateTime, Utc};
use dicom_core::value::DataSetSequence;
use dicom_core::{DataElement, PrimitiveValue, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_encoding::TransferSyntaxIndex;
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use radgate_domain::ai_sr::LOCAL_SCHEME;

use crate::dicom::{DicomError, EXPLICIT_VR_LE, file_header};

pub const COMPREHENSIVE_SR: &str = "1.2.840.10008.5.1.4.1.1.88.33";

/// A coded concept with its meaning, as an SR writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Code {
    pub scheme: String,
    pub value: String,
    pub meaning: String,
}

impl Code {
    pub fn new(scheme: &str, value: &str, meaning: &str) -> Self {
        Code {
            scheme: scheme.to_owned(),
            value: value.to_owned(),
            meaning: meaning.to_owned(),
        }
    }
}

/// One finding of the result.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingOut {
    pub finding: Code,
    /// The score, the concept that names it and its UCUM unit.
    pub score: Option<(f64, Code, Code)>,
    /// The operating point's call: present or absent.
    pub present: bool,
    pub tracking_uid: String,
}

/// Everything one report says.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOut {
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub study_uid: String,
    pub accession: String,
    pub patient_id: String,
    /// DICOM PN (`Family^Given`), if known.
    pub patient_name: Option<String>,
    /// `M`, `F` or `O`, if known.
    pub patient_sex: Option<String>,
    /// When the AI result was received: the content date and time, in UTC.
    pub observed_at: DateTime<Utc>,
    /// When the study was acquired, if known (in UTC, as every time of the report).
    pub study_at: Option<DateTime<Utc>>,
    pub device_uid: String,
    pub device_name: String,
    pub device_manufacturer: String,
    pub algorithm_name: String,
    pub algorithm_version: String,
    pub findings: Vec<FindingOut>,
    /// Qualitative evaluations as text: (concept, value).
    pub notes: Vec<(Code, String)>,
    /// The study's images the AI application looked at, for the image library and the
    /// evidence sequence.
    pub images: Vec<ImageRef>,
}

/// An image of the study, by its series, SOP class and SOP instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRef {
    pub series_uid: String,
    pub sop_class: String,
    pub sop_instance: String,
}

fn referenced_sop(i: &ImageRef) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tags::REFERENCED_SOP_CLASS_UID, VR::UI, &i.sop_class);
    put(
        &mut o,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &i.sop_instance,
    );
    o
}

/// TID 1600 Image Library: one group, an IMAGE item ("Source", as highdicom writes it)
/// per image.
fn image_library(images: &[ImageRef]) -> InMemDicomObject {
    let entries: Vec<InMemDicomObject> = images
        .iter()
        .map(|i| {
            let mut o = item(
                "CONTAINS",
                "IMAGE",
                &Code::new("SCT", "260753009", "Source"),
            );
            sequence(
                &mut o,
                tags::REFERENCED_SOP_SEQUENCE,
                vec![referenced_sop(i)],
            );
            o
        })
        .collect();
    let groups = if entries.is_empty() {
        Vec::new()
    } else {
        vec![container(
            "CONTAINS",
            &dcm("126200", "Image Library Group"),
            entries,
        )]
    };
    container("CONTAINS", &dcm("111028", "Image Library"), groups)
}

/// Current Requested Procedure Evidence Sequence (PS3.3 C.17.2): the instances the
/// content references, by series.
fn evidence(study_uid: &str, images: &[ImageRef]) -> InMemDicomObject {
    let mut series: Vec<(&str, Vec<InMemDicomObject>)> = Vec::new();
    for i in images {
        match series.iter_mut().find(|(s, _)| *s == i.series_uid) {
            Some((_, refs)) => refs.push(referenced_sop(i)),
            None => series.push((&i.series_uid, vec![referenced_sop(i)])),
        }
    }
    let mut study = InMemDicomObject::new_empty();
    put(&mut study, tags::STUDY_INSTANCE_UID, VR::UI, study_uid);
    let series = series
        .into_iter()
        .map(|(uid, refs)| {
            let mut o = InMemDicomObject::new_empty();
            put(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, uid);
            sequence(&mut o, tags::REFERENCED_SOP_SEQUENCE, refs);
            o
        })
        .collect();
    sequence(&mut study, tags::REFERENCED_SERIES_SEQUENCE, series);
    study
}

fn put(o: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    o.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn sequence(o: &mut InMemDicomObject, tag: Tag, items: Vec<InMemDicomObject>) {
    o.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

fn code_item(c: &Code) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    // Code Value is SH (16 characters); a longer one goes in Long Code Value.
    if c.value.len() <= 16 {
        put(&mut o, tags::CODE_VALUE, VR::SH, &c.value);
    } else {
        put(&mut o, tags::LONG_CODE_VALUE, VR::UC, &c.value);
    }
    put(&mut o, tags::CODING_SCHEME_DESIGNATOR, VR::SH, &c.scheme);
    put(&mut o, tags::CODE_MEANING, VR::LO, &c.meaning);
    o
}

fn item(relationship: &str, value_type: &str, concept: &Code) -> InMemDicomObject {
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tags::RELATIONSHIP_TYPE, VR::CS, relationship);
    put(&mut o, tags::VALUE_TYPE, VR::CS, value_type);
    sequence(
        &mut o,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(concept)],
    );
    o
}

fn container(
    relationship: &str,
    concept: &Code,
    children: Vec<InMemDicomObject>,
) -> InMemDicomObject {
    let mut o = item(relationship, "CONTAINER", concept);
    put(&mut o, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    if !children.is_empty() {
        sequence(&mut o, tags::CONTENT_SEQUENCE, children);
    }
    o
}

fn text(relationship: &str, concept: &Code, value: &str) -> InMemDicomObject {
    let mut o = item(relationship, "TEXT", concept);
    put(&mut o, tags::TEXT_VALUE, VR::UT, value);
    o
}

fn coded(relationship: &str, concept: &Code, value: &Code) -> InMemDicomObject {
    let mut o = item(relationship, "CODE", concept);
    sequence(&mut o, tags::CONCEPT_CODE_SEQUENCE, vec![code_item(value)]);
    o
}

fn uidref(relationship: &str, concept: &Code, value: &str) -> InMemDicomObject {
    let mut o = item(relationship, "UIDREF", concept);
    put(&mut o, tags::UID, VR::UI, value);
    o
}

fn number(relationship: &str, concept: &Code, value: f64, unit: &Code) -> InMemDicomObject {
    let mut o = item(relationship, "NUM", concept);
    let mut measured = InMemDicomObject::new_empty();
    put(&mut measured, tags::NUMERIC_VALUE, VR::DS, &decimal(value));
    sequence(
        &mut measured,
        tags::MEASUREMENT_UNITS_CODE_SEQUENCE,
        vec![code_item(unit)],
    );
    sequence(&mut o, tags::MEASURED_VALUE_SEQUENCE, vec![measured]);
    o
}

/// A decimal string of at most 16 characters (DS).
fn decimal(x: f64) -> String {
    for places in (0..=10).rev() {
        let s = format!("{x:.places$}");
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{x:.3e}")
}

fn dcm(value: &str, meaning: &str) -> Code {
    Code::new("DCM", value, meaning)
}

fn algorithm(r: &ReportOut) -> [InMemDicomObject; 2] {
    [
        text(
            "HAS CONCEPT MOD",
            &dcm("111001", "Algorithm Name"),
            &r.algorithm_name,
        ),
        text(
            "HAS CONCEPT MOD",
            &dcm("111003", "Algorithm Version"),
            &r.algorithm_version,
        ),
    ]
}

fn group(r: &ReportOut, f: &FindingOut) -> InMemDicomObject {
    let mut children = vec![
        text(
            "HAS OBS CONTEXT",
            &dcm("112039", "Tracking Identifier"),
            &f.finding.meaning,
        ),
        uidref(
            "HAS OBS CONTEXT",
            &dcm("112040", "Tracking Unique Identifier"),
            &f.tracking_uid,
        ),
        coded("CONTAINS", &dcm("121071", "Finding"), &f.finding),
    ];
    children.extend(algorithm(r));
    if let Some((score, concept, unit)) = &f.score {
        let mut n = number("CONTAINS", concept, *score, unit);
        sequence(&mut n, tags::CONTENT_SEQUENCE, algorithm(r).into());
        children.push(n);
    }
    let call = if f.present {
        dcm("121053", "Present")
    } else {
        dcm("121054", "Absent")
    };
    children.push(coded("CONTAINS", &f.finding, &call));
    container("CONTAINS", &dcm("125007", "Measurement Group"), children)
}

/// The report as a Part 10 file (Explicit VR Little Endian).
pub fn measurement_report(r: &ReportOut) -> Result<Vec<u8>, DicomError> {
    let mut o = InMemDicomObject::new_empty();
    put(&mut o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put(&mut o, tags::SOP_CLASS_UID, VR::UI, COMPREHENSIVE_SR);
    put(&mut o, tags::SOP_INSTANCE_UID, VR::UI, &r.sop_instance_uid);
    // Patient and general study modules.
    put(
        &mut o,
        tags::PATIENT_NAME,
        VR::PN,
        r.patient_name.as_deref().unwrap_or(""),
    );
    put(&mut o, tags::PATIENT_ID, VR::LO, &r.patient_id);
    put(&mut o, tags::PATIENT_BIRTH_DATE, VR::DA, "");
    put(
        &mut o,
        tags::PATIENT_SEX,
        VR::CS,
        r.patient_sex.as_deref().unwrap_or(""),
    );
    put(&mut o, tags::STUDY_INSTANCE_UID, VR::UI, &r.study_uid);
    let study_at = |f: &str| {
        r.study_at
            .map(|t| t.format(f).to_string())
            .unwrap_or_default()
    };
    put(&mut o, tags::STUDY_DATE, VR::DA, &study_at("%Y%m%d"));
    put(&mut o, tags::STUDY_TIME, VR::TM, &study_at("%H%M%S"));
    put(&mut o, tags::REFERRING_PHYSICIAN_NAME, VR::PN, "");
    put(&mut o, tags::STUDY_ID, VR::SH, "");
    put(&mut o, tags::ACCESSION_NUMBER, VR::SH, &r.accession);
    // SR document series and general equipment: radgate writes the document.
    put(&mut o, tags::MODALITY, VR::CS, "SR");
    put(
        &mut o,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        &r.series_instance_uid,
    );
    put(&mut o, tags::SERIES_NUMBER, VR::IS, "9901");
    put(
        &mut o,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "AI results (radgate)",
    );
    sequence(
        &mut o,
        tags::REFERENCED_PERFORMED_PROCEDURE_STEP_SEQUENCE,
        Vec::new(),
    );
    put(&mut o, tags::MANUFACTURER, VR::LO, "radgate");
    put(
        &mut o,
        tags::SOFTWARE_VERSIONS,
        VR::LO,
        env!("CARGO_PKG_VERSION"),
    );
    // SR document general.
    put(&mut o, tags::INSTANCE_NUMBER, VR::IS, "1");
    put(&mut o, tags::COMPLETION_FLAG, VR::CS, "COMPLETE");
    put(&mut o, tags::VERIFICATION_FLAG, VR::CS, "UNVERIFIED");
    let at = r.observed_at;
    put(
        &mut o,
        tags::CONTENT_DATE,
        VR::DA,
        &at.format("%Y%m%d").to_string(),
    );
    put(
        &mut o,
        tags::CONTENT_TIME,
        VR::TM,
        &at.format("%H%M%S").to_string(),
    );
    put(&mut o, tags::TIMEZONE_OFFSET_FROM_UTC, VR::SH, "+0000");
    // radgate's local codes, declared as PS3.3 C.12.1.1.4 asks of a private scheme.
    let mut scheme = InMemDicomObject::new_empty();
    put(
        &mut scheme,
        tags::CODING_SCHEME_DESIGNATOR,
        VR::SH,
        LOCAL_SCHEME,
    );
    put(
        &mut scheme,
        tags::CODING_SCHEME_NAME,
        VR::ST,
        "radgate local codes",
    );
    put(
        &mut scheme,
        tags::CODING_SCHEME_RESPONSIBLE_ORGANIZATION,
        VR::ST,
        "radgate",
    );
    sequence(
        &mut o,
        tags::CODING_SCHEME_IDENTIFICATION_SEQUENCE,
        vec![scheme],
    );
    sequence(&mut o, tags::PERFORMED_PROCEDURE_CODE_SEQUENCE, Vec::new());
    if !r.images.is_empty() {
        sequence(
            &mut o,
            tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE,
            vec![evidence(&r.study_uid, &r.images)],
        );
    }
    // SR document content: the root of TID 1500.
    put(&mut o, tags::VALUE_TYPE, VR::CS, "CONTAINER");
    sequence(
        &mut o,
        tags::CONCEPT_NAME_CODE_SEQUENCE,
        vec![code_item(&dcm("126000", "Imaging Measurement Report"))],
    );
    put(&mut o, tags::CONTINUITY_OF_CONTENT, VR::CS, "SEPARATE");
    let mut template = InMemDicomObject::new_empty();
    put(&mut template, tags::MAPPING_RESOURCE, VR::CS, "DCMR");
    put(&mut template, tags::TEMPLATE_IDENTIFIER, VR::CS, "1500");
    sequence(&mut o, tags::CONTENT_TEMPLATE_SEQUENCE, vec![template]);
    let mut content = vec![
        coded(
            "HAS CONCEPT MOD",
            &dcm("121049", "Language of Content Item and Descendants"),
            &Code::new("RFC5646", "en-US", "English (United States)"),
        ),
        coded(
            "HAS OBS CONTEXT",
            &dcm("121005", "Observer Type"),
            &dcm("121007", "Device"),
        ),
        uidref(
            "HAS OBS CONTEXT",
            &dcm("121012", "Device Observer UID"),
            &r.device_uid,
        ),
        text(
            "HAS OBS CONTEXT",
            &dcm("121013", "Device Observer Name"),
            &r.device_name,
        ),
        text(
            "HAS OBS CONTEXT",
            &dcm("121014", "Device Observer Manufacturer"),
            &r.device_manufacturer,
        ),
        coded(
            "HAS CONCEPT MOD",
            &dcm("121058", "Procedure reported"),
            &Code::new("SCT", "363679005", "Imaging procedure"),
        ),
        image_library(&r.images),
        container(
            "CONTAINS",
            &dcm("126010", "Imaging Measurements"),
            r.findings.iter().map(|f| group(r, f)).collect(),
        ),
    ];
    if !r.notes.is_empty() {
        content.push(container(
            "CONTAINS",
            &Code::new("UMLS", "C0034375", "Qualitative Evaluations"),
            r.notes
                .iter()
                .map(|(c, v)| text("CONTAINS", c, v))
                .collect(),
        ));
    }
    sequence(&mut o, tags::CONTENT_SEQUENCE, content);

    let ts = TransferSyntaxRegistry
        .get(EXPLICIT_VR_LE)
        .ok_or_else(|| DicomError::TransferSyntax(EXPLICIT_VR_LE.into()))?;
    let mut dataset = Vec::new();
    o.write_dataset_with_ts(&mut dataset, ts)
        .map_err(|e| DicomError::DataSet(e.to_string()))?;
    let mut out = file_header(
        COMPREHENSIVE_SR,
        &r.sop_instance_uid,
        EXPLICIT_VR_LE,
        "RADGATE",
    );
    out.extend_from_slice(&dataset);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sr::read_sr;
    use chrono::TimeZone;
    use radgate_domain::ai_sr::Concept;

    fn report() -> ReportOut {
        ReportOut {
            sop_instance_uid: "2.25.1".into(),
            series_instance_uid: "2.25.2".into(),
            study_uid: "1.2.3.4".into(),
            accession: "ACC1".into(),
            patient_id: "PSEUDO-1".into(),
            patient_name: Some("Sim-Jansen^Anna".into()),
            patient_sex: Some("F".into()),
            observed_at: Utc.with_ymd_and_hms(2026, 12, 2, 10, 30, 5).unwrap(),
            study_at: Some(Utc.with_ymd_and_hms(2026, 12, 2, 10, 2, 0).unwrap()),
            device_uid: "2.25.3".into(),
            device_name: "Pulmonary embolism detection".into(),
            device_manufacturer: "Simulated Vendor C".into(),
            algorithm_name: "Simulated PE Detector".into(),
            algorithm_version: "3.2.0".into(),
            findings: vec![FindingOut {
                finding: Code::new("SCT", "59282003", "Pulmonary embolism"),
                score: Some((
                    0.93,
                    Code::new("DCM", "122157", "Probability"),
                    Code::new("UCUM", "1", "no units"),
                )),
                present: true,
                tracking_uid: "2.25.4".into(),
            }],
            notes: vec![(
                Code::new(LOCAL_SCHEME, "routing-rule", "Routing rule"),
                "ctpa-pe-positive".into(),
            )],
            images: Vec::new(),
        }
    }

    #[test]
    fn the_images_are_in_the_image_library_and_the_evidence_by_series() {
        let mut r = report();
        let ct = "1.2.840.10008.5.1.4.1.1.2";
        r.images = [
            "1.2.3.4.1:1.2.3.4.1.1",
            "1.2.3.4.1:1.2.3.4.1.2",
            "1.2.3.4.2:1.2.3.4.2.1",
        ]
        .iter()
        .map(|s| {
            let (series, sop) = s.split_once(':').unwrap();
            ImageRef {
                series_uid: series.into(),
                sop_class: ct.into(),
                sop_instance: sop.into(),
            }
        })
        .collect();
        let bytes = measurement_report(&r).unwrap();
        let meta = crate::dicom::read_file_meta(&bytes).unwrap();
        let ts = TransferSyntaxRegistry.get(EXPLICIT_VR_LE).unwrap();
        let o = InMemDicomObject::read_dataset_with_ts(&bytes[meta.dataset_offset..], ts).unwrap();
        let items = |o: &InMemDicomObject, tag| o.get(tag).unwrap().items().unwrap().to_vec();
        let uid = |o: &InMemDicomObject, tag| o.get(tag).unwrap().to_str().unwrap().to_string();
        let study = &items(&o, tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)[0];
        assert_eq!(uid(study, tags::STUDY_INSTANCE_UID), "1.2.3.4");
        let series = items(study, tags::REFERENCED_SERIES_SEQUENCE);
        let counts: Vec<(String, usize)> = series
            .iter()
            .map(|s| {
                let n = items(s, tags::REFERENCED_SOP_SEQUENCE).len();
                (uid(s, tags::SERIES_INSTANCE_UID), n)
            })
            .collect();
        assert_eq!(
            counts,
            vec![("1.2.3.4.1".into(), 2), ("1.2.3.4.2".into(), 1)]
        );
        let library = items(&o, tags::CONTENT_SEQUENCE)
            .into_iter()
            .find(|c| {
                let name = &items(c, tags::CONCEPT_NAME_CODE_SEQUENCE)[0];
                uid(name, tags::CODE_VALUE) == "111028"
            })
            .unwrap();
        let group = &items(&library, tags::CONTENT_SEQUENCE)[0];
        let images: Vec<String> = items(group, tags::CONTENT_SEQUENCE)
            .iter()
            .map(|i| {
                assert_eq!(uid(i, tags::VALUE_TYPE), "IMAGE");
                let sop = &items(i, tags::REFERENCED_SOP_SEQUENCE)[0];
                uid(sop, tags::REFERENCED_SOP_INSTANCE_UID)
            })
            .collect();
        assert_eq!(images, ["1.2.3.4.1.1", "1.2.3.4.1.2", "1.2.3.4.2.1"]);
        // Without images: an empty library and no evidence sequence.
        let bytes = measurement_report(&report()).unwrap();
        let o = InMemDicomObject::read_dataset_with_ts(&bytes[meta.dataset_offset..], ts).unwrap();
        assert!(
            o.get(tags::CURRENT_REQUESTED_PROCEDURE_EVIDENCE_SEQUENCE)
                .is_none()
        );
    }

    #[test]
    fn a_written_report_reads_back_as_radgate_reads_an_ai_nodes_report() {
        let bytes = measurement_report(&report()).unwrap();
        assert_eq!(&bytes[128..132], b"DICM");
        let meta = crate::dicom::read_file_meta(&bytes).unwrap();
        assert_eq!(meta.sop_class, COMPREHENSIVE_SR);
        let doc = read_sr(&bytes[meta.dataset_offset..], &meta.transfer_syntax).unwrap();
        assert_eq!(doc.sop_instance_uid, "2.25.1");
        assert_eq!(doc.accession.as_deref(), Some("ACC1"));
        assert_eq!(
            doc.content.algorithm_name.as_deref(),
            Some("Simulated PE Detector")
        );
        assert_eq!(doc.content.algorithm_version.as_deref(), Some("3.2.0"));
        assert_eq!(doc.content.groups.len(), 1);
        let g = &doc.content.groups[0];
        assert_eq!(g.findings, vec![Concept::new("SCT", "59282003")]);
        assert_eq!(g.numbers.len(), 1);
        assert_eq!(g.numbers[0].value, 0.93);
        assert_eq!(g.numbers[0].unit, Some(Concept::new("UCUM", "1")));
    }

    #[test]
    fn decimals_fit_a_decimal_string() {
        assert_eq!(decimal(0.93), "0.93");
        assert_eq!(decimal(10.0), "10");
        assert_eq!(decimal(1.0 / 3.0), "0.3333333333");
        assert!(decimal(123_456_789.123_456_79).len() <= 16);
        assert!(decimal(-1.0e20).len() <= 16);
    }
}
