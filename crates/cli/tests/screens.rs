//! The screens over plain HTTP against the real binary: what the browser tests cannot see
//! cheaply (headers, refused posts, redirects, every page's markup), and the demo's
//! seeded past filling the screens.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use support::http::add_account;
use support::{Server, agent, bin, fresh_sqlite};

/// A browser without a browser: a cookie jar over ureq.
struct Session {
    base: String,
    cookies: Vec<(String, String)>,
    lang: &'static str,
}

struct Page {
    status: u16,
    location: Option<String>,
    csp: Option<String>,
    kind: String,
    body: String,
}

impl Session {
    fn new(base: &str) -> Session {
        Session {
            base: base.to_string(),
            cookies: Vec::new(),
            lang: "en",
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &ureq::http::Response<ureq::Body>) {
        for c in r.headers().get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (n, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(name, _)| name != n);
            if !v.is_empty() {
                self.cookies.push((n.to_string(), v.to_string()));
            }
        }
    }

    fn page(&mut self, mut r: ureq::http::Response<ureq::Body>) -> Page {
        self.keep(&r);
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (location, csp, kind) = (
            header("location"),
            header("content-security-policy"),
            header("content-type").unwrap_or_default(),
        );
        Page {
            status: r.status().as_u16(),
            location,
            csp,
            kind,
            body: r.body_mut().read_to_string().unwrap(),
        }
    }

    fn get(&mut self, path: &str) -> Page {
        let r = agent()
            .get(&format!("{}{path}", self.base))
            .header("cookie", &self.cookie_header())
            .header("accept-language", self.lang)
            .config()
            .max_redirects(0)
            .build()
            .call()
            .unwrap();
        self.page(r)
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let r = agent()
            .post(&format!("{}{path}", self.base))
            .header("cookie", &self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .config()
            .max_redirects(0)
            .build()
            .send(body.as_bytes())
            .unwrap();
        self.page(r)
    }

    /// Logs in through the login form, as a browser does.
    fn log_in(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/login");
        let token = csrf(&form.body);
        self.post(
            "/login",
            &[
                ("csrf", &token),
                ("next", "/"),
                ("username", user),
                ("password", password),
            ],
        )
    }
}

/// The CSRF token a page's first form carries.
fn csrf(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// What no page may hold under the CSP: inline script, inline style, handler attributes,
/// anything loaded from elsewhere.
fn assert_strict(path: &str, html: &str) {
    for (bad, what) in [
        ("style=", "a style attribute"),
        ("<style", "a style element"),
        ("javascript:", "a javascript: URL"),
        ("src=\"http", "an asset from elsewhere"),
        ("href=\"http", "a link to elsewhere"),
    ] {
        assert!(!html.contains(bad), "{path} holds {what}");
    }
    let mut rest = html;
    while let Some(i) = rest.find("<script") {
        let tag = &rest[i..i + rest[i..].find('>').unwrap()];
        assert!(
            tag.contains("src=\"/assets/"),
            "{path}: inline script {tag}"
        );
        rest = &rest[i + 7..];
    }
    for attr in [
        " onclick=",
        " onload=",
        " onsubmit=",
        " onchange=",
        " hx-on",
    ] {
        assert!(!html.contains(attr), "{path} holds an{attr} handler");
    }
}

const PASSWORD: &str = "a-long-password-1";

#[test]
fn every_post_needs_the_session_token_and_every_page_holds_to_the_csp() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "csrf")
            .to_string_lossy()
            .into_owned(),
    ];
    for (user, professional) in [
        ("devries", "rad-devries"),
        ("jansen", "mbb-jansen"),
        ("smit", "ap-smit"),
    ] {
        add_account(&db, user, professional);
    }
    let s = Server::start(&db);
    let mut anon = Session::new(&s.url);

    // Not signed in: to the login screen, and back afterwards; htmx is told, not sent.
    let p = anon.get("/worklist?site=main");
    assert_eq!(p.status, 303);
    assert_eq!(
        p.location.as_deref(),
        Some("/login?next=%2Fworklist%3Fsite%3Dmain")
    );
    let r = agent()
        .get(&format!("{}/worklist/rows", s.url))
        .header("hx-request", "true")
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.headers()
            .get("hx-redirect")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    // A page of its own for a missing page; the API keeps its problem documents.
    let p = anon.get("/no/such/page");
    assert_eq!(p.status, 404);
    assert!(p.kind.starts_with("text/html"), "{}", p.kind);
    let p = anon.get("/api/v1/no-such-endpoint");
    assert_eq!(p.status, 404);
    assert!(p.kind.starts_with("application/problem+json"), "{}", p.kind);

    // The login form is bound to the browser: a post without its cookie is refused.
    let mut other = Session::new(&s.url);
    let p = other.post(
        "/login",
        &[
            ("csrf", "forged"),
            ("username", "devries"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(p.status, 403);
    assert!(
        p.body.contains("has expired or did not come from radgate"),
        "{}",
        p.body
    );
    assert!(!other.cookies.iter().any(|(n, _)| n == "radgate_session"));
    // A wrong password says so and opens nothing.
    let p = anon.log_in("devries", "not-the-password");
    assert_eq!(p.status, 401);
    assert!(p.body.contains("Unknown username or wrong password"));
    // An offered "next" outside the server is ignored.
    let form = anon.get("/login?next=//evil.example/");
    let token = csrf(&form.body);
    let p = anon.post(
        "/login",
        &[
            ("csrf", &token),
            ("next", "//evil.example/"),
            ("username", "devries"),
            ("password", PASSWORD),
        ],
    );
    assert_eq!(p.status, 303);
    assert_eq!(p.location.as_deref(), Some("/"));
    let rad = &mut anon;

    // Every page: the CSP header, nothing inline, nothing from elsewhere, never cached.
    for path in [
        "/",
        "/worklist",
        "/mine",
        "/portfolio",
        "/assessments/inbox",
        "/ai",
        "/ai/pe-detect",
        "/policy",
        "/policy/replay",
        "/reconciliation",
        "/adjudications",
        "/audit",
        "/programmes/miro-master",
        "/login",
    ] {
        let p = rad.get(path);
        assert!(p.status == 200 || p.status == 403, "{path}: {}", p.status);
        let csp = p.csp.unwrap_or_else(|| panic!("{path} has no CSP"));
        for part in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ] {
            assert!(csp.contains(part), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert_strict(path, &p.body);
    }

    // A post without the session's token is refused before anything happens.
    let token = csrf(&rad.get("/").body);
    for (path, fields) in [
        ("/items/1/claim", vec![]),
        ("/language", vec![("lang", "nl")]),
        ("/logout", vec![]),
        ("/alarms/x/clear", vec![("reason", "r")]),
        ("/assessments/request", vec![("assessor", "rad-bakker")]),
        ("/adjudications/A1/fracture", vec![("present", "true")]),
        (
            "/policy/replay",
            vec![("from", "2026-01-01"), ("to", "2026-01-31")],
        ),
    ] {
        let p = rad.post(path, &fields);
        assert_eq!(p.status, 403, "{path} without a token");
        assert!(
            p.body.contains("has expired or did not come from radgate"),
            "{path}: {}",
            p.body
        );
        let mut wrong = fields.clone();
        wrong.push((
            "csrf",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ));
        assert_eq!(
            rad.post(path, &wrong).status,
            403,
            "{path} with another token"
        );
    }
    // A token is the session's own: another session's is refused.
    let mut peer = Session::new(&s.url);
    assert_eq!(peer.log_in("jansen", PASSWORD).status, 303);
    let p = peer.post("/language", &[("csrf", &token), ("lang", "nl")]);
    assert_eq!(p.status, 403);
    // A form posted as something else is refused.
    let r = agent()
        .post(&format!("{}/language", s.url))
        .header("cookie", &rad.cookie_header())
        .header("content-type", "application/json")
        .send(format!("{{\"csrf\":\"{token}\",\"lang\":\"nl\"}}").as_bytes())
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);

    // With its token the post works: the language switch, remembered by the browser.
    let p = rad.post("/language", &[("csrf", &token), ("lang", "nl")]);
    assert_eq!(p.status, 303);
    assert!(rad.get("/").body.contains("Meldingen"));
    // The browser's own language is the default before anyone chooses.
    let mut dutch = Session::new(&s.url);
    dutch.lang = "nl-NL,nl;q=0.9";
    assert!(dutch.get("/login").body.contains("Inloggen bij radgate"));

    // Permissions are the domain's, asked on the server: a gatekeeper sees no AI
    // oversight, no audit trail, no peer's portfolio, and is not offered them.
    let home = peer.get("/");
    assert!(
        !home.body.contains("href=\"/ai\""),
        "the MBB'er is offered AI oversight"
    );
    assert!(!home.body.contains("href=\"/audit\""));
    for path in [
        "/ai",
        "/audit",
        "/reconciliation",
        "/policy",
        "/portfolio/ap-smit",
        "/programmes/miro-master",
    ] {
        let p = peer.get(path);
        assert_eq!(p.status, 403, "{path} for an MBB'er");
        assert!(p.kind.starts_with("text/html"));
    }
    let token = csrf(&home.body);
    let p = peer.post(
        "/alarms/pe-detect:x/clear",
        &[("csrf", &token), ("reason", "none")],
    );
    assert_eq!(p.status, 403, "only the RAIO clears alarms");

    // Logging out ends the session on the server, not only in the browser.
    let before = rad.cookie_header();
    let token = csrf(&rad.get("/").body);
    assert_eq!(rad.post("/logout", &[("csrf", &token)]).status, 303);
    let r = agent()
        .get(&format!("{}/", s.url))
        .header("cookie", &before)
        .config()
        .max_redirects(0)
        .build()
        .call()
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        303,
        "the old session cookie still opens pages"
    );
}

#[test]
fn the_screens_own_assets_are_served_from_the_binary_and_stay_small() {
    let total = radgate_server::ui_asset_bytes();
    assert!(
        total < 200 * 1024,
        "the screens' assets total {total} bytes"
    );
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "assets")
            .to_string_lossy()
            .into_owned(),
    ];
    let s = Server::start(&db);
    let mut sum = 0;
    for (file, kind) in [
        ("radgate.css", "text/css"),
        ("radgate.js", "text/javascript"),
        ("htmx-2.0.11.min.js", "text/javascript"),
    ] {
        let mut r = agent()
            .get(&format!("{}/assets/{file}", s.url))
            .call()
            .unwrap();
        assert_eq!(r.status().as_u16(), 200, "{file}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with(kind)
        );
        sum += r.body_mut().read_to_vec().unwrap().len();
    }
    assert_eq!(sum, total);
    // Served over TLS (--secure-cookies), the login form's cookie is Secure like the
    // session's.
    let tls = Server::start_with(&db, &["--secure-cookies"]);
    let r = agent().get(&format!("{}/login", tls.url)).call().unwrap();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("radgate_login=") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    assert_eq!(
        agent()
            .get(&format!("{}/assets/../Cargo.toml", s.url))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        404
    );
}

#[test]
fn the_demo_seeds_a_past_that_fills_the_screens() {
    let db = fresh_sqlite("screens", "demo");
    let mut child = Command::new(bin())
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
            "--history-days",
            "80",
            "--history-per-day",
            "40",
            "--backlog",
            "10",
            "--rate",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let _guard = Kill(child);
    let mut logins = Vec::new();
    let mut url = None;
    let mut printed = String::new();
    let mut line = String::new();
    while url.is_none() {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the demo ended early:\n{printed}"
        );
        printed.push_str(&line);
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(u) = line.trim().strip_prefix("radgate listening on ") {
            url = Some(u.to_string());
        } else if words.len() >= 3 && words[words.len() - 2].contains('-') && line.starts_with("  ")
        {
            logins.push((
                words[words.len() - 2].to_string(),
                words[words.len() - 1].to_string(),
            ));
        }
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let url = url.unwrap();
    assert!(
        printed.contains("radiologist (RAIO)     rad-bakker"),
        "the RAIO's login is printed:\n{printed}"
    );
    assert!(
        printed.contains("seeded 80 days: 3200 studies"),
        "{printed}"
    );
    assert!(
        !printed.contains("raised 0 alarm"),
        "one application drifts:\n{printed}"
    );
    let password = |who: &str| {
        logins
            .iter()
            .find(|(u, _)| u == who)
            .map(|(_, p)| p.clone())
            .unwrap()
    };

    let mut raio = Session::new(&url);
    assert_eq!(
        raio.log_in("rad-bakker", &password("rad-bakker")).status,
        303
    );
    let home = raio.get("/");
    assert!(
        home.body.contains("AI alarm on fracture-detect"),
        "the RAIO is notified"
    );
    let ai = raio.get("/ai");
    // The drifting application's alarms, and no other application's.
    let alarms = &ai.body[ai.body.find("<h2>Open alarms</h2>").unwrap()
        ..ai.body.find("<h2>AI register</h2>").unwrap()];
    assert!(alarms.contains("/ai/fracture-detect"), "{alarms}");
    for other in ["pe-detect", "ich-detect", "cxr-normal", "cspine-fracture"] {
        assert!(
            !alarms.contains(&format!("/ai/{other}\"")),
            "{other} alarmed too: {alarms}"
        );
    }
    assert!(ai.body.contains("demo-fracture-pilot"));
    let app = raio.get("/ai/fracture-detect");
    // Months of reported exams: a metrics row per month of the seeded past.
    let months = app.body.matches("<tr><td>20").count();
    assert!(months >= 3, "{months} months of metrics");
    let pilot = raio.get("/pilots/demo-fracture-pilot");
    assert!(
        pilot.body.contains("sensitivity") && pilot.body.contains("id=\"decide\""),
        "the RAIO may decide the pilot"
    );
    // Reviewed clearances: the gatekeeper safety report has numbers.
    let row = "Chest X-ray gatekeeping (AI normal)</td><td>";
    let at = ai
        .body
        .find(row)
        .expect("the safety report lists chest X-ray gatekeeping")
        + row.len();
    let reviewed: u64 = ai.body[at..at + ai.body[at..].find('<').unwrap()]
        .parse()
        .unwrap();
    assert!(reviewed > 0, "no seeded reviews");
    // The RAIO decides the pilot on its page, once.
    let p = post_from(
        &mut raio,
        "/pilots/demo-fracture-pilot",
        "/pilots/demo-fracture-pilot/decision",
        &[
            ("outcome", "stop"),
            ("reason", "Sensitivity fell below what was declared"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let decided = raio.get("/pilots/demo-fracture-pilot");
    assert!(
        decided.body.contains("id=\"decision\"") && decided.body.contains("Sensitivity fell below")
    );
    assert!(!decided.body.contains("id=\"decide\""), "decided once");
    let audit = raio.get("/audit?actor=demo-history");
    assert!(audit.body.contains("The audit chain is intact"));
    assert!(audit.body.matches("<tr>").count() > 50);
    // Portfolios with assessments, visible to a supervisor.
    let mut rad = Session::new(&url);
    assert_eq!(
        rad.log_in("rad-devries", &password("rad-devries")).status,
        303
    );
    let folio = rad.get("/portfolio/ap-smit");
    assert!(folio.body.contains("synthetic demo assessment"));
    let worklist = rad.get("/worklist");
    assert!(
        worklist.body.contains("<tbody><tr"),
        "the live feed fills the worklist"
    );
}

#[test]
fn a_worklist_open_on_one_instance_hears_of_work_that_arrived_through_another() {
    let db = vec![
        "--database-url".to_string(),
        support::fresh_postgres("radgate_ui_two_instances"),
    ];
    add_account(&db, "devries", "rad-devries");
    let key = support::http::api_key(&db, "ris", support::http::ALL_SCOPES);
    let (a, b) = (Server::start(&db), Server::start(&db));
    let mut s = Session::new(&a.url);
    assert_eq!(s.log_in("devries", PASSWORD).status, 303);
    // The worklist's event stream on instance A, line by line.
    let (tx, rx) = std::sync::mpsc::channel();
    let (events, cookie) = (format!("{}/worklist/events", a.url), s.cookie_header());
    std::thread::spawn(move || {
        let r = agent()
            .get(&events)
            .header("cookie", &cookie)
            .call()
            .unwrap();
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        for line in BufReader::new(r.into_body().into_reader()).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    // Let the stream subscribe, then the work arrives through instance B.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    while rx.try_recv().is_ok() {}
    let study = support::http::study("TWOINST1", "CTTHAB-ONC", "CT", "ABDOMEN");
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/studies", b.url),
        Some(&key),
        None,
        Some(&study),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == "event: changed" => break,
            Ok(_) => {}
            Err(_) => panic!("instance A never said the work changed"),
        }
    }
    let rows = s.get("/worklist/rows");
    assert!(
        rows.body.contains("TWOINST1"),
        "A's worklist shows B's work"
    );
}

#[test]
fn the_worklist_and_the_study_page_show_who_the_patient_is() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "patient")
            .to_string_lossy()
            .into_owned(),
    ];
    add_account(&db, "devries", "rad-devries");
    let key = support::http::api_key(&db, "ris", support::http::ALL_SCOPES);
    let s = Server::start(&db);
    let mut study = support::http::study("NAME1", "CTPA", "CT", "CHEST");
    study["patient_name"] = "Visser^Anna^M".into();
    study["patient_sex"] = "F".into();
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/studies", s.url),
        Some(&key),
        None,
        Some(&study),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // A name that is no name is refused like any bad value, naming the field.
    let mut bad = support::http::study("NAME2", "CTPA", "CT", "CHEST");
    bad["patient_name"] = "Visser\u{7}Anna".into();
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/studies", s.url),
        Some(&key),
        None,
        Some(&bad),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.body.to_string().contains("patient_name"), "{}", r.body);
    let mut rad = Session::new(&s.url);
    assert_eq!(rad.log_in("devries", PASSWORD).status, 303);
    let list = rad.get("/worklist");
    let row = &list.body[list
        .body
        .find("Visser, Anna M")
        .expect("the name on the worklist")..];
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(
        row.contains("PSEUDO-1") && row.contains("<td>F</td>"),
        "{row}"
    );
    // Not on the authorization queue: it has no preliminary report.
    let queue = rad.get("/worklist?queue=authorize");
    assert!(
        queue.body.contains("<h1>To authorize</h1>"),
        "{}",
        queue.body
    );
    assert!(!queue.body.contains("NAME1"), "{}", queue.body);
    let page = rad.get("/studies/NAME1");
    assert!(
        page.body.contains("Visser, Anna M · PSEUDO-1"),
        "the study page names the patient"
    );
}

/// One signed-in session per user, in order.
fn signed_in<const N: usize>(base: &str, users: [&str; N]) -> [Session; N] {
    users.map(|user| {
        let mut s = Session::new(base);
        assert_eq!(s.log_in(user, PASSWORD).status, 303, "{user} logs in");
        s
    })
}

/// Claims the first item `page` lists, as its claim button would; returns the item's id.
fn claim_first(s: &mut Session, page: &str) -> String {
    let list = s.get(page);
    let at = list
        .body
        .find("action=\"/items/")
        .expect("an item to claim")
        + 15;
    let id = list.body[at..at + list.body[at..].find('/').unwrap()].to_string();
    let p = post_from(s, page, &format!("/items/{id}/claim"), &[]);
    assert_eq!(p.status, 303, "{}", p.body);
    id
}

/// Posts `fields` with the page's CSRF token, after loading `page` for it.
fn post_from(s: &mut Session, page: &str, action: &str, fields: &[(&str, &str)]) -> Page {
    let token = csrf(&s.get(page).body);
    let mut all = vec![("csrf", token.as_str())];
    all.extend_from_slice(fields);
    s.post(action, &all)
}

#[test]
fn a_returned_report_comes_back_and_the_radiologist_sees_what_changed() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "diff")
            .to_string_lossy()
            .into_owned(),
    ];
    let key = support::http::provision(&db);
    let s = Server::start(&db);
    let study = support::http::study("DIFF1", "CTTHAB-ONC", "CT", "ABDOMEN");
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/studies", s.url),
        Some(&key),
        None,
        Some(&study),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let item = r.body["work_items"][0]["id"].as_u64().unwrap().to_string();
    let (mut ap, mut rad) = (Session::new(&s.url), Session::new(&s.url));
    assert_eq!(ap.log_in("smit", PASSWORD).status, 303);
    assert_eq!(rad.log_in("devries", PASSWORD).status, 303);
    // The delegate claims and submits through the screens.
    let p = post_from(&mut ap, "/worklist", &format!("/items/{item}/claim"), &[]);
    assert_eq!(p.location.as_deref(), Some("/studies/DIFF1"));
    let text = "Liver: two metastases.\nLargest 21 mm.\nNo new lesions.";
    let p = post_from(
        &mut ap,
        "/studies/DIFF1",
        "/studies/DIFF1/report",
        &[("text", text), ("action", "submit")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    // The radiologist claims from the queue and returns it with a reason.
    claim_first(&mut rad, "/worklist?queue=authorize");
    let page = rad.get("/studies/DIFF1");
    assert!(
        page.body.contains("id=\"authorize\"") && !page.body.contains("<del>"),
        "no earlier version yet"
    );
    let p = post_from(
        &mut rad,
        "/studies/DIFF1",
        "/studies/DIFF1/return",
        &[("reason", "Measure the largest lesion again")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    // Back on the delegate's own items, corrected and submitted again.
    assert!(
        ap.get("/mine").body.contains("DIFF1"),
        "a returned report is the author's again"
    );
    let corrected = "Liver: two metastases.\nLargest 24 mm.\nNo new lesions.";
    let p = post_from(
        &mut ap,
        "/studies/DIFF1",
        "/studies/DIFF1/report",
        &[("text", corrected), ("action", "submit")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    claim_first(&mut rad, "/worklist?queue=authorize");
    let page = rad.get("/studies/DIFF1");
    assert!(
        page.body.contains("<del>Largest 21 mm.</del>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<ins>Largest 24 mm.</ins>"));
    assert!(
        page.body.contains("Measure the largest lesion again"),
        "the reason is in the history"
    );
    // A grade is required; then it is authorized and the grade shows.
    let p = post_from(&mut rad, "/studies/DIFF1", "/studies/DIFF1/authorize", &[]);
    assert_eq!(p.status, 422);
    assert!(
        p.body.contains("grade this delegated preliminary report"),
        "{}",
        p.body
    );
    let p = post_from(
        &mut rad,
        "/studies/DIFF1",
        "/studies/DIFF1/authorize",
        &[("discrepancy", "0")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(ap.get("/studies/DIFF1").body.contains("0: no discrepancy"));
}

#[test]
fn a_thesis_committee_scores_deliberates_and_finalises_on_the_screens() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "rubric")
            .to_string_lossy()
            .into_owned(),
    ];
    support::http::provision_people(&db);
    add_account(&db, "koster", "edu-koster");
    let s = Server::start(&db);
    let setup = serde_json::json!({"id": "thesis-ui", "rubric": "miro-thesis", "subject": "ap-smit",
        "title": "AI triage of chest radiographs",
        "committee": [{"person": "rad-devries", "background": "medical"},
                      {"person": "edu-koster", "background": "technical"}]});
    let staff_cookie = support::http::login(&s.url, "koster");
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/rubric-assessments", s.url),
        None,
        Some(&staff_cookie),
        Some(&setup),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let (mut rad, mut staff) = (Session::new(&s.url), Session::new(&s.url));
    assert_eq!(rad.log_in("devries", PASSWORD).status, 303);
    assert_eq!(staff.log_in("koster", PASSWORD).status, 303);
    // The committee member finds it on the home screen.
    assert!(rad.get("/").body.contains("/rubric-assessments/thesis-ui"));
    let page = "/rubric-assessments/thesis-ui";
    for (who, bump) in [(&mut rad, "7"), (&mut staff, "6")] {
        let p = post_from(
            who,
            page,
            "/rubric-assessments/thesis-ui/scores",
            &[
                ("score.question", bump),
                ("score.method", "6"),
                ("score.analysis", "5"),
                ("score.writing", "8"),
                ("comment.method", "sample size argued"),
            ],
        );
        assert_eq!(p.status, 303, "{}", p.body);
    }
    let agreed = [
        ("agreed.question", "7"),
        ("agreed.method", "6"),
        ("agreed.analysis", "5"),
        ("agreed.writing", "8"),
    ];
    let p = post_from(
        &mut rad,
        page,
        "/rubric-assessments/thesis-ui/finalise",
        &agreed,
    );
    assert_eq!(p.status, 409, "no deliberation on record yet");
    assert!(p.body.contains("deliberation"), "{}", p.body);
    let p = post_from(
        &mut staff,
        page,
        "/rubric-assessments/thesis-ui/deliberation",
        &[("text", "Question scores differ by one; agreed on 7.")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let p = post_from(
        &mut rad,
        page,
        "/rubric-assessments/thesis-ui/finalise",
        &agreed,
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let done = rad.get(page);
    assert!(done.body.contains("Question scores differ by one") && done.body.contains("finalised"));
    assert!(done.body.contains("sample size argued"));
    assert!(
        !done.body.contains("id=\"finalise\""),
        "nothing left to finalise"
    );
    // Programme staff: the cohort, the sample, the rubric with its agreement report.
    let cohort = staff.get("/programmes/miro-master");
    assert_eq!(cohort.status, 200);
    assert!(
        cohort.body.contains("/portfolio/ap-smit") && cohort.body.contains("/portfolio/ap-dekker")
    );
    let rubric = staff.get("/rubrics/miro-thesis");
    assert!(rubric.body.contains("AI triage of chest radiographs"));
    assert!(rubric.body.contains("Assessor agreement"));
}

#[test]
fn only_the_raio_changes_an_applications_status_on_the_screens_and_says_why() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "status")
            .to_string_lossy()
            .into_owned(),
    ];
    support::http::provision_people(&db);
    add_account(&db, "bakker", "rad-bakker");
    let s = Server::start(&db);
    let (mut raio, mut rad) = (Session::new(&s.url), Session::new(&s.url));
    assert_eq!(raio.log_in("bakker", PASSWORD).status, 303);
    assert_eq!(rad.log_in("devries", PASSWORD).status, 303);
    let page = "/ai/cspine-fracture";
    assert!(
        !rad.get(page).body.contains("id=\"status\""),
        "a radiologist is not offered it"
    );
    let p = post_from(
        &mut rad,
        page,
        "/ai/cspine-fracture/status",
        &[("status", "suspended"), ("reason", "x")],
    );
    assert_eq!(p.status, 403);
    let p = post_from(
        &mut raio,
        page,
        "/ai/cspine-fracture/status",
        &[("status", "suspended"), ("reason", "")],
    );
    assert_eq!(p.status, 422, "a reason is required");
    let p = post_from(
        &mut raio,
        page,
        "/ai/cspine-fracture/status",
        &[
            ("status", "suspended"),
            ("reason", "Vendor field safety notice FSN-12"),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let after = rad.get(page);
    assert!(
        after.body.contains("pilot → suspended")
            && after.body.contains("Vendor field safety notice FSN-12"),
        "{}",
        after.body
    );
}

#[test]
fn the_audit_viewer_says_when_the_chain_is_broken() {
    let path = fresh_sqlite("screens", "audit");
    let db = vec!["--db".to_string(), path.to_string_lossy().into_owned()];
    add_account(&db, "devries", "rad-devries");
    let s = Server::start(&db);
    let mut rad = Session::new(&s.url);
    assert_eq!(rad.log_in("devries", PASSWORD).status, 303);
    let page = rad.get("/audit");
    assert!(
        page.body.contains("The audit chain is intact"),
        "{}",
        page.body
    );
    // Someone rewrites history in the database; the next verification names the event.
    let altered = support::scalar(
        &db[1],
        "UPDATE audit_events SET actor = 'someone-else' WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE actor = $1) RETURNING CAST(seq AS TEXT)",
        "rad-devries",
    )
    .expect("a login event to alter");
    let p = post_from(&mut rad, "/audit", "/audit/verify", &[]);
    assert_eq!(p.status, 200);
    assert!(p.body.contains("The audit chain is BROKEN"), "{}", p.body);
    assert!(
        p.body.contains(&format!("audit event {altered}")),
        "{}",
        p.body
    );
    // The search finds events by actor.
    let found = rad.get("/audit?actor=someone-else");
    assert!(found.body.contains("<td>someone-else</td>"));
}

#[test]
fn trainees_rank_placements_and_staff_match_the_round_on_both_backends() {
    for db in support::databases("placements") {
        add_account(&db, "smit", "ap-smit");
        add_account(&db, "dekker", "ap-dekker");
        add_account(&db, "koster", "edu-koster");
        add_account(&db, "devries", "rad-devries");
        let s = Server::start(&db);
        let [mut smit, mut dekker, mut staff, mut rad] =
            signed_in(&s.url, ["smit", "dekker", "koster", "devries"]);
        // Round 2026-1 through the API (both want oncology; two seats), round 2026-2 on
        // the screens.
        for (who, ranked) in [
            ("smit", ["rv-oncology", "rv-neuro"]),
            ("dekker", ["rv-oncology", "rv-msk"]),
        ] {
            let cookie = support::http::login(&s.url, who);
            let r = support::http::call(
                "POST",
                &format!(
                    "{}/api/v1/programmes/miro-master/rounds/2026-1/ranking",
                    s.url
                ),
                None,
                Some(&cookie),
                Some(&serde_json::json!({"ranked": ranked})),
            );
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let cookie = support::http::login(&s.url, "devries");
        let r = support::http::call(
            "POST",
            &format!(
                "{}/api/v1/programmes/miro-master/rounds/2026-1/ranking",
                s.url
            ),
            None,
            Some(&cookie),
            Some(&serde_json::json!({"ranked": ["rv-msk"]})),
        );
        assert_eq!(r.status, 403, "only the programme's trainees rank");
        let r = support::http::call(
            "POST",
            &format!(
                "{}/api/v1/programmes/miro-master/rounds/2026-1/match",
                s.url
            ),
            None,
            Some(&cookie),
            None,
        );
        assert_eq!(r.status, 403, "only programme staff match");
        // The CLI matches the first round from the database.
        let mut args = vec!["programme", "match"];
        args.extend(db.iter().map(String::as_str));
        let dept = support::example("department.toml");
        args.extend([
            "--department",
            &dept,
            "--programme",
            "miro-master",
            "--round",
            "2026-1",
        ]);
        let out = support::run(&args, None);
        assert!(out.contains("2 trainees; 100% first choice"), "{out}");
        assert!(
            out.contains("ap-smit        rv-oncology")
                && out.contains("ap-dekker      rv-oncology"),
            "{out}"
        );
        assert!(
            out.contains("(assigned)"),
            "partner technical supervisors: {out}"
        );

        let page = smit.get("/portfolio");
        assert!(
            page.body.contains("id=\"ranking\""),
            "{} {}",
            page.status,
            page.body
        );
        // Round 2026-2 on the screens: oncology again is off both lists.
        for who in [&mut smit, &mut dekker] {
            let p = post_from(
                who,
                "/portfolio",
                "/placements/ranking",
                &[
                    ("programme", "miro-master"),
                    ("round", "2026-2"),
                    ("choice", "rv-oncology"),
                    ("choice", "rv-msk"),
                    ("choice", "rv-neuro"),
                    ("choice", ""),
                ],
            );
            assert_eq!(p.status, 303, "{}", p.body);
        }
        let bad = post_from(
            &mut smit,
            "/portfolio",
            "/placements/ranking",
            &[
                ("programme", "miro-master"),
                ("round", "2026-3"),
                ("choice", "rv-msk"),
                ("choice", "rv-msk"),
            ],
        );
        assert_eq!(bad.status, 422);
        assert!(bad.body.contains("ranked twice"), "{}", bad.body);
        // A radiologist may not see the programme page, and a forged post is refused too.
        assert_eq!(rad.get("/programmes/miro-master").status, 403);
        let denied = post_from(
            &mut rad,
            "/",
            "/programmes/miro-master/match",
            &[("round", "2026-2")],
        );
        assert_eq!(denied.status, 403);
        let p = post_from(
            &mut staff,
            "/programmes/miro-master",
            "/programmes/miro-master/match",
            &[("round", "2026-2")],
        );
        assert_eq!(p.status, 200, "{}", p.body);
        // One msk seat, one neuro seat: the lottery decides who gets msk; both lost the
        // oncology seat they ranked first to the variety rule, which the page says.
        assert!(
            p.body.contains("<td>rv-msk</td>") && p.body.contains("<td>rv-neuro</td>"),
            "{}",
            p.body
        );
        assert!(
            p.body.contains("already did a `oncology` placement"),
            "{}",
            p.body
        );
        assert!(p.body.contains("first choice 0%"), "{}", p.body);
    }
}

#[test]
fn a_theses_team_and_milestones_show_in_the_cohort_and_remind_the_trainee() {
    use radgate_domain::thesis;
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "thesis")
            .to_string_lossy()
            .into_owned(),
    ];
    add_account(&db, "smit", "ap-smit");
    add_account(&db, "koster", "edu-koster");
    add_account(&db, "devries", "rad-devries");
    add_account(&db, "jansen", "mbb-jansen");
    let s = Server::start(&db);
    let dept = radgate_domain::Department::parse(
        &std::fs::read_to_string(support::example("department.toml")).unwrap(),
    )
    .unwrap();
    let plan = dept
        .thesis(&radgate_domain::ids::ProfessionalId::parse("ap-smit").unwrap())
        .unwrap()
        .clone();
    let today = chrono::Utc::now().date_naive();
    let [mut smit, mut staff, mut rad, mut peer] =
        signed_in(&s.url, ["smit", "koster", "devries", "jansen"]);
    // The trainee is reminded on their home screen exactly when the domain says so.
    let owed = thesis::reminders(&plan.with(None, None), today);
    let home = smit.get("/");
    assert_eq!(
        home.body.contains("id=\"reminders\""),
        owed.iter().any(|r| r.to.as_str() == "ap-smit"),
        "{owed:?}"
    );
    // Programme staff see the team, that it meets the rules, and the milestones.
    let cohort = staff.get("/programmes/miro-master");
    assert!(cohort.body.contains("id=\"thesis-ap-smit\""));
    assert!(
        cohort.body.contains("tech-dewit")
            && cohort
                .body
                .contains("The supervision team meets every rule.")
    );
    let due = (plan.started + chrono::Duration::days(thesis::WORK_PLAN_DAYS)).to_string();
    assert!(cohort.body.contains(&due), "the work plan's due date {due}");
    // A supervisor records the work plan; a peer may not; a day before the start is refused.
    let on = (plan.started + chrono::Duration::days(3))
        .min(today)
        .to_string();
    let fields = |on: &str| {
        vec![
            ("kind", "work_plan".to_string()),
            ("on", on.to_string()),
            ("back", "/".to_string()),
        ]
    };
    let post = |s: &mut Session, on: &str| {
        let f = fields(on);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_from(s, "/", "/theses/ap-smit/milestones", &f)
    };
    assert_eq!(post(&mut peer, &on).status, 403);
    let before = (plan.started - chrono::Duration::days(1)).to_string();
    assert_eq!(post(&mut rad, &before).status, 422);
    assert_eq!(post(&mut rad, &on).status, 303);
    let cohort = staff.get("/programmes/miro-master");
    assert!(
        cohort.body.contains(&format!("done {on}")),
        "{}",
        cohort.body
    );
    // Over the API the answer is the milestones with their status.
    let cookie = support::http::login(&s.url, "koster");
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/theses/ap-smit/milestones", s.url),
        None,
        Some(&cookie),
        Some(&serde_json::json!({"kind": "work_plan", "on": on})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0]["kind"], "work_plan");
    assert_eq!(r.body[0]["status"]["done"]["on"], on.as_str(), "{}", r.body);
    let r = support::http::call(
        "POST",
        &format!("{}/api/v1/theses/mbb-jansen/milestones", s.url),
        None,
        Some(&cookie),
        Some(&serde_json::json!({"kind": "midterm", "on": on})),
    );
    assert_eq!(r.status, 404, "no thesis");
}

#[test]
fn the_radiologist_gives_feedback_on_the_ai_at_sign_off_and_adjudicates_on_the_screens() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "truth")
            .to_string_lossy()
            .into_owned(),
    ];
    let key = support::http::provision(&db);
    let s = Server::start(&db);
    let api = |path: &str, body: &serde_json::Value| {
        let r = support::http::call(
            "POST",
            &format!("{}{path}", s.url),
            Some(&key),
            None,
            Some(body),
        );
        assert!(r.status == 201, "{path}: {}", r.body);
    };
    for acc in ["TRU1", "TRU2"] {
        api(
            "/api/v1/studies",
            &support::http::study(acc, "CTPA", "CT", "CHEST"),
        );
        api(
            "/api/v1/ai-results",
            &serde_json::json!({"id": format!("ai-{acc}"), "app": "pe-detect", "app_version": "3.2.0",
                "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
                "findings": [{"code": "pulmonary_embolism", "score": 0.88, "critical": true}]}),
        );
    }
    let [mut rad] = signed_in(&s.url, ["devries"]);
    // Signing one's own report, the form asks for a verdict on each AI finding, offering
    // only what can be true of the call (a positive call cannot be missed).
    let list = rad.get("/worklist");
    let p = post_from(
        &mut rad,
        "/worklist",
        &claim_action(&list.body, "TRU1"),
        &[],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let page = rad.get("/studies/TRU1");
    assert_strict("/studies/TRU1", &page.body);
    let field = "verdict:pe-detect:pulmonary_embolism";
    assert!(
        page.body.contains(&format!("name=\"{field}\"")),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"false_alarm\"") && !page.body.contains("value=\"missed\""));
    let p = post_from(
        &mut rad,
        "/studies/TRU1",
        "/studies/TRU1/report",
        &[
            ("text", "Geen longembolie."),
            ("action", "sign"),
            (field, "false_alarm"),
            (
                "verdict-comment:pe-detect:pulmonary_embolism",
                "bewegingsartefact",
            ),
        ],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    let page = rad.get("/studies/TRU1");
    assert!(page.body.contains("feedback at sign-off"), "{}", page.body);
    assert!(page.body.contains("bewegingsartefact"));

    // A RIS report that contradicts the AI lands on the adjudication list.
    let r = support::http::send(
        "POST",
        &format!("{}/fhir/DiagnosticReport", s.url),
        Some(&key),
        None,
        Some((
            "application/fhir+json",
            serde_json::json!({"resourceType": "DiagnosticReport", "status": "final",
                "identifier": [{"system": "urn:radgate:accession", "value": "TRU2"}],
                "conclusion": "Conclusie: geen aanwijzingen voor longembolie."})
            .to_string(),
        )),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let list = rad.get("/adjudications");
    assert_eq!(list.status, 200);
    assert_strict("/adjudications", &list.body);
    assert!(
        list.body.contains("the text and the AI disagree"),
        "{}",
        list.body
    );
    assert!(
        list.body.contains("geen aanwijzingen voor"),
        "the deciding words"
    );
    let p = post_from(
        &mut rad,
        "/adjudications",
        "/adjudications/TRU2/pulmonary_embolism",
        &[("present", "false"), ("comment", "AI: vaatsplitsing")],
    );
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(p.location.as_deref(), Some("/adjudications"));
    assert!(
        rad.get("/adjudications")
            .body
            .contains("Nothing to adjudicate.")
    );
    assert!(rad.get("/studies/TRU2").body.contains("adjudication"));
    // Others do not adjudicate.
    let [mut ap] = signed_in(&s.url, ["smit"]);
    assert_eq!(ap.get("/adjudications").status, 403);
}

/// The claim form's action for `acc` on a worklist page.
fn claim_action(html: &str, acc: &str) -> String {
    let row = html.find(&format!("/studies/{acc}")).unwrap();
    let at = row + html[row..].find("action=\"/items/").unwrap() + 8;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

#[test]
fn a_new_policy_is_replayed_on_the_screen_for_those_who_oversee_ai() {
    let db = vec![
        "--db".to_string(),
        fresh_sqlite("screens", "replay")
            .to_string_lossy()
            .into_owned(),
    ];
    let key = support::http::provision(&db);
    let s = Server::start(&db);
    for (i, score) in [0.05, 0.30].iter().enumerate() {
        let acc = format!("SRP{i}");
        let st = support::http::study(&acc, "XFRACTUUR", "DX", "EXTREMITY");
        let r = support::http::call(
            "POST",
            &format!("{}/api/v1/studies", s.url),
            Some(&key),
            None,
            Some(&st),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        let result = serde_json::json!({"id": format!("ai-{acc}"), "app": "fracture-detect", "app_version": "1.4.2",
            "accession": acc, "received_at": chrono::Utc::now().to_rfc3339(),
            "findings": [{"code": "fracture", "score": score}]});
        let r = support::http::call(
            "POST",
            &format!("{}/api/v1/ai-results", s.url),
            Some(&key),
            None,
            Some(&result),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let policy = std::fs::read_to_string(support::example("policy.toml"))
        .unwrap()
        .replace(
            "finding = \"fracture\"\nnormal = true\n",
            "finding = \"fracture\"\nscore_max = 0.5\n",
        )
        .replacen("version = \"", "version = \"screen-b-", 1);
    let [mut rad, mut ap] = signed_in(&s.url, ["devries", "smit"]);
    assert!(rad.get("/policy").body.contains("href=\"/policy/replay\""));
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (
        (today - chrono::Days::new(1)).to_string(),
        today.to_string(),
    );
    let p = post_from(
        &mut rad,
        "/policy/replay",
        "/policy/replay",
        &[("policy", &policy), ("from", &from), ("to", &to)],
    );
    assert_eq!(p.status, 200, "{}", p.body);
    assert_strict("/policy/replay (result)", &p.body);
    assert!(
        p.body.contains("What the new policy would have done"),
        "{}",
        p.body
    );
    assert!(p.body.contains("2 studies"), "{}", p.body);
    assert!(
        p.body.contains("<strong>Gatekeeper</strong>"),
        "one study moves: {}",
        p.body
    );
    let p = post_from(
        &mut rad,
        "/policy/replay",
        "/policy/replay",
        &[("policy", "version = "), ("from", &from), ("to", &to)],
    );
    assert!(
        p.body.contains("role=\"alert\""),
        "a broken policy is named: {}",
        p.body
    );
    assert_eq!(ap.get("/policy/replay").status, 403);
}
