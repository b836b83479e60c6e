//! What the binary's tests and the load benchmark share: the binary, the examples, fresh
//! databases on both backends, and a running `radgate serve`.
#![allow(dead_code)] // each test file uses its own part

pub mod browser;
pub mod hl7;
pub mod http;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use sqlx::Executor;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_radgate")
}

pub fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

/// Runs the binary to success and returns its trimmed standard output.
pub fn run(args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A new, empty SQLite file path under the target directory.
pub fn fresh_sqlite(dir: &str, name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    file
}

/// A new, empty PostgreSQL database on the test cluster; returns its URL.
pub fn fresh_postgres(name: &str) -> String {
    let pg = std::env::var("RADGATE_TEST_PG_URL").expect(
        "RADGATE_TEST_PG_URL is not set: run the tests with scripts/test, which starts PostgreSQL",
    );
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg)
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await
            .unwrap();
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .unwrap();
    });
    format!("{}/{name}", pg.rsplit_once('/').unwrap().0)
}

/// `--db FILE` and `--database-url URL` of a fresh database of each backend.
pub fn databases(name: &str) -> Vec<Vec<String>> {
    vec![
        vec![
            "--db".into(),
            fresh_sqlite("api-tests", name)
                .to_string_lossy()
                .into_owned(),
        ],
        vec![
            "--database-url".into(),
            fresh_postgres(&format!("radgate_api_{name}")),
        ],
    ]
}

/// A running `radgate serve` on the example department and policy; killed when dropped.
pub struct Server {
    pub child: Child,
    pub url: String,
    /// `host:port` of the HL7 v2 listener, when started with `--mllp-listen`.
    pub mllp: Option<String>,
    /// `host:port` of the DICOM receiver, when started with `--dicom-listen`.
    pub dicom: Option<String>,
}

impl Server {
    pub fn start(db: &[String]) -> Server {
        Server::start_with(db, &[])
    }

    pub fn start_with(db: &[String], extra: &[&str]) -> Server {
        let mut args: Vec<String> = vec!["serve".into()];
        args.extend(db.iter().cloned());
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(
            [
                "--listen",
                "127.0.0.1:0",
                "--policy",
                &example("policy.toml"),
                "--department",
                &example("department.toml"),
            ]
            .map(String::from),
        );
        let mut child = Command::new(bin())
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("RADGATE_TEST_SERVER_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line
            .trim()
            .strip_prefix("radgate listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let mut next = |flag: &str, prefix: &str| {
            extra.contains(&flag).then(|| {
                let mut line = String::new();
                out.read_line(&mut line).unwrap();
                line.trim()
                    .strip_prefix(prefix)
                    .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
                    .to_string()
            })
        };
        let mllp = next("--mllp-listen", "radgate MLLP listening on ");
        let dicom = next("--dicom-listen", "radgate DICOM listening on ");
        // Keep draining what the server prints so that it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server {
            child,
            url,
            mllp,
            dicom,
        }
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first column of the first row of `sql` (one `$1` bound to `arg`) as text, on the
/// database a test's `--db FILE` or `--database-url URL` names.
pub fn scalar(db: &str, sql: &str, arg: &str) -> Option<String> {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let url = if db.starts_with("postgres") {
            db.to_owned()
        } else {
            format!("sqlite://{db}")
        };
        let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        let row: Option<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
            .bind(arg.to_owned())
            .fetch_optional(&mut c)
            .await
            .unwrap();
        row.map(|r| r.0)
    })
}

/// Runs a Python program (the test venv's, `RADGATE_PYTHON`) with `input` as JSON on
/// standard input and returns its JSON output: the protocol peers and validators.
pub fn python_json(program: &str, input: &serde_json::Value) -> serde_json::Value {
    let python = std::env::var("RADGATE_PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run scripts/test"));
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{python} failed (scripts/test installs the peers): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}
