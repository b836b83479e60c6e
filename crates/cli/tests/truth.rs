//! The truth AI monitoring counts, against the real `radgate serve`: a PE detector's
//! month whose final reports come from a python-hl7 RIS as Dutch free text over MLLP;
//! the adjudication list; feedback at sign-off; FHIR DiagnosticReport. `scripts/test`
//! installs python-hl7.

mod support;

use std::collections::BTreeSet;

use radgate_interop::hl7::message::{Builder, Value as Hl7};
use serde_json::{Value, json};
use support::hl7::ris;
use support::http::{call, login, provision, study};
use support::{Server, databases};

const PE: &str = "pulmonary_embolism";

/// The Dutch reports of the project's labelled set that speak about pulmonary embolism,
/// with their human label.
fn dutch_pe_reports() -> Vec<(String, String)> {
    let set = std::fs::read_to_string(support::example("labeller-reports.jsonl")).unwrap();
    set.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["language"] == "nl" && r["labels"][PE].is_string())
        .map(|r| {
            (
                r["text"].as_str().unwrap().to_string(),
                r["labels"][PE].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// An ORU^R01 as a RIS writes it: the text one TX OBX per line, OBR-25 the status.
fn oru(control: &str, acc: &str, status: &str, text: &str) -> String {
    let mut b = Builder::new();
    let enc = b.delimiters().encoding_characters();
    b.segment(
        "MSH",
        &[
            Hl7::Raw(&enc),
            Hl7::Text("RIS"),
            Hl7::Text("RIJNVALLEI"),
            Hl7::Text("RADGATE"),
            Hl7::Text("RIJNVALLEI"),
            Hl7::Text("20261201101500+0100"),
            Hl7::Text(""),
            Hl7::Components(vec!["ORU", "R01", "ORU_R01"]),
            Hl7::Text(control),
            Hl7::Text("P"),
            Hl7::Text("2.5.1"),
        ],
    );
    b.segment(
        "PID",
        &[Hl7::Text("1"), Hl7::Text(""), Hl7::Text("PSEUDO-1")],
    );
    let mut obr = vec![
        Hl7::Text("1"),
        Hl7::Text(""),
        Hl7::Text(acc),
        Hl7::Components(vec!["CTPA", "CT pulmonary angiography", "L"]),
    ];
    obr.extend((5..=17).map(|_| Hl7::Text("")));
    obr.push(Hl7::Text(acc)); // OBR-18
    obr.extend((19..=21).map(|_| Hl7::Text("")));
    obr.push(Hl7::Text("20261201113000+0100")); // OBR-22
    obr.extend((23..=24).map(|_| Hl7::Text("")));
    obr.push(Hl7::Text(status)); // OBR-25
    obr.extend((26..=31).map(|_| Hl7::Text("")));
    obr.push(Hl7::Text("rad-ris-7")); // OBR-32
    b.segment("OBR", &obr);
    for (i, line) in text.lines().enumerate() {
        let set = (i + 1).to_string();
        b.segment(
            "OBX",
            &[
                Hl7::Text(&set),
                Hl7::Text("TX"),
                Hl7::Components(vec!["REPORT", "Report text", "L"]),
                Hl7::Text(""),
                Hl7::Text(line),
                Hl7::Text(""),
                Hl7::Text(""),
                Hl7::Text(""),
                Hl7::Text(""),
                Hl7::Text(""),
                Hl7::Text(if status == "P" { "P" } else { "F" }),
            ],
        );
    }
    b.finish()
}

/// The pe-detect result for `acc`: positive at or above 0.6, the register's critical_at.
fn ai_result(acc: &str, positive: bool) -> Value {
    let score = if positive { 0.91 } else { 0.12 };
    json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0", "accession": acc,
           "received_at": chrono::Utc::now().to_rfc3339(),
           "findings": [{"code": PE, "score": score, "critical": positive}]})
}

fn counts(metrics: &Value) -> [u64; 4] {
    let rows = metrics.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{metrics}");
    let c = &rows[0]["counts"];
    ["tp", "fp", "fn", "tn"].map(|k| c[k].as_u64().unwrap())
}

fn open_adjudications(url: &str, rad: &str) -> BTreeSet<String> {
    let r = call(
        "GET",
        &format!("{url}/api/v1/adjudications"),
        None,
        Some(rad),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["finding"], PE);
            a["accession"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn a_month_of_dutch_ris_reports_gives_the_pe_detector_its_truth_and_sends_doubt_to_adjudication() {
    let reports = dutch_pe_reports();
    assert!(
        reports.len() >= 60,
        "the labelled set has {}",
        reports.len()
    );
    for db in databases("truth_ris") {
        let key = provision(&db);
        let s = Server::start_with(&db, &["--mllp-listen", "127.0.0.1:0"]);
        let u = |p: &str| format!("{}{p}", s.url);
        let rad = login(&s.url, "devries");
        let start = chrono::Utc::now() - chrono::Duration::days(31);
        // Two studies a day for a month; the AI disagrees with the text on every fifth.
        let mut expected = [0u64; 4];
        let mut doubt = BTreeSet::new();
        let mut messages = Vec::new();
        for (i, (text, label)) in reports.iter().take(60).enumerate() {
            let acc = format!("PEM{i:03}");
            let mut st = study(&acc, "CTPA", "CT", "CHEST");
            st["acquired_at"] =
                json!((start + chrono::Duration::hours(12 * i as i64)).to_rfc3339());
            let r = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&st));
            assert_eq!(r.status, 201, "{}", r.body);
            let present = label == "present";
            let positive = if label == "uncertain" {
                i % 2 == 0
            } else {
                present != (i % 5 == 0)
            };
            let r = call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&ai_result(&acc, positive)),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            if label == "uncertain" || positive != present {
                doubt.insert(acc.clone());
            }
            if label != "uncertain" {
                let cell = match (positive, present) {
                    (true, true) => 0,
                    (true, false) => 1,
                    (false, true) => 2,
                    (false, false) => 3,
                };
                expected[cell] += 1;
            }
            messages.push(oru(&format!("R{i}"), &acc, "F", text));
        }
        // The RIS sends them all, one repeated (its ACK was lost), one unreadable.
        messages.push(messages[3].replace("|R3|", "|R3b|"));
        messages.push(oru("RX", "PEM001", "X", "Geen longembolie."));
        let acks = ris(s.mllp.as_ref().unwrap(), &messages);
        for a in &acks[..61] {
            assert_eq!(a["msa"][0], "AA", "{a}");
        }
        assert_eq!(acks[61]["msa"][0], "AE");
        assert_eq!(acks[61]["err"][0], "OBR");
        assert_eq!(acks[61]["err"][2], "25", "{}", acks[61]);

        // The metrics equal those computed from the reports' known labels; all of them
        // from the labeller, none from coded findings.
        let metrics = |q: &str| {
            let r = call(
                "GET",
                &u(&format!("/api/v1/ai/pe-detect/metrics{q}")),
                None,
                Some(&rad),
                None,
            );
            assert_eq!(r.status, 200, "{}", r.body);
            r.body
        };
        assert_eq!(counts(&metrics("")), expected);
        assert_eq!(counts(&metrics("?source=labeller")), expected);
        assert_eq!(metrics("?source=coded"), json!([]));
        assert_eq!(
            call(
                "GET",
                &u("/api/v1/ai/pe-detect/metrics?source=rumour"),
                None,
                Some(&rad),
                None
            )
            .status,
            422
        );
        // Where the text hedges or disagrees with the AI, a radiologist decides.
        assert_eq!(open_adjudications(&s.url, &rad), doubt);
        let repeat = call(
            "GET",
            &u("/api/v1/studies/PEM003/truth"),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(
            repeat.body["external_reports"].as_array().unwrap().len(),
            1,
            "a repeat is stored once"
        );
        assert_eq!(repeat.body["external_reports"][0]["signer"], "rad-ris-7");

        // An adjudication becomes the truth, and is audited.
        let disputed = doubt
            .iter()
            .find(|a| reports[a[3..].parse::<usize>().unwrap()].1 != "uncertain")
            .unwrap()
            .clone();
        let was_present = reports[disputed[3..].parse::<usize>().unwrap()].1 == "present";
        let r = call(
            "POST",
            &u(&format!("/api/v1/adjudications/{disputed}/{PE}")),
            None,
            Some(&rad),
            Some(&json!({"present": !was_present, "comment": "Herbeoordeeld op de beelden"})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["answered_by"], "rad-devries");
        let t = call(
            "GET",
            &u(&format!("/api/v1/studies/{disputed}/truth")),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(t.body["calls"][0]["truth"], json!(!was_present));
        assert_eq!(t.body["calls"][0]["source"], "adjudication");
        let mut after = doubt.clone();
        after.remove(&disputed);
        assert_eq!(open_adjudications(&s.url, &rad), after);
        let by_adjudication = counts(&metrics("?source=adjudication"));
        assert_eq!(by_adjudication.iter().sum::<u64>(), 1);
        let mut shifted = counts(&metrics(""));
        for (c, a) in shifted.iter_mut().zip(by_adjudication) {
            *c -= a;
        }
        assert_eq!(shifted, counts(&metrics("?source=labeller")));
        let audited = support::scalar(
            &db[1],
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_events WHERE kind = 'truth' AND subject = $1",
            &disputed,
        );
        assert_eq!(audited.as_deref(), Some("1"));
        // Answering what is not on the list is refused.
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/adjudications/PEM999/{PE}")),
                None,
                Some(&rad),
                Some(&json!({"present": true}))
            )
            .status,
            404
        );
        let ap = login(&s.url, "smit");
        assert_eq!(
            call("GET", &u("/api/v1/adjudications"), None, Some(&ap), None).status,
            403
        );

        // A correction that leaves the doubt as it was keeps the study's place in the list.
        let opened = |acc: &str| {
            call("GET", &u("/api/v1/adjudications"), None, Some(&rad), None)
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["accession"] == acc)
                .map(|a| a["opened_at"].clone())
        };
        let waiting = after.iter().next().unwrap().clone();
        let before = opened(&waiting).expect("on the list");
        let i: usize = waiting[3..].parse().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let acks = ris(
            s.mllp.as_ref().unwrap(),
            &[oru(
                "RC",
                &waiting,
                "C",
                &format!("{}\nGecorrigeerd: typefout.", reports[i].0),
            )],
        );
        assert_eq!(acks[0]["msa"][0], "AA");
        assert_eq!(
            opened(&waiting),
            Some(before),
            "still waiting since it was opened"
        );

        // An addendum from the RIS that finds an embolism after all: present, found later.
        let (absent_acc, _) = reports
            .iter()
            .take(60)
            .enumerate()
            .map(|(i, r)| (format!("PEM{i:03}"), r))
            .find(|(acc, (_, l))| l == "absent" && !doubt.contains(acc))
            .unwrap();
        let acks = ris(
            s.mllp.as_ref().unwrap(),
            &[oru(
                "RA",
                &absent_acc,
                "C",
                "Addendum: bij herbeoordeling toch een kleine segmentale longembolie rechts.",
            )],
        );
        assert_eq!(acks[0]["msa"][0], "AA");
        let t = call(
            "GET",
            &u(&format!("/api/v1/studies/{absent_acc}/truth")),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(t.body["calls"][0]["truth"], true, "{}", t.body);
        assert_eq!(t.body["calls"][0]["source"], "labeller");
        assert!(
            open_adjudications(&s.url, &rad).contains(&absent_acc),
            "the AI said no"
        );
        let later: u64 = metrics("").as_array().unwrap()[0]["counts"]["found_later"]
            .as_u64()
            .unwrap();
        assert!(later >= 1);
    }
}

#[test]
fn feedback_at_sign_off_is_the_strongest_truth_and_a_fhir_report_counts_like_an_oru() {
    let db = databases("truth_feedback").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let sign = |acc: &str, text: &str, findings: Value, feedback: Option<Value>| {
        let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == acc)
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/work-items/{item}/claim")),
                None,
                Some(&rad),
                None
            )
            .status,
            200
        );
        let d = call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/draft")),
            None,
            Some(&rad),
            Some(&json!({"text": text, "findings": findings})),
        );
        assert_eq!(d.status, 201, "{}", d.body);
        call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/authorize")),
            None,
            Some(&rad),
            feedback.map(|f| json!({"feedback": f})).as_ref(),
        )
    };
    for acc in ["FB1", "FB2", "FB3"] {
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/studies"),
                Some(&key),
                None,
                Some(&study(acc, "CTPA", "CT", "CHEST"))
            )
            .status,
            201
        );
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&ai_result(acc, true))
            )
            .status,
            201
        );
    }
    // Feedback that cannot be true of the call is refused, and nothing is signed.
    let r = sign(
        "FB1",
        "Geen longembolie.",
        json!([]),
        Some(json!([{"app": "pe-detect", "finding": PE, "verdict": "missed"}])),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("did not miss"),
        "{}",
        r.body
    );
    let report = call("GET", &u("/api/v1/reports/FB1"), None, Some(&rad), None);
    assert_eq!(report.body["state"], "draft");
    // The text and codes say no embolism; the radiologist's verdict says the AI was
    // right. The verdict is the truth, and it is audited with the signature.
    let r = call(
        "POST",
        &u("/api/v1/reports/FB1/authorize"),
        None,
        Some(&rad),
        Some(
            &json!({"feedback": [{"app": "pe-detect", "finding": PE, "verdict": "agree", "comment": "subsegmentaal, links onder"}]}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = call(
        "GET",
        &u("/api/v1/studies/FB1/truth"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.body["calls"][0]["truth"], true, "{}", t.body);
    assert_eq!(t.body["calls"][0]["source"], "feedback");
    assert_eq!(t.body["feedback"][0]["verdict"], "agree");
    assert_eq!(t.body["feedback"][0]["given_by"], "rad-devries");
    assert_eq!(
        t.body["labels"],
        json!([]),
        "feedback speaks; the labeller is not asked"
    );
    assert_eq!(
        support::scalar(
            &db[1],
            "SELECT CAST(COUNT(*) AS TEXT) FROM audit_events WHERE kind = 'truth' AND subject = $1",
            "FB1"
        )
        .as_deref(),
        Some("1")
    );
    // Without feedback the codes speak, and a text that contradicts them is adjudicated.
    let r = sign(
        "FB2",
        "Conclusie: longembolie in de rechter onderkwab.",
        json!([]),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t = call(
        "GET",
        &u("/api/v1/studies/FB2/truth"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.body["calls"][0]["truth"], false);
    assert_eq!(t.body["calls"][0]["source"], "coded");
    assert_eq!(
        t.body["adjudications"][0]["reason"], "text_contradicts_codes",
        "{}",
        t.body
    );

    // A final report from the RIS as a FHIR DiagnosticReport, its text in presentedForm.
    use base64::Engine;
    let text = "Conclusie: geen aanwijzingen voor longembolie.";
    let dr = json!({
        "resourceType": "DiagnosticReport",
        "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "ACSN"}]}, "value": "FB3"}],
        "status": "final",
        "code": {"text": "CT pulmonary angiography"},
        "issued": "2026-12-01T11:30:00+01:00",
        "resultsInterpreter": [{"reference": "Practitioner/rad-ris-7"}],
        "presentedForm": [{"contentType": "text/plain; charset=utf-8", "data": base64::engine::general_purpose::STANDARD.encode(text)}]
    });
    let post = |body: &Value, auth: Option<&str>, cookie: Option<&str>| {
        support::http::send(
            "POST",
            &u("/fhir/DiagnosticReport"),
            auth,
            cookie,
            Some(("application/fhir+json", body.to_string())),
        )
    };
    assert_eq!(post(&dr, Some(&key), None).status, 201);
    assert_eq!(
        post(&dr, Some(&key), None).status,
        200,
        "a repeat changes nothing"
    );
    assert_eq!(
        post(&dr, None, Some(&rad)).status,
        403,
        "people do not feed reports"
    );
    let mut no_status = dr.clone();
    no_status["status"] = json!("registered");
    let r = post(&no_status, Some(&key), None);
    assert_eq!(r.status, 422, "{}", r.body);
    let t = call(
        "GET",
        &u("/api/v1/studies/FB3/truth"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.body["external_reports"][0]["text"], text);
    assert_eq!(t.body["external_reports"][0]["signer"], "rad-ris-7");
    assert_eq!(t.body["calls"][0]["truth"], false);
    assert_eq!(t.body["calls"][0]["source"], "labeller");
    assert_eq!(t.body["adjudications"][0]["reason"], "ai_disagrees");
}

#[test]
fn relabel_reads_a_period_again_with_a_new_vocabulary_and_the_truth_follows() {
    let db = databases("truth_relabel").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study("RL1", "CTPA", "CT", "CHEST"))
        )
        .status,
        201
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/ai-results"),
            Some(&key),
            None,
            Some(&ai_result("RL1", true))
        )
        .status,
        201
    );
    let dr = json!({"resourceType": "DiagnosticReport", "status": "final",
        "identifier": [{"system": "urn:radgate:accession", "value": "RL1"}],
        "conclusion": "Conclusie: stolsel in de longslagader rechts."});
    let r = support::http::send(
        "POST",
        &u("/fhir/DiagnosticReport"),
        Some(&key),
        None,
        Some(("application/fhir+json", dr.to_string())),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The built-in vocabulary does not know the phrase: absent, against the AI.
    let t = call(
        "GET",
        &u("/api/v1/studies/RL1/truth"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.body["calls"][0]["truth"], false, "{}", t.body);
    assert_eq!(t.body["adjudications"][0]["reason"], "ai_disagrees");
    drop(s);
    // A new vocabulary version that knows it, over the period.
    let dir = std::env::temp_dir().join(format!("radgate-relabel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vocabulary = dir.join("labeller.toml");
    let text = std::fs::read_to_string(support::example("labeller.toml"))
        .unwrap()
        .replace("version = \"2026.12-1\"", "version = \"2026.12-2\"")
        .replace(
            "nl = [\"longembolie\",",
            "nl = [\"stolsel in de longslagader\", \"longembolie\",",
        );
    std::fs::write(&vocabulary, text).unwrap();
    let today = chrono::Utc::now().date_naive();
    let mut args = vec!["labeller", "relabel"];
    args.extend(db.iter().map(String::as_str));
    let (from, to) = (
        (today - chrono::Days::new(1)).to_string(),
        today.to_string(),
    );
    args.extend([
        "--from",
        &from,
        "--to",
        &to,
        "--vocabulary",
        vocabulary.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let out: Value = serde_json::from_str(&support::run(&args, None)).unwrap();
    assert_eq!(out["studies"], 1);
    assert_eq!(out["version"], "2026.12-2");
    let s = Server::start(&db);
    let rad = login(&s.url, "devries");
    let t = call(
        "GET",
        &format!("{}/api/v1/studies/RL1/truth", s.url),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.body["calls"][0]["truth"], true, "{}", t.body);
    assert_eq!(t.body["adjudications"], json!([]), "agreement needs nobody");
    let label = t.body["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["finding"] == PE)
        .unwrap()
        .clone();
    assert_eq!(label["version"], "2026.12-2");
    assert_eq!(label["sentence"], "stolsel in de longslagader rechts");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A hospital's own labeller service (Python's standard library): it calls pulmonary
/// embolism present where the text says POSITIEF, and answers as version hospital-nlp-2.1.
const HOSPITAL_LABELLER: &str = r#"
import json, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        q = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        pe = "POSITIEF" in q["text"]
        labels = [{"finding": f, "value": "present" if pe and f == "pulmonary_embolism" else "absent",
                   "sentence": q["text"] if pe and f == "pulmonary_embolism" else None}
                  for f in q["findings"]]
        labels.append({"finding": "not_asked", "value": "present"})
        body = json.dumps({"version": "hospital-nlp-2.1", "labels": labels}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"#;

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the hospital's labeller; its URL and the process.
fn hospital_labeller() -> (String, Child) {
    use std::io::BufRead;
    let python = std::env::var("RADGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = std::process::Command::new(python)
        .args(["-c", HOSPITAL_LABELLER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (
        format!("http://127.0.0.1:{}/label", line.trim()),
        Child(child),
    )
}

#[test]
fn a_hospitals_own_labeller_answers_over_http_and_a_study_it_missed_is_relabelled() {
    let db = databases("truth_external").remove(0);
    let key = provision(&db);
    let (url, labeller) = hospital_labeller();
    let s = Server::start_with(&db, &["--labeller-url", &url]);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let report = |acc: &str, wait: u64| {
        for (path, body) in [
            ("/api/v1/studies", study(acc, "CTPA", "CT", "CHEST")),
            ("/api/v1/ai-results", ai_result(acc, true)),
        ] {
            assert_eq!(
                call("POST", &u(path), Some(&key), None, Some(&body)).status,
                201
            );
        }
        let dr = json!({"resourceType": "DiagnosticReport", "status": "final",
            "identifier": [{"system": "urn:radgate:accession", "value": acc}],
            "conclusion": "Conclusie: POSITIEF."});
        let r = support::http::send(
            "POST",
            &u("/fhir/DiagnosticReport"),
            Some(&key),
            None,
            Some(("application/fhir+json", dr.to_string())),
        );
        assert_eq!(
            r.status, 201,
            "the report is stored whatever the labeller does: {}",
            r.body
        );
        // The service is asked in the background: wait for its labels, or give up.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(wait);
        loop {
            let t = call(
                "GET",
                &u(&format!("/api/v1/studies/{acc}/truth")),
                None,
                Some(&rad),
                None,
            )
            .body;
            if !t["labels"].as_array().unwrap().is_empty() || std::time::Instant::now() > deadline {
                return t;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    let t = report("EXT1", 10);
    assert_eq!(t["calls"][0]["truth"], true, "{t}");
    assert_eq!(t["calls"][0]["source"], "labeller");
    let labels = t["labels"].as_array().unwrap();
    assert!(labels.iter().all(|l| l["version"] == "hospital-nlp-2.1"));
    assert!(
        labels.iter().any(|l| l["finding"] == "fracture"),
        "asked for the register's findings"
    );
    assert!(
        labels.iter().all(|l| l["finding"] != "not_asked"),
        "what was not asked is dropped"
    );
    // The service is down (refused at once): the report is kept, the study waits
    // unlabelled.
    drop(labeller);
    let t = report("EXT2", 2);
    assert_eq!(t["calls"][0]["truth"], Value::Null, "{t}");
    assert_eq!(t["labels"], json!([]));
    drop(s);
    // Back up: a relabel of the period labels it.
    let (url, _labeller) = hospital_labeller();
    let today = chrono::Utc::now().date_naive().to_string();
    let dept = support::example("department.toml");
    let mut args = vec!["labeller", "relabel"];
    args.extend(db.iter().map(String::as_str));
    args.extend([
        "--from",
        &today,
        "--to",
        &today,
        "--labeller-url",
        &url,
        "--department",
        &dept,
    ]);
    let out = support::run(&args, None);
    assert!(out.contains("relabelled 2 studies"), "{out}");
    let s = Server::start(&db);
    let rad = login(&s.url, "devries");
    let t = call(
        "GET",
        &format!("{}/api/v1/studies/EXT2/truth", s.url),
        None,
        Some(&rad),
        None,
    )
    .body;
    assert_eq!(t["calls"][0]["truth"], true, "{t}");
}
