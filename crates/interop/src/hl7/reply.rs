//! What radgate sends: acknowledgements (ACK with MSA and, on error, ERR) and results
//! (ORU^R01 with the report), HL7 v2.5.1.

use chrono::{DateTime, Utc};
use radgate_domain::report::{Report, ReportState};

use super::message::{Builder, Hl7Error, Message, Value, format_timestamp};

/// MSA-1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckCode {
    /// Application accept.
    Accept,
    /// Application error: the content is wrong (a field missing or invalid).
    Error,
    /// Application reject: the message itself is not one radgate takes (type, version,
    /// header).
    Reject,
}

impl AckCode {
    pub fn code(self) -> &'static str {
        match self {
            AckCode::Accept => "AA",
            AckCode::Error => "AE",
            AckCode::Reject => "AR",
        }
    }
}

/// Who radgate is in MSH-3/4 of what it sends.
pub const APPLICATION: &str = "RADGATE";

/// The acknowledgement of `original` (when it could be parsed): MSH addressed back to its
/// sender, MSA with `code` and its control ID, and ERR naming the segment, field, HL7
/// error code and reason when there is an error.
pub fn ack(
    original: Option<&Message>,
    code: AckCode,
    error: Option<&Hl7Error>,
    control_id: &str,
    now: DateTime<Utc>,
) -> String {
    let field = |n: usize, c: usize| -> String {
        original.map_or_else(String::new, |m| m.component(m.msh(), n, c))
    };
    let (app, facility) = (field(3, 1), field(4, 1));
    let (trigger, processing) = (field(9, 2), field(11, 1));
    let version = original
        .map(|m| m.component(m.msh(), 12, 1))
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "2.5.1".to_owned());
    let their_id = field(10, 1);
    let mut b = Builder::new();
    let enc = b.delimiters().encoding_characters();
    let stamp = format_timestamp(now);
    let processing = if processing.is_empty() {
        "P".to_owned()
    } else {
        processing
    };
    b.segment(
        "MSH",
        &[
            Value::Raw(&enc),
            Value::Text(APPLICATION),
            Value::Text(""),
            Value::Text(&app),
            Value::Text(&facility),
            Value::Text(&stamp),
            Value::Text(""),
            Value::Components(vec!["ACK", &trigger, "ACK"]),
            Value::Text(control_id),
            Value::Text(&processing),
            Value::Text(&version),
        ],
    );
    let text = error.map_or_else(String::new, |e| e.reason.clone());
    b.segment(
        "MSA",
        &[
            Value::Text(code.code()),
            Value::Text(&their_id),
            Value::Text(&text),
        ],
    );
    if let Some(e) = error {
        let sequence = e.sequence.to_string();
        let field = e.field.to_string();
        let hl7_code = e.code.to_string();
        b.segment(
            "ERR",
            &[
                Value::Text(""),
                Value::Components(vec![&e.segment, &sequence, &field]),
                Value::Components(vec![&hl7_code, table_0357(e.code), "HL70357"]),
                Value::Text("E"),
                Value::Text(""),
                Value::Text(""),
                Value::Text(""),
                Value::Text(&e.reason),
            ],
        );
    }
    b.finish()
}

fn table_0357(code: u16) -> &'static str {
    match code {
        0 => "Message accepted",
        100 => "Segment sequence error",
        101 => "Required field missing",
        102 => "Data type error",
        103 => "Table value not found",
        200 => "Unsupported message type",
        201 => "Unsupported event code",
        203 => "Unsupported version id",
        _ => "Application internal error",
    }
}

/// Whether this version of the report goes to the RIS: every authorized version (the
/// authorization, each addendum), and the preliminary one when the RIS takes those.
pub fn sends(report: &Report, preliminary: bool) -> bool {
    match report.state {
        ReportState::Authorized => true,
        ReportState::Preliminary => preliminary,
        ReportState::Draft => false,
    }
}

/// The study facts an ORU needs beside the report.
pub struct ResultContext<'a> {
    pub patient: &'a str,
    pub procedure_code: &'a str,
    pub acquired_at: DateTime<Utc>,
    /// Receiving application and facility (MSH-5, MSH-6).
    pub receiver: (&'a str, &'a str),
}

/// ORU^R01 with the report: OBR-25 `F` for an authorized report (`C` once it has
/// addenda, which follow as their own OBX lines), `P` for a preliminary one; one TX
/// OBX per line of text and one CWE OBX per coded finding; OBR-32 the signer.
pub fn oru(
    report: &Report,
    ctx: &ResultContext<'_>,
    control_id: &str,
    now: DateTime<Utc>,
) -> String {
    let status = match (report.state, report.addenda.is_empty()) {
        (ReportState::Authorized, true) => "F",
        (ReportState::Authorized, false) => "C",
        _ => "P",
    };
    let signer = report
        .authorized_by
        .as_ref()
        .unwrap_or(&report.author)
        .id
        .to_string();
    let mut b = Builder::new();
    let enc = b.delimiters().encoding_characters();
    let stamp = format_timestamp(now);
    let acquired = format_timestamp(ctx.acquired_at);
    let acc = report.accession.as_str();
    b.segment(
        "MSH",
        &[
            Value::Raw(&enc),
            Value::Text(APPLICATION),
            Value::Text(""),
            Value::Text(ctx.receiver.0),
            Value::Text(ctx.receiver.1),
            Value::Text(&stamp),
            Value::Text(""),
            Value::Components(vec!["ORU", "R01", "ORU_R01"]),
            Value::Text(control_id),
            Value::Text("P"),
            Value::Text("2.5.1"),
        ],
    );
    b.segment(
        "PID",
        &[Value::Text("1"), Value::Text(""), Value::Text(ctx.patient)],
    );
    b.segment(
        "ORC",
        &[Value::Text("RE"), Value::Text(""), Value::Text(acc)],
    );
    let mut obr: Vec<Value<'_>> = vec![
        Value::Text("1"),
        Value::Text(""),
        Value::Text(acc),
        Value::Text(ctx.procedure_code),
        Value::Text(""),
        Value::Text(""),
        Value::Text(&acquired),
    ];
    // OBR-8 .. OBR-17 empty, OBR-18 the accession, OBR-19 .. OBR-21 empty, OBR-22 the
    // result time, OBR-23 .. OBR-24 empty, OBR-25 the status, OBR-26 .. OBR-31 empty,
    // OBR-32 the principal result interpreter.
    obr.extend((8..=17).map(|_| Value::Text("")));
    obr.push(Value::Text(acc));
    obr.extend((19..=21).map(|_| Value::Text("")));
    obr.push(Value::Text(&stamp));
    obr.extend((23..=24).map(|_| Value::Text("")));
    obr.push(Value::Text(status));
    obr.extend((26..=31).map(|_| Value::Text("")));
    obr.push(Value::Text(&signer));
    b.segment("OBR", &obr);
    let mut n = 0;
    let mut obx =
        |b: &mut Builder, kind: &str, id: (&str, &str), value: Value<'_>, status: &str| {
            n += 1;
            let set = n.to_string();
            b.segment(
                "OBX",
                &[
                    Value::Text(&set),
                    Value::Text(kind),
                    Value::Components(vec![id.0, id.1, "L"]),
                    Value::Text(""),
                    value,
                    Value::Text(""),
                    Value::Text(""),
                    Value::Text(""),
                    Value::Text(""),
                    Value::Text(""),
                    Value::Text(status),
                ],
            );
        };
    let line_status = if status == "P" { "P" } else { "F" };
    for line in report.content.text.lines() {
        obx(
            &mut b,
            "TX",
            ("REPORT", "Report text"),
            Value::Text(line),
            line_status,
        );
    }
    for f in &report.content.findings {
        obx(
            &mut b,
            "CWE",
            ("FINDING", "Coded finding"),
            Value::Components(vec![f.as_str(), f.as_str(), "RADGATE"]),
            line_status,
        );
    }
    for a in &report.addenda {
        for line in a.text.lines() {
            obx(
                &mut b,
                "TX",
                ("ADDENDUM", "Addendum"),
                Value::Text(line),
                "C",
            );
        }
        for f in &a.findings {
            obx(
                &mut b,
                "CWE",
                ("FINDING", "Coded finding"),
                Value::Components(vec![f.as_str(), f.as_str(), "RADGATE"]),
                "C",
            );
        }
    }
    b.finish()
}
