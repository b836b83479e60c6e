//! Policy replay against the real binary and API on both backends: a month of studies
//! stored under the example policy, replayed through a more permissive one.

mod support;

use serde_json::{Value, json};
use support::http::{add_account, call, login, provision, study};
use support::{Server, databases, example, run, scalar};

/// Policy B: the example policy, with fracture gatekeeping for any fracture score up to
/// 0.5 instead of only the detector's "normal" (below 0.10).
fn permissive_policy(dir: &std::path::Path) -> std::path::PathBuf {
    let a = std::fs::read_to_string(example("policy.toml")).unwrap();
    let marker = "app = \"fracture-detect\"\nfinding = \"fracture\"\nnormal = true\n";
    assert!(a.contains(marker), "the example's fracture rule");
    let b = a
        .replace(
            marker,
            "app = \"fracture-detect\"\nfinding = \"fracture\"\nscore_max = 0.5\n",
        )
        .replacen("version = \"", "version = \"replay-b-", 1);
    let path = dir.join("policy-b.toml");
    std::fs::write(&path, b).unwrap();
    path
}

/// What must not move: row counts and the audit chain's head.
fn snapshot(db: &str) -> Vec<Option<String>> {
    [
        "studies",
        "decisions",
        "work_items",
        "ai_calls",
        "reports",
        "audit_events",
    ]
    .iter()
    .map(|t| {
        scalar(
            db,
            &format!("SELECT CAST(COUNT(*) AS TEXT) FROM {t} WHERE $1 = $1"),
            "x",
        )
    })
    .chain([scalar(
        db,
        "SELECT hash FROM audit_events WHERE $1 = $1 ORDER BY seq DESC LIMIT 1",
        "x",
    )])
    .collect()
}

fn transitions(r: &Value) -> Vec<(String, String, u64)> {
    r["transitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["from"].as_str().unwrap().to_string(),
                t["to"].as_str().unwrap().to_string(),
                t["studies"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_month_replayed_through_a_new_policy_gives_the_transitions_and_missed_findings_and_changes_nothing()
 {
    let dir = std::env::temp_dir().join(format!("radgate-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy_b = permissive_policy(&dir);
    for db in databases("replay") {
        let key = provision(&db);
        add_account(&db, "bakker", "rad-bakker");
        let s = Server::start(&db);
        let u = |p: &str| format!("{}{p}", s.url);
        let rad = login(&s.url, "devries");
        // Logins are audited: all before the store's snapshot.
        let raio = login(&s.url, "bakker");
        let ap = login(&s.url, "smit");
        let start = chrono::Utc::now() - chrono::Duration::days(35);
        // 30 extremity X-rays, one a day: the detector calls normal (0.05), unsure (0.30)
        // or suspicious (0.80) in turn; radiologists report all but the last six they read,
        // finding a fracture on every even day.
        let mut expected = std::collections::BTreeMap::new();
        let (mut away, mut away_reported, mut away_found) = (0u64, 0u64, 0u64);
        for i in 0..30u64 {
            let acc = format!("RPL{i:02}");
            let mut st = study(&acc, "XFRACTUUR", "DX", "EXTREMITY");
            st["acquired_at"] = json!((start + chrono::Duration::days(i as i64)).to_rfc3339());
            assert_eq!(
                call("POST", &u("/api/v1/studies"), Some(&key), None, Some(&st)).status,
                201
            );
            let score = [0.05, 0.30, 0.80][(i % 3) as usize];
            let result = json!({"id": format!("ai-{acc}"), "app": "fracture-detect", "app_version": "1.4.2",
                "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
                "findings": [{"code": "fracture", "score": score, "normal": score < 0.10}]});
            let r = call(
                "POST",
                &u("/api/v1/ai-results"),
                Some(&key),
                None,
                Some(&result),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            let in_force = call(
                "GET",
                &u(&format!("/api/v1/studies/{acc}/decision")),
                Some(&key),
                None,
                None,
            )
            .body["pathway"]
                .as_str()
                .unwrap()
                .to_string();
            let new = if score <= 0.5 {
                "gatekeeper"
            } else {
                "radiologist_read"
            };
            assert_eq!(
                in_force,
                if score < 0.10 {
                    "gatekeeper"
                } else {
                    "radiologist_read"
                }
            );
            *expected
                .entry((in_force.clone(), new.to_string()))
                .or_insert(0u64) += 1;
            let reported = in_force == "radiologist_read" && i < 24;
            let found = i % 2 == 0;
            if reported {
                let item = call("GET", &u("/api/v1/worklist"), None, Some(&rad), None)
                    .body
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|w| w["accession"] == acc.as_str())
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
                let findings = if found {
                    json!(["fracture"])
                } else {
                    json!([])
                };
                let d = call(
                    "POST",
                    &u(&format!("/api/v1/reports/{acc}/draft")),
                    None,
                    Some(&rad),
                    Some(&json!({"text": "X-ray extremity.", "findings": findings})),
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
            if in_force == "radiologist_read" && new == "gatekeeper" {
                away += 1;
                if reported {
                    away_reported += 1;
                    away_found += u64::from(found);
                }
            }
        }
        let before = snapshot(&db[1]);
        let (from, to) = (
            (start - chrono::Duration::days(1)).date_naive().to_string(),
            chrono::Utc::now().date_naive().to_string(),
        );
        let replay = |policy: &str, extra: &[&str]| -> Value {
            let mut args = vec!["policy", "replay"];
            args.extend(db.iter().map(String::as_str));
            let dept = example("department.toml");
            args.extend([
                "--policy",
                policy,
                "--department",
                &dept,
                "--from",
                &from,
                "--to",
                &to,
                "--format",
                "json",
            ]);
            args.extend(extra);
            serde_json::from_str(&run(&args, None)).unwrap()
        };
        let r = replay(policy_b.to_str().unwrap(), &[]);
        assert_eq!(r["studies"], 30);
        let want: Vec<(String, String, u64)> = expected
            .iter()
            .map(|((a, b), n)| (a.clone(), b.clone(), *n))
            .collect();
        let mut got = transitions(&r);
        got.sort();
        assert_eq!(got, want, "{r}");
        let a = &r["sent_away"];
        assert_eq!(
            (
                a["studies"].as_u64(),
                a["reported"].as_u64(),
                a["with_findings"].as_u64()
            ),
            (Some(away), Some(away_reported), Some(away_found)),
            "{r}"
        );
        assert_eq!(
            a["findings"],
            json!([{"finding": "fracture", "studies": away_found}])
        );
        // The estimate carries the reported share over to all sent away, with Wilson's
        // interval as `radgate stats proportion` gives it.
        let wilson: Value = serde_json::from_str(&run(
            &[
                "stats",
                "proportion",
                "--successes",
                &away_found.to_string(),
                "--trials",
                &away_reported.to_string(),
                "--method",
                "wilson",
            ],
            None,
        ))
        .unwrap();
        let scale = away as f64;
        for (k, w) in [
            ("estimate", "estimate"),
            ("lower", "lower"),
            ("upper", "upper"),
        ] {
            let e = a["missed_estimate"][k].as_f64().unwrap();
            assert!(
                (e - wilson[w].as_f64().unwrap() * scale).abs() < 1e-9,
                "{k}: {e} {wilson}"
            );
        }
        assert!(
            r["radiologist"]["items_new"].as_f64() < r["radiologist"]["items_in_force"].as_f64()
        );
        assert!(
            r["radiologist"]["minutes_new"].as_f64()
                < r["radiologist"]["minutes_in_force"].as_f64()
        );
        // The policy in force, replayed, changes nothing; and the store is as it was.
        let same = replay(&example("policy.toml"), &[]);
        assert_eq!(same["changed"], 0, "{same}");
        assert_eq!(snapshot(&db[1]), before, "a replay writes nothing");

        // The same over HTTP, for those who oversee AI.
        let body =
            json!({"policy": std::fs::read_to_string(&policy_b).unwrap(), "from": from, "to": to});
        let api = call(
            "POST",
            &u("/api/v1/policy/replay"),
            None,
            Some(&raio),
            Some(&body),
        );
        assert_eq!(api.status, 200, "{}", api.body);
        assert_eq!(api.body["sent_away"], r["sent_away"]);
        assert_eq!(transitions(&api.body), transitions(&r));
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/policy/replay"),
                None,
                Some(&ap),
                Some(&body)
            )
            .status,
            403
        );
        let broken = json!({"policy": "version = ", "from": from, "to": to});
        assert_eq!(
            call(
                "POST",
                &u("/api/v1/policy/replay"),
                None,
                Some(&raio),
                Some(&broken)
            )
            .status,
            422
        );
        assert_eq!(snapshot(&db[1]), before);

        // A shadow application: the policy in force may not rely on it, unless the replay
        // asks what would have happened had it been live.
        let r = call(
            "POST",
            &u("/api/v1/ai/fracture-detect/status"),
            None,
            Some(&raio),
            Some(&json!({"status": "shadow", "reason": "silent trial"})),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        let mut args = vec!["policy", "replay"];
        args.extend(db.iter().map(String::as_str));
        let dept = example("department.toml");
        let policy_a = example("policy.toml");
        args.extend([
            "--policy",
            &policy_a,
            "--department",
            &dept,
            "--from",
            &from,
            "--to",
            &to,
        ]);
        let out = std::process::Command::new(support::bin())
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("fracture-detect"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let live = replay(&policy_a, &["--as-live", "fracture-detect"]);
        assert_eq!(live["changed"], 0, "{live}");
        assert_eq!(live["as_live"], json!(["fracture-detect"]));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
