//! `radgate audit verify` on both backends, with the database tampered with directly.

mod support;

use std::process::{Command, Output};

use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_store::Store;
use sqlx::Executor;

fn radgate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_radgate"))
        .args(args)
        .output()
        .expect("radgate runs")
}

async fn seed(url: &str, events: usize) {
    let store = Store::connect(url).await.unwrap();
    for i in 0..events {
        let mut tx = store.begin().await.unwrap();
        tx.audit(&AuditEvent {
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
            actor: "system".into(),
            kind: AuditKind::StudyIngested,
            subject: format!("ACC{i}"),
            detail: serde_json::json!({ "i": i }),
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    store.close().await;
}

async fn tamper(url: &str, sql: &'static str) {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    conn.execute(sql).await.unwrap();
}

/// Runs the check against one database given by `args` and `url`.
async fn check(args: &[&str], url: &str) {
    seed(url, 6).await;
    let o = radgate(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("audit log intact: 6 events, head "));

    tamper(
        url,
        "UPDATE audit_events SET detail = '{\"i\":99}' WHERE seq = 4",
    )
    .await;
    let o = radgate(args);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("audit log broken at event 4: audit event 4 was altered"),
        "{err}"
    );

    tamper(url, "DELETE FROM audit_events WHERE seq >= 4").await;
    assert!(
        radgate(args).status.success(),
        "truncating the tail is only caught against a kept head hash"
    );
    tamper(url, "DELETE FROM audit_events WHERE seq = 2").await;
    let o = radgate(args);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("audit log broken at event 3"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test]
async fn audit_verify_names_the_first_bad_event_on_sqlite() {
    let file = support::fresh_sqlite("audit-verify", "radgate");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    check(&["audit", "verify", "--db", file.to_str().unwrap()], &url).await;
}

#[test]
fn audit_verify_names_the_first_bad_event_on_postgres() {
    let url = support::fresh_postgres("radgate_cli_audit");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(check(&["audit", "verify", "--database-url", &url], &url));
}

#[test]
fn audit_verify_refuses_a_missing_file_without_creating_it() {
    let path = support::fresh_sqlite("audit-verify", "absent");
    let o = radgate(&["audit", "verify", "--db", path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no database file at"));
    assert!(!path.exists());
}
