//! HTTP helpers for the API tests: accounts, keys, evidence, calls and logins against a
//! running `radgate serve`.

use std::path::PathBuf;

use serde_json::{Value, json};

use super::{agent, example, run};

pub fn add_account(db: &[String], user: &str, professional: &str) {
    let mut args = vec!["account", "add"];
    args.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    args.extend([
        "--department",
        &dept,
        "--username",
        user,
        "--professional",
        professional,
    ]);
    run(&args, Some("a-long-password-1\n"));
}

/// Accounts for a radiologist, an AP and an MBB'er, and an ingest key; no portfolio.
pub fn provision_people(db: &[String]) -> String {
    for (user, professional) in [
        ("devries", "rad-devries"),
        ("smit", "ap-smit"),
        ("jansen", "mbb-jansen"),
    ] {
        add_account(db, user, professional);
    }
    api_key(db, "ris", ALL_SCOPES)
}

/// Orders, studies, the results of every application of the example register, and reading:
/// the key most tests feed and inspect the service with.
pub const ALL_SCOPES: &str =
    "ingest,read,ai:pe-detect,ai:cxr-normal,ai:fracture-detect,ai:ich-detect,ai:cspine-fracture";

/// A new API key named `name` with `scopes` (comma-separated).
pub fn api_key(db: &[String], name: &str, scopes: &str) -> String {
    let mut args = vec!["api-key", "create"];
    args.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    args.extend(["--department", &dept, "--name", name, "--scopes", scopes]);
    let key = run(&args, None);
    assert_eq!(key.len(), 64);
    key
}

/// Imports the AP's evidence for oncology preliminary reports through `radgate portfolio
/// import`: three recent KKBs from two radiologists, as the agreement requires.
pub fn import_ap_evidence(db: &[String]) -> String {
    let day = |d: i64| (chrono::Utc::now().date_naive() - chrono::Duration::days(d)).to_string();
    let csv = format!(
        "id,assessee,assessor,assessor_background,task,placement,date,expertise,communication,collaboration,organisation,knowledge_science,professionalism,entrustment,narrative,status\n\
         smit-1,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,{},4,4,4,4,4,4,3,\"RECIST, well measured\",confirmed\n\
         smit-2,ap-smit,rad-bakker,medical,oncology_preliminary_report,onc,{},4,4,n/o,4,4,4,3,,confirmed\n\
         smit-3,ap-smit,rad-devries,medical,oncology_preliminary_report,onc,{},4,5,4,4,4,4,4,,confirmed\n",
        day(30),
        day(20),
        day(10)
    );
    let file =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("smit-{}.csv", std::process::id()));
    std::fs::write(&file, csv).unwrap();
    let mut args = vec!["portfolio", "import"];
    args.extend(db.iter().map(String::as_str));
    let dept = example("department.toml");
    args.extend(["--department", &dept, file.to_str().unwrap()]);
    run(&args, None)
}

/// Five recent KKBs at "unsupervised" from two radiologists for MBB'er Jansen's chest X-ray
/// gatekeeping, and the AI endorsement and AI literacy certificates the agreement asks.
pub fn authorize_gatekeeper(db: &[String]) {
    let day = |d: i64| (chrono::Utc::now().date_naive() - chrono::Duration::days(d)).to_string();
    let mut csv = String::from(
        "id,assessee,assessor,assessor_background,task,placement,date,expertise,communication,collaboration,organisation,knowledge_science,professionalism,entrustment,narrative,status\n",
    );
    for i in 0..5 {
        let assessor = if i % 2 == 0 {
            "rad-devries"
        } else {
            "rad-bakker"
        };
        csv.push_str(&format!(
            "jansen-{i},mbb-jansen,{assessor},medical,cxr_gatekeeping,xr,{},4,4,4,4,4,4,4,,confirmed\n",
            day(10 + i)
        ));
    }
    let file = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("jansen-{}.csv", std::process::id()));
    std::fs::write(&file, csv).unwrap();
    let dept = example("department.toml");
    let mut args = vec!["portfolio", "import"];
    args.extend(db.iter().map(String::as_str));
    args.extend(["--department", &dept, file.to_str().unwrap()]);
    run(&args, None);
    let until = (chrono::Utc::now().date_naive() + chrono::Duration::days(365)).to_string();
    for kind in ["ai_endorsement", "ai_literacy"] {
        let mut args = vec!["portfolio", "certificate"];
        args.extend(db.iter().map(String::as_str));
        args.extend([
            "--department",
            &dept,
            "--person",
            "mbb-jansen",
            "--kind",
            kind,
            "--valid-until",
            &until,
        ]);
        run(&args, None);
    }
}

/// People, an ingest key, and the AP's evidence.
pub fn provision(db: &[String]) -> String {
    let key = provision_people(db);
    import_ap_evidence(db);
    key
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub cookie: Option<String>,
}

pub fn call(
    method: &str,
    url: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    send(
        method,
        url,
        auth,
        cookie,
        body.map(|b| ("application/json", b.to_string())),
    )
}

/// Like [`call`], with a body of any content type.
pub fn send(
    method: &str,
    url: &str,
    auth: Option<&str>,
    cookie: Option<&str>,
    body: Option<(&str, String)>,
) -> Reply {
    let a = agent();
    let mut req = ureq::http::Request::builder().method(method).uri(url);
    if let Some(k) = auth {
        req = req.header("Authorization", format!("Bearer {k}"));
    }
    if let Some(c) = cookie {
        req = req.header("Cookie", c);
    }
    let resp = match body {
        Some((content_type, b)) => a.run(req.header("Content-Type", content_type).body(b).unwrap()),
        None => a.run(req.body(()).unwrap()),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_string());
    let text = resp.into_body().read_to_string().unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        cookie,
    }
}

pub fn login(url: &str, user: &str) -> String {
    let r = call(
        "POST",
        &format!("{url}/api/v1/login"),
        None,
        None,
        Some(&json!({"username": user, "password": "a-long-password-1"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.cookie.expect("a session cookie")
}

/// Ingests `study` at `studies_url` and returns the id of the first work item it opened.
pub fn first_item(studies_url: &str, key: &str, study: &Value) -> u64 {
    let r = call("POST", studies_url, Some(key), None, Some(study));
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["work_items"][0]["id"].as_u64().unwrap()
}

pub fn study(acc: &str, procedure: &str, modality: &str, body_part: &str) -> Value {
    json!({"accession": acc, "patient": "PSEUDO-1", "patient_age_years": 58, "modality": modality,
           "procedure_code": procedure, "body_part": body_part, "priority": "routine", "site": "main",
           "ordering_department": "ONC", "acquired_at": chrono::Utc::now().to_rfc3339()})
}
