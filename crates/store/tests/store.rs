//! The store on both backends: every test runs on SQLite and on PostgreSQL.
//! `scripts/test` starts the PostgreSQL cluster and sets RADGATE_TEST_PG_URL.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use radgate_domain::ai::{AiFinding, AiResult};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::{AccessionNumber, AiAppId, FindingCode, PatientId, ProfessionalId};
use radgate_domain::study::{Order, OrderError, OrderStatus};
use radgate_domain::workitem::{WorkItemError, WorkItemState};
use radgate_domain::{Policy, Priority, Study};
use radgate_store::{ChainBreak, ClaimError, Inserted, NewWorkItem, Store};
use sqlx::Executor;

const POLICY: &str = include_str!("../../../examples/policy.toml");

fn t0() -> DateTime<Utc> {
    "2026-03-02T10:00:00Z".parse().unwrap()
}

/// A fresh SQLite file and a fresh PostgreSQL database for the named test.
async fn stores(name: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("store-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.sqlite"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let pg = std::env::var("RADGATE_TEST_PG_URL").expect(
        "RADGATE_TEST_PG_URL is not set: run the tests with scripts/test, which starts PostgreSQL",
    );
    sqlx::any::install_default_drivers();
    let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&pg)
        .await
        .expect("PostgreSQL reachable");
    let db = format!("radgate_{name}");
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
        )))
        .await
        .unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .await
        .unwrap();
    let (base, _) = pg.rsplit_once('/').unwrap();
    vec![
        (
            "sqlite".into(),
            format!("sqlite://{}?mode=rwc", file.display()),
        ),
        ("postgres".into(), format!("{base}/{db}")),
    ]
}

fn study(acc: &str) -> Study {
    Study {
        accession: AccessionNumber::parse(acc).unwrap(),
        study_uid: None,
        patient: PatientId::parse("P1").unwrap(),
        patient_name: None,
        patient_sex: None,
        patient_age_years: Some(60),
        modality: "CT".into(),
        procedure_code: "CTPA".into(),
        body_part: "CHEST".into(),
        priority: Priority::Urgent,
        site: "main".into(),
        ordering_department: "ED".into(),
        clinical_question: None,
        ordered_at: None,
        acquired_at: t0(),
        manufacturer: None,
        model: None,
        protocol: None,
    }
}

fn ai_result(id: &str, acc: &str, score: f64, minutes: i64) -> AiResult {
    AiResult {
        id: id.into(),
        app: AiAppId::parse("pe-detect").unwrap(),
        app_version: "3.2.0".into(),
        accession: AccessionNumber::parse(acc).unwrap(),
        received_at: t0() + Duration::minutes(minutes),
        findings: vec![AiFinding {
            code: FindingCode::parse("pulmonary_embolism").unwrap(),
            score: Some(score),
            critical: score > 0.6,
            normal: false,
        }],
    }
}

fn event(kind: AuditKind, subject: &str) -> AuditEvent {
    AuditEvent {
        at: t0(),
        actor: "system".into(),
        kind,
        subject: subject.into(),
        detail: serde_json::json!({"n": 1}),
    }
}

/// Stores a study, routes it with the example policy and opens its work, as ingest will.
async fn ingest_and_route(
    store: &Store,
    acc: &str,
    results: &[AiResult],
    at: DateTime<Utc>,
) -> Vec<u64> {
    let policy = Policy::parse(POLICY).unwrap();
    let mut tx = store.begin().await.unwrap();
    let s = study(acc);
    assert_eq!(tx.insert_study(&s, at).await.unwrap(), Inserted::Created);
    for r in results {
        assert_eq!(tx.insert_ai_result(r, at).await.unwrap(), Inserted::Created);
    }
    let stored = tx.ai_results_for(acc).await.unwrap();
    let d = policy.decide(&s, &stored, at);
    let id = tx.insert_decision(acc, &d, at).await.unwrap();
    let mut items = Vec::new();
    for new in NewWorkItem::for_decision(&s.accession, id, &d, at) {
        items.push(tx.insert_work_item(&new).await.unwrap().id);
    }
    tx.audit(&event(AuditKind::StudyIngested, acc))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    items
}

#[tokio::test]
async fn migrations_run_once_and_reopening_keeps_data() {
    for (backend, url) in stores("migrations").await {
        let store = Store::connect(&url).await.unwrap();
        ingest_and_route(&store, "ACC1", &[], t0()).await;
        store.close().await;
        let again = Store::connect(&url).await.unwrap();
        let mut tx = again.begin().await.unwrap();
        assert!(tx.study("ACC1").await.unwrap().is_some(), "{backend}");
    }
}

#[tokio::test]
async fn repeated_messages_change_nothing_and_say_so() {
    for (backend, url) in stores("idempotent").await {
        let store = Store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.insert_study(&study("ACC2"), t0()).await.unwrap(),
            Inserted::Created
        );
        assert_eq!(
            tx.insert_study(&study("ACC2"), t0()).await.unwrap(),
            Inserted::Unchanged,
            "{backend}"
        );
        let mut other = study("ACC2");
        other.body_part = "HEAD".into();
        assert_eq!(
            tx.insert_study(&other, t0()).await.unwrap(),
            Inserted::Conflict,
            "{backend}"
        );
        assert_eq!(
            tx.study("ACC2").await.unwrap().unwrap().body_part,
            "CHEST",
            "{backend}: conflict changed nothing"
        );

        let r = ai_result("r1", "ACC2", 0.9, 4);
        assert_eq!(
            tx.insert_ai_result(&r, t0()).await.unwrap(),
            Inserted::Created
        );
        assert_eq!(
            tx.insert_ai_result(&r, t0()).await.unwrap(),
            Inserted::Unchanged
        );
        assert_eq!(
            tx.insert_ai_result(&ai_result("r1", "ACC2", 0.1, 4), t0())
                .await
                .unwrap(),
            Inserted::Conflict
        );
        tx.insert_ai_result(
            &ai_result("r0", "ACC2", 0.2, 2),
            t0() + Duration::minutes(1),
        )
        .await
        .unwrap();
        let ids: Vec<_> = tx
            .ai_results_for("ACC2")
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["r1", "r0"], "{backend}: arrival order");
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn order_changes_apply_and_a_cancelled_order_stays_cancelled() {
    for (backend, url) in stores("orders").await {
        let store = Store::connect(&url).await.unwrap();
        let order = |status, priority| Order {
            accession: AccessionNumber::parse("ACC3").unwrap(),
            patient: PatientId::parse("P1").unwrap(),
            patient_name: None,
            patient_sex: None,
            procedure_code: "CTPA".into(),
            modality: "CT".into(),
            priority,
            ordering_department: "ED".into(),
            clinical_question: Some("dyspnoe".into()),
            ordered_at: t0(),
            status,
            expected_series: None,
        };
        let mut tx = store.begin().await.unwrap();
        assert_eq!(
            tx.insert_order(&order(OrderStatus::Placed, Priority::Routine), t0())
                .await
                .unwrap(),
            Ok(Inserted::Created)
        );
        assert_eq!(
            tx.insert_order(&order(OrderStatus::Placed, Priority::Routine), t0())
                .await
                .unwrap(),
            Ok(Inserted::Unchanged)
        );
        assert_eq!(
            tx.insert_order(&order(OrderStatus::Changed, Priority::Stat), t0())
                .await
                .unwrap(),
            Ok(Inserted::Changed)
        );
        assert_eq!(
            tx.insert_order(&order(OrderStatus::Cancelled, Priority::Stat), t0())
                .await
                .unwrap(),
            Ok(Inserted::Changed)
        );
        let refused = tx
            .insert_order(&order(OrderStatus::Changed, Priority::Routine), t0())
            .await
            .unwrap();
        assert!(
            matches!(refused, Err(OrderError::Cancelled(_))),
            "{backend}: {refused:?}"
        );
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn an_uncommitted_transaction_leaves_nothing_behind() {
    for (backend, url) in stores("rollback").await {
        let store = Store::connect(&url).await.unwrap();
        {
            let mut tx = store.begin().await.unwrap();
            tx.insert_study(&study("ACC4"), t0()).await.unwrap();
            tx.audit(&event(AuditKind::StudyIngested, "ACC4"))
                .await
                .unwrap();
            // dropped without commit
        }
        let mut tx = store.begin().await.unwrap();
        assert!(tx.study("ACC4").await.unwrap().is_none(), "{backend}");
        drop(tx);
        assert_eq!(
            store.verify_audit().await.unwrap().unwrap().events,
            0,
            "{backend}"
        );
    }
}

#[tokio::test]
async fn worklist_orders_by_priority_then_due_then_arrival() {
    for (backend, url) in stores("worklist").await {
        let store = Store::connect(&url).await.unwrap();
        // Routine (no AI), then a PE-positive that goes stat with a 15-minute SLA.
        let routine = ingest_and_route(&store, "ACC5", &[], t0()).await;
        let stat = ingest_and_route(
            &store,
            "ACC6",
            &[ai_result("r6", "ACC6", 0.95, 3)],
            t0() + Duration::minutes(5),
        )
        .await;
        let later_routine =
            ingest_and_route(&store, "ACC7", &[], t0() + Duration::minutes(6)).await;
        let task = radgate_domain::ids::TaskTypeId::parse("final_report").unwrap();
        let list = store.worklist(&[task], 50).await.unwrap();
        let ids: Vec<u64> = list.iter().map(|w| w.id).collect();
        assert_eq!(ids, [stat[0], routine[0], later_routine[0]], "{backend}");
        assert_eq!(list[0].priority, Priority::Stat);
    }
}

#[tokio::test]
async fn claims_follow_the_domain_rules_and_are_audited() {
    for (backend, url) in stores("claims").await {
        let store = Store::connect(&url).await.unwrap();
        let id = ingest_and_route(&store, "ACC8", &[], t0()).await[0];
        let a = ProfessionalId::parse("rad-a").unwrap();
        let b = ProfessionalId::parse("rad-b").unwrap();
        let item = store.claim(id, &a, t0()).await.unwrap();
        assert_eq!(
            (item.state, item.assignee.clone()),
            (WorkItemState::Claimed, Some(a.clone()))
        );
        let err = store.claim(id, &b, t0()).await.unwrap_err();
        assert!(
            matches!(
                err,
                ClaimError::Refused(WorkItemError::NotOpen(WorkItemState::Claimed))
            ),
            "{backend}: {err}"
        );
        assert!(matches!(
            store.complete(id, &b, t0()).await.unwrap_err(),
            ClaimError::Refused(WorkItemError::NotHolder { .. })
        ));
        store.complete(id, &a, t0()).await.unwrap();
        assert!(matches!(
            store.claim(9_999, &a, t0()).await.unwrap_err(),
            ClaimError::NotFound(9_999)
        ));
        let trail: Vec<String> = store
            .audit_trail(&format!("work_item/{id}"))
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.kind)
            .collect();
        assert_eq!(
            trail,
            ["claim", "complete"],
            "{backend}: refused actions leave no audit event"
        );
    }
}

/// Two radgate instances (two connection pools) race for the same items; every item must
/// go to exactly one claimer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_from_two_instances_never_double_assign() {
    for (backend, url) in stores("race").await {
        let first = Store::connect(&url).await.unwrap();
        let second = Store::connect(&url).await.unwrap();
        let mut ids = Vec::new();
        for i in 0..20 {
            ids.extend(ingest_and_route(&first, &format!("RACE{i}"), &[], t0()).await);
        }
        let mut tasks = Vec::new();
        for (n, store) in [first.clone(), second.clone(), first.clone(), second.clone()]
            .into_iter()
            .enumerate()
        {
            let ids = ids.clone();
            tasks.push(tokio::spawn(async move {
                let me = ProfessionalId::parse(format!("rad-{n}")).unwrap();
                let mut won = Vec::new();
                for id in ids {
                    match store.claim(id, &me, t0()).await {
                        Ok(_) => won.push(id),
                        Err(ClaimError::Refused(WorkItemError::NotOpen(_))) => {}
                        Err(e) => panic!("unexpected claim error: {e}"),
                    }
                }
                won
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(all, expected, "{backend}: each item claimed exactly once");
        let report = first
            .verify_audit()
            .await
            .unwrap()
            .expect("chain intact after concurrent writers");
        assert_eq!(report.events, 20 + ids.len() as u64, "{backend}");
    }
}

#[tokio::test]
async fn tampering_with_the_audit_log_is_found_and_named() {
    for (backend, url) in stores("tamper").await {
        let store = Store::connect(&url).await.unwrap();
        for i in 0..5 {
            let mut tx = store.begin().await.unwrap();
            tx.audit(&event(AuditKind::StudyIngested, &format!("ACC{i}")))
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let intact = store.verify_audit().await.unwrap().unwrap();
        assert_eq!(intact.events, 5);

        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        conn.execute("UPDATE audit_events SET subject = 'ACC999' WHERE seq = 3")
            .await
            .unwrap();
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err(ChainBreak::Altered { seq: 3 }),
            "{backend}"
        );
        conn.execute("UPDATE audit_events SET subject = 'ACC2' WHERE seq = 3")
            .await
            .unwrap();
        assert!(
            store.verify_audit().await.unwrap().is_ok(),
            "{backend}: restoring the row restores the chain"
        );

        conn.execute("DELETE FROM audit_events WHERE seq = 4")
            .await
            .unwrap();
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err(ChainBreak::Gap {
                previous: 3,
                found: 5
            }),
            "{backend}"
        );

        conn.execute("INSERT INTO audit_events (seq, at, actor, kind, subject, detail, prev_hash, hash) SELECT 4, at, actor, kind, 'forged', detail, prev_hash, hash FROM audit_events WHERE seq = 3").await.unwrap();
        assert_eq!(
            store.verify_audit().await.unwrap(),
            Err(ChainBreak::Link { seq: 4 }),
            "{backend}"
        );
    }
}

#[tokio::test]
async fn configuration_changes_are_recorded_and_audited_and_policy_versions_are_immutable() {
    use radgate_domain::Department;
    use radgate_store::ConfigurationError;
    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
    for (backend, url) in stores("configuration").await {
        let store = Store::connect(&url).await.unwrap();
        let dept = Department::parse(DEPARTMENT).unwrap();
        let policy = Policy::parse(POLICY).unwrap();
        let first = store
            .record_configuration(&dept, &policy, t0())
            .await
            .unwrap();
        assert_eq!(
            first.len(),
            dept.professionals.len() + dept.agreements.len() + dept.ai_applications.len() + 1,
            "{backend}"
        );
        assert!(
            store
                .record_configuration(&dept, &policy, t0())
                .await
                .unwrap()
                .is_empty(),
            "{backend}: nothing changed"
        );

        let changed = Department::parse(
            &DEPARTMENT.replace("npv_interval_width = 0.04", "npv_interval_width = 0.03"),
        )
        .unwrap();
        let second = store
            .record_configuration(&changed, &policy, t0())
            .await
            .unwrap();
        assert_eq!(second.len(), 1, "{backend}: {second:?}");
        assert_eq!(
            (second[0].table, second[0].id.as_str(), second[0].what),
            ("task_agreements", "ta-cxr-gatekeeping", "changed")
        );
        let trail = store
            .audit_trail("task_agreements/ta-cxr-gatekeeping")
            .await
            .unwrap();
        assert_eq!(
            trail.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["authorization_change", "authorization_change"]
        );

        let mut rewritten = policy.clone();
        rewritten.rules.pop();
        let err = store
            .record_configuration(&changed, &rewritten, t0())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConfigurationError::PolicyVersionReused(ref v) if v == "2026.11-1"),
            "{backend}: {err}"
        );
        rewritten.version = "2026.11-2".into();
        let third = store
            .record_configuration(&changed, &rewritten, t0())
            .await
            .unwrap();
        assert_eq!(
            third.iter().map(|c| (c.table, c.what)).collect::<Vec<_>>(),
            [("policies", "added")]
        );
        assert_eq!(
            store.audit_trail("policies/2026.11-2").await.unwrap()[0].kind,
            "policy_change"
        );
        assert!(store.verify_audit().await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn portfolio_imports_are_all_or_nothing_and_idempotent() {
    use radgate_domain::ids::TaskTypeId;
    use radgate_domain::portfolio::{
        Assessment, AssessmentStatus, AssessorBackground, Certificate, Entrustment,
    };
    use radgate_store::ImportError;
    let kkb = |id: &str, level: u8| Assessment {
        id: id.into(),
        assessee: ProfessionalId::parse("ap-smit").unwrap(),
        assessor: ProfessionalId::parse("rad-devries").unwrap(),
        assessor_background: AssessorBackground::Medical,
        task: TaskTypeId::parse("oncology_preliminary_report").unwrap(),
        placement: "oncology".into(),
        date: "2026-02-01".parse().unwrap(),
        scores: [Some(4); 6],
        entrustment: Entrustment::try_from(level).unwrap(),
        narrative: "ok".into(),
        status: AssessmentStatus::Confirmed,
    };
    for (backend, url) in stores("portfolio").await {
        let store = Store::connect(&url).await.unwrap();
        let me = ProfessionalId::parse("ap-smit").unwrap();
        let first = store
            .import_assessments(&[kkb("a1", 3), kkb("a2", 4)], "rad-devries", t0())
            .await
            .unwrap();
        assert_eq!((first.created, first.unchanged), (2, 0), "{backend}");
        let again = store
            .import_assessments(&[kkb("a1", 3), kkb("a2", 4)], "rad-devries", t0())
            .await
            .unwrap();
        assert_eq!((again.created, again.unchanged), (0, 2), "{backend}");
        let err = store
            .import_assessments(&[kkb("a3", 4), kkb("a1", 5)], "rad-devries", t0())
            .await
            .unwrap_err();
        assert!(
            matches!(err, ImportError::Conflict(ref ids) if ids == &["a1"]),
            "{backend}: {err}"
        );
        let p = store.portfolio(&me).await.unwrap();
        assert_eq!(
            p.assessments
                .iter()
                .map(|a| a.id.as_str())
                .collect::<Vec<_>>(),
            ["a1", "a2"],
            "{backend}: a3 not half-imported"
        );
        let c = Certificate {
            holder: me.clone(),
            kind: "ai_literacy".into(),
            valid_until: "2027-01-31".parse().unwrap(),
        };
        store
            .put_certificate(&c, "rad-devries", t0())
            .await
            .unwrap();
        store
            .put_certificate(&c, "rad-devries", t0())
            .await
            .unwrap();
        assert_eq!(
            store.portfolio(&me).await.unwrap().certificates,
            vec![c],
            "{backend}"
        );
        let trail = store.audit_trail("portfolio/ap-smit").await.unwrap();
        assert_eq!(trail.len(), 3, "{backend}: two imports and one certificate");
    }
}

/// AI calls meet the final report in the database: hand-counted TP/FP/FN/TN, the finding an
/// addendum added, the paired comparison with the initial human report, an AI result that
/// arrives after the report, a study without a report left out, and a stratum.
#[tokio::test]
async fn ai_monitoring_counts_calls_against_final_reports() {
    use radgate_domain::agreement::{AgreementKind, SupervisionMode};
    use radgate_domain::professional::Role;
    use radgate_domain::report::{Mandate, Report, ReportContent, Signer};
    use radgate_store::Stratum;

    let dept = radgate_domain::Department::parse(include_str!("../../../examples/department.toml"))
        .unwrap();
    let rad = Signer {
        id: ProfessionalId::parse("rad-devries").unwrap(),
        role: Role::Radiologist,
        mandate: None,
    };
    let ap = Signer {
        id: ProfessionalId::parse("ap-smit").unwrap(),
        role: Role::Ap,
        mandate: Some(Mandate {
            agreement_id: "ta-oncology-preliminary".into(),
            kind: AgreementKind::Delegation,
            supervision: SupervisionMode::AuthorizeEach,
        }),
    };
    let pe = || vec![FindingCode::parse("pulmonary_embolism").unwrap()];
    let content = |f: Vec<FindingCode>| ReportContent {
        text: "CTPA".into(),
        findings: f,
    };
    let at = t0() + Duration::hours(1);
    for (backend, url) in stores("ai_monitoring").await {
        let store = Store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        // (accession, AI score, site)
        let cases = [
            ("M1", 0.9, "main"),
            ("M2", 0.8, "main"),
            ("M3", 0.1, "annex"),
            ("M4", 0.2, "main"),
            ("M5", 0.95, "main"),
            ("M6", 0.7, "main"),
        ];
        for (acc, score, site) in cases {
            let s = Study {
                site: site.into(),
                ..study(acc)
            };
            tx.insert_study(&s, t0()).await.unwrap();
            let r = ai_result(&format!("r-{acc}"), acc, score, 5);
            tx.insert_ai_result(&r, t0()).await.unwrap();
            tx.record_ai_calls(&s, &r, &dept).await.unwrap();
        }
        // M1: radiologist reports PE (AI and human right). M2, M3: no PE.
        for (acc, findings) in [("M1", pe()), ("M2", vec![]), ("M3", vec![])] {
            let mut r = Report::draft(
                AccessionNumber::parse(acc).unwrap(),
                rad.clone(),
                content(findings),
                at,
            );
            r.authorize(&rad, at).unwrap();
            tx.save_report(&r).await.unwrap();
        }
        // M4: no PE at first, an addendum adds it: found later; AI and human both wrong.
        let mut r = Report::draft(
            AccessionNumber::parse("M4").unwrap(),
            rad.clone(),
            content(vec![]),
            at,
        );
        r.authorize(&rad, at).unwrap();
        tx.save_report(&r).await.unwrap();
        r.addendum(&rad, "PE on review", pe(), at).unwrap();
        tx.save_report(&r).await.unwrap();
        // M5: the AP's preliminary misses PE, is returned and corrected: AI right, the
        // initial human report wrong.
        let mut r = Report::draft(
            AccessionNumber::parse("M5").unwrap(),
            ap.clone(),
            content(vec![]),
            at,
        );
        r.submit_preliminary(&ap, at).unwrap();
        tx.save_report(&r).await.unwrap();
        r.return_for_correction(&rad, "segmental PE right lower lobe", at)
            .unwrap();
        tx.save_report(&r).await.unwrap();
        r.edit(&ap, content(pe()), at).unwrap();
        r.submit_preliminary(&ap, at).unwrap();
        r.authorize(&rad, at).unwrap();
        tx.save_report(&r).await.unwrap();
        // M7: reported first, the AI result (negative) arrives later.
        let s7 = study("M7");
        tx.insert_study(&s7, t0()).await.unwrap();
        let mut r = Report::draft(
            AccessionNumber::parse("M7").unwrap(),
            rad.clone(),
            content(pe()),
            at,
        );
        r.authorize(&rad, at).unwrap();
        tx.save_report(&r).await.unwrap();
        let late = ai_result("r-M7", "M7", 0.3, 90);
        tx.insert_ai_result(&late, t0()).await.unwrap();
        tx.record_ai_calls(&s7, &late, &dept).await.unwrap();
        tx.commit().await.unwrap();

        let (from, to) = (t0().date_naive(), t0().date_naive());
        let rows = store
            .monitor_counts("pe-detect", from, to, None)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "{backend}: {rows:?}");
        let c = rows[0].counts;
        assert_eq!(
            (rows[0].version.as_str(), rows[0].finding.as_str()),
            ("3.2.0", "pulmonary_embolism")
        );
        // TP: M1, M5. FP: M2. FN: M4, M7. TN: M3. M6 has no report.
        assert_eq!((c.tp, c.fp, c.fn_, c.tn), (2, 1, 2, 1), "{backend}: {c:?}");
        assert_eq!(c.found_later, 1, "{backend}: M4");
        // Paired on the six reported studies; AI alone right on M5; human alone on M2, M7.
        assert_eq!(
            (c.paired, c.ai_only_right, c.human_only_right),
            (6, 1, 2),
            "{backend}"
        );

        let by_site = store
            .monitor_counts("pe-detect", from, to, Some(Stratum::Site))
            .await
            .unwrap();
        let sites: Vec<(Option<&str>, u64)> = by_site
            .iter()
            .map(|r| {
                (
                    r.stratum.as_deref(),
                    r.counts.tn + r.counts.tp + r.counts.fp + r.counts.fn_,
                )
            })
            .collect();
        assert_eq!(sites, [(Some("annex"), 1), (Some("main"), 5)], "{backend}");
        assert!(
            store
                .monitor_counts(
                    "pe-detect",
                    to.succ_opt().unwrap(),
                    to.succ_opt().unwrap(),
                    None
                )
                .await
                .unwrap()
                .is_empty(),
            "{backend}: outside the window"
        );
    }
}

/// Alarms are raised once while active, cleared once, and the calls read back for drift
/// evaluation, on both backends.
#[tokio::test]
async fn ai_alarms_are_raised_once_and_cleared_once() {
    use radgate_store::Alarm;
    let dept = radgate_domain::Department::parse(include_str!("../../../examples/department.toml"))
        .unwrap();
    for (backend, url) in stores("ai_alarms").await {
        let store = Store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let s = study("AL1");
        tx.insert_study(&s, t0()).await.unwrap();
        let r = ai_result("r-AL1", "AL1", 0.7, 5);
        tx.insert_ai_result(&r, t0()).await.unwrap();
        tx.record_ai_calls(&s, &r, &dept).await.unwrap();
        let alarm = Alarm {
            id: "pe-detect:pulmonary_embolism:cusum:2026-03-02".into(),
            app: "pe-detect".into(),
            finding: "pulmonary_embolism".into(),
            kind: "cusum".into(),
            day: t0().date_naive(),
            detail: "crossed".into(),
            raised_at: t0(),
            cleared_at: None,
            cleared_by: None,
        };
        assert!(tx.raise_alarm(&alarm).await.unwrap(), "{backend}");
        let again = Alarm {
            id: "pe-detect:pulmonary_embolism:cusum:2026-03-03".into(),
            ..alarm.clone()
        };
        assert!(
            !tx.raise_alarm(&again).await.unwrap(),
            "{backend}: one active per kind"
        );
        assert_eq!(
            tx.active_alarm_kinds().await.unwrap(),
            [("pe-detect".to_string(), "cusum".to_string())]
        );
        tx.commit().await.unwrap();
        let points = store
            .call_points("pe-detect", "pulmonary_embolism")
            .await
            .unwrap();
        assert_eq!(points.len(), 1, "{backend}");
        assert!(points[0].positive && points[0].truth.is_none(), "{backend}");
        assert_eq!(points[0].score, Some(0.7));

        let later = t0() + Duration::days(3);
        let mut tx = store.begin().await.unwrap();
        let cleared = tx
            .clear_alarm(&alarm.id, "rad-bakker", later)
            .await
            .unwrap();
        assert_eq!(cleared.unwrap().cleared_by.as_deref(), Some("rad-bakker"));
        assert!(
            tx.clear_alarm(&alarm.id, "rad-bakker", later)
                .await
                .unwrap()
                .is_none()
        );
        tx.commit().await.unwrap();
        assert!(
            store.active_alarm_kinds().await.unwrap().is_empty(),
            "{backend}"
        );
        assert_eq!(
            store
                .last_cleared("pe-detect", "pulmonary_embolism", "cusum")
                .await
                .unwrap(),
            Some(later.date_naive())
        );
        assert_eq!(store.alarms("pe-detect", false).await.unwrap().len(), 1);
        assert!(store.alarms("pe-detect", true).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn register_status_changes_follow_the_domain_and_a_file_edit_counts_as_one() {
    use radgate_domain::Department;
    use radgate_domain::ai::{AiStatus, StatusChangeError};
    const DEPARTMENT: &str = include_str!("../../../examples/department.toml");
    for (backend, url) in stores("register_status").await {
        let store = Store::connect(&url).await.unwrap();
        let dept = Department::parse(DEPARTMENT).unwrap();
        let policy = Policy::parse(POLICY).unwrap();
        store
            .record_configuration(&dept, &policy, t0())
            .await
            .unwrap();
        let pe = dept.ai_application("pe-detect").unwrap();
        assert_eq!(pe.status, AiStatus::Production);
        let suspended = store
            .change_ai_status(pe, AiStatus::Suspended, " alarm ", "rad-bakker", t0())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (suspended.from, suspended.to, suspended.reason.as_str()),
            (AiStatus::Production, AiStatus::Suspended, "alarm")
        );
        assert_eq!(
            store
                .change_ai_status(pe, AiStatus::Suspended, "again", "rad-bakker", t0())
                .await
                .unwrap(),
            Err(StatusChangeError::Unchanged(AiStatus::Suspended)),
            "{backend}"
        );
        // The status in force survives a restart with the same file.
        store
            .record_configuration(&dept, &policy, t0())
            .await
            .unwrap();
        let latest = store.latest_status_changes().await.unwrap();
        assert_eq!(
            pe.in_force(&latest).status,
            AiStatus::Suspended,
            "{backend}"
        );
        // Editing the file's status is a change from the status in force.
        let pe_block = DEPARTMENT.find("id = \"pe-detect\"").unwrap();
        let status_at = pe_block
            + DEPARTMENT[pe_block..]
                .find("status = \"production\"")
                .unwrap();
        let retired = format!(
            "{}status = \"retired\"{}",
            &DEPARTMENT[..status_at],
            &DEPARTMENT[status_at + "status = \"production\"".len()..]
        );
        let retired = Department::parse(&retired).unwrap();
        store
            .record_configuration(&retired, &policy, t0())
            .await
            .unwrap();
        let history = store.status_history("pe-detect").await.unwrap();
        assert_eq!(
            history
                .iter()
                .map(|c| (c.from, c.to, c.by.as_str()))
                .collect::<Vec<_>>(),
            [
                (AiStatus::Production, AiStatus::Suspended, "rad-bakker"),
                (AiStatus::Suspended, AiStatus::Retired, "department file"),
            ],
            "{backend}"
        );
        assert_eq!(
            store
                .change_ai_status(pe, AiStatus::Production, "back", "rad-bakker", t0())
                .await
                .unwrap(),
            Err(StatusChangeError::Retired),
            "{backend}"
        );
        let trail = store
            .audit_trail("ai_applications/pe-detect")
            .await
            .unwrap();
        assert_eq!(
            trail.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
            ["register_change", "register_change", "register_change"],
            "{backend}: added, suspended, edited"
        );
        assert!(store.verify_audit().await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn sessions_end_when_idle_and_when_the_password_changes() {
    use radgate_domain::professional::Role;
    for (backend, url) in stores("sessions").await {
        let store = Store::connect(&url).await.unwrap();
        let user = radgate_store::User {
            username: "devries".into(),
            professional: ProfessionalId::parse("rad-devries").unwrap(),
            role: Role::Radiologist,
            password_hash: "$argon2id$placeholder".into(),
        };
        store.put_user(&user, t0()).await.unwrap();
        let idle = Duration::minutes(30);
        store
            .create_session("tok", "devries", t0(), t0() + Duration::hours(10))
            .await
            .unwrap();
        let at = |m: i64| t0() + Duration::minutes(m);
        // Used at 29 minutes, so still alive at 58; unused from 58 to 89, it has ended.
        assert!(
            store
                .session_user("tok", at(29), idle)
                .await
                .unwrap()
                .is_some(),
            "{backend}"
        );
        assert!(
            store
                .session_user("tok", at(58), idle)
                .await
                .unwrap()
                .is_some(),
            "{backend}"
        );
        assert!(
            store
                .session_user("tok", at(89), idle)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        // What the browser asks by itself does not count as use: a session only refreshed
        // in the background ends when idle.
        store
            .create_session("tok-bg", "devries", at(100), at(700))
            .await
            .unwrap();
        for m in [110, 120, 129] {
            assert!(
                store
                    .session_user_unused("tok-bg", at(m), idle)
                    .await
                    .unwrap()
                    .is_some(),
                "{backend}"
            );
        }
        assert!(
            store
                .session_user_unused("tok-bg", at(131), idle)
                .await
                .unwrap()
                .is_none(),
            "{backend}: background refreshes kept the session open"
        );
        // The absolute expiry holds however busy the session is.
        store
            .create_session("tok2", "devries", t0(), t0() + Duration::hours(1))
            .await
            .unwrap();
        for m in (0..60).step_by(20) {
            assert!(
                store
                    .session_user("tok2", at(m), idle)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert!(
            store
                .session_user("tok2", at(61), idle)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        // A new password ends every session; disabling does too, and refuses the account.
        store
            .create_session("tok3", "devries", at(100), at(700))
            .await
            .unwrap();
        store.put_user(&user, at(101)).await.unwrap();
        assert!(
            store
                .session_user("tok3", at(102), idle)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        store
            .create_session("tok4", "devries", at(103), at(700))
            .await
            .unwrap();
        assert!(store.disable_user("devries", at(104)).await.unwrap());
        assert!(
            store
                .session_user("tok4", at(105), idle)
                .await
                .unwrap()
                .is_none(),
            "{backend}"
        );
        assert!(
            store.user("devries").await.unwrap().is_none(),
            "{backend}: disabled"
        );
        assert!(!store.disable_user("nobody", at(104)).await.unwrap());
    }
}

/// Requests for one study's work item from two radgate instances at the same instant: one
/// creates it, every other is told it exists, none fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_work_item_requests_create_one() {
    for (backend, url) in stores("ups_race").await {
        let first = Store::connect(&url).await.unwrap();
        let second = Store::connect(&url).await.unwrap();
        for round in 0..10 {
            let mut tasks = Vec::new();
            for n in 0..4 {
                let store = if n % 2 == 0 { &first } else { &second }.clone();
                tasks.push(tokio::spawn(async move {
                    let mut tx = store.begin().await?;
                    let uid = format!("2.25.{round}{n}");
                    let acc = format!("RACE{round}");
                    let created = tx
                        .schedule_workitem(&uid, &acc, None, "pe-detect", t0(), t0())
                        .await?;
                    tx.commit().await?;
                    Ok::<_, radgate_store::StoreError>(created)
                }));
            }
            let mut created = 0;
            for t in tasks {
                let outcome = t.await.unwrap();
                assert!(outcome.is_ok(), "{backend}: {outcome:?}");
                created += usize::from(outcome.unwrap());
            }
            assert_eq!(created, 1, "{backend}: round {round}");
        }
        let all = radgate_store::UpsQuery {
            limit: 100,
            ..Default::default()
        };
        let items = first.workitems(&all).await.unwrap();
        assert_eq!(items.len(), 10, "{backend}");
    }
}

/// A watcher of one application's work items is never stuck behind another's events, and
/// two claims of one work item: the first wins, the second is refused (C302).
#[tokio::test]
async fn ups_events_pass_over_other_applications_and_a_work_item_is_claimed_once() {
    use radgate_domain::ups::{Granted, UpsRefusal, UpsState};
    use radgate_store::UpsOutcome;
    for (backend, url) in stores("ups_events").await {
        let store = Store::connect(&url).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for n in 0..5 {
            let app = if n < 4 { "ich-detect" } else { "pe-detect" };
            let uid = format!("2.25.{}", n + 1);
            let created = tx
                .schedule_workitem(&uid, &format!("UPS{n}"), None, app, t0(), t0())
                .await
                .unwrap();
            assert!(created, "{backend}");
        }
        assert!(
            !tx.schedule_workitem("2.25.99", "UPS4", None, "pe-detect", t0(), t0())
                .await
                .unwrap(),
            "a study keeps its work item: {backend}"
        );
        assert!(
            !tx.schedule_workitem("2.25.1", "UPS9", None, "pe-detect", t0(), t0())
                .await
                .unwrap(),
            "a taken UID is refused: {backend}"
        );
        tx.commit().await.unwrap();
        let pe = ["pe-detect".to_owned()];
        // A window of two events: both another application's, passed over.
        let (events, last) = store.ups_events_after(0, Some(&pe), 2).await.unwrap();
        assert!(events.is_empty(), "{backend}");
        assert_eq!(last, 2, "{backend}");
        let (events, last) = store.ups_events_after(last, Some(&pe), 10).await.unwrap();
        assert_eq!(events.len(), 1, "{backend}");
        assert_eq!((events[0].uid.as_str(), last), ("2.25.5", 5), "{backend}");

        let claim = |tx: &'static str| {
            let store = store.clone();
            async move {
                store
                    .change_workitem_state("2.25.5", UpsState::InProgress, Some(tx), t0())
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            claim("2.25.1000").await,
            UpsOutcome::Done(Granted::To(UpsState::InProgress)),
            "{backend}"
        );
        assert_eq!(
            claim("2.25.2000").await,
            UpsOutcome::Refused(UpsRefusal::AlreadyInProgress),
            "{backend}"
        );
        let w = store.workitem("2.25.5").await.unwrap().unwrap();
        assert_eq!(w.transaction_uid.as_deref(), Some("2.25.1000"), "{backend}");
    }
}

/// Old UPS events are pruned, all but the last: numbers go on growing after it, so a
/// watcher counting on them misses nothing.
#[tokio::test]
async fn ups_events_are_pruned_but_the_last_and_numbering_goes_on() {
    for (backend, url) in stores("ups_prune").await {
        let store = Store::connect(&url).await.unwrap();
        let schedule = |n: u32, at: chrono::DateTime<chrono::Utc>| {
            let store = store.clone();
            async move {
                let mut tx = store.begin().await.unwrap();
                let uid = format!("2.25.7{n}");
                tx.schedule_workitem(&uid, &format!("PRUNE{n}"), None, "pe-detect", at, at)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        };
        for n in 1..=3 {
            schedule(n, t0()).await;
        }
        let ids = |store: Store| async move {
            let (events, _) = store.ups_events_after(0, None, 10).await.unwrap();
            events.iter().map(|e| e.id).collect::<Vec<_>>()
        };
        let hour = chrono::Duration::hours(1);
        assert_eq!(
            store.prune_ups_events(t0() + hour).await.unwrap(),
            2,
            "{backend}"
        );
        assert_eq!(store.last_ups_event().await.unwrap(), 3, "{backend}");
        schedule(4, t0() + hour * 2).await;
        assert_eq!(ids(store.clone()).await, vec![3, 4], "{backend}");
        assert_eq!(
            store.prune_ups_events(t0() + hour).await.unwrap(),
            1,
            "{backend}"
        );
        assert_eq!(ids(store.clone()).await, vec![4], "{backend}");
    }
}
