//! The HTTP API of the real `radgate serve` binary on loopback, on SQLite and PostgreSQL.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::http::{
    add_account, call, first_item, import_ap_evidence, login, provision, provision_people, send,
    study,
};
use support::{Server, agent, bin, databases, example, fresh_sqlite, run};

#[test]
fn ingest_routes_and_repeats_are_harmless_on_both_backends() {
    for db in databases("ingest") {
        let key = provision(&db);
        let s = Server::start(&db);
        let post = |path: &str, body: &Value| {
            call(
                "POST",
                &format!("{}{path}", s.url),
                Some(&key),
                None,
                Some(body),
            )
        };

        let onc = study("ONC1", "CTTHAB-ONC", "CT", "ABDOMEN");
        let first = post("/api/v1/studies", &onc);
        assert_eq!(first.status, 201, "{db:?}: {}", first.body);
        assert_eq!(first.body["decision"]["rule"], "oncology-preliminary");
        assert_eq!(
            first.body["work_items"][0]["task"],
            "oncology_preliminary_report"
        );

        let again = post("/api/v1/studies", &onc);
        assert_eq!(
            (again.status, again.body["status"].as_str()),
            (200, Some("unchanged")),
            "{db:?}"
        );
        assert!(
            again.body.get("work_items").is_none(),
            "a repeat opens no work"
        );

        let mut changed = onc.clone();
        changed["body_part"] = json!("HEAD");
        let conflict = post("/api/v1/studies", &changed);
        assert_eq!(conflict.status, 409, "{db:?}: {}", conflict.body);
        let decision = call(
            "GET",
            &format!("{}/api/v1/studies/ONC1/decision", s.url),
            Some(&key),
            None,
            None,
        );
        assert_eq!(
            decision.body["rule"], "oncology-preliminary",
            "the conflict changed nothing"
        );
        assert!(
            decision.body["explanation"]
                .as_str()
                .unwrap()
                .contains("oncology-preliminary")
        );

        // The AP sees and claims the delegated work; the radiologist's worklist does not offer it.
        let ap = login(&s.url, "smit");
        let list = call(
            "GET",
            &format!("{}/api/v1/worklist", s.url),
            None,
            Some(&ap),
            None,
        );
        assert_eq!(list.status, 200);
        let id = list.body[0]["id"].as_u64().unwrap();
        assert_eq!(list.body.as_array().unwrap().len(), 1);
        let rad = login(&s.url, "devries");
        let claimed = call(
            "POST",
            &format!("{}/api/v1/work-items/{id}/claim", s.url),
            None,
            Some(&ap),
            None,
        );
        assert_eq!(
            (claimed.status, claimed.body["state"].as_str()),
            (200, Some("claimed")),
            "{}",
            claimed.body
        );
        let twice = call(
            "POST",
            &format!("{}/api/v1/work-items/{id}/claim", s.url),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(twice.status, 409, "{}", twice.body);
    }
}

#[test]
fn a_late_critical_ai_result_makes_the_study_stat_and_supersedes_its_open_work() {
    for db in databases("reroute") {
        let key = provision(&db);
        let s = Server::start(&db);
        let post = |path: &str, body: &Value| {
            call(
                "POST",
                &format!("{}{path}", s.url),
                Some(&key),
                None,
                Some(body),
            )
        };
        let ctpa = study("PE1", "CTPA", "CT", "CHEST");
        let first = post("/api/v1/studies", &ctpa);
        assert_eq!(first.status, 201);
        assert_eq!(
            first.body["decision"]["rule"],
            Value::Null,
            "no AI yet, within the wait: the default"
        );
        let old = first.body["work_items"][0]["id"].as_u64().unwrap();
        let result = json!({"id": "pe-1", "app": "pe-detect", "app_version": "3.2.0", "accession": "PE1",
            "received_at": chrono::Utc::now().to_rfc3339(), "findings": [{"code": "pulmonary_embolism", "score": 0.93, "critical": true}]});
        let r = post("/api/v1/ai-results", &result);
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["decision"]["rule"], "ctpa-pe-positive");
        assert_eq!(r.body["superseded"], json!([old]));
        let rad = login(&s.url, "devries");
        let list = call(
            "GET",
            &format!("{}/api/v1/worklist", s.url),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(list.body[0]["accession"], "PE1");
        assert_eq!(
            list.body[0]["priority"], "stat",
            "{db:?}: top of the radiologist worklist"
        );
        assert!(
            list.body
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["id"] != json!(old))
        );
        assert_eq!(
            post("/api/v1/ai-results", &result).body["status"],
            "unchanged"
        );
    }
}

#[test]
fn authentication_and_authorization_are_checked_on_every_endpoint() {
    let db = databases("auth").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let onc = study("AUTH1", "CTTHAB-ONC", "CT", "ABDOMEN");
    assert_eq!(
        call("POST", &u("/api/v1/studies"), None, None, Some(&onc)).status,
        401
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/studies"),
            Some("not-a-key"),
            None,
            Some(&onc)
        )
        .status,
        401
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/worklist"),
            None,
            Some("radgate_session=forged"),
            None
        )
        .status,
        401
    );
    let item = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&onc)).body["work_items"]
        [0]["id"]
        .as_u64()
        .unwrap();
    // A system key cannot act as a person.
    let r = call(
        "POST",
        &u(&format!("/api/v1/work-items/{item}/claim")),
        Some(&key),
        None,
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    // The domain's rule: an MBB'er has no agreement for oncology preliminary reports.
    let mbb = login(&s.url, "jansen");
    let r = call(
        "POST",
        &u(&format!("/api/v1/work-items/{item}/claim")),
        None,
        Some(&mbb),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("no task agreement"),
        "{}",
        r.body
    );
    // Wrong passwords from one address are slowed down after three tries, even with the
    // right one afterwards (the owner's own workstation is not: see
    // `logins_cannot_lock_people_out_or_exhaust_the_server`).
    for _ in 0..3 {
        let r = call(
            "POST",
            &u("/api/v1/login"),
            None,
            None,
            Some(&json!({"username": "smit", "password": "wrong-password!"})),
        );
        assert_eq!(r.status, 401);
    }
    let r = call(
        "POST",
        &u("/api/v1/login"),
        None,
        None,
        Some(&json!({"username": "smit", "password": "a-long-password-1"})),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    // The session cookie is HttpOnly and SameSite=Strict.
    let a = agent();
    let resp = a
        .post(u("/api/v1/login"))
        .send_json(json!({"username": "devries", "password": "a-long-password-1"}))
        .unwrap();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
}

#[test]
fn bad_input_gets_a_clear_4xx_stores_nothing_and_the_server_keeps_serving() {
    let db = databases("badinput").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let studies = format!("{}/api/v1/studies", s.url);
    let a = agent();
    let send = |body: String, ctype: &str| {
        let resp = a
            .post(&studies)
            .header("Authorization", format!("Bearer {key}"))
            .header("Content-Type", ctype)
            .send(body)
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.into_body().read_to_string().unwrap())
    };
    let (status, body) = send("{\"accession\": ".into(), "application/json");
    assert_eq!(status, 400, "{body}");
    let mut unknown = study("BAD1", "CTTHAB-ONC", "CT", "ABDOMEN");
    unknown["bodypart"] = json!("x");
    let (status, body) = send(unknown.to_string(), "application/json");
    assert_eq!(status, 422, "{body}");
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["field"], "bodypart");
    let (status, body) = send(
        study("ACC-TOO-LONG-FOR-SH", "X", "CT", "HEAD").to_string(),
        "application/json",
    );
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("at most 16 characters"), "{body}");
    let (status, body) = send(
        study("BAD2", "X", "CT", "HEAD")
            .to_string()
            .replace("routine", "soon"),
        "application/json",
    );
    assert_eq!(status, 422, "{body}");
    let (status, _) = send(
        format!("{{\"x\": \"{}\"}}", "a".repeat(300 * 1024)),
        "application/json",
    );
    assert_eq!(status, 413);
    let (status, _) = send(study("BAD3", "X", "CT", "HEAD").to_string(), "text/plain");
    assert_eq!(
        status, 415,
        "a body that is not JSON is an unsupported media type"
    );
    let r = call(
        "POST",
        &format!("{}/api/v1/work-items/abc/claim", s.url),
        Some(&key),
        None,
        None,
    );
    assert_eq!(r.status, 422);
    let r = call("GET", &format!("{}/no/such/thing", s.url), None, None, None);
    assert_eq!(r.status, 404);
    for acc in ["BAD1", "BAD2", "BAD3"] {
        let r = call(
            "GET",
            &format!("{}/api/v1/studies/{acc}/decision", s.url),
            Some(&key),
            None,
            None,
        );
        assert_eq!(r.status, 404, "{acc} must not have been stored");
    }
    assert_eq!(
        call("GET", &format!("{}/healthz", s.url), None, None, None).status,
        200,
        "still serving"
    );
    assert_eq!(
        call(
            "POST",
            &studies,
            Some(&key),
            None,
            Some(&study("GOOD1", "X", "CT", "HEAD"))
        )
        .status,
        201
    );
}

#[test]
fn health_readiness_metrics_and_openapi_match_the_routes() {
    let db = databases("openapi").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    assert_eq!(
        call("GET", &format!("{}/readyz", s.url), None, None, None).status,
        200
    );
    let m = call("GET", &format!("{}/metrics", s.url), None, None, None);
    assert!(
        m.body
            .as_str()
            .unwrap()
            .contains("# TYPE radgate_ingest_total counter")
    );
    let doc = call(
        "GET",
        &format!("{}/api/v1/openapi.json", s.url),
        None,
        None,
        None,
    )
    .body;
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    assert_eq!(paths.len(), 66, "one entry per route");
    for (path, ops) in paths {
        for method in ops.as_object().unwrap().keys() {
            let concrete = path
                .replace("{accession}", "NOPE")
                .replace("{id}", "999999")
                .replace("{task}", "no_such_task");
            let body = (method == "post").then(|| json!({}));
            let r = call(
                &method.to_uppercase(),
                &format!("{}{concrete}", s.url),
                Some(&key),
                None,
                body.as_ref(),
            );
            assert_ne!(
                r.status, 405,
                "{method} {path} is documented but not routed"
            );
            assert!(
                r.body.get("detail").and_then(Value::as_str)
                    != Some("no such endpoint; see /api/v1/openapi.json"),
                "{method} {path} is documented but not routed"
            );
        }
    }
}

/// `kill -9` during a stream of ingests: every study answered 2xx is there after restart.
#[test]
fn nothing_acknowledged_is_lost_when_the_server_is_killed() {
    for db in databases("kill9") {
        let key = provision(&db);
        let mut s = Server::start(&db);
        let url = s.url.clone();
        let key2 = key.clone();
        let writer = std::thread::spawn(move || {
            let mut acknowledged = Vec::new();
            for i in 0..100_000 {
                let acc = format!("K{i}");
                let body = study(&acc, "X", "CT", "HEAD");
                let resp = agent()
                    .post(format!("{url}/api/v1/studies"))
                    .header("Authorization", format!("Bearer {key2}"))
                    .send_json(&body);
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => acknowledged.push(acc),
                    Ok(r) => panic!("unexpected status {}", r.status()),
                    Err(_) => break, // the server is gone
                }
            }
            acknowledged
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        s.kill9();
        let acknowledged = writer.join().unwrap();
        assert!(
            acknowledged.len() > 10,
            "{db:?}: only {} ingests before the kill",
            acknowledged.len()
        );
        let s = Server::start(&db);
        for acc in &acknowledged {
            let r = call(
                "GET",
                &format!("{}/api/v1/studies/{acc}/decision", s.url),
                Some(&key),
                None,
                None,
            );
            assert_eq!(r.status, 200, "{db:?}: acknowledged study {acc} was lost");
        }
        let mut args = vec!["audit", "verify"];
        args.extend(db.iter().map(String::as_str));
        assert!(run(&args, None).starts_with("audit log intact"));
    }
}

#[test]
fn a_delegated_report_goes_draft_preliminary_authorized_with_every_signature() {
    for db in databases("reports") {
        let key = provision(&db);
        add_account(&db, "bakker", "rad-bakker");
        let s = Server::start(&db);
        let u = |p: &str| format!("{}{p}", s.url);
        let item = first_item(
            &u("/api/v1/studies"),
            &key,
            &study("REP1", "CTTHAB-ONC", "CT", "ABDOMEN"),
        );
        let ap = login(&s.url, "smit");
        let rad = login(&s.url, "devries");
        let rad2 = login(&s.url, "bakker");
        let text = json!({"text": "Partial response (RECIST 1.1).", "findings": ["liver_lesion"]});

        // Reporting needs a claimed item of the study.
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/reports/REP1/draft"),
                None,
                Some(&ap),
                Some(&text)
            )
            .status,
            409
        );
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/work-items/{item}/claim")),
                None,
                Some(&ap),
                None
            )
            .status,
            200
        );
        let r = call(
            "POST",
            &u("/api/v1/reports/REP1/draft"),
            None,
            Some(&ap),
            Some(&text),
        );
        assert_eq!(r.status, 201, "{db:?}: {}", r.body);
        let r = call(
            "POST",
            &u("/api/v1/reports/REP1/submit"),
            None,
            Some(&ap),
            None,
        );
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (200, Some("preliminary")),
            "{}",
            r.body
        );

        // The authorization item is on the radiologists' worklist, not on the AP's.
        let list = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None).body;
        let auth_item = list
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == "REP1")
            .expect("authorization item");
        assert_eq!(auth_item["task"], "final_report");
        assert!(
            call("GET", &u("/api/v1/worklist"), None, Some(&ap), None)
                .body
                .as_array()
                .unwrap()
                .is_empty()
        );

        // A radiologist returns it; the AP corrects and resubmits; another radiologist authorizes.
        let auth_id = auth_item["id"].as_u64().unwrap();
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/work-items/{auth_id}/claim")),
                None,
                Some(&rad),
                None
            )
            .status,
            200
        );
        let empty = call(
            "POST",
            &u("/api/v1/reports/REP1/return"),
            None,
            Some(&rad),
            Some(&json!({"reason": " "})),
        );
        assert_eq!(
            (empty.status, empty.body["field"].as_str()),
            (422, Some("reason"))
        );
        let r = call(
            "POST",
            &u("/api/v1/reports/REP1/return"),
            None,
            Some(&rad),
            Some(&json!({"reason": "Measure target lesion 2 again"})),
        );
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (200, Some("draft")),
            "{}",
            r.body
        );
        let fixed = json!({"text": "Partial response (RECIST 1.1), lesion 2 remeasured.", "findings": ["liver_lesion"]});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/reports/REP1/draft"),
                None,
                Some(&ap),
                Some(&fixed)
            )
            .status,
            200
        );
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/reports/REP1/submit"),
                None,
                Some(&ap),
                None
            )
            .status,
            200
        );
        let second = call("GET", &u("/api/v1/worklist"), None, Some(&rad2), None).body;
        let second_id = second
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == "REP1")
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/work-items/{second_id}/claim")),
                None,
                Some(&rad2),
                None
            )
            .status,
            200
        );
        let ungraded = call(
            "POST",
            &u("/api/v1/reports/REP1/authorize"),
            None,
            Some(&rad2),
            None,
        );
        assert_eq!(
            (ungraded.status, ungraded.body["field"].as_str()),
            (422, Some("discrepancy")),
            "{}",
            ungraded.body
        );
        let r = call(
            "POST",
            &u("/api/v1/reports/REP1/authorize"),
            None,
            Some(&rad2),
            Some(&json!({"discrepancy": 0})),
        );
        assert_eq!(
            (r.status, r.body["state"].as_str()),
            (200, Some("authorized")),
            "{}",
            r.body
        );
        assert_eq!(r.body["authorized_by"]["id"], "rad-bakker");
        let prelim = r.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["act"] == "submitted_preliminary")
            .unwrap();
        assert_eq!(
            prelim["by"]["mandate"]["agreement_id"], "ta-oncology-preliminary",
            "the AP signed under the agreement"
        );

        // Authorized reports are immutable; addenda only.
        let edit = call(
            "POST",
            &u("/api/v1/reports/REP1/draft"),
            None,
            Some(&ap),
            Some(&text),
        );
        assert!(edit.status == 409 || edit.status == 403, "{}", edit.status);
        let add = call(
            "POST",
            &u("/api/v1/reports/REP1/addendum"),
            None,
            Some(&rad),
            Some(&json!({"text": "Also a rib fracture.", "findings": ["rib_fracture"]})),
        );
        assert_eq!(add.status, 200, "{}", add.body);
        let got = call("GET", &u("/api/v1/reports/REP1"), None, Some(&ap), None).body;
        assert_eq!(got["addenda"].as_array().unwrap().len(), 1);
        let acts: Vec<&str> = got["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["act"].as_str().unwrap())
            .collect();
        assert_eq!(
            acts,
            [
                "drafted",
                "submitted_preliminary",
                "returned_for_correction",
                "edited",
                "submitted_preliminary",
                "authorized",
                "addendum"
            ],
            "{db:?}"
        );
    }
}

#[test]
fn the_author_of_a_preliminary_report_cannot_authorize_it() {
    let db = databases("ownauth").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let item = first_item(
        &u("/api/v1/studies"),
        &key,
        &study("OWN1", "X", "CT", "HEAD"),
    );
    let rad = login(&s.url, "devries");
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
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/reports/OWN1/draft"),
            None,
            Some(&rad),
            Some(&json!({"text": "No abnormality."}))
        )
        .status,
        201
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/reports/OWN1/submit"),
            None,
            Some(&rad),
            None
        )
        .status,
        200
    );
    let next = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None).body[0]["id"]
        .as_u64()
        .unwrap();
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{next}/claim")),
            None,
            Some(&rad),
            None
        )
        .status,
        200
    );
    let r = call(
        "POST",
        &u("/api/v1/reports/OWN1/authorize"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("may not authorize it"),
        "{}",
        r.body
    );
}

#[test]
fn serve_refuses_a_changed_policy_that_kept_its_version() {
    let db = databases("policyversion").remove(0);
    drop(Server::start(&db));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("api-tests");
    let changed = dir.join("changed-policy.toml");
    let text = std::fs::read_to_string(example("policy.toml"))
        .unwrap()
        .replace("sla_minutes = 15", "sla_minutes = 10");
    std::fs::write(&changed, &text).unwrap();
    let mut args: Vec<String> = vec!["serve".into()];
    args.extend(db.iter().cloned());
    args.extend(
        [
            "--listen",
            "127.0.0.1:0",
            "--policy",
            changed.to_str().unwrap(),
            "--department",
            &example("department.toml"),
        ]
        .map(String::from),
    );
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("policy version 2026.11-1 is already recorded with different rules"),
        "{err}"
    );
    // With a new version it starts.
    std::fs::write(
        &changed,
        text.replace("version = \"2026.11-1\"", "version = \"2026.11-2\""),
    )
    .unwrap();
    let mut again = Command::new(bin())
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(again.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("radgate listening on "), "{line}");
    let _ = again.kill();
    let _ = again.wait();
}

/// Two `radgate serve` processes on one PostgreSQL; radiologists on both race for the same
/// items over HTTP. Every item goes to exactly one of them.
#[test]
fn two_instances_on_one_postgres_never_hand_an_item_to_two_claimers() {
    let db = databases("twoinstances").remove(1);
    let key = provision(&db);
    add_account(&db, "bakker", "rad-bakker");
    let a = Server::start(&db);
    let b = Server::start(&db);
    let mut ids = Vec::new();
    for i in 0..30 {
        let r = call(
            "POST",
            &format!("{}/api/v1/studies", a.url),
            Some(&key),
            None,
            Some(&study(&format!("TWO{i}"), "X", "CT", "HEAD")),
        );
        ids.push(r.body["work_items"][0]["id"].as_u64().unwrap());
    }
    let mut racers = Vec::new();
    for (url, user) in [
        (&a.url, "devries"),
        (&b.url, "bakker"),
        (&b.url, "devries"),
        (&a.url, "bakker"),
    ] {
        let (url, cookie, ids) = (url.clone(), login(url, user), ids.clone());
        racers.push(std::thread::spawn(move || {
            let mut won = Vec::new();
            for id in ids {
                let r = call(
                    "POST",
                    &format!("{url}/api/v1/work-items/{id}/claim"),
                    None,
                    Some(&cookie),
                    None,
                );
                match r.status {
                    200 => won.push(id),
                    409 => {}
                    other => panic!("claim answered {other}: {}", r.body),
                }
            }
            won
        }));
    }
    let mut won: Vec<u64> = racers.into_iter().flat_map(|t| t.join().unwrap()).collect();
    won.sort_unstable();
    ids.sort_unstable();
    assert_eq!(
        won, ids,
        "each item claimed exactly once across both instances"
    );
}

#[test]
fn a_study_whose_ai_result_never_comes_is_routed_again_when_the_wait_runs_out() {
    for db in databases("aiwait") {
        let key = provision(&db);
        let s = Server::start_with(&db, &["--reroute-every", "1"]);
        // Acquired 19 min 56 s ago: the 20-minute wait for PE detection runs out in 4 s.
        let mut ctpa = study("WAIT1", "CTPA", "CT", "CHEST");
        ctpa["acquired_at"] =
            json!((chrono::Utc::now() - chrono::Duration::seconds(20 * 60 - 4)).to_rfc3339());
        let first = call(
            "POST",
            &format!("{}/api/v1/studies", s.url),
            Some(&key),
            None,
            Some(&ctpa),
        );
        assert_eq!(
            first.body["decision"]["rule"],
            Value::Null,
            "{db:?}: still waiting for the AI"
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let d = call(
                "GET",
                &format!("{}/api/v1/studies/WAIT1/decision", s.url),
                Some(&key),
                None,
                None,
            )
            .body;
            if d["rule"] == "ctpa-ai-missing" {
                assert_eq!(d["priority"], "urgent");
                assert_eq!(d["flags"], json!(["ai_result_missing"]));
                assert!(
                    d["explanation"]
                        .as_str()
                        .unwrap()
                        .contains("no result from AI application pe-detect after 20 min")
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{db:?}: not routed again: {d}"
            );
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let rad = login(&s.url, "devries");
        let list = call(
            "GET",
            &format!("{}/api/v1/worklist", s.url),
            None,
            Some(&rad),
            None,
        )
        .body;
        let open: Vec<&Value> = list
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["accession"] == "WAIT1")
            .collect();
        assert_eq!(open.len(), 1, "the first item gave way: {list}");
        assert_eq!(open[0]["priority"], "urgent");
    }
}

#[test]
fn a_delegate_claims_only_while_the_portfolio_authorizes_it() {
    let db = databases("evidence").remove(0);
    let key = provision_people(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let item = first_item(
        &u("/api/v1/studies"),
        &key,
        &study("EVID1", "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    let ap = login(&s.url, "smit");
    assert!(
        call("GET", &u("/api/v1/worklist"), None, Some(&ap), None)
            .body
            .as_array()
            .unwrap()
            .is_empty(),
        "no evidence, no work"
    );
    let r = call(
        "POST",
        &u(&format!("/api/v1/work-items/{item}/claim")),
        None,
        Some(&ap),
        None,
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("0 of 3 confirmed assessments"),
        "{}",
        r.body
    );

    let imported = import_ap_evidence(&db);
    assert!(imported.contains("3 assessment(s) imported"), "{imported}");
    assert_eq!(
        call("GET", &u("/api/v1/worklist"), None, Some(&ap), None).body[0]["id"],
        json!(item)
    );
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(&ap),
            None
        )
        .status,
        200
    );

    let mut explain = vec!["authz", "explain"];
    explain.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    explain.extend([
        "--department",
        &dept,
        "--person",
        "ap-smit",
        "--task",
        "oncology_preliminary_report",
        "--format",
        "json",
    ]);
    let a: Value = serde_json::from_str(&run(&explain, None)).unwrap();
    assert_eq!(a["status"], "authorized");
    assert_eq!(a["evidence"].as_array().unwrap().len(), 3);
    assert_eq!(a["agreement"], "ta-oncology-preliminary");

    // The same derivation over HTTP, visible to the AP and a radiologist but not to a peer.
    let own = call(
        "GET",
        &u("/api/v1/professionals/ap-smit/authorizations"),
        None,
        Some(&ap),
        None,
    );
    assert_eq!(own.status, 200);
    let onc = own
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["task"] == "oncology_preliminary_report")
        .unwrap()
        .clone();
    assert_eq!(onc["status"], "authorized");
    assert_eq!(onc["evidence"], a["evidence"]);
    let rad = login(&s.url, "devries");
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/professionals/ap-smit/authorizations"),
            None,
            Some(&rad),
            None
        )
        .status,
        200
    );
    let peer = login(&s.url, "jansen");
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/professionals/ap-smit/authorizations"),
            None,
            Some(&peer),
            None
        )
        .status,
        403
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/professionals/nobody/authorizations"),
            None,
            Some(&rad),
            None
        )
        .status,
        404
    );
}

#[test]
fn a_portfolio_file_with_a_bad_row_imports_nothing_and_names_the_row() {
    let db = databases("badcsv").remove(0);
    provision_people(&db);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bad-portfolio.csv");
    std::fs::write(
        &file,
        "id,assessee,assessor,assessor_background,task,placement,date,expertise,communication,collaboration,organisation,knowledge_science,professionalism,entrustment,narrative,status\n\
         ok-1,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,2026-06-01,4,4,4,4,4,4,3,,confirmed\n\
         bad-1,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,2026-06-01,4,4,4,4,4,4,7,,confirmed\n",
    )
    .unwrap();
    let mut args: Vec<String> = vec!["portfolio".into(), "import".into()];
    args.extend(db.iter().cloned());
    args.extend([
        "--department".to_string(),
        example("department.toml"),
        file.to_string_lossy().into_owned(),
    ]);
    let out = Command::new(bin()).args(&args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad-portfolio.csv:3: entrustment: entrustment level must be 1 to 5, found 7"),
        "{err}"
    );
    assert!(err.contains("nothing imported (1 bad row(s))"), "{err}");
    let mut explain = vec!["authz", "explain"];
    explain.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    explain.extend([
        "--department",
        &dept,
        "--person",
        "ap-smit",
        "--task",
        "oncology_preliminary_report",
        "--format",
        "json",
    ]);
    let a: Value = serde_json::from_str(&run(&explain, None)).unwrap();
    assert!(
        a["evidence"].as_array().unwrap().is_empty(),
        "the good row was not half-imported"
    );
}

/// One delegated oncology report from ingest to authorization, graded `grade`.
fn delegated_report(url: &str, key: &str, ap: &str, rad: &str, acc: &str, grade: u8) {
    let u = |p: &str| format!("{url}{p}");
    let item = first_item(
        &u("/api/v1/studies"),
        key,
        &study(acc, "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(ap),
            None
        )
        .status,
        200
    );
    let text = json!({"text": "Stable disease."});
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/draft")),
            None,
            Some(ap),
            Some(&text)
        )
        .status,
        201
    );
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/submit")),
            None,
            Some(ap),
            None
        )
        .status,
        200
    );
    let list = call("GET", &u("/api/v1/worklist"), None, Some(rad), None).body;
    let auth = list
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
            &u(&format!("/api/v1/work-items/{auth}/claim")),
            None,
            Some(rad),
            None
        )
        .status,
        200
    );
    let r = call(
        "POST",
        &u(&format!("/api/v1/reports/{acc}/authorize")),
        None,
        Some(rad),
        Some(&json!({"discrepancy": grade})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn too_many_major_discrepancies_suspend_the_delegate_until_the_named_supervisor_lifts_it() {
    let db = databases("quality").remove(0);
    let key = provision(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (ap, rad, other) = (
        login(&s.url, "smit"),
        login(&s.url, "devries"),
        login(&s.url, "bakker"),
    );
    // 44 good reports, then 6 majors: the 50th report tips the Wilson lower bound over 5%.
    for i in 0..50 {
        delegated_report(
            &s.url,
            &key,
            &ap,
            &rad,
            &format!("Q{i}"),
            if i >= 44 { 2 } else { 0 },
        );
        let suspended = !call("GET", &u("/api/v1/notifications"), None, Some(&ap), None)
            .body
            .as_array()
            .unwrap()
            .is_empty();
        assert_eq!(suspended, i == 49, "suspended after report {i}?");
    }
    let item = first_item(
        &u("/api/v1/studies"),
        &key,
        &study("Q50", "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    let refused = call(
        "POST",
        &u(&format!("/api/v1/work-items/{item}/claim")),
        None,
        Some(&ap),
        None,
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("suspended"),
        "{}",
        refused.body
    );
    let note = call("GET", &u("/api/v1/notifications"), None, Some(&rad), None).body;
    assert!(
        note[0]["text"]
            .as_str()
            .unwrap()
            .contains("Only you can lift it"),
        "{note}"
    );

    let lift = json!({"professional": "ap-smit", "task": "oncology_preliminary_report"});
    let wrong = call(
        "POST",
        &u("/api/v1/suspensions/lift"),
        None,
        Some(&other),
        Some(&lift),
    );
    assert_eq!(wrong.status, 403, "{}", wrong.body);
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/suspensions/lift"),
            None,
            Some(&rad),
            Some(&lift)
        )
        .status,
        200
    );
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(&ap),
            None
        )
        .status,
        200
    );
}

#[test]
fn an_assessee_requests_an_assessment_that_counts_once_the_assessor_confirms_it() {
    let db = databases("assessments").remove(0);
    provision_people(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (ap, rad, peer) = (
        login(&s.url, "smit"),
        login(&s.url, "devries"),
        login(&s.url, "jansen"),
    );
    let kkb = |id: &str, level: u8, narrative: &str| {
        json!({"id": id, "assessee": "ap-smit", "assessor": "rad-devries", "assessor_background": "medical",
               "task": "oncology_preliminary_report", "placement": "oncology",
               "date": chrono::Utc::now().date_naive().to_string(), "scores": [4, 4, null, 4, 5, 4],
               "entrustment": level, "narrative": narrative})
    };
    let requested = call(
        "POST",
        &u("/api/v1/assessments"),
        None,
        Some(&ap),
        Some(&kkb("req-1", 4, "")),
    );
    assert_eq!(
        (requested.status, requested.body["status"].as_str()),
        (201, Some("requested")),
        "{}",
        requested.body
    );
    let evidence = |who: &str| {
        let all = call(
            "GET",
            &u("/api/v1/professionals/ap-smit/authorizations"),
            None,
            Some(who),
            None,
        )
        .body;
        all.as_array()
            .unwrap()
            .iter()
            .find(|a| a["task"] == "oncology_preliminary_report")
            .unwrap()["evidence"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(evidence(&ap), 0, "a requested assessment does not count");
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/assessments"),
            None,
            Some(&peer),
            Some(&kkb("peer-1", 4, ""))
        )
        .status,
        403
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/assessments/req-1/confirm"),
            None,
            Some(&ap),
            None
        )
        .status,
        403,
        "the assessee cannot confirm"
    );
    let confirmed = call(
        "POST",
        &u("/api/v1/assessments/req-1/confirm"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(
        (confirmed.status, confirmed.body["status"].as_str()),
        (200, Some("confirmed"))
    );
    assert_eq!(evidence(&rad), 1, "confirmed, it counts");
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/assessments/req-1/confirm"),
            None,
            Some(&rad),
            None
        )
        .status,
        409
    );
    let low = call(
        "POST",
        &u("/api/v1/assessments"),
        None,
        Some(&rad),
        Some(&kkb("low-1", 2, "")),
    );
    assert_eq!(
        (low.status, low.body["field"].as_str()),
        (422, Some("narrative")),
        "{}",
        low.body
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/assessments"),
            None,
            Some(&rad),
            Some(&kkb("low-1", 2, "Needed direct supervision."))
        )
        .status,
        201
    );
    // Private: the assessee and radiologists see them, a peer does not.
    let own = call(
        "GET",
        &u("/api/v1/professionals/ap-smit/assessments"),
        None,
        Some(&ap),
        None,
    );
    assert_eq!(own.body.as_array().unwrap().len(), 2);
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/professionals/ap-smit/assessments"),
            None,
            Some(&rad),
            None
        )
        .status,
        200
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/professionals/ap-smit/assessments"),
            None,
            Some(&peer),
            None
        )
        .status,
        403
    );
}

#[test]
fn the_agreement_report_takes_json_pairs_or_csv() {
    // Stateless: one database is enough.
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("api-tests", "agreement")
            .to_string_lossy()
            .into_owned(),
    ];
    provision_people(&db);
    let s = Server::start(&db);
    let u = format!("{}/api/v1/stats/agreement", s.url);
    let rad = login(&s.url, "devries");
    let pairs: Vec<Value> = (0..10)
        .map(|i| json!({"item": format!("t{i}"), "criterion": "method", "rater_a_score": 1 + i % 5, "rater_b_score": 1 + (i + 1) % 5}))
        .collect();
    assert_eq!(
        call("POST", &u, None, None, Some(&json!({ "pairs": pairs }))).status,
        401
    );
    let r = call(
        "POST",
        &u,
        None,
        Some(&rad),
        Some(&json!({ "pairs": pairs })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["method"]["n"], 10);
    assert_eq!(r.body["overall"]["n"], 10);
    assert!(r.body["overall"]["icc2_1"].is_number(), "{}", r.body);

    let csv = "item,rater_a_score,rater_b_score\na,3,4\nb,2,2\nc,5,4\n";
    let r = send("POST", &u, None, Some(&rad), Some(("text/csv", csv.into())));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["overall"]["n"], 3);
    assert_eq!(r.body["overall"]["mean_difference"], 0.0);

    let bad = "item,rater_a_score,rater_b_score\na,3,4\na,2,two\n";
    let r = send("POST", &u, None, Some(&rad), Some(("text/csv", bad.into())));
    assert_eq!(r.status, 422);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("row 3: rater_b_score: `two` is not a whole scale point"),
        "{}",
        r.body
    );
    let dup = json!({"pairs": [{"item": "a", "rater_a_score": 1, "rater_b_score": 2},
                               {"item": "a", "rater_a_score": 1, "rater_b_score": 2}]});
    let r = call("POST", &u, None, Some(&rad), Some(&dup));
    assert_eq!(r.status, 422);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("row 2: item `a` was already scored on row 1"),
        "{}",
        r.body
    );
}

#[test]
fn programme_staff_see_the_cohort_and_draw_the_sample_and_peers_see_nothing() {
    let db = databases("programme").remove(0);
    provision_people(&db);
    add_account(&db, "koster", "edu-koster");
    add_account(&db, "dekker", "ap-dekker");
    import_ap_evidence(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (ap, rad, staff, peer, fellow) = (
        login(&s.url, "smit"),
        login(&s.url, "devries"),
        login(&s.url, "koster"),
        login(&s.url, "jansen"),
        login(&s.url, "dekker"),
    );
    let get = |path: &str, who: &str| call("GET", &u(path), None, Some(who), None);

    let mine = get("/api/v1/professionals/ap-smit/progress", &ap);
    assert_eq!(mine.status, 200, "{}", mine.body);
    assert_eq!(mine.body["programme"], "miro-master");
    assert_eq!(mine.body["total"]["need"], 60);
    // Three confirmed KKBs in the last month, none at placement oncology/msk ("onc").
    assert_eq!(mine.body["total"]["have"], 3);
    assert!(
        mine.body["gaps"].as_array().unwrap().iter().any(|g| g
            .as_str()
            .unwrap()
            .starts_with("placement oncology: 0 of 10")),
        "{}",
        mine.body
    );
    for (who, status) in [(&rad, 200), (&staff, 200), (&peer, 403), (&fellow, 403)] {
        assert_eq!(
            get("/api/v1/professionals/ap-smit/progress", who).status,
            status
        );
        assert_eq!(
            get("/api/v1/professionals/ap-smit/assessments", who).status,
            status
        );
    }
    assert_eq!(
        get("/api/v1/professionals/mbb-jansen/progress", &peer).status,
        404,
        "not a trainee"
    );

    let cohort = get("/api/v1/programmes/miro-master/cohort", &staff);
    assert_eq!(cohort.status, 200, "{}", cohort.body);
    let people: Vec<&str> = cohort
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["person"].as_str().unwrap())
        .collect();
    assert_eq!(people.len(), 2);
    assert!(people.contains(&"ap-smit") && people.contains(&"ap-dekker"));
    assert_eq!(
        get("/api/v1/programmes/miro-master/cohort", &rad).status,
        403
    );
    assert_eq!(get("/api/v1/programmes/nope/cohort", &staff).status, 404);

    let sample = get(
        "/api/v1/programmes/miro-master/sample?fraction=0.5&seed=7",
        &staff,
    );
    assert_eq!(sample.status, 200, "{}", sample.body);
    assert_eq!(sample.body["population"], 3);
    assert_eq!(sample.body["assessments"].as_array().unwrap().len(), 2);
    assert_eq!(
        sample.body,
        get(
            "/api/v1/programmes/miro-master/sample?fraction=0.5&seed=7",
            &staff
        )
        .body,
        "reproducible"
    );
    assert_eq!(
        get("/api/v1/programmes/miro-master/sample", &staff).body["fraction"],
        0.1,
        "the programme's review fraction by default"
    );
    assert_eq!(
        get("/api/v1/programmes/miro-master/sample?fraction=2", &staff).status,
        422
    );
    assert_eq!(
        get("/api/v1/programmes/miro-master/sample", &ap).status,
        403
    );
}

#[test]
fn a_thesis_grade_is_final_only_after_the_committee_deliberates() {
    let db = databases("rubric").remove(0);
    provision_people(&db);
    add_account(&db, "koster", "edu-koster");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (ap, rad, staff, peer) = (
        login(&s.url, "smit"),
        login(&s.url, "devries"),
        login(&s.url, "koster"),
        login(&s.url, "jansen"),
    );
    let setup = json!({"id": "thesis-smit", "rubric": "miro-thesis", "subject": "ap-smit",
        "title": "AI triage of chest radiographs",
        "committee": [{"person": "rad-devries", "background": "medical"},
                      {"person": "edu-koster", "background": "technical"}]});
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/rubric-assessments"),
            None,
            Some(&peer),
            Some(&setup)
        )
        .status,
        403,
        "neither committee nor staff"
    );
    let created = call(
        "POST",
        &u("/api/v1/rubric-assessments"),
        None,
        Some(&staff),
        Some(&setup),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/rubric-assessments"),
            None,
            Some(&staff),
            Some(&setup)
        )
        .status,
        200,
        "an identical repeat"
    );
    let post = |path: &str, who: &str, body: Value| {
        call(
            "POST",
            &u(&format!("/api/v1/rubric-assessments/thesis-smit{path}")),
            None,
            Some(who),
            Some(&body),
        )
    };
    let scores = |bump: i64| {
        json!({"scores": [
            {"criterion": "question", "score": 7 + bump},
            {"criterion": "method", "score": 6 + bump, "comment": "sample size argued"},
            {"criterion": "analysis", "score": 5 + bump},
            {"criterion": "writing", "score": 8 + bump}]})
    };
    assert_eq!(post("/scores", &peer, scores(0)).status, 403);
    let bad = json!({"scores": [{"criterion": "question", "score": 7}, {"criterion": "method", "score": 11}]});
    let r = post("/scores", &rad, bad);
    assert_eq!(r.status, 422, "{}", r.body);
    let stored = call(
        "GET",
        &u("/api/v1/rubric-assessments/thesis-smit"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(
        stored.body["scores"].as_array().unwrap().len(),
        0,
        "all or nothing"
    );
    assert_eq!(post("/scores", &rad, scores(1)).status, 200);
    let agreed = json!({"scores": {"question": 8, "method": 7, "analysis": 6, "writing": 9}});
    let r = post("/finalise", &rad, agreed.clone());
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("edu-koster has not scored"),
        "{}",
        r.body
    );
    assert_eq!(post("/scores", &staff, scores(0)).status, 200);
    let r = post("/finalise", &rad, agreed.clone());
    assert_eq!(r.status, 409);
    assert!(
        r.body["detail"].as_str().unwrap().contains("deliberation"),
        "{}",
        r.body
    );
    assert_eq!(
        post("/deliberation", &rad, json!({"text": " "})).status,
        422
    );
    assert_eq!(
        post(
            "/deliberation",
            &staff,
            json!({"text": "Analysis lacks a sensitivity analysis: 6, not 7."})
        )
        .status,
        200
    );
    let done = post("/finalise", &rad, agreed);
    assert_eq!(done.status, 200, "{}", done.body);
    let grade = done.body["finalisation"]["grade"].as_f64().unwrap();
    assert!((grade - 43.0 / 6.0).abs() < 1e-9, "{grade}");
    assert_eq!(
        post("/scores", &rad, scores(2)).status,
        409,
        "final is final"
    );

    for (who, status) in [(&ap, 200), (&rad, 200), (&staff, 200), (&peer, 403)] {
        assert_eq!(
            call(
                "GET",
                &u("/api/v1/rubric-assessments/thesis-smit"),
                None,
                Some(who),
                None
            )
            .status,
            status
        );
    }
    let agreement = call(
        "GET",
        &u("/api/v1/rubrics/miro-thesis/agreement"),
        None,
        Some(&staff),
        None,
    );
    assert_eq!(agreement.status, 200, "{}", agreement.body);
    assert_eq!(agreement.body["overall"]["n"], 4);
    assert_eq!(
        agreement.body["overall"]["mean_difference"], 1.0,
        "the medical assessor one point higher"
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/rubrics/miro-thesis/agreement"),
            None,
            Some(&rad),
            None
        )
        .status,
        403
    );
    // Every change is on the audit chain.
    let mut args = vec!["audit", "verify"];
    args.extend(db.iter().map(String::as_str));
    assert!(run(&args, None).starts_with("audit log intact"));
}

#[test]
fn ai_metrics_follow_the_final_reports_over_http() {
    let db = databases("ai_metrics").remove(0);
    let key = provision(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let ap = login(&s.url, "smit");
    // (accession, AI score, reported PE, site)
    let cases = [
        ("AIM1", 0.93, true, "main"),
        ("AIM2", 0.81, false, "main"),
        ("AIM3", 0.05, false, "annex"),
        ("AIM4", 0.12, true, "main"),
    ];
    for (acc, score, pe, site) in cases {
        let mut st = study(acc, "CTPA", "CT", "CHEST");
        st["site"] = json!(site);
        st["manufacturer"] = json!("Simulated");
        st["model"] = json!("CT-1");
        let r = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&st));
        assert_eq!(r.status, 201, "{}", r.body);
        let result = json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0", "accession": acc,
            "received_at": chrono::Utc::now().to_rfc3339(), "findings": [{"code": "pulmonary_embolism", "score": score, "critical": score >= 0.6}]});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&result)
            )
            .status,
            201
        );
        let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == acc)
            .unwrap_or_else(|| panic!("{acc} on the radiologists' worklist"))["id"]
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
        let findings: Vec<&str> = if pe {
            vec!["pulmonary_embolism"]
        } else {
            vec![]
        };
        let draft = call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/draft")),
            None,
            Some(&rad),
            Some(&json!({"text": "CTPA.", "findings": findings})),
        );
        assert_eq!(draft.status, 201, "{}", draft.body);
        let done = call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/authorize")),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(done.status, 200, "{}", done.body);
    }
    let m = call(
        "GET",
        &u("/api/v1/ai/pe-detect/metrics"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(m.status, 200, "{}", m.body);
    let row = &m.body[0];
    assert_eq!(
        (row["version"].as_str(), row["finding"].as_str()),
        (Some("3.2.0"), Some("pulmonary_embolism"))
    );
    assert_eq!(
        row["counts"],
        json!({"tp": 1, "fp": 1, "fn": 1, "tn": 1, "found_later": 0,
        "paired": 4, "ai_only_right": 0, "human_only_right": 2})
    );
    assert_eq!(row["sensitivity"]["estimate"], 0.5);
    // The Wilson interval of 1/2 is the one `radgate stats proportion` gives.
    let wilson: Value = serde_json::from_str(&run(
        &[
            "stats",
            "proportion",
            "--successes",
            "1",
            "--trials",
            "2",
            "--method",
            "wilson",
        ],
        None,
    ))
    .unwrap();
    assert_eq!(
        row["sensitivity"]["wilson"],
        json!([wilson["lower"], wilson["upper"]])
    );
    // Positives scored 0.93 and 0.12, negatives 0.81 and 0.05: 3 of 4 pairs ordered.
    let with_auc = call(
        "GET",
        &u("/api/v1/ai/pe-detect/metrics?auc=true"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(with_auc.body[0]["auc"]["auc"], 0.75, "{}", with_auc.body);
    assert!(row.get("auc").is_none(), "AUC only when asked for");
    let by = call(
        "GET",
        &u("/api/v1/ai/pe-detect/metrics?by=scanner"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(by.body[0]["stratum"], "Simulated CT-1");
    let by_site = call(
        "GET",
        &u("/api/v1/ai/pe-detect/metrics?by=site"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(by_site.body.as_array().unwrap().len(), 2);
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/ai/pe-detect/metrics"),
            None,
            Some(&ap),
            None
        )
        .status,
        403
    );
    assert_eq!(
        call("GET", &u("/api/v1/ai/nope/metrics"), None, Some(&rad), None).status,
        404
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/ai/pe-detect/metrics?by=colour"),
            None,
            Some(&rad),
            None
        )
        .status,
        422
    );
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/ai/pe-detect/metrics?from=2026-02-01&to=2026-01-01"),
            None,
            Some(&rad),
            None
        )
        .status,
        422
    );
    // Turnaround: all four routine, each with an AI result seconds after acquisition and
    // an authorized report.
    let t = call(
        "GET",
        &u("/api/v1/ai/pe-detect/turnaround?ai_sla_minutes=10"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(t.status, 200, "{}", t.body);
    let names: Vec<&str> = t
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["priority"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["routine", "all"]);
    assert_eq!(t.body[1]["to_ai_result"]["exams"], 4);
    assert_eq!(t.body[1]["to_ai_result"]["within_sla"]["estimate"], 1.0);
    assert_eq!(t.body[1]["to_authorized_report"]["exams"], 4);
    assert_eq!(
        call(
            "GET",
            &u("/api/v1/ai/pe-detect/turnaround?ai_sla_minutes=-1"),
            None,
            Some(&rad),
            None
        )
        .status,
        422
    );
    // The CLI reads the same database.
    let mut targs = vec!["monitor"];
    targs.extend(db.iter().map(String::as_str));
    targs.extend(["--app", "pe-detect", "--turnaround", "--format", "json"]);
    let cli_t: Value = serde_json::from_str(&run(&targs, None)).unwrap();
    assert_eq!(cli_t[1]["to_authorized_report"]["exams"], 4);
    let mut args = vec!["monitor"];
    args.extend(db.iter().map(String::as_str));
    args.extend(["--app", "pe-detect", "--auc", "--format", "csv"]);
    let csv = run(&args, None);
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("version,finding,stratum,tp,fp,fn,tn,found_later,prevalence,")
    );
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("3.2.0,pulmonary_embolism,,1,1,1,1,0,0.5,"),
        "{csv}"
    );
}

#[test]
fn a_sensitivity_alarm_notifies_the_raio_and_routing_falls_back_until_the_raio_clears_it() {
    let db = databases("ai_alarm").remove(0);
    let key = provision(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let raio = login(&s.url, "bakker");
    let ingest = |acc: &str, score: f64| {
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study(acc, "CTPA", "CT", "CHEST")),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let result = json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0", "accession": acc,
            "received_at": chrono::Utc::now().to_rfc3339(), "findings": [{"code": "pulmonary_embolism", "score": score, "critical": score >= 0.6}]});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&result)
            )
            .status,
            201
        );
        call(
            "GET",
            &u(&format!("/api/v1/studies/{acc}/decision")),
            Some(&key),
            None,
            None,
        )
        .body["rule"]
            .clone()
    };
    assert_eq!(ingest("CTRL1", 0.95), json!("ctpa-pe-positive"));
    // Twenty emboli the detector scored low: reported by the radiologist, all missed by AI.
    for i in 0..20 {
        let acc = format!("MISS{i}");
        ingest(&acc, 0.1);
        let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["accession"] == acc.as_str())
            .unwrap()["id"]
            .as_u64()
            .unwrap();
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{item}/claim")),
            None,
            Some(&rad),
            None,
        );
        let d = call(
            "POST",
            &u(&format!("/api/v1/reports/{acc}/draft")),
            None,
            Some(&rad),
            Some(&json!({"text": "Segmental PE.", "findings": ["pulmonary_embolism"]})),
        );
        assert_eq!(d.status, 201, "{}", d.body);
        assert_eq!(
            call(
                "POST",
                &u(&format!("/api/v1/reports/{acc}/authorize")),
                None,
                Some(&rad),
                None
            )
            .status,
            200
        );
    }
    let raised = call(
        "POST",
        &u("/api/v1/ai/pe-detect/drift-check"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(raised.status, 200, "{}", raised.body);
    let alarms = raised.body.as_array().unwrap();
    assert_eq!(alarms.len(), 1, "{}", raised.body);
    assert_eq!(alarms[0]["kind"], "sensitivity_floor");
    assert!(
        alarms[0]["detail"]
            .as_str()
            .unwrap()
            .contains("sensitivity 0/20"),
        "{}",
        raised.body
    );
    let id = alarms[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/ai/pe-detect/drift-check"),
            None,
            Some(&rad),
            None
        )
        .body,
        json!([]),
        "an active alarm is not raised twice"
    );
    let notes = call("GET", &u("/api/v1/notifications"), None, Some(&raio), None);
    assert!(
        notes.body.to_string().contains("AI alarm on pe-detect"),
        "{}",
        notes.body
    );
    // Fallback: a PE-positive result no longer makes the study stat.
    let during = ingest("DURING1", 0.95);
    assert_ne!(
        during,
        json!("ctpa-pe-positive"),
        "routing ignores the alarmed detector"
    );
    assert_ne!(during, json!("ai-critical"));
    // Only the RAIO clears, with a reason.
    let clear = |who: &str, reason: &str| {
        call(
            "POST",
            &u(&format!("/api/v1/ai-alarms/{id}/clear")),
            None,
            Some(who),
            Some(&json!({"reason": reason})),
        )
    };
    assert_eq!(clear(&rad, "fine").status, 403);
    assert_eq!(clear(&raio, " ").status, 422);
    let cleared = clear(&raio, "vendor patch 3.2.1 validated on 200 local cases");
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["cleared_by"], "rad-bakker");
    assert_eq!(clear(&raio, "again").status, 404, "no longer active");
    assert_eq!(ingest("AFTER1", 0.95), json!("ctpa-pe-positive"));
    let all = call(
        "GET",
        &u("/api/v1/ai/pe-detect/alarms"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(all.body.as_array().unwrap().len(), 1);
    let mut args = vec!["audit", "verify"];
    args.extend(db.iter().map(String::as_str));
    assert!(run(&args, None).starts_with("audit log intact"));
}

/// Issue 12, item 3: an AI result means what the register says wherever it is read. The
/// simulator's exams (scores drawn, flags read from the register) are routed by the policy
/// as the simulator routes them, by `policy explain` and by live ingest with the sender's
/// flags left out; all three decide alike. A flag the register does not give is refused.
#[test]
fn simulate_explain_and_live_ingest_read_the_same_scores_the_same_way() {
    use radgate_domain::{Department, Policy};
    use radgate_sim::{Feed, SimConfig};
    let dept_text = std::fs::read_to_string(example("department.toml")).unwrap();
    let dept = Department::parse(&dept_text).unwrap();
    let cfg = SimConfig::parse(&dept_text, &dept).unwrap();
    let policy = Policy::parse(&std::fs::read_to_string(example("policy.toml")).unwrap()).unwrap();
    let db = databases("same_reading").remove(0);
    let key = provision_people(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("same-reading");
    std::fs::create_dir_all(&dir).unwrap();
    let mut feed = Feed::new(dept.clone(), cfg, 11, "SAME");
    let (mut with_ai, mut normal, mut compared) = (0, 0, 0);
    while with_ai < 25 {
        let acquired = chrono::Utc::now();
        let mut exam = feed.next_exam(acquired);
        exam.ai.retain(|a| !a.failed);
        if exam.ai.is_empty() && compared >= 10 {
            continue;
        }
        let results: Vec<_> = exam
            .ai
            .iter()
            .map(|a| radgate_domain::ai::AiResult {
                received_at: acquired,
                ..a.result.clone()
            })
            .collect();
        let at = acquired + chrono::Duration::minutes(1);
        let simulated = policy.decide(&exam.study, &results, at);
        with_ai += usize::from(!results.is_empty());
        normal += usize::from(results.iter().any(|r| r.findings.iter().any(|f| f.normal)));
        // What senders send: scores, no flags.
        let sent: Vec<Value> = results
            .iter()
            .map(|r| {
                let mut v = serde_json::to_value(r).unwrap();
                for f in v["findings"].as_array_mut().unwrap() {
                    f.as_object_mut()
                        .unwrap()
                        .retain(|k, _| k == "code" || k == "score");
                }
                v
            })
            .collect();
        let study = serde_json::to_value(&exam.study).unwrap();
        let case = dir.join(format!("{}.json", exam.study.accession));
        std::fs::write(
            &case,
            json!({"study": study, "ai_results": sent}).to_string(),
        )
        .unwrap();
        let explained: Value = serde_json::from_str(&run(
            &[
                "policy",
                "explain",
                "--policy",
                &example("policy.toml"),
                "--study",
                case.to_str().unwrap(),
                "--at",
                &at.to_rfc3339(),
                "--format",
                "json",
            ],
            None,
        ))
        .unwrap();
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        for result in &sent {
            let r = call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(result),
            );
            assert_eq!(r.status, 201, "{result}: {}", r.body);
        }
        let live = call(
            "GET",
            &u(&format!(
                "/api/v1/studies/{}/decision",
                exam.study.accession
            )),
            Some(&key),
            None,
            None,
        )
        .body;
        let rule = simulated.rule.as_ref().map(|r| r.to_string());
        assert_eq!(
            explained["rule"].as_str().map(String::from),
            rule,
            "explain: {case:?}"
        );
        assert_eq!(
            live["rule"].as_str().map(String::from),
            rule,
            "live: {case:?}"
        );
        assert_eq!(live["pathway"], explained["pathway"]);
        assert_eq!(live["priority"], explained["priority"]);
        compared += 1;
    }
    assert!(
        normal > 0,
        "some exams were read as AI-normal from their scores alone"
    );

    // A critical flag the register does not give at that score is refused, naming the field.
    let r = call(
        "POST",
        &u("/api/v1/studies"),
        Some(&key),
        None,
        Some(&study("FLAG1", "XTHORAX", "DX", "CHEST")),
    );
    assert_eq!(r.status, 201);
    let lying = json!({"id": "flag-1", "app": "cxr-normal", "app_version": "2.1.0", "accession": "FLAG1",
        "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "pneumothorax", "score": 0.5, "critical": true}]});
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&lying),
    );
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("findings[0].critical")),
        "{}",
        r.body
    );
    // An application outside the register: the field is named (no key could speak for it).
    let mut unknown = lying.clone();
    unknown["app"] = json!("no-such-ai");
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&unknown),
    );
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("app")),
        "{}",
        r.body
    );
    for (field, bad) in [
        ("app_version", json!({"app_version": "9.9.9"})),
        (
            "findings[0].code",
            json!({"findings": [{"code": "fracture", "score": 0.5}]}),
        ),
        (
            "findings[0].score",
            json!({"findings": [{"code": "pneumothorax", "score": 1.5}]}),
        ),
    ] {
        let mut body = lying.clone();
        for (k, v) in bad.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = call(
            "POST",
            &u("/api/v1/ai-results"),
            Some(&key),
            None,
            Some(&body),
        );
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some(field)),
            "{}",
            r.body
        );
    }
    let d = call(
        "GET",
        &u("/api/v1/studies/FLAG1/decision"),
        Some(&key),
        None,
        None,
    )
    .body;
    assert_ne!(
        d["priority"], "stat",
        "a refused result changes nothing: {d}"
    );
}

/// Issue 12, items 2 and 7: only systems feed routing, each AI key for its own
/// application; scopes are checked when a key is made; reading clinical records follows
/// the work (the README's role x resource table).
#[test]
fn only_systems_feed_routing_and_clinical_records_are_read_on_a_need_to_know_basis() {
    let db = databases("least_privilege").remove(0);
    let key = provision(&db);
    add_account(&db, "mulder", "pa-mulder");
    add_account(&db, "koster", "edu-koster");
    // Scopes are read when the key is made: unknown ones are refused, nothing is stored.
    let dept = example("department.toml");
    for (scopes, says) in [
        ("admin", "unknown scope `admin`"),
        ("ai:no-such-ai", "names no application"),
    ] {
        let mut args = vec!["api-key", "create"];
        args.extend(db.iter().map(String::as_str));
        args.extend(["--department", &dept, "--name", "bad", "--scopes", scopes]);
        let out = Command::new(bin()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{scopes}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
    }
    let vendor = support::http::api_key(&db, "pe-vendor", "ai:pe-detect");
    let ris_only = support::http::api_key(&db, "ris-only", "ingest");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (pa, staff, rad, ap) = (
        login(&s.url, "mulder"),
        login(&s.url, "koster"),
        login(&s.url, "devries"),
        login(&s.url, "smit"),
    );
    let ctpa = study("LP1", "CTPA", "CT", "CHEST");
    let pe = |app: &str, id: &str| {
        json!({"id": id, "app": app, "app_version": if app == "pe-detect" { "3.2.0" } else { "2.1.0" },
            "accession": "LP1", "received_at": chrono::Utc::now().to_rfc3339(),
            "findings": [{"code": if app == "pe-detect" { "pulmonary_embolism" } else { "abnormality" }, "score": 0.95}]})
    };
    // A person's session never feeds routing, whoever they are.
    for who in [&pa, &rad] {
        let r = call("POST", &u("/api/v1/studies"), None, Some(who), Some(&ctpa));
        assert_eq!(r.status, 403, "{}", r.body);
        let r = call(
            "POST",
            &u("/api/v1/ai-results"),
            None,
            Some(who),
            Some(&pe("pe-detect", "x")),
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    let fhir_order =
        json!({"resourceType": "ServiceRequest", "status": "active", "intent": "order"});
    let r = call(
        "POST",
        &u("/fhir/ServiceRequest"),
        None,
        Some(&pa),
        Some(&fhir_order),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/studies"),
            Some(&ris_only),
            None,
            Some(&ctpa)
        )
        .status,
        201
    );
    // The RIS's key posts no AI results; the vendor's key only its own application's.
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&ris_only),
        None,
        Some(&pe("pe-detect", "r1")),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&vendor),
        None,
        Some(&pe("cxr-normal", "r2")),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body["detail"].as_str().unwrap().contains("ai:cxr-normal"),
        "{}",
        r.body
    );
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&vendor),
        None,
        Some(&pe("pe-detect", "r3")),
    );
    assert_eq!(r.status, 201, "{}", r.body);

    // Reading: the radiologist and a key with `read` see the decision; a PA, programme
    // staff and keys without `read` do not. An AP sees the studies of their own work.
    let decision = |auth: Option<&str>, cookie: Option<&str>, acc: &str| {
        call(
            "GET",
            &u(&format!("/api/v1/studies/{acc}/decision")),
            auth,
            cookie,
            None,
        )
        .status
    };
    assert_eq!(decision(None, Some(&rad), "LP1"), 200);
    assert_eq!(decision(Some(&key), None, "LP1"), 200);
    for who in [&pa, &staff, &ap] {
        assert_eq!(decision(None, Some(who), "LP1"), 403);
    }
    for k in [&ris_only, &vendor] {
        assert_eq!(decision(Some(k), None, "LP1"), 403);
        let r = call(
            "GET",
            &u("/fhir/DiagnosticReport?patient=PSEUDO-1"),
            Some(k),
            None,
            None,
        );
        assert_eq!(r.status, 403, "{}", r.body);
    }
    for who in [&pa, &staff, &ap] {
        let r = call("GET", &u("/fhir/ImagingStudy/LP1"), None, Some(who), None);
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(
        call("GET", &u("/fhir/ImagingStudy/LP1"), None, Some(&rad), None).status,
        200
    );
    assert_eq!(
        call(
            "GET",
            &u("/fhir/Practitioner/ap-smit"),
            None,
            Some(&pa),
            None
        )
        .status,
        200
    );
    // The AP's delegated study: readable while it is on their worklist, and once claimed.
    let onc = first_item(
        &u("/api/v1/studies"),
        &ris_only,
        &study("LP2", "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    assert_eq!(decision(None, Some(&ap), "LP2"), 200);
    assert_eq!(decision(None, Some(&pa), "LP2"), 403);
    assert_eq!(
        call(
            "POST",
            &u(&format!("/api/v1/work-items/{onc}/claim")),
            None,
            Some(&ap),
            None
        )
        .status,
        200
    );
    assert_eq!(decision(None, Some(&ap), "LP2"), 200);
    assert_eq!(
        call("GET", &u("/api/v1/reports/LP2"), None, Some(&staff), None).status,
        403
    );
}

/// Issue 12, items 4, 5 and 6: a returned report comes back on its author's own list with
/// a notification; a requested assessment notifies its assessor; only assessors assess,
/// with the background of their record and no future dates; discrepancy grades are
/// judged after every report, not only after 50.
#[test]
fn returns_requests_and_grades_reach_their_people_as_they_happen() {
    let db = databases("people_told").remove(0);
    let key = provision(&db);
    add_account(&db, "mulder", "pa-mulder");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let (ap, rad, pa) = (
        login(&s.url, "smit"),
        login(&s.url, "devries"),
        login(&s.url, "mulder"),
    );
    let notes = |who: &str| -> Vec<String> {
        call("GET", &u("/api/v1/notifications"), None, Some(who), None)
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["text"].as_str().unwrap().to_owned())
            .collect()
    };
    // A returned report.
    let item = first_item(
        &u("/api/v1/studies"),
        &key,
        &study("RET1", "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    call(
        "POST",
        &u(&format!("/api/v1/work-items/{item}/claim")),
        None,
        Some(&ap),
        None,
    );
    call(
        "POST",
        &u("/api/v1/reports/RET1/draft"),
        None,
        Some(&ap),
        Some(&json!({"text": "Stable."})),
    );
    assert_eq!(
        call(
            "POST",
            &u("/api/v1/reports/RET1/submit"),
            None,
            Some(&ap),
            None
        )
        .status,
        200
    );
    let mine = |who: &str| call("GET", &u("/api/v1/worklist/mine"), None, Some(who), None).body;
    assert_eq!(
        mine(&ap),
        json!([]),
        "submitted: nothing of the AP's own is open"
    );
    let auth = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None).body[0]["id"]
        .as_u64()
        .unwrap();
    call(
        "POST",
        &u(&format!("/api/v1/work-items/{auth}/claim")),
        None,
        Some(&rad),
        None,
    );
    let r = call(
        "POST",
        &u("/api/v1/reports/RET1/return"),
        None,
        Some(&rad),
        Some(&json!({"reason": "measure the index lesion"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let back = mine(&ap);
    assert_eq!(back.as_array().unwrap().len(), 1, "{back}");
    assert_eq!(
        (back[0]["accession"].as_str(), back[0]["state"].as_str()),
        (Some("RET1"), Some("claimed"))
    );
    assert!(
        notes(&ap)
            .iter()
            .any(|t| t.contains("measure the index lesion")),
        "{:?}",
        notes(&ap)
    );

    // Assessments: only assessors, the recorded background, no future dates.
    let today = chrono::Utc::now().date_naive();
    let kkb = |id: &str, assessor: &str, date: chrono::NaiveDate, background: Option<&str>| {
        let mut v = json!({"id": id, "assessee": "ap-smit", "assessor": assessor,
            "task": "oncology_preliminary_report", "placement": "oncology", "date": date.to_string(),
            "scores": [4, 4, null, 4, 5, 4], "entrustment": 5, "narrative": ""});
        if let Some(b) = background {
            v["assessor_background"] = json!(b);
        }
        v
    };
    let post = |who: &str, body: &Value| {
        call(
            "POST",
            &u("/api/v1/assessments"),
            None,
            Some(who),
            Some(body),
        )
    };
    let r = post(&pa, &kkb("pa-1", "pa-mulder", today, None));
    assert_eq!(r.status, 403, "a PA is no assessor of the AP: {}", r.body);
    let r = post(&ap, &kkb("ap-1", "pa-mulder", today, None));
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("assessor")),
        "{}",
        r.body
    );
    let r = post(
        &ap,
        &kkb("ap-2", "rad-devries", today.succ_opt().unwrap(), None),
    );
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("date")),
        "{}",
        r.body
    );
    let r = post(&ap, &kkb("ap-3", "rad-devries", today, Some("technical")));
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("assessor_background")),
        "{}",
        r.body
    );
    let r = post(&ap, &kkb("ap-4", "rad-devries", today, None));
    assert_eq!(
        (r.status, r.body["assessor_background"].as_str()),
        (201, Some("medical")),
        "{}",
        r.body
    );
    assert!(
        notes(&rad).iter().any(|t| t.contains("ap-4")),
        "{:?}",
        notes(&rad)
    );

    // Grades act as they come: one major in four reports stays within the limit, a second
    // in five (Wilson 95% lower bound 11.8%) suspends.
    for (i, grade) in [0u8, 0, 0, 2, 2].into_iter().enumerate() {
        delegated_report(&s.url, &key, &ap, &rad, &format!("G{i}"), grade);
        let suspended = notes(&ap).iter().any(|t| t.contains("is suspended"));
        assert_eq!(suspended, i == 4, "after report {i}");
    }
}

/// Logs in as `user` from the loopback address `source` (127.0.0.x) with Python's
/// http.client, which can choose its source address; returns the status.
fn login_from(url: &str, source: &str, user: &str, password: &str) -> u16 {
    let out = support::python_json(
        r#"
import http.client, json, sys
a = json.load(sys.stdin)
host, port = a["url"].removeprefix("http://").rsplit(":", 1)
c = http.client.HTTPConnection(host, int(port), source_address=(a["source"], 0), timeout=30)
c.request("POST", "/api/v1/login", json.dumps({"username": a["user"], "password": a["password"]}),
          {"Content-Type": "application/json"})
r = c.getresponse()
print(json.dumps({"status": r.status}))
"#,
        &json!({"url": url, "source": source, "user": user, "password": password}),
    );
    out["status"].as_u64().unwrap() as u16
}

/// Issue 12, item 8: guessing from one address cannot lock the owner out from another;
/// a flood of logins is refused fast instead of queued; a password change and `account
/// disable` end the person's sessions.
#[test]
fn logins_cannot_lock_people_out_or_exhaust_the_server() {
    let db = databases("logins").remove(0);
    provision_people(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    // An attacker at 127.0.0.66 guesses the radiologist's password.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(login_from(
            &s.url,
            "127.0.0.66",
            "devries",
            "wrong-password!",
        ));
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    assert_eq!(
        login_from(&s.url, "127.0.0.66", "devries", "a-long-password-1"),
        429
    );
    // The radiologist, at their own workstation, logs in as ever.
    assert_eq!(
        login_from(&s.url, "127.0.0.7", "devries", "a-long-password-1"),
        200
    );

    // Many logins at once: a few hashes run, the rest get 429 with Retry-After at once.
    let answers: Vec<(u16, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..24)
            .map(|i| {
                let url = u("/api/v1/login");
                scope.spawn(move || {
                    let resp = agent()
                        .post(&url)
                        .send_json(json!({"username": format!("nobody{i}"), "password": "x"}))
                        .unwrap();
                    let retry = resp
                        .headers()
                        .get("retry-after")
                        .map(|v| v.to_str().unwrap().to_owned());
                    (resp.status().as_u16(), retry)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        answers.iter().all(|(s, _)| *s == 401 || *s == 429),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|(s, r)| *s == 429 && r.is_some()),
        "some were refused at once: {answers:?}"
    );

    // What the throttle keeps of a username is bounded: a longer one is refused outright.
    let r = call(
        "POST",
        &u("/api/v1/login"),
        None,
        None,
        Some(&json!({"username": "x".repeat(129), "password": "wrong-password!"})),
    );
    assert_eq!(
        (r.status, r.body["field"].as_str()),
        (422, Some("username")),
        "{}",
        r.body
    );

    // A password change ends the sessions; so does disabling the account.
    let session = login(&s.url, "smit");
    let me = |c: &str| call("GET", &u("/api/v1/me"), None, Some(c), None).status;
    assert_eq!(me(&session), 200);
    add_account(&db, "smit", "ap-smit");
    assert_eq!(me(&session), 401, "the password changed");
    let session = login(&s.url, "smit");
    assert_eq!(me(&session), 200);
    let mut args = vec!["account", "disable"];
    args.extend(db.iter().map(String::as_str));
    args.extend(["--username", "smit"]);
    run(&args, None);
    assert_eq!(me(&session), 401, "the account is disabled");
    let r = call(
        "POST",
        &u("/api/v1/login"),
        None,
        None,
        Some(&json!({"username": "smit", "password": "a-long-password-1"})),
    );
    assert_eq!(r.status, 401, "{}", r.body);
}

/// Issue 12, items 10 and 11: no input becomes a 500 or a panic, on either backend (a NUL
/// byte is what PostgreSQL refuses and SQLite takes), and every error is
/// `application/problem+json` naming the field.
#[test]
fn every_error_is_a_problem_naming_the_field_on_both_backends() {
    for db in databases("problems") {
        let key = provision_people(&db);
        let s = Server::start(&db);
        let u = |p: &str| format!("{}{p}", s.url);
        let rad = login(&s.url, "devries");
        let raw = |method: &str, path: &str, cookie: Option<&str>, body: Option<(&str, String)>| {
            let mut req = ureq::http::Request::builder().method(method).uri(u(path));
            if let Some(c) = cookie {
                req = req.header("Cookie", c);
            }
            let resp = match body {
                Some((ct, b)) => agent().run(req.header("Content-Type", ct).body(b).unwrap()),
                None => agent().run(req.body(()).unwrap()),
            }
            .unwrap();
            let status = resp.status().as_u16();
            let header = |h: &str| {
                resp.headers()
                    .get(h)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let (ct, allow) = (header("content-type"), header("allow"));
            let body: Value = serde_json::from_str(&resp.into_body().read_to_string().unwrap())
                .unwrap_or(Value::Null);
            assert_eq!(
                ct.as_deref(),
                Some("application/problem+json"),
                "{db:?} {method} {path}: {status} {body}"
            );
            (status, body["field"].as_str().map(String::from), allow)
        };
        let json_body = |v: Value| Some(("application/json", v.to_string()));
        // NUL anywhere: 422 naming where, the same on both backends.
        let (status, field, _) = raw(
            "POST",
            "/api/v1/login",
            None,
            json_body(json!({"username": "dev\u{0}ries", "password": "a-long-password-1"})),
        );
        assert_eq!(
            (status, field.as_deref()),
            (422, Some("username")),
            "{db:?}"
        );
        let (status, field, _) = raw(
            "GET",
            "/fhir/Practitioner?identifier=x%00y",
            Some(&rad),
            None,
        );
        assert_eq!((status, field.as_deref()), (422, Some("query")), "{db:?}");
        let (status, field, _) = raw(
            "POST",
            "/api/v1/reports/ACC1/return",
            Some(&rad),
            json_body(json!({"reason": "bad\u{0}"})),
        );
        assert_eq!((status, field.as_deref()), (422, Some("reason")), "{db:?}");
        // A date no clinic has seen: refused, not a panic.
        let mut far = study("FAR1", "CTPA", "CT", "CHEST");
        far["acquired_at"] = json!("+262142-12-31T23:59:59Z");
        let r = call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&far));
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some("acquired_at")),
            "{db:?}: {}",
            r.body
        );
        let mut old = study("OLD1", "CTPA", "CT", "CHEST");
        old["acquired_at"] = json!("1850-01-01T00:00:00Z");
        assert_eq!(
            call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&old)).status,
            422
        );
        // The field is a name, never the whole serde message.
        let mut missing = study("MISS1", "CTPA", "CT", "CHEST");
        missing.as_object_mut().unwrap().remove("modality");
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&missing),
        );
        assert_eq!(
            (r.status, r.body["field"].as_str()),
            (422, Some("modality")),
            "{}",
            r.body
        );
        // A query that does not parse, a wrong method, a wrong content type.
        let (status, field, _) = raw(
            "GET",
            "/api/v1/safety/cxr_gatekeeping?width=wide",
            Some(&rad),
            None,
        );
        assert_eq!((status, field.as_deref()), (400, Some("width")), "{db:?}");
        let (status, _, allow) = raw("DELETE", "/api/v1/worklist", Some(&rad), None);
        assert_eq!(
            (status, allow.as_deref()),
            (405, Some("GET,HEAD")),
            "{db:?}"
        );
        let (status, _, _) = raw(
            "POST",
            "/api/v1/login",
            None,
            Some(("text/plain", "x".into())),
        );
        assert_eq!(status, 415, "{db:?}");
        // And the service goes on.
        assert_eq!(
            call("GET", &u("/api/v1/worklist"), None, Some(&rad), None).status,
            200
        );
    }
}
