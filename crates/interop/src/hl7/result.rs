//! Final reports from the RIS: ORU^R01 (HL7 v2.5.1) to the domain's [`ExternalReport`].
//!
//! Where the fields come from: accession number OBR-18, else OBR-3 (the filler order
//! number), else ORC-3; status OBR-25 (`F` final, `C` correction or addendum, `P`
//! preliminary); the report text the OBX segments of value type TX, FT or ST in order,
//! each repetition a line (coded OBX lines are left out); the signing radiologist
//! OBR-32.1 (its first subcomponent, the id); the report time OBR-22.

use radgate_domain::external_report::{ExternalReport, ExternalReportError, Status};
use radgate_domain::ids::AccessionNumber;

use super::message::{Hl7Error, Message, parse_timestamp};
use super::order::message_type;

/// The message type this module reads, as MSH-9 writes it.
pub const RESULT_TYPE: &str = "ORU^R01";

/// Reads a report message; the error names the segment, field and reason for the ACK.
pub fn read_result(m: &Message) -> Result<ExternalReport, Hl7Error> {
    let kind = message_type(m);
    if kind != RESULT_TYPE {
        return Err(Hl7Error::new(
            "MSH",
            1,
            9,
            200,
            format!("message type {kind} is not a result radgate takes (ORU^R01)"),
        ));
    }
    let (obr_at, obr) = m
        .segment("OBR")
        .ok_or_else(|| Hl7Error::new("OBR", 0, 0, 100, "the OBR segment is missing"))?;
    let orc = m.segment("ORC");
    let candidates = [
        ("OBR", obr_at, 18, m.component(obr, 18, 1)),
        ("OBR", obr_at, 3, m.component(obr, 3, 1)),
        (
            "ORC",
            orc.map_or(0, |o| o.0),
            3,
            orc.map_or_else(String::new, |(_, s)| m.component(s, 3, 1)),
        ),
    ];
    let Some((seg, at, field, acc)) = candidates.into_iter().find(|c| !c.3.is_empty()) else {
        return Err(Hl7Error::new(
            "OBR",
            obr_at,
            18,
            101,
            "the accession number is required (OBR-18, else OBR-3 or ORC-3)",
        ));
    };
    let accession = AccessionNumber::parse(acc)
        .map_err(|e| Hl7Error::new(seg, at, field, 102, e.to_string()))?;
    let status = match m.component(obr, 25, 1).as_str() {
        "F" => Status::Final,
        "C" => Status::Corrected,
        "P" => Status::Preliminary,
        "" => {
            return Err(Hl7Error::new(
                "OBR",
                obr_at,
                25,
                101,
                "OBR-25 (result status) is required",
            ));
        }
        other => {
            return Err(Hl7Error::new(
                "OBR",
                obr_at,
                25,
                103,
                format!("result status `{other}` is not F, C or P"),
            ));
        }
    };
    let d = &m.delimiters;
    let mut lines: Vec<String> = Vec::new();
    let mut first_obx = 0;
    for (i, s) in m.segments.iter().enumerate().filter(|(_, s)| s.id == "OBX") {
        if first_obx == 0 {
            first_obx = i + 1;
        }
        if !matches!(m.component(s, 2, 1).as_str(), "TX" | "FT" | "ST") {
            continue;
        }
        // Each repetition a line; FT's \.br\ escapes unescape to line breaks.
        lines.extend(s.raw(5).split(d.repetition).map(|rep| d.unescape(rep)));
    }
    let signer = m.component(obr, 32, 1);
    let issued = m.component(obr, 22, 1);
    let issued_at = if issued.is_empty() {
        None
    } else {
        Some(parse_timestamp(&issued).ok_or_else(|| {
            Hl7Error::new(
                "OBR",
                obr_at,
                22,
                102,
                format!("`{issued}` is not a timestamp"),
            )
        })?)
    };
    ExternalReport::new(accession, status, lines.join("\n"), Some(signer), issued_at).map_err(|e| {
        match e {
            ExternalReportError::EmptyText => Hl7Error::new(
                "OBX",
                first_obx,
                5,
                101,
                "the report has no text (OBX of value type TX, FT or ST)",
            ),
            ExternalReportError::TooLong => Hl7Error::new("OBX", first_obx, 5, 102, e.to_string()),
        }
    })
}
