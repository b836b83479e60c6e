//! HL7 v2 over MLLP against the real `radgate serve`, with python-hl7 (PyPI `hl7`) as the
//! RIS: its MLLP client sends the orders and its parser reads radgate's acknowledgements.
//! Raw sockets play the badly behaved senders. `scripts/test` installs python-hl7.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use radgate_interop::mllp::frame;
use serde_json::Value;
use support::hl7::ris;
use support::{Server, databases};

fn orm(control: &str, id: &str, acc: &str) -> String {
    format!(
        "MSH|^~\\&|RIS|RIJNVALLEI|RADGATE|RIJNVALLEI|20261201101500+0100||ORM^O01|{id}|P|2.5.1\r\
         PID|1||PSEUDO-42^^^RIJNVALLEI^MR\r\
         PV1|1|E|SEH^^^RIJNVALLEI\r\
         ORC|{control}|PLC-{acc}|||SC||^^^^^S||20261201101000+0100\r\
         OBR|1|PLC-{acc}||CTPA^CT pulmonary angiography^L||||||||||||||{acc}||||||CT\r"
    )
}

/// The order's status as stored.
fn order_status(db: &str, acc: &str) -> Option<String> {
    support::scalar(db, "SELECT status FROM orders WHERE accession = $1", acc)
}

/// Sends raw bytes and reads until the server closes or `wait` passes.
fn raw(mllp: &str, bytes: &[u8], wait: Duration) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(mllp).unwrap();
    s.set_nodelay(true).unwrap();
    s.write_all(bytes).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break false,
        }
    };
    (got, closed)
}

#[test]
fn orders_over_mllp_are_stored_and_acknowledged_and_bad_senders_never_stop_the_listener() {
    for db in databases("hl7_orders") {
        let s = Server::start_with(
            &db,
            &["--mllp-listen", "127.0.0.1:0", "--mllp-idle-seconds", "2"],
        );
        let mllp = s.mllp.clone().unwrap();
        let file = db[1].clone();
        let acks = ris(
            &mllp,
            &[
                orm("NW", "M1", "HL7A1"),
                orm("NW", "M2", "HL7A1"), // a repeat: harmless
                orm("CA", "M3", "HL7A1"),
                orm("XO", "M4", "HL7A1"), // a change after the cancellation
                orm("NW", "M5", ""),
                orm("NW", "M6", "HL7A2").replace("ORM^O01", "ADT^A01"),
            ],
        );
        let msa: Vec<(&str, &str)> = acks
            .iter()
            .map(|a| (a["msa"][0].as_str().unwrap(), a["msa"][1].as_str().unwrap()))
            .collect();
        assert_eq!(
            msa,
            [
                ("AA", "M1"),
                ("AA", "M2"),
                ("AA", "M3"),
                ("AE", "M4"),
                ("AE", "M5"),
                ("AR", "M6")
            ],
            "{acks:?}"
        );
        assert_eq!(acks[0]["to"], "RIS", "addressed back to the sender");
        assert!(acks[0]["type"].as_str().unwrap().starts_with("ACK^O01"));
        assert!(acks[0]["err"].is_null());
        assert_eq!(order_status(&file, "HL7A1").as_deref(), Some("cancelled"));
        // The change to a cancelled order says why; the missing accession names OBR-18.
        assert!(
            acks[3]["err"][4].as_str().unwrap().contains("cancelled"),
            "{acks:?}"
        );
        assert_eq!(acks[4]["err"][0], "OBR");
        assert_eq!(acks[4]["err"][2], "18");
        assert_eq!(acks[4]["err"][3], "101");
        assert_eq!(acks[5]["err"][3], "200");
        assert_eq!(
            order_status(&file, "HL7A2"),
            None,
            "a rejected message stores nothing"
        );

        // An oversized frame: AR, then the connection is closed.
        let mut big = vec![0x0b];
        big.extend(std::iter::repeat_n(
            b'X',
            radgate_server::MLLP_MAX_FRAME + 10,
        ));
        let (reply, closed) = raw(&mllp, &big, Duration::from_secs(5));
        assert!(closed);
        assert!(
            String::from_utf8_lossy(&reply).contains("MSA|AR"),
            "{}",
            String::from_utf8_lossy(&reply)
        );
        // Bytes outside a frame (an HTTP client on the wrong port): AR and closed.
        let (reply, closed) = raw(&mllp, b"GET / HTTP/1.1\r\n\r\n", Duration::from_secs(5));
        assert!(closed && String::from_utf8_lossy(&reply).contains("MSA|AR"));
        // A bad MSH inside a good frame: AR, and the connection stays open for more.
        let (reply, closed) = raw(&mllp, &frame("MSH|^~|broken"), Duration::from_millis(500));
        assert!(!closed && String::from_utf8_lossy(&reply).contains("MSA|AR"));
        // A truncated frame and silence: closed after the idle time, nothing stored.
        let start = Instant::now();
        let truncated = orm("NW", "T1", "HL7T1");
        let (reply, closed) = raw(
            &mllp,
            &[&[0x0b], &truncated.as_bytes()[..40]].concat(),
            Duration::from_secs(10),
        );
        assert!(closed && reply.is_empty());
        assert!(
            start.elapsed() >= Duration::from_millis(1900),
            "closed by the idle timeout"
        );
        assert_eq!(order_status(&file, "HL7T1"), None);
        // A slow sender, a byte at a time, is served in full.
        let mut slow = TcpStream::connect(&mllp).unwrap();
        slow.set_nodelay(true).unwrap();
        for chunk in frame(&orm("NW", "S1", "HL7S1")).chunks(25) {
            slow.write_all(chunk).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 2048];
        let n = slow.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("MSA|AA|S1"));
        // And the listener still takes orders from the RIS.
        let after = ris(&mllp, &[orm("NW", "M7", "HL7A3")]);
        assert_eq!(after[0]["msa"][0], "AA");
        assert_eq!(order_status(&file, "HL7A3").as_deref(), Some("placed"));
    }
}

/// A RIS that takes results: python-hl7's asyncio MLLP server parses each message with
/// python-hl7 and prints it as a JSON line; the first `refuse` messages get `AE`.
const RIS_SERVER: &str = r#"
import asyncio, json, sys
import hl7
from hl7.mllp import start_hl7_server

port, refuse = int(sys.argv[1]), int(sys.argv[2])
seen = 0

async def results(reader, writer):
    global seen
    while not writer.is_closing():
        try:
            m = await reader.readmessage()
        except asyncio.IncompleteReadError:
            return
        seen += 1
        obr = m.segment("OBR")
        obx = [[str(s[2]), str(s[3][0][0]), str(s[5]), str(s[11])] for s in m.segments("OBX")]
        print(json.dumps({"type": str(m.segment("MSH")[9]), "control": str(m.segment("MSH")[10]),
            "to": str(m.segment("MSH")[5]), "patient": str(m.segment("PID")[3]),
            "accession": str(obr[3]), "status": str(obr[25]), "interpreter": str(obr[32]),
            "obx": obx}), flush=True)
        writer.writemessage(m.create_ack("AE" if seen <= refuse else "AA"))
        await writer.drain()

async def main():
    server = await start_hl7_server(results, host="127.0.0.1", port=port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()

asyncio.run(main())
"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn an_authorized_report_reaches_the_ris_as_oru_even_when_the_ris_was_down_and_radgate_was_killed() {
    use std::io::BufRead;
    use support::http::{call, login, provision_people, study};
    for db in databases("hl7_results") {
        let port = free_port();
        let ris_at = format!("127.0.0.1:{port}");
        let flags = [
            "--ris-mllp",
            ris_at.as_str(),
            "--ris-facility",
            "RIJNVALLEI",
        ];
        let mut s = Server::start_with(&db, &flags);
        let key = provision_people(&db);
        let rad = login(&s.url, "devries");
        let u = |s: &Server, p: &str| format!("{}{p}", s.url);
        let r = call(
            "POST",
            &u(&s, "/api/v1/studies"),
            Some(&key),
            None,
            Some(&study("ORU1", "CTPA", "CT", "CHEST")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let item = r.body["work_items"][0]["id"].as_u64().unwrap();
        call(
            "POST",
            &u(&s, &format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(&rad),
            None,
        );
        let text = "Segmental emboli in the right lower lobe.\nNo right heart strain.";
        let d = call(
            "POST",
            &u(&s, "/api/v1/reports/ORU1/draft"),
            None,
            Some(&rad),
            Some(&serde_json::json!({"text": text, "findings": ["pulmonary_embolism"]})),
        );
        assert_eq!(d.status, 201, "{}", d.body);
        assert_eq!(
            call(
                "POST",
                &u(&s, "/api/v1/reports/ORU1/authorize"),
                None,
                Some(&rad),
                None
            )
            .status,
            200
        );
        // The RIS is down: the result waits in the outbox, through a kill -9.
        std::thread::sleep(Duration::from_millis(1500));
        let metrics = call("GET", &u(&s, "/metrics"), None, None, None).body;
        assert!(
            metrics
                .as_str()
                .unwrap()
                .contains("radgate_outbox_pending 1"),
            "{metrics}"
        );
        s.kill9();
        let s = Server::start_with(&db, &flags);
        let python = std::env::var("RADGATE_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut ris = Command::new(&python)
            .args(["-c", RIS_SERVER, &port.to_string(), "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(ris.stdout.take().unwrap()).lines();
        assert_eq!(
            lines.next().unwrap().unwrap(),
            "ready",
            "run scripts/test, which installs python-hl7"
        );
        // First delivery is refused (AE) and retried; the second is accepted.
        let got: Vec<Value> = (0..2)
            .map(|_| serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap())
            .collect();
        assert_eq!(
            got[0], got[1],
            "the same message, control ID and all, is sent again"
        );
        let m = &got[0];
        assert_eq!(m["type"], "ORU^R01^ORU_R01");
        assert_eq!(m["to"], "RIS");
        assert_eq!(m["patient"], "PSEUDO-1");
        assert_eq!(m["accession"], "ORU1");
        assert_eq!(m["status"], "F");
        assert_eq!(m["interpreter"], "rad-devries");
        assert_eq!(
            m["obx"],
            serde_json::json!([
                [
                    "TX",
                    "REPORT",
                    "Segmental emboli in the right lower lobe.",
                    "F"
                ],
                ["TX", "REPORT", "No right heart strain.", "F"],
                [
                    "CWE",
                    "FINDING",
                    "pulmonary_embolism^pulmonary_embolism^RADGATE",
                    "F"
                ]
            ])
        );
        // An addendum follows as a corrected result, after the first.
        let a = call(
            "POST",
            &u(&s, "/api/v1/reports/ORU1/addendum"),
            None,
            Some(&rad),
            Some(&serde_json::json!({"text": "Also a small pleural effusion.", "findings": []})),
        );
        assert_eq!(a.status, 200, "{}", a.body);
        let third: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
        assert_eq!(third["status"], "C");
        assert_ne!(third["control"], m["control"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = call("GET", &u(&s, "/metrics"), None, None, None).body;
            if metrics
                .as_str()
                .unwrap()
                .contains("radgate_outbox_pending 0")
            {
                break;
            }
            assert!(Instant::now() < deadline, "{metrics}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = ris.kill();
        let _ = ris.wait();
    }
}

/// Issue 12, item 9: with `--mllp-allow`, only the listed addresses may send; another is
/// closed at once, with nothing acknowledged or stored.
#[test]
fn mllp_takes_orders_only_from_the_allowed_addresses() {
    let db = databases("mllp_allow").remove(0);
    let s = Server::start_with(
        &db,
        &["--mllp-listen", "127.0.0.1:0", "--mllp-allow", "127.0.0.2"],
    );
    let mllp = s.mllp.clone().unwrap();
    let frame = format!("\x0b{}\x1c\r", orm("CTRL-ALLOW", "1", "ALLOW1"));
    let started = std::time::Instant::now();
    let (answer, _) = raw(&mllp, frame.as_bytes(), Duration::from_secs(5));
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // Closed (or reset) at once, not left to time out.
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(order_status(&db[1], "ALLOW1"), None, "nothing stored");
}

/// Issue 12, item 10: a NUL character in an HL7 field is refused by the domain with AE
/// naming why, the same on both backends (PostgreSQL could not store it), and the
/// connection goes on.
#[test]
fn a_nul_in_an_hl7_order_is_refused_alike_on_both_backends() {
    for db in databases("mllp_nul") {
        let s = Server::start_with(&db, &["--mllp-listen", "127.0.0.1:0"]);
        let mllp = s.mllp.clone().unwrap();
        let nul = orm("NW", "NUL1", "NUL1").replace("CTPA^", "CT\0PA^");
        let (reply, closed) = raw(&mllp, &frame(&nul), Duration::from_millis(800));
        let reply = String::from_utf8_lossy(&reply);
        assert!(!closed, "{db:?}: the connection goes on");
        assert!(reply.contains("MSA|AE|NUL1"), "{db:?}: {reply}");
        assert!(reply.contains("NUL character"), "{db:?}: {reply}");
        assert_eq!(order_status(&db[1], "NUL1"), None, "{db:?}: nothing stored");
        let acks = ris(&mllp, &[orm("NW", "OK1", "NULOK1")]);
        assert_eq!(acks[0]["msa"][0], "AA", "{db:?}: {acks:?}");
    }
}
