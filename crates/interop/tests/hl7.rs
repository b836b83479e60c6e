//! HL7 v2 orders in, acknowledgements and results out: fields where IHE puts them, errors
//! that name the segment and field, and no panic on any input.

use chrono::TimeZone;
use proptest::prelude::*;
use radgate_domain::study::{OrderStatus, Priority};
use radgate_interop::hl7::{
    AckCode, Control, Delimiters, Message, ack, parse_timestamp, read_order,
};
use radgate_interop::mllp::{Decoder, Frame, frame};

const ORM: &str = "MSH|^~\\&|RIS|RIJNVALLEI|RADGATE|RIJNVALLEI|20261201101500+0100||ORM^O01|MSG0001|P|2.5.1\r\
PID|1||PSEUDO-42^^^RIJNVALLEI^MR||DOE^JANE||19680301|F\r\
PV1|1|E|SEH^^^RIJNVALLEI\r\
ORC|NW|PLC123|FIL123||SC||^^^^^S||20261201101000+0100\r\
OBR|1|PLC123|FIL123|CTPA^CT pulmonary angiography^L|||20261201100500+0100||||||Dyspnoea \\T\\ raised D-dimer|||||ACC0001||||||CT|||^^^^^S||||^Suspected pulmonary embolism\r";

const OMI: &str = "MSH|^~\\&|RIS|RIJNVALLEI|RADGATE|RIJNVALLEI|20261201101500+0100||OMI^O23^OMI_O23|MSG0002|P|2.5.1\r\
PID|1||PSEUDO-43^^^RIJNVALLEI^MR\r\
PV1|1|O|LONG^^^RIJNVALLEI\r\
ORC|XO|PLC124|FIL124\r\
TQ1|1||||||||A\r\
OBR|1|PLC124|FIL124|XTHORAX^Chest X-ray^L\r\
IPC|ACC0002|SPS1|1.2.3.4|SPS1|DX\r";

#[test]
fn a_name_with_all_its_parts_keeps_them_and_an_unknown_sex_is_none() {
    let orm = ORM.replace("DOE^JANE||19680301|F", "DE VRIES^ANNA^M^JR^DR||19680301|U");
    let order = read_order(&Message::parse(&orm).unwrap()).unwrap().order;
    let name = order.patient_name.unwrap();
    assert_eq!(name.as_str(), "DE VRIES^ANNA^M^DR^JR");
    assert_eq!(name.display(), "DE VRIES, DR ANNA M JR");
    assert_eq!(order.patient_sex, None);
    // No name at all is no name, not an error.
    let orm = ORM.replace("DOE^JANE", "");
    assert!(
        read_order(&Message::parse(&orm).unwrap())
            .unwrap()
            .order
            .patient_name
            .is_none()
    );
}

#[test]
fn an_orm_new_order_maps_to_the_domain_order() {
    let m = Message::parse(ORM).unwrap();
    let o = read_order(&m).unwrap();
    assert_eq!(o.control, Control::New);
    let order = o.order;
    assert_eq!(order.accession.as_str(), "ACC0001");
    assert_eq!(order.patient.as_str(), "PSEUDO-42");
    // PID-5 in DICOM's order (family^given^middle^prefix^suffix) and PID-8.
    assert_eq!(
        order.patient_name.as_ref().map(|n| n.as_str()),
        Some("DOE^JANE")
    );
    assert_eq!(
        order.patient_name.as_ref().map(|n| n.display()).as_deref(),
        Some("DOE, JANE")
    );
    assert_eq!(order.patient_sex, Some(radgate_domain::study::Sex::Female));
    assert_eq!(order.procedure_code, "CTPA");
    assert_eq!(order.modality, "CT");
    assert_eq!(order.priority, Priority::Stat);
    assert_eq!(order.ordering_department, "SEH");
    assert_eq!(
        order.clinical_question.as_deref(),
        Some("Suspected pulmonary embolism")
    );
    assert_eq!(order.status, OrderStatus::Placed);
    // ORC-9 at +01:00 is 09:10 UTC.
    assert_eq!(
        order.ordered_at,
        chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 10, 0).unwrap()
    );
    // The escape sequence \T\ stands for the subcomponent separator.
    let obr = m.segment("OBR").unwrap().1;
    assert_eq!(m.value(obr, 13), "Dyspnoea & raised D-dimer");
}

#[test]
fn an_omi_change_takes_the_accession_modality_and_priority_from_ipc_and_tq1() {
    let m = Message::parse(OMI).unwrap();
    let o = read_order(&m).unwrap();
    assert_eq!(o.control, Control::Change);
    assert_eq!(o.order.accession.as_str(), "ACC0002");
    assert_eq!(o.order.modality, "DX");
    assert_eq!(o.order.priority, Priority::Urgent);
    assert_eq!(o.order.ordering_department, "LONG");
    assert_eq!(o.order.status, OrderStatus::Changed);
    let cancel = OMI.replace("ORC|XO|", "ORC|CA|");
    let o = read_order(&Message::parse(&cancel).unwrap()).unwrap();
    assert_eq!(
        (o.control, o.order.status),
        (Control::Cancel, OrderStatus::Cancelled)
    );
}

#[test]
fn problems_name_the_segment_field_and_hl7_error_code() {
    let check = |text: &str, segment: &str, field: usize, code: u16| {
        let e = Message::parse(text)
            .and_then(|m| read_order(&m))
            .unwrap_err();
        assert_eq!(
            (e.segment.as_str(), e.field, e.code),
            (segment, field, code),
            "{e}"
        );
    };
    check(&ORM.replace("|ACC0001|", "||"), "OBR", 18, 101);
    check(&ORM.replace("PSEUDO-42^^^", "^^^"), "PID", 3, 101);
    check(&ORM.replace("ORC|NW|", "ORC|ZZ|"), "ORC", 1, 103);
    check(
        &ORM.replace("^^^^^S||2026", "^^^^^Q||2026")
            .replace("|||^^^^^S|", "|||^^^^^Q|"),
        "OBR",
        27,
        103,
    );
    check(&ORM.replace("ORM^O01", "ADT^A01"), "MSH", 9, 200);
    check(
        &ORM.replace("20261201101000+0100", "yesterday"),
        "ORC",
        9,
        102,
    );
    check(
        &ORM.replace("|ACC0001|", "|ACCESSION-NUMBER-TOO-LONG|"),
        "OBR",
        18,
        102,
    );
    let no_orc: String = ORM
        .split('\r')
        .filter(|s| !s.starts_with("ORC"))
        .collect::<Vec<_>>()
        .join("\r");
    check(&no_orc, "ORC", 0, 100);
    check("PID|1||X", "MSH", 0, 100);
    check("MSH|^~|RIS", "MSH", 2, 102);
    check("MSH|^^\\&|RIS", "MSH", 2, 102);
}

#[test]
fn unusual_encoding_characters_are_honoured() {
    // The sender declares # as field separator and $*@% as encoding characters.
    let odd = ORM
        .replace('|', "#")
        .replace("#^~\\&#", "#$*@%#")
        .replace('^', "$")
        .replace("\\T\\", "@T@");
    let m = Message::parse(&odd).unwrap();
    assert_eq!(
        m.delimiters,
        Delimiters {
            field: '#',
            component: '$',
            repetition: '*',
            escape: '@',
            subcomponent: '%'
        }
    );
    let o = read_order(&m).unwrap();
    assert_eq!(o.order.accession.as_str(), "ACC0001");
    assert_eq!(o.order.procedure_code, "CTPA");
    assert_eq!(
        m.value(m.segment("OBR").unwrap().1, 13),
        "Dyspnoea % raised D-dimer"
    );
}

#[test]
fn the_ack_answers_the_sender_and_names_the_error() {
    let m = Message::parse(ORM).unwrap();
    let now = chrono::Utc.with_ymd_and_hms(2026, 12, 1, 9, 16, 0).unwrap();
    let ok = ack(Some(&m), AckCode::Accept, None, "RG1", now);
    let parsed = Message::parse(&ok).unwrap();
    let msh = parsed.msh();
    assert_eq!(
        parsed.component(msh, 5, 1),
        "RIS",
        "addressed back to the sender"
    );
    assert_eq!(parsed.component(msh, 9, 1), "ACK");
    assert_eq!(parsed.component(msh, 9, 2), "O01");
    let msa = parsed.segment("MSA").unwrap().1;
    assert_eq!(
        (parsed.component(msa, 1, 1), parsed.component(msa, 2, 1)),
        ("AA".into(), "MSG0001".into())
    );
    assert!(parsed.segment("ERR").is_none());

    let e = read_order(&Message::parse(&ORM.replace("|ACC0001|", "||")).unwrap()).unwrap_err();
    let bad = Message::parse(&ack(Some(&m), AckCode::Error, Some(&e), "RG2", now)).unwrap();
    let err = bad.segment("ERR").unwrap().1;
    assert_eq!(bad.component(err, 2, 1), "OBR");
    assert_eq!(bad.component(err, 2, 3), "18");
    assert_eq!(bad.component(err, 3, 1), "101");
    assert_eq!(bad.component(err, 4, 1), "E");
    assert!(bad.value(err, 8).contains("accession number is required"));
}

#[test]
fn timestamps_take_their_offset_and_refuse_nonsense() {
    assert_eq!(
        parse_timestamp("20261201101500-0500"),
        Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 12, 1, 15, 15, 0)
                .unwrap()
        )
    );
    assert_eq!(
        parse_timestamp("20261201"),
        Some(chrono::Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap())
    );
    assert_eq!(parse_timestamp("20261301"), None);
    assert_eq!(parse_timestamp("2026120110+01"), None);
}

proptest! {
    #[test]
    fn escaping_round_trips(text in "\\PC{0,40}") {
        let d = Delimiters::default();
        let clean: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        prop_assert_eq!(d.unescape(&d.escape(&clean)), clean);
    }

    #[test]
    fn no_input_makes_the_reader_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(m) = Message::parse(&text) {
            let _ = read_order(&m);
        }
        let mut d = Decoder::new(256);
        for f in d.push(&bytes) {
            prop_assert!(matches!(f, Frame::Message(_) | Frame::Error(_)));
        }
    }

    #[test]
    fn mutated_orders_never_panic(cut in 0usize..600, junk in "[|^~\\\\&\r A-Z0-9]{0,8}") {
        let cut = cut.min(ORM.len());
        let text = format!("{}{}{}", &ORM[..cut], junk, &ORM[cut..]);
        if let Ok(m) = Message::parse(&text) {
            let _ = read_order(&m);
        }
        let framed = frame(&text);
        let mut d = Decoder::new(4096);
        prop_assert_eq!(d.push(&framed).len(), 1);
    }
}

const ORU: &str = "MSH|^~\\&|RIS|RIJNVALLEI|RADGATE|RIJNVALLEI|20261201113500+0100||ORU^R01^ORU_R01|RES0001|P|2.5.1\r\
PID|1||PSEUDO-42^^^RIJNVALLEI^MR\r\
ORC|RE|PLC123|FIL123\r\
OBR|1|PLC123|FIL123|CTPA^CT pulmonary angiography^L|||20261201100500+0100|||||||||||ACC0001||||20261201113000+0100|||F|||||||rad-ris-7&Vries&Anna\r\
OBX|1|FT|REPORT^Report text^L||Verslag CTPA:\\.br\\Geen vullingsdefecten \\T\\ geen infarct.||||||F\r\
OBX|2|CWE|FINDING^Coded^L||PE^Pulmonary embolism^L||||||F\r\
OBX|3|TX|REPORT^Report text^L||Conclusie:~Geen longembolie.||||||F\r";

#[test]
fn a_final_report_from_the_ris_keeps_its_text_status_signer_and_time() {
    use radgate_domain::external_report::Status;
    use radgate_interop::hl7::read_result;
    let r = read_result(&Message::parse(ORU).unwrap()).unwrap();
    assert_eq!(r.accession.as_str(), "ACC0001");
    assert_eq!(r.status, Status::Final);
    assert_eq!(
        r.text,
        "Verslag CTPA:\nGeen vullingsdefecten & geen infarct.\nConclusie:\nGeen longembolie.",
        "FT line breaks and escapes read, repetitions as lines, coded lines left out"
    );
    assert_eq!(r.signer.as_deref(), Some("rad-ris-7"));
    assert_eq!(
        r.issued_at,
        Some(
            chrono::Utc
                .with_ymd_and_hms(2026, 12, 1, 10, 30, 0)
                .unwrap()
        )
    );
    // Without OBR-18 the filler order number names the study; a correction is `C`.
    let corrected = ORU
        .replace("||ACC0001||", "||||")
        .replace("|||F|||", "|||C|||");
    let r = read_result(&Message::parse(&corrected).unwrap()).unwrap();
    assert_eq!(
        (r.accession.as_str(), r.status),
        ("FIL123", Status::Corrected)
    );
    // What cannot be read is answered with the segment and field.
    let cases = [
        (ORU.replace("|||F|||", "|||X|||"), ("OBR", 25, 103)),
        (ORU.replace("|||F|||", "||||||"), ("OBR", 25, 101)),
        (
            ORU.split('\r')
                .filter(|l| !l.starts_with("OBX"))
                .collect::<Vec<_>>()
                .join("\r"),
            ("OBX", 5, 101),
        ),
        (ORU.replace("ORU^R01", "ORU^R30"), ("MSH", 9, 200)),
    ];
    for (text, (segment, field, code)) in cases {
        let e = read_result(&Message::parse(&text).unwrap()).unwrap_err();
        assert_eq!(
            (e.segment.as_str(), e.field, e.code),
            (segment, field, code),
            "{e:?}"
        );
    }
}
