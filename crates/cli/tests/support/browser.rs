//! A real browser for the screens' tests: Debian's chromium, headless, driven over
//! WebDriver by chromedriver (both installed by scripts/test), with axe-core for
//! accessibility checks.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// A chromedriver process; killed when dropped, and the browser profiles it was given
/// removed with it (several megabytes each, which piled up in the target directory).
pub struct Driver {
    child: Child,
    pub url: String,
    profiles: Mutex<Vec<PathBuf>>,
}

impl Driver {
    pub fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver is not installed: run the tests with scripts/test, which installs Debian's chromium and chromium-driver");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while ureq::get(&format!("{url}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url,
            profiles: Mutex::new(Vec::new()),
        }
    }

    /// A new headless chromium with its own profile, `width` pixels wide.
    pub async fn browser(&self, width: u32) -> Client {
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        self.profiles.lock().unwrap().push(profile.clone());
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-quic",
                    format!("--window-size={width},900"),
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("chromium did not start under chromedriver")
    }
}

impl Drop for Driver {
    /// chromedriver's own shutdown closes the browsers it started, also after a failed
    /// test left sessions open; a killed chromedriver would leave them running.
    fn drop(&mut self) {
        let _ = ureq::get(&format!("{}/shutdown", self.url)).call();
        let mut exited = false;
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // A browser still writing would recreate files; the shutdown above closed them.
        for profile in self.profiles.lock().unwrap().drain(..) {
            let _ = std::fs::remove_dir_all(profile);
        }
    }
}

/// axe-core's browser bundle, installed by scripts/test from npm at a pinned version.
pub fn axe_source() -> String {
    let path = std::env::var("RADGATE_AXE").unwrap_or_else(|_| {
        format!(
            "{}/../../target/axe/node_modules/axe-core/axe.min.js",
            env!("CARGO_MANIFEST_DIR")
        )
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is not at {path} ({e}): run the tests with scripts/test, which installs it"
        )
    })
}

/// The page's text.
pub async fn text(c: &Client) -> String {
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Waits up to `secs` for `css` to appear and contain `needle`.
pub async fn wait_for(c: &Client, css: &str, needle: &str, secs: u64) -> Element {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        for e in c.find_all(Locator::Css(css)).await.unwrap() {
            if e.text().await.unwrap_or_default().contains(needle) {
                return e;
            }
        }
        if Instant::now() > deadline {
            panic!(
                "no `{css}` containing {needle:?} within {secs} s on {}:\n{}",
                c.current_url().await.unwrap(),
                text(c).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Presses one key on whatever has the focus, as a person at the keyboard does.
pub async fn press(c: &Client, key: fantoccini::key::Key) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let k: char = key.into();
    let actions = KeyActions::new("keyboard".to_string())
        .then(KeyAction::Down { value: k })
        .then(KeyAction::Up { value: k });
    c.perform_actions(actions).await.unwrap();
}

/// The aria-label of the focused element, if any.
pub async fn focused_label(c: &Client) -> Option<String> {
    let v = c
        .execute(
            "const e = document.activeElement; return e ? e.getAttribute('aria-label') : null;",
            vec![],
        )
        .await
        .unwrap();
    v.as_str().map(str::to_string)
}

pub async fn fill(c: &Client, css: &str, value: &str) {
    let e = c.find(Locator::Css(css)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// Clicks `css`; found again if a live refresh replaced it between finding and clicking.
pub async fn click(c: &Client, css: &str) {
    for _ in 0..5 {
        let e = c.find(Locator::Css(css)).await.unwrap();
        match e.click().await {
            Ok(()) => return,
            Err(fantoccini::error::CmdError::Standard(w))
                if w.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("clicking {css}: {e}"),
        }
    }
    panic!("{css} kept being replaced");
}

/// Logs in through the login screen and waits for the home screen.
pub async fn log_in(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill(c, "#username", user).await;
    fill(c, "#password", password).await;
    click(c, "form[action='/login'] button[type=submit]").await;
    wait_for(c, ".who", user, 10).await;
}

pub async fn log_out(c: &Client) {
    click(c, "form[action='/logout'] button").await;
    wait_for(c, "h1", "", 10).await;
}

/// Runs axe-core (WCAG 2.0/2.1 A and AA rules) on the current page; returns the serious
/// and critical violations, each as "rule: target".
pub async fn axe(c: &Client, source: &str) -> Vec<String> {
    c.execute(source, vec![]).await.unwrap();
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' ')) }))))
                .catch(e => done([{ id: 'axe-error', impact: 'critical', nodes: [String(e)] }]));",
            vec![],
        )
        .await
        .unwrap();
    result
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .map(|v| format!("{}: {}", v["id"], v["nodes"]))
        .collect()
}

/// Every resource the page loaded, by URL (the page itself not included).
pub async fn resources(c: &Client) -> Vec<String> {
    let v: Value = c
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name);",
            vec![],
        )
        .await
        .unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Whether the page fits `width` without scrolling sideways (tables scroll inside their
/// own region instead).
pub async fn fits(c: &Client) -> bool {
    c.execute(
        "return document.documentElement.scrollWidth <= window.innerWidth;",
        vec![],
    )
    .await
    .unwrap()
        == Value::Bool(true)
}
