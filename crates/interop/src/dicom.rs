//! DICOM for the C-STORE receiver: DIMSE command sets (read and written in Implicit VR
//! Little Endian, as PS3.7 prescribes), the attributes routing needs from a received data
//! set (read up to the Series Instance UID, never the pixel data), and the Part 10 file
//! header written in front of the received bytes, which are stored as they came.

use dicom_core::Tag;
use dicom_encoding::TransferSyntaxIndex;
use dicom_parser::dataset::DataToken;
use dicom_parser::dataset::read::{DataSetReader, DataSetReaderOptions, ValueReadStrategy};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use radgate_domain::acquisition::AcquiredInstance;

pub const VERIFICATION: &str = "1.2.840.10008.1.1";
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// radgate's implementation class UID (PS3.7 D.3.3.2), under the UUID-derived root 2.25.
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.178046286437125617318402349512738590571";
pub const IMPLEMENTATION_VERSION: &str = "RADGATE_0_1";

/// DIMSE statuses (PS3.7 C, PS3.4 B.2.3).
pub mod status {
    pub const SUCCESS: u16 = 0x0000;
    /// Out of resources: the instance could not be stored.
    pub const OUT_OF_RESOURCES: u16 = 0xA700;
    /// Data set does not match SOP class.
    pub const DATASET_MISMATCH: u16 = 0xA900;
    /// Cannot understand.
    pub const CANNOT_UNDERSTAND: u16 = 0xC000;
}

/// Command fields (PS3.7 E.1).
pub mod command {
    pub const C_STORE_RQ: u16 = 0x0001;
    pub const C_STORE_RSP: u16 = 0x8001;
    pub const C_ECHO_RQ: u16 = 0x0030;
    pub const C_ECHO_RSP: u16 = 0x8030;
    pub const NO_DATA_SET: u16 = 0x0101;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DicomError {
    #[error("command set: {0}")]
    Command(String),
    #[error("data set: {0}")]
    DataSet(String),
    #[error("transfer syntax {0} is not one radgate reads")]
    TransferSyntax(String),
}

/// The fields of a request command set radgate acts on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Command {
    pub field: u16,
    pub message_id: u16,
    pub affected_sop_class: String,
    pub affected_sop_instance: String,
    /// Whether a data set follows (CommandDataSetType other than 0x0101).
    pub has_data_set: bool,
    /// (0000,0900), in responses.
    pub status: Option<u16>,
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim_end_matches(['\0', ' '])
        .to_owned()
}

fn u16_at(value: &[u8]) -> Option<u16> {
    Some(u16::from_le_bytes(value.get(..2)?.try_into().ok()?))
}

/// Reads a command set (Implicit VR Little Endian, group 0000 only).
pub fn read_command(bytes: &[u8]) -> Result<Command, DicomError> {
    let mut c = Command::default();
    let (mut at, mut field, mut dataset_type) = (0usize, None, None);
    while at < bytes.len() {
        let head = bytes
            .get(at..at + 8)
            .ok_or_else(|| DicomError::Command("truncated element header".into()))?;
        let group = u16::from_le_bytes([head[0], head[1]]);
        let element = u16::from_le_bytes([head[2], head[3]]);
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let value = bytes.get(at + 8..at + 8 + len).ok_or_else(|| {
            DicomError::Command(format!("({group:04X},{element:04X}) runs past the end"))
        })?;
        if group != 0x0000 {
            return Err(DicomError::Command(format!(
                "({group:04X},{element:04X}) is not a command element"
            )));
        }
        match element {
            0x0002 => c.affected_sop_class = text(value),
            0x0100 => field = u16_at(value),
            0x0110 => c.message_id = u16_at(value).unwrap_or(0),
            0x0800 => dataset_type = u16_at(value),
            0x0900 => c.status = u16_at(value),
            0x1000 => c.affected_sop_instance = text(value),
            _ => {}
        }
        at += 8 + len;
    }
    c.field = field.ok_or_else(|| DicomError::Command("no Command Field (0000,0100)".into()))?;
    c.has_data_set = dataset_type.is_some_and(|t| t != command::NO_DATA_SET);
    Ok(c)
}

fn element(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

fn uid(value: &str) -> Vec<u8> {
    let mut v = value.as_bytes().to_vec();
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// A response command set (C-STORE-RSP or C-ECHO-RSP) with its group length.
pub fn response(field: u16, to: &Command, status: u16) -> Vec<u8> {
    let mut body = Vec::with_capacity(160);
    element(&mut body, 0x0002, &uid(&to.affected_sop_class));
    element(&mut body, 0x0100, &field.to_le_bytes());
    element(&mut body, 0x0120, &to.message_id.to_le_bytes());
    element(&mut body, 0x0800, &command::NO_DATA_SET.to_le_bytes());
    element(&mut body, 0x0900, &status.to_le_bytes());
    if !to.affected_sop_instance.is_empty() {
        element(&mut body, 0x1000, &uid(&to.affected_sop_instance));
    }
    let mut out = Vec::with_capacity(body.len() + 12);
    element(&mut out, 0x0000, &(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A C-STORE-RQ command set (medium priority, a data set follows).
pub fn store_request(message_id: u16, sop_class: &str, sop_instance: &str) -> Vec<u8> {
    let mut body = Vec::with_capacity(160);
    element(&mut body, 0x0002, &uid(sop_class));
    element(&mut body, 0x0100, &command::C_STORE_RQ.to_le_bytes());
    element(&mut body, 0x0110, &message_id.to_le_bytes());
    element(&mut body, 0x0700, &0u16.to_le_bytes());
    element(&mut body, 0x0800, &0u16.to_le_bytes());
    element(&mut body, 0x1000, &uid(sop_instance));
    let mut out = Vec::with_capacity(body.len() + 12);
    element(&mut out, 0x0000, &(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// What a Part 10 file's meta group says, and where its data set starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    pub sop_class: String,
    pub sop_instance: String,
    pub transfer_syntax: String,
    pub dataset_offset: usize,
}

/// Reads the file meta information group (Explicit VR Little Endian, PS3.10 7.1).
pub fn read_file_meta(bytes: &[u8]) -> Result<FileMeta, DicomError> {
    let bad = |r: &str| DicomError::DataSet(format!("file meta: {r}"));
    if bytes.get(128..132) != Some(b"DICM".as_slice()) {
        return Err(bad("no DICM prefix"));
    }
    let mut at = 132;
    let (mut class, mut instance, mut ts) = (None, None, None);
    while let Some(head) = bytes.get(at..at + 8) {
        let group = u16::from_le_bytes([head[0], head[1]]);
        if group != 0x0002 {
            break;
        }
        let element = u16::from_le_bytes([head[2], head[3]]);
        let vr = &head[4..6];
        let (len, value_at) = if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT") {
            let l = bytes.get(at + 8..at + 12).ok_or_else(|| bad("truncated"))?;
            (
                u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize,
                at + 12,
            )
        } else {
            (u16::from_le_bytes([head[6], head[7]]) as usize, at + 8)
        };
        let value = bytes
            .get(value_at..value_at + len)
            .ok_or_else(|| bad("truncated"))?;
        match element {
            0x0002 => class = Some(text(value)),
            0x0003 => instance = Some(text(value)),
            0x0010 => ts = Some(text(value)),
            _ => {}
        }
        at = value_at + len;
    }
    Ok(FileMeta {
        sop_class: class.ok_or_else(|| bad("no Media Storage SOP Class UID"))?,
        sop_instance: instance.ok_or_else(|| bad("no Media Storage SOP Instance UID"))?,
        transfer_syntax: ts.ok_or_else(|| bad("no Transfer Syntax UID"))?,
        dataset_offset: at,
    })
}

fn tag(g: u16, e: u16) -> Tag {
    Tag(g, e)
}

/// The attributes routing and monitoring need, read from a data set in `ts_uid` up to
/// the Series Instance UID (0020,000E): the pixel data is never touched.
pub fn read_instance(dataset: &[u8], ts_uid: &str) -> Result<AcquiredInstance, DicomError> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid.trim_end_matches('\0'))
        .ok_or_else(|| DicomError::TransferSyntax(ts_uid.to_owned()))?;
    let options = DataSetReaderOptions::default().value_read(ValueReadStrategy::Preserved);
    let reader = DataSetReader::new_with_ts_options(dataset, ts, options)
        .map_err(|e| DicomError::TransferSyntax(format!("{ts_uid}: {e}")))?;
    let mut out = AcquiredInstance::default();
    let (mut depth, mut current): (usize, Option<Tag>) = (0, None);
    let (mut date, mut time, mut offset) = (None, None, None);
    for token in reader {
        let token = token.map_err(|e| DicomError::DataSet(e.to_string()))?;
        match token {
            DataToken::SequenceStart { .. } | DataToken::PixelSequenceStart => depth += 1,
            DataToken::SequenceEnd => depth = depth.saturating_sub(1),
            DataToken::ElementHeader(h) if depth == 0 => {
                if h.tag > tag(0x0020, 0x000E) {
                    break;
                }
                current = Some(h.tag);
            }
            DataToken::PrimitiveValue(v) if depth == 0 => {
                let Some(t) = current.take() else { continue };
                let s = v.to_str().trim().trim_end_matches('\0').to_owned();
                let some = || (!s.is_empty()).then(|| s.clone());
                match (t.0, t.1) {
                    (0x0008, 0x0016) => out.sop_class_uid = s.clone(),
                    (0x0008, 0x0018) => out.sop_instance_uid = s.clone(),
                    (0x0008, 0x0020) => date = some(),
                    (0x0008, 0x0030) => time = some(),
                    (0x0008, 0x0050) => out.accession = some(),
                    (0x0008, 0x0060) => out.modality = some(),
                    (0x0008, 0x0070) => out.manufacturer = some(),
                    (0x0008, 0x0201) => offset = some(),
                    (0x0008, 0x1030) => out.study_description = some(),
                    (0x0008, 0x1090) => out.model = some(),
                    (0x0010, 0x0010) => out.patient_name = some(),
                    (0x0010, 0x0020) => out.patient_id = some(),
                    (0x0010, 0x0040) => out.patient_sex = some(),
                    (0x0010, 0x1010) => {
                        out.patient_age_years = s.strip_suffix('Y').and_then(|y| y.parse().ok())
                    }
                    (0x0018, 0x0015) => out.body_part = some(),
                    (0x0018, 0x1030) => out.protocol = some(),
                    (0x0020, 0x000D) => out.study_uid = s.clone(),
                    (0x0020, 0x000E) => out.series_uid = s.clone(),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if out.study_uid.is_empty() {
        return Err(DicomError::DataSet(
            "no Study Instance UID (0020,000D)".into(),
        ));
    }
    if out.sop_instance_uid.is_empty() {
        return Err(DicomError::DataSet(
            "no SOP Instance UID (0008,0018)".into(),
        ));
    }
    out.study_time = study_time(date.as_deref(), time.as_deref(), offset.as_deref());
    Ok(out)
}

/// Study date and time as UTC, only when the modality states its offset from UTC
/// (0008,0201): DICOM times are otherwise local, and guessing the zone would be wrong
/// twice a year.
fn study_time(
    date: Option<&str>,
    time: Option<&str>,
    offset: Option<&str>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let (date, offset) = (date?, offset?);
    let time = time.unwrap_or("000000");
    let hhmmss: String = time
        .split('.')
        .next()?
        .chars()
        .chain("000000".chars())
        .take(6)
        .collect();
    let stamp = format!("{date}{hhmmss}{offset}");
    chrono::DateTime::parse_from_str(&stamp, "%Y%m%d%H%M%S%z")
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// The Part 10 header for a received instance: 128-byte preamble, `DICM`, and the file
/// meta information group (Explicit VR Little Endian). The data set follows as received.
pub fn file_header(sop_class: &str, sop_instance: &str, ts_uid: &str, calling_ae: &str) -> Vec<u8> {
    fn explicit(out: &mut Vec<u8>, e: u16, vr: &[u8; 2], value: &[u8]) {
        out.extend_from_slice(&0x0002u16.to_le_bytes());
        out.extend_from_slice(&e.to_le_bytes());
        out.extend_from_slice(vr);
        if vr == b"OB" {
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        out.extend_from_slice(value);
    }
    let ae = {
        let mut v = calling_ae.trim().as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(b' ');
        }
        v
    };
    let version = {
        let mut v = IMPLEMENTATION_VERSION.as_bytes().to_vec();
        if v.len() % 2 == 1 {
            v.push(b' ');
        }
        v
    };
    let mut group = Vec::with_capacity(256);
    explicit(&mut group, 0x0001, b"OB", &[0x00, 0x01]);
    explicit(&mut group, 0x0002, b"UI", &uid(sop_class));
    explicit(&mut group, 0x0003, b"UI", &uid(sop_instance));
    explicit(
        &mut group,
        0x0010,
        b"UI",
        &uid(ts_uid.trim_end_matches('\0')),
    );
    explicit(&mut group, 0x0012, b"UI", &uid(IMPLEMENTATION_CLASS_UID));
    explicit(&mut group, 0x0013, b"SH", &version);
    if !ae.is_empty() {
        explicit(&mut group, 0x0016, b"AE", &ae);
    }
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    explicit(&mut out, 0x0000, b"UL", &(group.len() as u32).to_le_bytes());
    out.extend_from_slice(&group);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_reads_back_with_its_group_length() {
        let rq = Command {
            field: command::C_STORE_RQ,
            message_id: 7,
            affected_sop_class: "1.2.840.10008.5.1.4.1.1.2".into(),
            affected_sop_instance: "1.2.3.4.5".into(),
            has_data_set: true,
            status: None,
        };
        let rsp = response(command::C_STORE_RSP, &rq, status::SUCCESS);
        let back = read_command(&rsp).unwrap();
        assert_eq!(back.field, command::C_STORE_RSP);
        assert_eq!(back.affected_sop_instance, "1.2.3.4.5");
        assert!(!back.has_data_set);
        assert_eq!(back.status, Some(status::SUCCESS));
        // (0000,0000) UL counts the bytes after it.
        let len = u32::from_le_bytes(rsp[8..12].try_into().unwrap()) as usize;
        assert_eq!(len, rsp.len() - 12);
        assert!(read_command(&rsp[..rsp.len() - 3]).is_err());
    }

    #[test]
    fn a_written_header_reads_back_and_points_at_the_data_set() {
        let mut file = file_header(
            "1.2.840.10008.5.1.4.1.1.2",
            "1.2.3.4",
            EXPLICIT_VR_LE,
            "MODALITY",
        );
        let offset = file.len();
        file.extend_from_slice(&[8, 0, 0x16, 0]);
        let meta = read_file_meta(&file).unwrap();
        assert_eq!(meta.sop_class, "1.2.840.10008.5.1.4.1.1.2");
        assert_eq!(meta.sop_instance, "1.2.3.4");
        assert_eq!(meta.transfer_syntax, EXPLICIT_VR_LE);
        assert_eq!(meta.dataset_offset, offset);
        let rq = read_command(&store_request(3, "1.2.840.10008.5.1.4.1.1.2", "1.2.3.4")).unwrap();
        assert_eq!(
            (rq.field, rq.message_id, rq.has_data_set),
            (command::C_STORE_RQ, 3, true)
        );
    }

    #[test]
    fn study_time_needs_the_offset() {
        assert_eq!(
            study_time(Some("20261201"), Some("101500.123"), Some("+0100")),
            Some("2026-12-01T09:15:00Z".parse().unwrap())
        );
        assert_eq!(study_time(Some("20261201"), Some("1015"), None), None);
    }
}
