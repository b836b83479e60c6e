//! Imaging orders from the RIS: ORM^O01 and OMI^O23 (HL7 v2.5.1) to the domain's
//! [`Order`]. New orders (ORC-1 `NW`), changes (`XO`) and cancellations (`CA`, `DC`, `OC`).
//!
//! Where the fields come from, following IHE Radiology's Scheduled Workflow:
//! accession number IPC-1 (OMI), else OBR-18; patient PID-3 (first identifier), the
//! patient's name PID-5 (family^given^middle^suffix^prefix, kept in DICOM's order) and
//! sex PID-8 (F, M, O; U and others are left out);
//! procedure OBR-4.1; modality IPC-5 (OMI), else OBR-24; priority TQ1-9 (OMI), else
//! OBR-27.6, else ORC-7.6 (S stat; A, P, T urgent; R routine; default routine); ordering
//! department PV1-3.1, else ORC-17.1; clinical question OBR-31 (text, else code), else
//! OBR-13; ordered at ORC-9, else OBR-6, else MSH-7.

use radgate_domain::ids::{AccessionNumber, PatientId};
use radgate_domain::study::{NameError, Order, OrderStatus, PatientName, Priority, Sex};

use super::message::{Hl7Error, Message, Segment, parse_timestamp};

/// PID-5 as DICOM writes a person name (family^given^middle^prefix^suffix); none when
/// the message gives no name.
fn patient_name(m: &Message, pid: &Segment) -> Result<Option<PatientName>, NameError> {
    let c = |i| m.component(pid, 5, i);
    let dicom = [c(1), c(2), c(3), c(5), c(4)].join("^");
    if dicom.trim_matches('^').trim().is_empty() {
        return Ok(None);
    }
    PatientName::parse(dicom).map(Some)
}

/// What the message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    New,
    Change,
    Cancel,
}

/// An order message's content and the facts an acknowledgement needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderMessage {
    pub control: Control,
    pub order: Order,
}

/// The message types this module reads, as MSH-9 writes them.
pub const ORDER_TYPES: [&str; 2] = ["ORM^O01", "OMI^O23"];

/// MSH-9.1 and .2 joined with `^`, e.g. `ORM^O01`.
pub fn message_type(m: &Message) -> String {
    let msh = m.msh();
    format!("{}^{}", m.component(msh, 9, 1), m.component(msh, 9, 2))
}

fn required<'a>(m: &'a Message, id: &str) -> Result<(usize, &'a Segment), Hl7Error> {
    m.segment(id)
        .ok_or_else(|| Hl7Error::new(id, 0, 0, 100, format!("the {id} segment is missing")))
}

fn priority(code: &str) -> Option<Priority> {
    match code {
        "S" => Some(Priority::Stat),
        "A" | "P" | "T" => Some(Priority::Urgent),
        "R" | "" => Some(Priority::Routine),
        _ => None,
    }
}

/// Reads an order message; the error names the segment, field and reason for the ACK.
pub fn read_order(m: &Message) -> Result<OrderMessage, Hl7Error> {
    let kind = message_type(m);
    if !ORDER_TYPES.contains(&kind.as_str()) {
        return Err(Hl7Error::new(
            "MSH",
            1,
            9,
            200,
            format!("message type {kind} is not an order radgate takes (ORM^O01, OMI^O23)"),
        ));
    }
    let omi = kind == "OMI^O23";
    let (pid_at, pid) = required(m, "PID")?;
    let (orc_at, orc) = required(m, "ORC")?;
    let (obr_at, obr) = required(m, "OBR")?;
    let ipc = m.segment("IPC");
    let tq1 = m.segment("TQ1");
    let pv1 = m.segment("PV1");

    let control = match m.component(orc, 1, 1).as_str() {
        "NW" => Control::New,
        "XO" => Control::Change,
        "CA" | "DC" | "OC" => Control::Cancel,
        "" => {
            return Err(Hl7Error::new(
                "ORC",
                orc_at,
                1,
                101,
                "ORC-1 (order control) is required",
            ));
        }
        other => {
            return Err(Hl7Error::new(
                "ORC",
                orc_at,
                1,
                103,
                format!("order control `{other}` is not NW, XO, CA, DC or OC"),
            ));
        }
    };

    let (acc_seg, acc_at, acc_field, acc) = match ipc {
        Some((at, s)) if omi && !m.component(s, 1, 1).is_empty() => {
            ("IPC", at, 1, m.component(s, 1, 1))
        }
        _ => ("OBR", obr_at, 18, m.component(obr, 18, 1)),
    };
    if acc.is_empty() {
        return Err(Hl7Error::new(
            acc_seg,
            acc_at,
            acc_field,
            101,
            "the accession number is required (IPC-1 in OMI, OBR-18 in ORM)",
        ));
    }
    let accession = AccessionNumber::parse(acc)
        .map_err(|e| Hl7Error::new(acc_seg, acc_at, acc_field, 102, e.to_string()))?;

    let patient = m.component(pid, 3, 1);
    if patient.is_empty() {
        return Err(Hl7Error::new(
            "PID",
            pid_at,
            3,
            101,
            "PID-3 (patient identifier) is required",
        ));
    }
    let patient = PatientId::parse(patient)
        .map_err(|e| Hl7Error::new("PID", pid_at, 3, 102, e.to_string()))?;
    let patient_name =
        patient_name(m, pid).map_err(|e| Hl7Error::new("PID", pid_at, 5, 102, e.to_string()))?;
    let patient_sex = Sex::parse(&m.component(pid, 8, 1));

    let procedure_code = m.component(obr, 4, 1);
    if procedure_code.is_empty() {
        return Err(Hl7Error::new(
            "OBR",
            obr_at,
            4,
            101,
            "OBR-4 (universal service identifier) is required",
        ));
    }

    let modality = match ipc {
        Some((_, s)) if !m.component(s, 5, 1).is_empty() => m.component(s, 5, 1),
        _ => m.component(obr, 24, 1),
    };
    if modality.is_empty() {
        return Err(Hl7Error::new(
            "OBR",
            obr_at,
            24,
            101,
            "the modality is required (IPC-5 in OMI, OBR-24 in ORM)",
        ));
    }

    let (p_seg, p_at, p_field, p_code) = match (tq1, omi) {
        (Some((at, s)), true) if !m.component(s, 9, 1).is_empty() => {
            ("TQ1", at, 9, m.component(s, 9, 1))
        }
        _ if !m.component(obr, 27, 6).is_empty() => ("OBR", obr_at, 27, m.component(obr, 27, 6)),
        _ => ("ORC", orc_at, 7, m.component(orc, 7, 6)),
    };
    let priority = priority(&p_code).ok_or_else(|| {
        Hl7Error::new(
            p_seg,
            p_at,
            p_field,
            103,
            format!("priority `{p_code}` is not S, A, P, T or R"),
        )
    })?;

    let department = pv1
        .map(|(_, s)| m.component(s, 3, 1))
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| m.component(orc, 17, 1));
    if department.is_empty() {
        return Err(Hl7Error::new(
            "PV1",
            pv1.map_or(0, |(at, _)| at),
            3,
            101,
            "the ordering department is required (PV1-3 point of care, or ORC-17)",
        ));
    }

    let question = [
        m.component(obr, 31, 2),
        m.component(obr, 31, 1),
        m.component(obr, 13, 1),
    ]
    .into_iter()
    .find(|q| !q.trim().is_empty());

    let msh = m.msh();
    let stamp = [
        ("ORC", orc_at, 9, m.component(orc, 9, 1)),
        ("OBR", obr_at, 6, m.component(obr, 6, 1)),
        ("MSH", 1, 7, m.component(msh, 7, 1)),
    ]
    .into_iter()
    .find(|(.., v)| !v.is_empty());
    let ordered_at = match stamp {
        None => {
            return Err(Hl7Error::new(
                "MSH",
                1,
                7,
                101,
                "MSH-7 (date/time of message) is required",
            ));
        }
        Some((seg, at, field, v)) => parse_timestamp(&v).ok_or_else(|| {
            Hl7Error::new(
                seg,
                at,
                field,
                102,
                format!("`{v}` is not an HL7 timestamp (YYYYMMDDHHMMSS[+ZZZZ])"),
            )
        })?,
    };

    Ok(OrderMessage {
        control,
        order: Order {
            accession,
            patient,
            patient_name,
            patient_sex,
            procedure_code,
            modality,
            priority,
            ordering_department: department,
            clinical_question: question,
            ordered_at,
            status: match control {
                Control::New => OrderStatus::Placed,
                Control::Change => OrderStatus::Changed,
                Control::Cancel => OrderStatus::Cancelled,
            },
            // HL7 orders do not say how many series an acquisition makes.
            expected_series: None,
        },
    })
}
