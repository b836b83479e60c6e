//! AI oversight through the real `radgate serve`: the safety of gatekeeper clearances.

mod support;

use std::path::PathBuf;

use radgate_domain::sampling::in_sample;
use serde_json::{Value, json};
use support::http::{add_account, authorize_gatekeeper, call, login, provision_people};
use support::{Server, agent, databases, example, run};

/// The open item of `acc` on the caller's worklist.
fn worklist_item(url: &str, cookie: &str, acc: &str) -> Value {
    let list = call(
        "GET",
        &format!("{url}/api/v1/worklist"),
        None,
        Some(cookie),
        None,
    );
    list.body
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["accession"] == acc)
        .unwrap_or_else(|| panic!("{acc} not on the worklist: {}", list.body))
        .clone()
}

fn post(url: &str, cookie: &str, body: Option<&Value>) -> (u16, Value) {
    let r = call("POST", url, None, Some(cookie), body);
    (r.status, r.body)
}

#[test]
fn cleared_exams_are_sampled_for_review_and_the_misses_give_the_npv_on_both_backends() {
    for (n, db) in databases("gatekeeper_safety").into_iter().enumerate() {
        let key = provision_people(&db);
        add_account(&db, "bakker", "rad-bakker");
        authorize_gatekeeper(&db);
        let s = Server::start(&db);
        let u = |p: &str| format!("{}{p}", s.url);
        let gk = login(&s.url, "jansen");
        let rad = login(&s.url, "devries");
        // An adult chest X-ray the AI calls normal goes to the gatekeeper.
        let ingest = |acc: &str| {
            let study = json!({"accession": acc, "patient": "PSEUDO-7", "patient_age_years": 44,
                "modality": "DX", "procedure_code": "XTHORAX", "body_part": "CHEST", "priority": "routine",
                "site": "main", "ordering_department": "GP", "acquired_at": chrono::Utc::now().to_rfc3339()});
            let r = call(
                "POST",
                &u("/api/v1/studies"),
                Some(&key),
                None,
                Some(&study),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            let result = json!({"id": format!("ai-{acc}"), "app": "cxr-normal", "app_version": "2.1.0",
                "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
                "findings": [{"code": "abnormality", "score": 0.05, "normal": true}]});
            let r = call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&result),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            let d = call(
                "GET",
                &u(&format!("/api/v1/studies/{acc}/decision")),
                Some(&key),
                None,
                None,
            );
            assert_eq!(d.body["rule"], "cxr-ai-normal-gatekeeper", "{}", d.body);
            d.body["policy_version"].as_str().unwrap().to_string()
        };
        let version = ingest("PROBE");
        // The sample is the domain's keyed draw (5% by the policy): pick two exams it draws
        // and one it does not, so the test knows which clearances must open a review.
        let candidates: Vec<String> = (0..).map(|i| format!("GK{n}-{i}")).take(400).collect();
        let drawn: Vec<&String> = candidates
            .iter()
            .filter(|a| in_sample(&version, a, 0.05))
            .take(2)
            .collect();
        let kept = candidates
            .iter()
            .find(|a| !in_sample(&version, a, 0.05))
            .unwrap();
        assert_eq!(drawn.len(), 2, "a 5% draw over 400 exams finds two");

        let mut reviews = Vec::new();
        for acc in drawn.iter().copied().chain([kept]) {
            ingest(acc);
            let item = worklist_item(&s.url, &gk, acc)["id"].as_u64().unwrap();
            assert_eq!(
                post(&u(&format!("/api/v1/work-items/{item}/claim")), &gk, None).0,
                200
            );
            // A bare "complete" would lose whether the exam was cleared or escalated.
            let (status, body) = post(
                &u(&format!("/api/v1/work-items/{item}/complete")),
                &gk,
                None,
            );
            assert_eq!(status, 409, "{body}");
            assert!(body["detail"].as_str().unwrap().contains("clear"), "{body}");
            let (status, body) = post(&u(&format!("/api/v1/work-items/{item}/clear")), &gk, None);
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["item"]["state"], "done");
            if acc == kept {
                assert!(body.get("follow_up").is_none(), "{body}");
            } else {
                assert_eq!(body["follow_up"]["task"], "retrospective_review", "{body}");
                reviews.push(body["follow_up"]["id"].as_u64().unwrap());
            }
        }
        // Escalation hands the exam to a radiologist's final read.
        ingest(&format!("ESC{n}"));
        let item = worklist_item(&s.url, &gk, &format!("ESC{n}"))["id"]
            .as_u64()
            .unwrap();
        post(&u(&format!("/api/v1/work-items/{item}/claim")), &gk, None);
        let (status, body) = post(
            &u(&format!("/api/v1/work-items/{item}/escalate")),
            &gk,
            None,
        );
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["item"]["state"], "escalated");
        assert_eq!(body["follow_up"]["task"], "final_report");
        assert_eq!(
            worklist_item(&s.url, &rad, &format!("ESC{n}"))["task"],
            "final_report"
        );

        // The gatekeeper may not review, nor see the safety figures.
        assert_eq!(
            post(
                &u(&format!("/api/v1/work-items/{}/claim", reviews[0])),
                &gk,
                None
            )
            .0,
            403
        );
        let safety = |who: &str, q: &str| {
            call(
                "GET",
                &u(&format!("/api/v1/safety/cxr_gatekeeping{q}")),
                None,
                Some(who),
                None,
            )
        };
        assert_eq!(safety(&gk, "").status, 403);

        for (i, review) in reviews.iter().enumerate() {
            assert_eq!(
                post(
                    &u(&format!("/api/v1/work-items/{review}/claim")),
                    &rad,
                    None
                )
                .0,
                200
            );
            let at = u(&format!("/api/v1/work-items/{review}/review"));
            if i == 0 {
                let (status, body) = post(&at, &rad, Some(&json!({"missed": true})));
                assert_eq!(status, 422, "a miss needs a note: {body}");
                assert_eq!(body["field"], "note");
                let (status, body) = post(
                    &at,
                    &rad,
                    Some(&json!({"missed": true, "note": "small apical pneumothorax"})),
                );
                assert_eq!(status, 200, "{body}");
            } else {
                let (status, body) = post(&at, &rad, Some(&json!({"missed": false})));
                assert_eq!(status, 200, "{body}");
            }
        }
        // 2 reviewed, 1 missed: NPV 1/2, Wilson 9.45%-90.55% (statsmodels'
        // proportion_confint(1, 2, method="wilson")).
        let r = safety(&rad, "");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["reviewed"], 2);
        assert_eq!(r.body["misses"], 1);
        assert_eq!(r.body["npv"]["estimate"], 0.5);
        let wilson = r.body["npv"]["wilson"].as_array().unwrap();
        assert!(
            (wilson[0].as_f64().unwrap() - 0.094_531).abs() < 1e-5,
            "{wilson:?}"
        );
        assert!(
            (wilson[1].as_f64().unwrap() - 0.905_469).abs() < 1e-5,
            "{wilson:?}"
        );
        assert_eq!(r.body["target_width"], 0.04, "the agreement's width");
        assert!(r.body["more_reviews_needed"].as_u64().unwrap() > 1000);
        assert_eq!(safety(&rad, "?width=0.2").body["target_width"], 0.2);
        assert_eq!(safety(&rad, "?width=2").status, 422);
        assert_eq!(
            call(
                "GET",
                &u("/api/v1/safety/no_such_task"),
                None,
                Some(&rad),
                None
            )
            .status,
            404
        );
        let mut args = vec!["audit", "verify"];
        args.extend(db.iter().map(String::as_str));
        assert!(run(&args, None).starts_with("audit log intact"));
    }
}

#[test]
fn the_raio_suspends_an_application_and_routing_stops_relying_on_it_until_restored() {
    let db = databases("register_status").remove(0);
    let key = provision_people(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let raio = login(&s.url, "bakker");
    let gk = login(&s.url, "jansen");
    // A CTPA the detector calls PE-positive: stat, unless the detector is out of use.
    let rule_for = |acc: &str| {
        let study = json!({"accession": acc, "patient": "PSEUDO-2", "patient_age_years": 61,
            "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
            "site": "main", "ordering_department": "ED", "acquired_at": chrono::Utc::now().to_rfc3339()});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/studies"),
                Some(&key),
                None,
                Some(&study)
            )
            .status,
            201
        );
        let result = json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0",
            "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
            "findings": [{"code": "pulmonary_embolism", "score": 0.95, "critical": true}]});
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
    assert_eq!(rule_for("REG1"), json!("ctpa-pe-positive"));

    let register = call("GET", &u("/api/v1/ai"), None, Some(&rad), None);
    assert_eq!(register.status, 200, "{}", register.body);
    let pe = register
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entry"]["id"] == "pe-detect")
        .unwrap()
        .clone();
    assert_eq!(pe["status"], "production");
    assert!(
        pe["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["warning"] == "mdd_only"),
        "{pe}"
    );
    assert_eq!(
        call("GET", &u("/api/v1/ai"), None, Some(&gk), None).status,
        403
    );

    let change = |who: &str, body: Value| {
        call(
            "POST",
            &u("/api/v1/ai/pe-detect/status"),
            None,
            Some(who),
            Some(&body),
        )
    };
    let suspend = json!({"status": "suspended", "reason": "vendor field safety notice FSN-12"});
    assert_eq!(change(&rad, suspend.clone()).status, 403, "only the RAIO");
    assert_eq!(
        change(&raio, json!({"status": "paused", "reason": "x"})).status,
        422
    );
    let r = change(&raio, json!({"status": "suspended", "reason": " "}));
    assert_eq!((r.status, r.body["field"].clone()), (422, json!("reason")));
    let r = change(&raio, suspend.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["from"].clone(), r.body["to"].clone()),
        (json!("production"), json!("suspended"))
    );
    assert_eq!(change(&raio, suspend).status, 409, "already suspended");
    assert_ne!(
        rule_for("REG2"),
        json!("ctpa-pe-positive"),
        "routing ignores a suspended application"
    );

    // The CLI reads the same register and restores the application as the RAIO.
    let dept = example("department.toml");
    let mut args = vec!["ai", "list"];
    args.extend(db.iter().map(String::as_str));
    args.extend(["--department", &dept, "--format", "json"]);
    let listed: Value = serde_json::from_str(&run(&args, None)).unwrap();
    let pe = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["app"] == "pe-detect")
        .unwrap();
    assert_eq!(pe["status"], "suspended");
    let mut args = vec!["ai", "status"];
    args.extend(db.iter().map(String::as_str));
    args.extend([
        "--department",
        &dept,
        "--app",
        "pe-detect",
        "--status",
        "production",
        "--reason",
        "vendor patch validated",
        "--by",
        "rad-devries",
    ]);
    let refused = std::process::Command::new(support::bin())
        .args(&args)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not the department's RAIO"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let by = args.len() - 1;
    args[by] = "rad-bakker";
    assert_eq!(
        run(&args, None),
        "pe-detect: suspended -> production (vendor patch validated)"
    );
    assert_eq!(rule_for("REG3"), json!("ctpa-pe-positive"));

    let shown = call("GET", &u("/api/v1/ai/pe-detect"), None, Some(&rad), None);
    assert_eq!(shown.body["status"], "production");
    let history: Vec<(String, String)> = shown.body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["to"].as_str().unwrap().into(),
                c["by"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            ("suspended".to_string(), "rad-bakker".to_string()),
            ("production".to_string(), "rad-bakker".to_string())
        ]
    );
    let mut args = vec!["audit", "verify"];
    args.extend(db.iter().map(String::as_str));
    assert!(run(&args, None).starts_with("audit log intact"));
}

#[test]
fn a_shift_in_the_scanner_mix_warns_the_raio_without_taking_the_application_out_of_routing() {
    let db = databases("input_mix").remove(0);
    let key = provision_people(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let raio = login(&s.url, "bakker");
    let send = |acc: &str, days_ago: i64, manufacturer: &str, model: &str, score: f64| {
        let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
        let study = json!({"accession": acc, "patient": "PSEUDO-3", "patient_age_years": 50,
            "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
            "site": "main", "ordering_department": "ED", "acquired_at": at.to_rfc3339(),
            "manufacturer": manufacturer, "model": model});
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let result = json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0",
            "accession": acc, "received_at": (at + chrono::Duration::minutes(5)).to_rfc3339(),
            "findings": [{"code": "pulmonary_embolism", "score": score, "critical": score >= 0.6}]});
        let r = call(
            "POST",
            &u("/api/v1/ai-results"),
            Some(&key),
            None,
            Some(&result),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    };
    // The baseline (the first 60 days) saw the GE scanner; the last ten days a new Siemens.
    for i in 0..40 {
        send(&format!("OLD{i}"), 100 - i / 4, "GE", "Revolution", 0.1);
        send(&format!("NEW{i}"), i / 4, "Siemens", "Force", 0.1);
    }
    let r = call(
        "POST",
        &u("/api/v1/ai/pe-detect/drift-check"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let alarms = r.body.as_array().unwrap();
    assert_eq!(alarms.len(), 1, "only the scanner mix moved: {}", r.body);
    assert_eq!(alarms[0]["kind"], "input_mix");
    assert_eq!(alarms[0]["finding"], "scanner");
    let detail = alarms[0]["detail"].as_str().unwrap();
    assert!(detail.contains("scanner mix shifted"), "{detail}");
    assert!(detail.contains("0% -> 100%"), "{detail}");
    let notes = call("GET", &u("/api/v1/notifications"), None, Some(&raio), None);
    let notes = notes.body.to_string();
    assert!(notes.contains("scanner mix shifted"), "{notes}");
    assert!(
        !notes.contains("routing falls back"),
        "a label-free signal does not take the detector out of routing: {notes}"
    );
    // pe-detect asks for fallback on alarms, yet a PE-positive CTPA is still stat.
    send("POSITIVE", 0, "Siemens", "Force", 0.95);
    let d = call(
        "GET",
        &u("/api/v1/studies/POSITIVE/decision"),
        Some(&key),
        None,
        None,
    );
    assert_eq!(d.body["rule"], "ctpa-pe-positive", "{}", d.body);
}

#[test]
fn a_pilot_declared_before_it_starts_is_reported_against_what_was_measured_and_decided_once_on_both_backends()
 {
    // The intended-use filter reads the study JSON with each backend's own function.
    for db in databases("pilot") {
        let key = provision_people(&db);
        add_account(&db, "bakker", "rad-bakker");
        let s = Server::start(&db);
        let u = |p: &str| format!("{}{p}", s.url);
        let rad = login(&s.url, "devries");
        let raio = login(&s.url, "bakker");
        let today = chrono::Utc::now().date_naive();
        let declaration = |start: chrono::NaiveDate| {
            json!({"id": "pe-pilot", "app": "pe-detect", "start": start.to_string(),
            "end": (start + chrono::Duration::days(29)).to_string(),
            "expected": [
                {"kind": "sensitivity_at_least", "finding": "pulmonary_embolism", "value": 0.7},
                {"kind": "radiologist_workload_down_pct", "value": 10.0},
                {"kind": "turnaround_down_minutes", "value": 60.0}
            ]})
        };
        let declare = |who: &str, body: Value| {
            call("POST", &u("/api/v1/pilots"), None, Some(who), Some(&body))
        };
        assert_eq!(
            declare(&rad, declaration(today)).status,
            403,
            "only the RAIO"
        );
        let late = declare(&raio, declaration(today - chrono::Duration::days(1)));
        assert_eq!(
            (late.status, late.body["field"].clone()),
            (422, json!("start")),
            "{}",
            late.body
        );
        let declared = declare(&raio, declaration(today));
        assert_eq!(declared.status, 201, "{}", declared.body);
        assert_eq!(
            declared.body["baseline_start"],
            (today - chrono::Duration::days(30)).to_string()
        );
        assert_eq!(
            declare(&raio, declaration(today)).status,
            409,
            "expectations are fixed"
        );

        // A CTPA read and authorized by the radiologist, acquired `days_ago`, with the
        // detector's call (pilot exams only) and the reported truth.
        let read = |acc: &str, days_ago: i64, ai_positive: Option<bool>, pe: bool| {
            let at = chrono::Utc::now() - chrono::Duration::days(days_ago);
            let study = json!({"accession": acc, "patient": "PSEUDO-4", "patient_age_years": 70,
                "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
                "site": "main", "ordering_department": "ED", "acquired_at": at.to_rfc3339()});
            assert_eq!(
                call(
                    "POST",
                    &u("/api/v1/studies"),
                    Some(&key),
                    None,
                    Some(&study)
                )
                .status,
                201
            );
            if let Some(positive) = ai_positive {
                let score = if positive { 0.9 } else { 0.1 };
                let result = json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0",
                    "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
                    "findings": [{"code": "pulmonary_embolism", "score": score, "critical": positive}]});
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
            }
            let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
                .body
                .as_array()
                .unwrap()
                .iter()
                .find(|w| w["accession"] == acc)
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
            let findings: Vec<&str> = if pe {
                vec!["pulmonary_embolism"]
            } else {
                vec![]
            };
            let d = call(
                "POST",
                &u(&format!("/api/v1/reports/{acc}/draft")),
                None,
                Some(&rad),
                Some(&json!({"text": "CTPA read.", "findings": findings})),
            );
            assert_eq!(d.status, 201, "{}", d.body);
            let a = call(
                "POST",
                &u(&format!("/api/v1/reports/{acc}/authorize")),
                None,
                Some(&rad),
                None,
            );
            assert_eq!(a.status, 200, "{}", a.body);
        };
        for i in 0..4 {
            read(&format!("BASE{i}"), 10, None, i < 2);
        }
        // Pilot: three emboli found, one missed, read the same day.
        read("PIL0", 0, Some(true), true);
        read("PIL1", 0, Some(true), true);
        read("PIL2", 0, Some(true), true);
        read("PIL3", 0, Some(false), true);
        // And two exams without embolism, which the detector called negative.
        read("PIL4", 0, Some(false), false);
        read("PIL5", 0, Some(false), false);

        // The charts of the same calls, as SVG for the UI.
        let chart = |path: &str| {
            let r = agent()
                .get(u(&format!("/api/v1/ai/pe-detect/charts/{path}")))
                .header("Cookie", &rad)
                .call()
                .unwrap();
            let status = r.status().as_u16();
            let kind = r
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, kind, r.into_body().read_to_string().unwrap())
        };
        let (status, kind, body) = chart("performance.svg?finding=pulmonary_embolism");
        assert_eq!(
            (status, kind.as_deref()),
            (200, Some("image/svg+xml")),
            "{body}"
        );
        assert!(
            body.starts_with("<svg") && body.contains("version 3.2.0"),
            "{body}"
        );
        let (_, _, body) = chart("roc.svg");
        assert!(body.contains("AUC"), "{body}");
        let (_, _, body) = chart("cusum.svg");
        assert!(
            body.contains("Not enough labelled baseline exams"),
            "{body}"
        );
        assert_eq!(chart("roc.svg?finding=fracture").0, 404);
        assert_eq!(chart("performance.svg?metric=auc").0, 422);

        let r = call(
            "GET",
            &u("/api/v1/pilots/pe-pilot/report"),
            None,
            Some(&rad),
            None,
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let verdicts: Vec<&str> = r.body["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["verdict"].as_str().unwrap())
            .collect();
        // 3/4 = 75% reaches 70%, but its Wilson interval (30.1-95.4%) does not exclude less;
        // one final report per exam before and during: workload unchanged; reports within
        // minutes instead of ten days.
        assert_eq!(verdicts, ["not_shown", "not_met", "met"], "{}", r.body);
        assert_eq!(r.body["measured"]["pilot"]["exams"], 6);
        assert_eq!(r.body["measured"]["baseline"]["exams"], 4);
        assert_eq!(r.body["measured"]["pilot"]["radiologist_items"], 6);
        assert!(r.body["decision"].is_null());

        let decide = |who: &str, body: Value| {
            call(
                "POST",
                &u("/api/v1/pilots/pe-pilot/decision"),
                None,
                Some(who),
                Some(&body),
            )
        };
        assert_eq!(
            decide(&rad, json!({"outcome": "stop", "reason": "x"})).status,
            403
        );
        assert_eq!(
            decide(&raio, json!({"outcome": "pause", "reason": "x"})).status,
            422
        );
        let stop = decide(
            &raio,
            json!({"outcome": "stop", "reason": "sensitivity not shown; workload unchanged"}),
        );
        assert_eq!(stop.status, 200, "{}", stop.body);
        assert_eq!(stop.body["status_change"]["to"], "suspended");
        assert_eq!(
            decide(&raio, json!({"outcome": "scale_up", "reason": "again"})).status,
            409
        );

        let dept = example("department.toml");
        let mut args = vec!["pilot", "report"];
        args.extend(db.iter().map(String::as_str));
        args.extend(["--department", &dept, "pe-pilot"]);
        let text = run(&args, None);
        assert!(text.contains("not shown"), "{text}");
        assert!(text.contains("NOT MET"), "{text}");
        assert!(text.contains("Decision: stop by rad-bakker"), "{text}");
        let mut args = vec!["audit", "verify"];
        args.extend(db.iter().map(String::as_str));
        assert!(run(&args, None).starts_with("audit log intact"));
    }
}

#[test]
fn the_cli_declares_and_decides_a_pilot_as_the_raio() {
    let db = databases("pilot_cli").remove(0);
    let dept = example("department.toml");
    let start = chrono::Utc::now().date_naive() + chrono::Duration::days(1);
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pilot-{}.json", std::process::id()));
    let write = |text: &str| std::fs::write(&file, text).unwrap();
    let cli = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(db.iter().map(String::as_str));
        all.extend(["--department", &dept]);
        std::process::Command::new(support::bin())
            .args(&all)
            .output()
            .unwrap()
    };
    write("{\"id\": \"cxr-pilot\",\n \"app\": \"cxr-normal\", \"start\": 3}");
    let bad = cli(&[
        "pilot",
        "declare",
        "--by",
        "rad-bakker",
        file.to_str().unwrap(),
    ]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains(":2:"), "the line of the problem: {err}");
    write(
        &json!({"id": "cxr-pilot", "app": "cxr-normal", "start": start.to_string(),
            "end": (start + chrono::Duration::days(59)).to_string(),
            "expected": [{"kind": "radiologist_workload_down_pct", "value": 30.0}]})
        .to_string(),
    );
    let peer = cli(&[
        "pilot",
        "declare",
        "--by",
        "rad-devries",
        file.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&peer.stderr).contains("not the department's RAIO"));
    let ok = cli(&[
        "pilot",
        "declare",
        "--by",
        "rad-bakker",
        file.to_str().unwrap(),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("pilot cxr-pilot of cxr-normal declared"));
    let again = cli(&[
        "pilot",
        "declare",
        "--by",
        "rad-bakker",
        file.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already declared"));
    // Not started yet: nothing to decide.
    let early = cli(&[
        "pilot",
        "decide",
        "cxr-pilot",
        "--outcome",
        "stop",
        "--reason",
        "r",
        "--by",
        "rad-bakker",
    ]);
    assert!(!early.status.success());
    assert!(
        String::from_utf8_lossy(&early.stderr).contains("has not started yet"),
        "{}",
        String::from_utf8_lossy(&early.stderr)
    );
    let report = cli(&["pilot", "report", "cxr-pilot", "--format", "json"]);
    let report: Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["rows"][0]["verdict"], "no_data");
}

/// Issue 12, item 1: a gatekeeper's item ends only by clear or escalate (never by a report
/// the gatekeeper signs), and a radiologist's read ends only with a signed report or, with a
/// reason on the audit trail, closed without one.
#[test]
fn each_kind_of_work_ends_only_the_way_its_kind_allows() {
    let db = databases("endings").remove(0);
    let key = provision_people(&db);
    authorize_gatekeeper(&db);
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let gk = login(&s.url, "jansen");
    let rad = login(&s.url, "devries");
    let ingest = |study: Value| {
        let r = call(
            "POST",
            &u("/api/v1/studies"),
            Some(&key),
            None,
            Some(&study),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    };
    let now = chrono::Utc::now().to_rfc3339();
    ingest(
        json!({"accession": "GKEND", "patient": "PSEUDO-8", "patient_age_years": 44,
        "modality": "DX", "procedure_code": "XTHORAX", "body_part": "CHEST", "priority": "routine",
        "site": "main", "ordering_department": "GP", "acquired_at": now}),
    );
    let result = json!({"id": "ai-GKEND", "app": "cxr-normal", "app_version": "2.1.0",
        "accession": "GKEND", "received_at": now, "findings": [{"code": "abnormality", "score": 0.05}]});
    let r = call(
        "POST",
        &u("/api/v1/ai-results"),
        Some(&key),
        None,
        Some(&result),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let item = worklist_item(&s.url, &gk, "GKEND")["id"].as_u64().unwrap();
    assert_eq!(
        post(&u(&format!("/api/v1/work-items/{item}/claim")), &gk, None).0,
        200
    );
    // The attack of the issue: draft and sign a final report on a gatekeeping item.
    let text = json!({"text": "No abnormality."});
    let (status, body) = post(&u("/api/v1/reports/GKEND/draft"), &gk, Some(&text));
    assert_eq!(status, 409, "{body}");
    assert!(body["detail"].as_str().unwrap().contains("clear"), "{body}");
    for act in ["submit", "authorize"] {
        let (status, body) = post(&u(&format!("/api/v1/reports/GKEND/{act}")), &gk, None);
        assert_ne!(status / 100, 2, "{act}: {body}");
    }
    let (status, _) = post(
        &u(&format!("/api/v1/work-items/{item}/complete")),
        &gk,
        None,
    );
    assert_eq!(status, 409);
    assert_eq!(
        call("GET", &u("/api/v1/reports/GKEND"), None, Some(&rad), None).status,
        404,
        "no report was created"
    );
    let (status, body) = post(&u(&format!("/api/v1/work-items/{item}/clear")), &gk, None);
    assert_eq!(
        (status, body["item"]["state"].as_str()),
        (200, Some("done")),
        "{body}"
    );

    // A radiologist's read: no bare complete without a signed report, no close without a
    // reason; a close with a reason is recorded.
    ingest(study_json("READ1"));
    ingest(study_json("READ2"));
    let read1 = worklist_item(&s.url, &rad, "READ1")["id"].as_u64().unwrap();
    let read2 = worklist_item(&s.url, &rad, "READ2")["id"].as_u64().unwrap();
    for id in [read1, read2] {
        assert_eq!(
            post(&u(&format!("/api/v1/work-items/{id}/claim")), &rad, None).0,
            200
        );
    }
    let (status, body) = post(
        &u(&format!("/api/v1/work-items/{read1}/complete")),
        &rad,
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("authorized report"),
        "{body}"
    );
    let close = u(&format!("/api/v1/work-items/{read1}/close"));
    let (status, body) = post(&close, &rad, Some(&json!({"reason": " "})));
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, body) = post(
        &close,
        &rad,
        Some(&json!({"reason": "duplicate exam of READ2"})),
    );
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let trail = support::scalar(
        &db[1],
        "SELECT detail FROM audit_events WHERE subject = $1 AND kind = 'complete'",
        &format!("work_item/{read1}"),
    )
    .unwrap();
    assert!(trail.contains("duplicate exam of READ2"), "{trail}");
    // Signing the report ends the other read.
    assert_eq!(
        post(&u("/api/v1/reports/READ2/draft"), &rad, Some(&text)).0,
        201
    );
    let (status, body) = post(&u("/api/v1/reports/READ2/authorize"), &rad, None);
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("authorized")),
        "{body}"
    );
    assert_eq!(
        post(
            &u(&format!("/api/v1/work-items/{read2}/complete")),
            &rad,
            None
        )
        .0,
        409,
        "signing ended it already"
    );
}

fn study_json(acc: &str) -> Value {
    json!({"accession": acc, "patient": "PSEUDO-9", "patient_age_years": 61, "modality": "CT",
        "procedure_code": "CTHEAD", "body_part": "HEAD", "priority": "routine", "site": "main",
        "ordering_department": "NEU", "acquired_at": chrono::Utc::now().to_rfc3339()})
}

#[test]
fn a_shadow_application_is_measured_but_never_routes_and_clinicians_never_see_it() {
    let db = databases("register_shadow").remove(0);
    let key = provision_people(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let u = |p: &str| format!("{}{p}", s.url);
    let rad = login(&s.url, "devries");
    let raio = login(&s.url, "bakker");
    let r = call(
        "POST",
        &u("/api/v1/ai/pe-detect/status"),
        None,
        Some(&raio),
        Some(&json!({"status": "shadow", "reason": "silent trial before the pilot"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // A CTPA the detector calls PE-positive: in shadow mode it changes nothing.
    let study = json!({"accession": "SHD1", "patient": "PSEUDO-3", "patient_age_years": 64,
        "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
        "site": "main", "ordering_department": "ED", "acquired_at": chrono::Utc::now().to_rfc3339()});
    let before = call(
        "POST",
        &u("/api/v1/studies"),
        Some(&key),
        None,
        Some(&study),
    );
    assert_eq!(before.status, 201, "{}", before.body);
    let result = json!({"id": "ai-SHD1", "app": "pe-detect", "app_version": "3.2.0",
        "accession": "SHD1", "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "pulmonary_embolism", "score": 0.95, "critical": true}]});
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
    let decision = call(
        "GET",
        &u("/api/v1/studies/SHD1/decision"),
        Some(&key),
        None,
        None,
    )
    .body;
    assert_eq!(
        decision["rule"], before.body["decision"]["rule"],
        "{decision}"
    );
    assert_eq!(decision["priority"], before.body["decision"]["priority"]);
    assert_ne!(decision["priority"], "stat");
    // Clinicians see no trace of it; the RAIO sees it, marked.
    let page = |cookie: &str, path: &str| {
        let r = support::http::send("GET", &u(path), None, Some(cookie), None);
        assert_eq!(r.status, 200, "{path}");
        r.body.as_str().unwrap().to_string()
    };
    assert!(!page(&rad, "/worklist").contains("pulmonary_embolism"));
    assert!(!page(&rad, "/studies/SHD1").contains("pe-detect"));
    assert!(page(&raio, "/studies/SHD1").contains("shadow mode"));
    assert_eq!(
        call(
            "GET",
            &u("/fhir/Observation/ai-SHD1"),
            Some(&key),
            None,
            None
        )
        .status,
        404,
        "FHIR is clinical"
    );
    let truth = |cookie: &str| {
        call(
            "GET",
            &u("/api/v1/studies/SHD1/truth"),
            None,
            Some(cookie),
            None,
        )
        .body["calls"]
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!((truth(&rad), truth(&raio)), (0, 1));
    // Reported, it appears in the application's metrics.
    let item = worklist_item(&s.url, &rad, "SHD1")["id"].as_u64().unwrap();
    assert_eq!(
        post(&u(&format!("/api/v1/work-items/{item}/claim")), &rad, None).0,
        200
    );
    let draft = json!({"text": "Longembolie rechts.", "findings": ["pulmonary_embolism"]});
    assert_eq!(
        post(&u("/api/v1/reports/SHD1/draft"), &rad, Some(&draft)).0,
        201
    );
    assert_eq!(
        post(&u("/api/v1/reports/SHD1/authorize"), &rad, None).0,
        200
    );
    let m = call(
        "GET",
        &u("/api/v1/ai/pe-detect/metrics"),
        None,
        Some(&raio),
        None,
    );
    assert_eq!(m.body[0]["counts"]["tp"], 1, "{}", m.body);
    // A pilot can start while the application is in shadow mode.
    let today = chrono::Utc::now().date_naive();
    let pilot = json!({"id": "pe-shadow-pilot", "app": "pe-detect", "start": today.to_string(),
        "end": (today + chrono::Duration::days(29)).to_string(),
        "expected": [{"kind": "sensitivity_at_least", "finding": "pulmonary_embolism", "value": 0.7}]});
    let r = call(
        "POST",
        &u("/api/v1/pilots"),
        None,
        Some(&raio),
        Some(&pilot),
    );
    assert_eq!(r.status, 201, "{}", r.body);
}
