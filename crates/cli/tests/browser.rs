//! The screens in a real browser (headless chromium over WebDriver) against the real
//! `radgate serve`, on SQLite and on PostgreSQL: the scenario end to end, axe-core
//! on every page, the keyboard, a 768 px wide screen, and nothing loaded from elsewhere.

mod support;

use fantoccini::{Client, Locator, key::Key};
use serde_json::{Value, json};
use support::browser::{
    Driver, axe, axe_source, click, fill, fits, focused_label, log_in, log_out, press, resources,
    text, wait_for,
};
use support::http::{
    add_account, authorize_gatekeeper, call, import_ap_evidence, login, provision_people, study,
};
use support::{Server, databases};

const PASSWORD: &str = "a-long-password-1";

fn ingest(url: &str, key: &str, path: &str, body: &Value) {
    let r = call("POST", &format!("{url}{path}"), Some(key), None, Some(body));
    assert!(r.status == 201 || r.status == 200, "{path}: {}", r.body);
}

/// A chest X-ray the AI calls normal: the gatekeeper's work.
fn normal_chest(url: &str, key: &str, acc: &str) {
    ingest(
        url,
        key,
        "/api/v1/studies",
        &json!({"accession": acc, "patient": "PSEUDO-7", "patient_age_years": 44,
        "modality": "DX", "procedure_code": "XTHORAX", "body_part": "CHEST", "priority": "routine",
        "site": "main", "ordering_department": "GP", "acquired_at": chrono::Utc::now().to_rfc3339()}),
    );
    ingest(
        url,
        key,
        "/api/v1/ai-results",
        &json!({"id": format!("ai-{acc}"), "app": "cxr-normal", "app_version": "2.1.0",
        "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
        "findings": [{"code": "abnormality", "score": 0.05, "normal": true}]}),
    );
}

/// A CT pulmonary angiography with PE detection's score: stat from 0.5 on.
fn ctpa(
    url: &str,
    key: &str,
    acc: &str,
    at: chrono::DateTime<chrono::Utc>,
    scanner: (&str, &str),
    score: f64,
) {
    ingest(
        url,
        key,
        "/api/v1/studies",
        &json!({"accession": acc, "patient": "PSEUDO-3", "patient_age_years": 50,
        "modality": "CT", "procedure_code": "CTPA", "body_part": "CHEST", "priority": "routine",
        "site": "main", "ordering_department": "ED", "acquired_at": at.to_rfc3339(),
        "manufacturer": scanner.0, "model": scanner.1}),
    );
    ingest(
        url,
        key,
        "/api/v1/ai-results",
        &json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0",
        "accession": acc, "received_at": (at + chrono::Duration::minutes(5)).to_rfc3339(),
        "findings": [{"code": "pulmonary_embolism", "score": score, "critical": score >= 0.6}]}),
    );
}

/// Checks the page as every page is checked: axe-core finds no serious or critical
/// violation, and everything it loaded came from the server.
async fn check_page(c: &Client, base: &str, axe_js: &str, seen: &mut Vec<String>) {
    let url = c.current_url().await.unwrap().to_string();
    let violations = axe(c, axe_js).await;
    assert!(
        violations.is_empty(),
        "{url}: accessibility violations: {violations:#?}"
    );
    for r in resources(c).await {
        assert!(
            r.starts_with(base),
            "{url} loaded {r} from outside the server"
        );
    }
    // RADGATE_SCREENSHOTS=DIR keeps a picture of every page checked, to look at.
    if let Some(dir) = std::env::var_os("RADGATE_SCREENSHOTS") {
        let png = c.screenshot().await.unwrap();
        let name = format!(
            "{:02}-{}.png",
            seen.len(),
            url.split('/')
                .skip(3)
                .collect::<Vec<_>>()
                .join("_")
                .replace(['?', '=', '&'], "_")
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(std::path::Path::new(&dir).join(name), png).unwrap();
    }
    seen.push(url);
}

async fn scenario(db: &[String]) {
    let key = provision_people(db);
    add_account(db, "bakker", "rad-bakker");
    authorize_gatekeeper(db);
    import_ap_evidence(db);
    let s = Server::start(db);
    let base = s.url.clone();
    let axe_js = axe_source();
    let mut seen = Vec::new();
    let driver = Driver::start();
    let c = driver.browser(1280).await;

    // Not signed in: every screen sends the browser to the login screen.
    c.goto(&format!("{base}/worklist")).await.unwrap();
    wait_for(&c, "h1", "Log in", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    fill(&c, "#username", "jansen").await;
    fill(&c, "#password", "wrong-password").await;
    click(&c, "form[action='/login'] button").await;
    wait_for(&c, ".error", "wrong password", 10).await;

    // 1. The MBB'er with an AI endorsement clears a gatekeeping item.
    normal_chest(&base, &key, "GKUI1");
    log_in(&c, &base, "jansen", PASSWORD).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    c.goto(&format!("{base}/worklist")).await.unwrap();
    wait_for(&c, "#worklist", "GKUI1", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    // By keyboard: Tab to the claim button and press Enter.
    let mut reached = false;
    for _ in 0..60 {
        press(&c, Key::Tab).await;
        if focused_label(&c).await.as_deref() == Some("Claim GKUI1") {
            reached = true;
            break;
        }
    }
    assert!(reached, "the claim button is not reachable by keyboard");
    press(&c, Key::Enter).await;
    wait_for(&c, "#gatekeeping", "normal", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    click(&c, "#gatekeeping a.button:not(.secondary)").await;
    wait_for(&c, "main", "standard text", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    click(&c, "main form button[type=submit]").await;
    wait_for(&c, "h1", "Worklist", 10).await;
    assert!(
        !text(&c).await.contains("GKUI1"),
        "a cleared exam left the worklist"
    );
    c.goto(&format!("{base}/mine")).await.unwrap();
    wait_for(&c, "main", "You hold no items", 10).await;
    log_out(&c).await;

    // 2. A delegate (the AP) submits a preliminary report.
    ingest(
        &base,
        &key,
        "/api/v1/studies",
        &study("ONCUI1", "CTTHAB-ONC", "CT", "ABDOMEN"),
    );
    log_in(&c, &base, "smit", PASSWORD).await;
    c.goto(&format!("{base}/worklist")).await.unwrap();
    wait_for(&c, "#worklist", "ONCUI1", 10).await;
    click(&c, "button[aria-label='Claim ONCUI1']").await;
    wait_for(&c, "#reporting", "", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    fill(
        &c,
        "#report-text",
        "Liver metastases stable in size (RECIST).",
    )
    .await;
    click(&c, "#reporting button[value=submit]").await;
    wait_for(&c, "main", "preliminary", 10).await;
    log_out(&c).await;

    // 3. The radiologist authorizes it with a discrepancy grade, from the queue of
    //    preliminary reports.
    log_in(&c, &base, "devries", PASSWORD).await;
    click(&c, "nav a[href='/worklist?queue=authorize']").await;
    wait_for(&c, "h1", "To authorize", 10).await;
    wait_for(&c, "#worklist", "ONCUI1", 10).await;
    click(&c, "button[aria-label='Claim ONCUI1']").await;
    wait_for(&c, "#authorize", "", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    click(&c, "#authorize input[name=discrepancy][value='1']").await;
    click(&c, "#authorize form[action$='/authorize'] button").await;
    wait_for(&c, "#grade", "minor", 10).await;
    log_out(&c).await;

    // ... and the delegate sees the grade.
    log_in(&c, &base, "smit", PASSWORD).await;
    c.goto(&format!("{base}/studies/ONCUI1")).await.unwrap();
    wait_for(&c, "#grade", "1: minor discrepancy", 10).await;

    // 4. A trainee (the AP is one) requests an assessment; the assessor confirms it.
    c.goto(&format!("{base}/portfolio")).await.unwrap();
    wait_for(&c, "#request", "", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    c.find(Locator::Css("#rq-assessor option[value='rad-devries']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(
        "#rq-task option[value='oncology_preliminary_report']",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    fill(&c, "#rq-placement", "oncology").await;
    fill(&c, "#rq-narrative", "Reported ONCUI1 under supervision.").await;
    click(&c, "#request button[type=submit]").await;
    wait_for(&c, "main", "requested", 10).await;
    log_out(&c).await;
    log_in(&c, &base, "devries", PASSWORD).await;
    c.goto(&format!("{base}/assessments/inbox")).await.unwrap();
    wait_for(&c, "main", "ap-smit", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    click(&c, "main form[action$='/confirm'] button").await;
    wait_for(&c, "main", "No assessments wait", 10).await;
    c.goto(&format!("{base}/portfolio/ap-smit")).await.unwrap();
    wait_for(&c, "main", "Reported ONCUI1 under supervision", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;

    // 5. A worklist open in a second browser shows a new stat study without a reload.
    let second = driver.browser(1280).await;
    log_in(&second, &base, "devries", PASSWORD).await;
    second.goto(&format!("{base}/worklist")).await.unwrap();
    wait_for(&second, "h1", "Worklist", 10).await;
    second
        .execute("window.radgateNotReloaded = true;", vec![])
        .await
        .unwrap();
    // Give the page a moment to open its event stream before the study arrives.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    ctpa(
        &base,
        &key,
        "STATUI1",
        chrono::Utc::now(),
        ("GE", "Revolution"),
        0.93,
    );
    let row = wait_for(&second, "#worklist tr.stat", "STATUI1", 15).await;
    assert!(
        row.text().await.unwrap().contains("Stat"),
        "a stat item stands out"
    );
    let same_page = second
        .execute("return window.radgateNotReloaded === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same_page,
        Value::Bool(true),
        "the worklist updated without a reload"
    );
    second.close().await.unwrap();

    // The radiologist's other screens: each must render and pass the checks.
    for (path, needle) in [
        ("/reconciliation", "Reconciliation"),
        ("/audit", "audit chain is intact"),
        ("/policy", "Policy in force"),
        ("/policy/replay", "Replay a new policy"),
        ("/adjudications", "Adjudication"),
        ("/ai", "AI register"),
        ("/ai/pe-detect", "Charts"),
        ("/studies/ONCUI1", "Report history"),
    ] {
        c.goto(&format!("{base}{path}")).await.unwrap();
        wait_for(&c, "main", needle, 10).await;
        check_page(&c, &base, &axe_js, &mut seen).await;
    }
    // The policy's "what would happen" form routes through the policy's own decide.
    c.goto(&format!("{base}/policy")).await.unwrap();
    let case = json!({"accession": "WHATIF1", "patient": "PSEUDO-9", "modality": "CT", "procedure_code": "CTPA",
        "body_part": "CHEST", "priority": "routine", "site": "main", "ordering_department": "ED",
        "acquired_at": chrono::Utc::now().to_rfc3339()});
    let results = json!([{"id": "w1", "app": "pe-detect", "app_version": "3.2.0", "accession": "WHATIF1",
        "received_at": chrono::Utc::now().to_rfc3339(), "findings": [{"code": "pulmonary_embolism", "score": 0.9}]}]);
    fill(&c, "#x-study", &case.to_string()).await;
    fill(&c, "#x-results", &results.to_string()).await;
    click(&c, "form[action='/policy/explain'] button").await;
    wait_for(&c, "#explained", "ctpa-pe-positive", 10).await;
    // The audit viewer finds the report's events by accession.
    c.goto(&format!("{base}/audit?subject=ONCUI1"))
        .await
        .unwrap();
    wait_for(&c, "main table", "report_transition", 10).await;
    log_out(&c).await;

    // 6. The RAIO sees a drift alarm and clears it with a reason.
    for i in 0..40 {
        let old = chrono::Utc::now() - chrono::Duration::days(100 - i / 4);
        let new = chrono::Utc::now() - chrono::Duration::days(i / 4);
        ctpa(
            &base,
            &key,
            &format!("OLDUI{i}"),
            old,
            ("GE", "Revolution"),
            0.1,
        );
        ctpa(
            &base,
            &key,
            &format!("NEWUI{i}"),
            new,
            ("Siemens", "Force"),
            0.1,
        );
    }
    let rad = login(&base, "devries");
    let r = call(
        "POST",
        &format!("{base}/api/v1/ai/pe-detect/drift-check"),
        None,
        Some(&rad),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.as_array().unwrap().is_empty(),
        "the scanner shift raised an alarm: {}",
        r.body
    );
    log_in(&c, &base, "bakker", PASSWORD).await;
    c.goto(&format!("{base}/ai")).await.unwrap();
    wait_for(&c, "main table", "input mix shifted", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    let reason = c
        .find(Locator::Css(
            "main form[action$='/clear'] input[name=reason]",
        ))
        .await
        .unwrap();
    reason
        .send_keys("New Siemens Force validated on 50 local cases")
        .await
        .unwrap();
    click(&c, "main form[action$='/clear'] button").await;
    wait_for(&c, "main", "No open alarms", 10).await;

    // Dutch, switched by the user.
    click(&c, "form[action='/language'] button").await;
    wait_for(&c, "nav", "AI-toezicht", 10).await;
    c.goto(&format!("{base}/")).await.unwrap();
    wait_for(&c, "h2", "Meldingen", 10).await;
    check_page(&c, &base, &axe_js, &mut seen).await;
    c.close().await.unwrap();

    // 768 px wide: the screens still fit, tables scroll in their own region.
    let narrow = driver.browser(768).await;
    log_in(&narrow, &base, "devries", PASSWORD).await;
    for path in [
        "/",
        "/worklist",
        "/studies/ONCUI1",
        "/portfolio/ap-smit",
        "/ai",
        "/audit",
        "/policy/replay",
        "/adjudications",
    ] {
        narrow.goto(&format!("{base}{path}")).await.unwrap();
        wait_for(&narrow, "h1", "", 10).await;
        assert!(fits(&narrow).await, "{path} does not fit 768 px");
        check_page(&narrow, &base, &axe_js, &mut seen).await;
    }
    narrow.close().await.unwrap();
    assert!(seen.len() >= 20, "checked {} pages", seen.len());
}

#[test]
fn every_role_does_its_work_in_a_real_browser_on_both_backends() {
    for db in databases("browser") {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario(&db));
    }
}
