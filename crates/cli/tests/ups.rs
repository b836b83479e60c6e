//! Issue 14, item 3: radgate as the AIW-I Task Manager over UPS-RS (PS3.18 section 11),
//! with an AI node written against the standard's transactions in Python (`requests` for
//! the transactions, `websocket-client` for the event channel): a routed study becomes a
//! scheduled work item for its application; the node finds it, claims it, reports
//! progress and completes it; a wrong Transaction UID and a claim of a completed item get
//! the standard's answers; a watcher on the event channel receives the changes; another
//! vendor's node sees nothing; an unclaimed work item expires, is retried once, and is
//! then escalated, with the study on the way without AI.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::http::{api_key, call, login, provision_people};
use support::{Server, databases};

/// The AI node: `{"base", "key", "ae", "other_key", "accession"}` -> what each
/// transaction answered, and the events the watcher received.
const NODE: &str = r#"
import json, sys, threading, time
import requests, websocket

a = json.load(sys.stdin)
base, ae = a["base"] + "/dicom-web", a["ae"]
h = {"Authorization": "Bearer " + a["key"], "Accept": "application/dicom+json"}
hj = dict(h, **{"Content-Type": "application/dicom+json"})
out = {}

# RAD-86: the watcher opens the event channel and subscribes to the worklist.
events, ready = [], threading.Event()
ws = websocket.create_connection(
    base.replace("http", "ws", 1) + "/ws/subscribers/" + ae,
    header=["Authorization: Bearer " + a["key"]], timeout=10)
def listen():
    ready.set()
    try:
        while True:
            events.append(json.loads(ws.recv()))
    except Exception:
        pass
threading.Thread(target=listen, daemon=True).start()
ready.wait()
r = requests.post(f"{base}/workitems/1.2.840.10008.5.1.4.34.5/subscribers/{ae}", headers=h)
out["subscribe"] = r.status_code

# RAD-81: query the scheduled work items of this node's application.
r = requests.get(f"{base}/workitems", headers=h, params={
    "ProcedureStepState": "SCHEDULED", "00404025.00080100": "pe-detect"})
out["search"] = r.status_code
items = r.json() if r.status_code == 200 else []
mine = [w for w in items
        if w["0040A370"]["Value"][0]["00080050"]["Value"][0] == a["accession"]]
out["found"] = len(mine)
uid = mine[0]["00080018"]["Value"][0]
out["uid"] = uid
out["study"] = mine[0]["0020000D"]["Value"][0]
out["input_url"] = mine[0]["00404021"]["Value"][0]["00081190"]["Value"][0]
out["performer"] = mine[0]["00404025"]["Value"][0]["00080100"]["Value"][0]
out["transaction_disclosed"] = "00081195" in mine[0]

# Another vendor's node sees none of it.
other = {"Authorization": "Bearer " + a["other_key"], "Accept": "application/dicom+json"}
out["other_search"] = requests.get(f"{base}/workitems", headers=other).status_code
out["other_get"] = requests.get(f"{base}/workitems/{uid}", headers=other).status_code

def state(s, tx):
    body = [{"00741000": {"vr": "CS", "Value": [s]}}]
    if tx is not None:
        body[0]["00081195"] = {"vr": "UI", "Value": [tx]}
    r = requests.put(f"{base}/workitems/{uid}/state", headers=hj, json=body)
    return [r.status_code, r.headers.get("Warning", "")]

tx = "2.25.424242"
out["claim_without_tx"] = state("IN PROGRESS", None)
out["claim"] = state("IN PROGRESS", tx)
out["claim_again"] = state("IN PROGRESS", "2.25.5")
# RAD-84: progress, by the owner only.
progress = [{"00741002": {"vr": "SQ", "Value": [{
    "00741004": {"vr": "DS", "Value": [50]},
    "00741006": {"vr": "ST", "Value": ["half the slices"]}}]}}]
r = requests.post(f"{base}/workitems/{uid}", headers=hj, params={"transaction": tx}, json=progress)
out["progress"] = r.status_code
r = requests.post(f"{base}/workitems/{uid}", headers=hj, params={"transaction": "2.25.6"}, json=progress)
out["progress_wrong_tx"] = [r.status_code, r.headers.get("Warning", "")]
r = requests.get(f"{base}/workitems/{uid}", headers=h)
out["retrieved_progress"] = (r.json()[0].get("00741002", {}).get("Value", [{}])[0]
                            .get("00741004", {}).get("Value", [None])[0])
# RAD-85 on a claimed work item: the performer is asked (a Cancel Requested event).
r = requests.post(f"{base}/workitems/{uid}/cancelrequest", headers=hj,
                  json=[{"00741238": {"vr": "LT", "Value": ["wrong study"]}}])
out["cancel_claimed"] = r.status_code
out["complete_wrong_tx"] = state("COMPLETED", "2.25.7")
out["complete"] = state("COMPLETED", tx)
out["complete_again"] = state("COMPLETED", tx)
out["claim_completed"] = state("IN PROGRESS", "2.25.8")
r = requests.post(f"{base}/workitems/{uid}/cancelrequest", headers=hj, json=[{}])
out["cancel_completed"] = [r.status_code, r.headers.get("Warning", "")]
out["final"] = requests.get(f"{base}/workitems/{uid}", headers=h).json()[0]["00741000"]["Value"][0]

deadline = time.time() + 10
while time.time() < deadline and not any(
        e["00741000"]["Value"][0] == "COMPLETED" for e in events):
    time.sleep(0.1)
ws.close()
out["events"] = [[e["00001000"]["Value"][0], e["00001002"]["Value"][0],
                  e["00741000"]["Value"][0]] for e in events]
print(json.dumps(out))
"#;

fn ctpa(acc: &str, minutes_ago: i64) -> Value {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
    json!({"accession": acc, "study_uid": format!("1.2.826.0.1.3680043.10.546.{}", acc.len()),
        "patient": "PSEUDO-8", "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST",
        "priority": "routine", "site": "main", "ordering_department": "ED",
        "acquired_at": at.to_rfc3339()})
}

#[test]
fn an_ai_node_pulls_claims_and_completes_its_work_items_over_ups_rs() {
    for db in databases("ups") {
        let key = provision_people(&db);
        let node_key = api_key(&db, "pe-node", "ai:pe-detect");
        let other_key = api_key(&db, "ich-node", "ai:ich-detect");
        support::http::add_account(&db, "bakker", "rad-bakker");
        let s = Server::start_with(&db, &["--ai-workitems"]);
        let u = |p: &str| format!("{}{p}", s.url);
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&ctpa("UPS1", 1)),
        );
        assert_eq!(r.status, 201, "{}", r.body);

        let out = support::python_json(
            NODE,
            &json!({"base": s.url, "key": node_key, "ae": "PENODE", "other_key": other_key,
                "accession": "UPS1"}),
        );
        assert_eq!(out["subscribe"], 201, "{out}");
        assert_eq!(out["search"], 200, "{out}");
        assert_eq!(out["found"], 1, "{out}");
        assert_eq!(out["study"], "1.2.826.0.1.3680043.10.546.4");
        assert_eq!(out["performer"], "pe-detect");
        assert_eq!(
            out["input_url"],
            format!("{}/dicom-web/studies/1.2.826.0.1.3680043.10.546.4", s.url)
        );
        assert_eq!(out["transaction_disclosed"], false);
        assert_eq!(out["other_search"], 204, "another vendor sees nothing");
        assert_eq!(out["other_get"], 404);
        let warned = |v: &Value, code: u64, text: &str| {
            assert_eq!(v[0], code, "{v}");
            assert!(v[1].as_str().unwrap().contains(text), "{v}");
        };
        warned(
            &out["claim_without_tx"],
            400,
            "The Transaction UID is missing.",
        );
        assert_eq!(out["claim"][0], 200, "{out}");
        warned(&out["claim_again"], 409, "inconsistent with the state");
        assert_eq!(out["progress"], 200, "{out}");
        warned(
            &out["progress_wrong_tx"],
            400,
            "The Transaction UID is incorrect.",
        );
        assert_eq!(out["retrieved_progress"], 50.0);
        assert_eq!(out["cancel_claimed"], 202, "{out}");
        warned(
            &out["complete_wrong_tx"],
            400,
            "The Transaction UID is incorrect.",
        );
        assert_eq!(out["complete"][0], 200, "{out}");
        warned(
            &out["complete_again"],
            200,
            "The UPS is already in the requested state of COMPLETED.",
        );
        warned(&out["claim_completed"], 409, "inconsistent with the state");
        assert_eq!(out["cancel_completed"][0], 409, "{out}");
        assert_eq!(out["final"], "COMPLETED");
        // The watcher was told of the claim, the progress and the completion, in order.
        let uid = out["uid"].as_str().unwrap();
        let events: Vec<(u64, String)> = out["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e[0] == uid)
            .map(|e| (e[1].as_u64().unwrap(), e[2].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            events,
            vec![
                (1, "IN PROGRESS".to_owned()),
                (3, "IN PROGRESS".to_owned()),
                (2, "IN PROGRESS".to_owned()),
                (1, "COMPLETED".to_owned()),
            ],
            "{out}"
        );

        // A work item nobody claims: retried once, then escalated and the RAIO told. Its
        // deadline is the policy's AI wait, so by then the study went the way without AI
        // by the existing `ai_missing` rule (here acquired 45 minutes ago, past the
        // 20-minute wait); the escalation routes it again at once rather than at the next
        // sweep.
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&ctpa("UPS22", 45)),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let overdue = || {
            support::scalar(
                &db[1],
                "UPDATE ups_workitems SET deadline_at = 0 WHERE accession = $1 RETURNING uid",
                "UPS22",
            )
            .expect("a work item was scheduled for UPS22")
        };
        let state_of = |uid: &str| {
            support::scalar(
                &db[1],
                "SELECT state || '/' || CAST(retries AS TEXT) FROM ups_workitems WHERE uid = $1",
                uid,
            )
            .unwrap()
        };
        let wait_for = |uid: &str, want: &str| {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let now = state_of(uid);
                if now == want {
                    break;
                }
                assert!(Instant::now() < deadline, "{uid} is {now}, never {want}");
                std::thread::sleep(Duration::from_millis(200));
            }
        };
        let uid = overdue();
        wait_for(&uid, "SCHEDULED/1");
        overdue();
        wait_for(&uid, "CANCELED/1");
        let d = call(
            "GET",
            &u("/api/v1/studies/UPS22/decision"),
            Some(&key),
            None,
            None,
        );
        assert_eq!(d.body["rule"], "ctpa-ai-missing", "{}", d.body);
        let raio = login(&s.url, "bakker");
        let notes = call("GET", &u("/api/v1/notifications"), None, Some(&raio), None).body;
        assert!(
            notes
                .to_string()
                .contains("did not complete the work item for study UPS22"),
            "{notes}"
        );
    }
}

/// A Task Requester asking for AI work (RAD-80): `{"base", "key", "node_key",
/// "accession", "study"}` -> what each request was answered (status, Warning,
/// X-DICOM-Status, Location), and what the node then sees.
const REQUESTER: &str = r#"
import json, sys, requests

a = json.load(sys.stdin)
base = a["base"] + "/dicom-web"
def headers(key):
    return {"Authorization": "Bearer " + key, "Content-Type": "application/dicom+json",
            "Accept": "application/dicom+json"}
def workitem(state="SCHEDULED", app="pe-detect", acc=a["accession"], study=a["study"], tx=None):
    ds = {"00741000": {"vr": "CS", "Value": [state]},
          "00741200": {"vr": "CS", "Value": ["MEDIUM"]},
          "00741204": {"vr": "LO", "Value": ["PE detection, asked for"]},
          "0040A370": {"vr": "SQ", "Value": [{"00080050": {"vr": "SH", "Value": [acc]}}]},
          "00404025": {"vr": "SQ", "Value": [{"00080100": {"vr": "SH", "Value": [app]},
              "00080102": {"vr": "SH", "Value": ["99RADGATE"]},
              "00080104": {"vr": "LO", "Value": [app]}}]},
          "00404021": {"vr": "SQ", "Value": [{"0020000D": {"vr": "UI", "Value": [study]}}]}}
    if tx:
        ds["00081195"] = {"vr": "UI", "Value": [tx]}
    return [ds]
def post(key, body, uid=None):
    r = requests.post(base + "/workitems" + (f"?{uid}" if uid else ""), headers=headers(key),
                      json=body)
    return [r.status_code, r.headers.get("Warning", ""), r.headers.get("X-DICOM-Status", ""),
            r.headers.get("Location", "")]
out = {
    "by_node": post(a["node_key"], workitem()),
    "not_scheduled": post(a["key"], workitem(state="IN PROGRESS")),
    "with_transaction": post(a["key"], workitem(tx="2.25.9")),
    "unknown_app": post(a["key"], workitem(app="no-such-app")),
    "not_covered": post(a["key"], workitem(app="ich-detect")),
    "unknown_study": post(a["key"], workitem(acc="NOSUCH")),
    "other_input": post(a["key"], workitem(study="1.2.3.999")),
    "created": post(a["key"], workitem(), uid="2.25.8080"),
    "again": post(a["key"], workitem(), uid="2.25.8081"),
}
r = requests.get(base + "/workitems/2.25.8080", headers=headers(a["node_key"]))
out["node_sees"] = [r.status_code, r.json()[0]["00741000"]["Value"][0] if r.ok else None,
                    r.json()[0]["0040A370"]["Value"][0]["00080050"]["Value"][0] if r.ok else None]
print(json.dumps(out))
"#;

/// RAD-80: a study from before AI work items were switched on gets one on request, from
/// the RIS's key; the node performing work may not order it, and a request that breaks
/// PS3.4's creation rules or names what radgate cannot schedule is refused with the
/// standard's status.
#[test]
fn a_requester_asks_for_ai_work_on_a_study_and_bad_requests_are_refused() {
    for db in databases("ups_create") {
        let key = provision_people(&db);
        let node_key = api_key(&db, "pe-node", "ai:pe-detect");
        {
            // Before `--ai-workitems`: the study gets no work item.
            let s = Server::start(&db);
            let r = call(
                "POST",
                &format!("{}/api/v1/studies", s.url),
                Some(&key),
                None,
                Some(&ctpa("UPS55", 1)),
            );
            assert_eq!(r.status, 201, "{}", r.body);
        }
        let s = Server::start_with(&db, &["--ai-workitems"]);
        let study = "1.2.826.0.1.3680043.10.546.5";
        let out = support::python_json(
            REQUESTER,
            &json!({"base": s.url, "key": key, "node_key": node_key, "accession": "UPS55",
                "study": study}),
        );
        let refused = |name: &str, http: u64, dimse: &str, text: &str| {
            let v = &out[name];
            assert_eq!(
                (v[0].as_u64(), v[2].as_str()),
                (Some(http), Some(dimse)),
                "{name}: {v}"
            );
            assert!(v[1].as_str().unwrap().contains(text), "{name}: {v}");
        };
        assert_eq!(out["by_node"][0], 403, "{out}");
        refused("not_scheduled", 400, "C309", "was not \"SCHEDULED\"");
        refused("with_transaction", 400, "0106", "no Transaction UID");
        refused("unknown_app", 400, "0106", "not in the AI register");
        refused("not_covered", 400, "0106", "does not cover CT CHEST");
        refused(
            "unknown_study",
            400,
            "0106",
            "no study with Accession Number NOSUCH",
        );
        refused(
            "other_input",
            400,
            "0106",
            "is not the study of Accession Number UPS55",
        );
        assert_eq!(out["created"][0], 201, "{out}");
        assert_eq!(
            out["created"][3],
            format!("{}/dicom-web/workitems/2.25.8080", s.url)
        );
        refused(
            "again",
            409,
            "0111",
            "one work item per study and application",
        );
        assert_eq!(
            out["node_sees"],
            json!([200, "SCHEDULED", "UPS55"]),
            "{out}"
        );
        // Scheduled like radgate's own: the policy's wait for the application.
        let deadline = support::scalar(
            &db[1],
            "SELECT CAST(deadline_at - created_at AS TEXT) FROM ups_workitems WHERE uid = $1",
            "2.25.8080",
        );
        assert!(deadline.is_some_and(|d| d.parse::<i64>().unwrap() > 0));
    }
}
