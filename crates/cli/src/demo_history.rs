//! The demo's past: months of simulated studies, their AI results, routing decisions and
//! the work done on them (gatekeepers' clearances with sampled reviews, delegates'
//! preliminary reports authorized and graded by radiologists, radiologists' own reports),
//! so that every screen has content the moment the demo starts. One application drifts in
//! the last weeks, so the RAIO sees an alarm. Synthetic data only.
//!
//! The rules are the domain's: the policy decides each study at the time it happened, the
//! report and work item state machines move every step, the register reads every result.
//! What this skips is the HTTP layer and its per-step transactions, so a season of work
//! is written in seconds.

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use radgate_domain::ai::AiResult;
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ending::{self, ItemKind, Work};
use radgate_domain::external_report::{ExternalReport, Status};
use radgate_domain::ids::{FindingCode, ProfessionalId, TaskTypeId};
use radgate_domain::pilot::{Expectation, Pilot};
use radgate_domain::professional::Role;
use radgate_domain::quality::Discrepancy;
use radgate_domain::report::{Report, ReportContent, Signer, authorization_task};
use radgate_domain::{Department, Policy, authz};
use radgate_sim::{Feed, SimConfig};
use radgate_store::{NewWorkItem, Origin, SafetyReview, Store, Tx};

/// The application whose results drift in the demo's last weeks.
pub const DRIFTING_APP: &str = "fracture-detect";
/// How many days before today the drift starts.
const DRIFT_DAYS: i64 = 21;
/// The share of cleared exams a radiologist reviews in the demo's past.
const REVIEWED: u64 = 10;

/// What the seeding wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct History {
    pub studies: u64,
    pub reports: u64,
    pub cleared: u64,
    pub reviews: u64,
    /// Cleared exams whose standard report came from the RIS as text.
    pub ris_reports: u64,
}

/// Who does each task in the demo's past: the first professional who may perform it,
/// delegates before radiologists (so delegation shows), radiologists taking turns.
struct Staff<'a> {
    dept: &'a Department,
    /// The built-in labeller, for the RIS's reports.
    vocabulary: radgate_domain::labeller::Vocabulary,
    radiologists: Vec<&'a ProfessionalId>,
    gatekeeper: Option<&'a ProfessionalId>,
}

impl<'a> Staff<'a> {
    fn new(dept: &'a Department) -> Result<Staff<'a>> {
        Ok(Staff {
            dept,
            vocabulary: crate::labeller_cmd::vocabulary(None)?,
            radiologists: dept
                .professionals
                .iter()
                .filter(|p| p.role == Role::Radiologist)
                .map(|p| &p.id)
                .collect(),
            gatekeeper: dept
                .professionals
                .iter()
                .find(|p| p.role == Role::MbbAi)
                .map(|p| &p.id),
        })
    }

    fn radiologist(&self, n: u64) -> Signer {
        Signer {
            id: self.radiologists[n as usize % self.radiologists.len()].clone(),
            role: Role::Radiologist,
            mandate: None,
        }
    }

    /// A delegate with a mandate for `task` on `day`, else a radiologist.
    fn performer(&self, task: &TaskTypeId, day: NaiveDate, n: u64) -> Signer {
        self.dept
            .professionals
            .iter()
            .filter(|p| p.role != Role::Radiologist)
            .find_map(|p| {
                authz::mandate(p.role, task.as_str(), self.dept, day)
                    .ok()
                    .flatten()
                    .map(|m| Signer {
                        id: p.id.clone(),
                        role: p.role,
                        mandate: Some(m),
                    })
            })
            .unwrap_or_else(|| self.radiologist(n))
    }
}

/// A drifting application's results in the last weeks: most positives fall below the
/// normal threshold (the sensitivity falls) and the negatives' scores move up (the
/// distribution shifts).
fn drift(result: &mut AiResult, truth: bool) {
    for f in &mut result.findings {
        if let Some(s) = f.score.as_mut() {
            *s = if truth { *s * 0.1 } else { (*s + 0.3).min(1.0) };
        }
        f.critical = false;
        f.normal = false;
    }
}

/// A deterministic draw in [0, 100) per study, for the demo's shares.
fn share(n: u64, salt: u64) -> u64 {
    (n.wrapping_mul(2_654_435_761)
        .wrapping_add(salt.wrapping_mul(40_503)))
        % 100
}

fn grade(n: u64) -> Discrepancy {
    match share(n, 7) {
        0..=1 => Discrepancy::Major,
        2..=9 => Discrepancy::Minor,
        _ => Discrepancy::None,
    }
}

/// Seeds `days` days before today with `per_day` studies a day.
pub async fn seed(
    store: &Store,
    dept: &Department,
    policy: &Policy,
    cfg: SimConfig,
    days: u32,
    per_day: u32,
    seed: u64,
) -> Result<History> {
    let staff = Staff::new(dept)?;
    if staff.radiologists.is_empty() {
        return Err(anyhow!("the demo department has no radiologist"));
    }
    let mut feed = Feed::new(dept.clone(), cfg, seed, "H");
    let today = Utc::now().date_naive();
    let mut h = History::default();
    for back in (1..=i64::from(days)).rev() {
        let day = today - Duration::days(back);
        let start = day
            .and_hms_opt(7, 0, 0)
            .context("a valid morning")?
            .and_utc();
        let mut tx = store.begin().await?;
        for i in 0..per_day {
            let at =
                start + Duration::seconds(i64::from(i) * 11 * 3600 / i64::from(per_day.max(1)));
            let exam = feed.next_exam(at);
            h.studies += 1;
            study_day(
                &mut tx,
                dept,
                policy,
                &staff,
                exam,
                at,
                back <= DRIFT_DAYS,
                &mut h,
            )
            .await?;
        }
        tx.commit().await?;
    }
    Ok(h)
}

#[allow(clippy::too_many_arguments)]
async fn study_day(
    tx: &mut Tx,
    dept: &Department,
    policy: &Policy,
    staff: &Staff<'_>,
    exam: radgate_sim::DrawnExam,
    at: DateTime<Utc>,
    drifting: bool,
    h: &mut History,
) -> Result<()> {
    let n = h.studies;
    let study = exam.study;
    let acc = study.accession.clone();
    tx.insert_study(&study, at).await?;
    let mut read = Vec::new();
    let mut decided_at = at;
    for ai in exam.ai.into_iter().filter(|a| !a.failed) {
        let mut result = ai.result;
        result.received_at = at + Duration::milliseconds(ai.latency_ms);
        if drifting && result.app.as_str() == DRIFTING_APP {
            drift(&mut result, exam.truth);
        }
        tx.insert_ai_result(&result, result.received_at).await?;
        tx.record_ai_calls(&study, &result, dept).await?;
        if let Ok(r) = dept.read_ai_result(&result) {
            decided_at = decided_at.max(r.received_at);
            read.push(r);
        }
    }
    let decision = policy.decide(&study, &read, decided_at);
    let decision_id = tx
        .insert_decision(acc.as_str(), &decision, decided_at)
        .await?;
    tx.audit(&AuditEvent {
        at: decided_at,
        actor: "demo-history".into(),
        kind: AuditKind::Decision,
        subject: acc.to_string(),
        detail: serde_json::json!({ "rule": decision.rule.as_ref().map(|r| r.as_str()), "pathway": decision.pathway.code(), "seeded": true }),
    })
    .await?;
    // The truth a radiologist writes: the findings the applications look for, when the
    // exam holds one.
    let findings: Vec<FindingCode> = if exam.truth {
        let mut f: Vec<FindingCode> = read
            .iter()
            .flat_map(|r| r.findings.iter().map(|x| x.code.clone()))
            .collect();
        f.dedup();
        f
    } else {
        Vec::new()
    };
    let done_at = decided_at + Duration::minutes(20 + (share(n, 3) as i64));
    for new in NewWorkItem::for_decision(&acc, decision_id, &decision, decided_at) {
        let mut item = tx.insert_work_item(&new).await?;
        match ending::kind_of(&item) {
            ItemKind::Gatekeeping => {
                let Some(g) = staff.gatekeeper else { continue };
                item.claim(g).map_err(|e| anyhow!("{e}"))?;
                item.complete(g).map_err(|e| anyhow!("{e}"))?;
                tx.save_work_item(&item).await?;
                h.cleared += 1;
                if share(n, 11) < REVIEWED {
                    let reviewer = staff.radiologist(n);
                    tx.record_review(&SafetyReview {
                        accession: acc.as_str(),
                        task: &item.task,
                        pathway: item.pathway,
                        cleared_by: g.as_str(),
                        reviewer: reviewer.id.as_str(),
                        missed: exam.truth,
                        note: if exam.truth {
                            "seeded: finding missed"
                        } else {
                            ""
                        },
                        at: done_at + Duration::days(2),
                    })
                    .await?;
                    h.reviews += 1;
                }
                ris_report(tx, staff, &acc, &read, exam.truth, n, done_at).await?;
                h.ris_reports += 1;
            }
            ItemKind::Review => {}
            ItemKind::Reporting => {
                let by = staff.performer(&item.task, at.date_naive(), n);
                item.claim(&by.id).map_err(|e| anyhow!("{e}"))?;
                let text = if findings.is_empty() {
                    "Synthetic demo report: no acute abnormality.".to_string()
                } else {
                    format!(
                        "Synthetic demo report: {}.",
                        findings
                            .iter()
                            .map(|f| f.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let content = ReportContent {
                    text,
                    findings: findings.clone(),
                };
                let mut report = Report::draft(acc.clone(), by.clone(), content, done_at);
                let work = ending::work_of(&item, by.role, by.mandate.as_ref());
                if work == Work::Preliminary {
                    report
                        .submit_preliminary(&by, done_at)
                        .map_err(|e| anyhow!("{e}"))?;
                    item.complete(&by.id).map_err(|e| anyhow!("{e}"))?;
                    tx.save_work_item(&item).await?;
                    let rad = staff.radiologist(n);
                    let mut auth = tx
                        .insert_work_item(&NewWorkItem {
                            task: authorization_task(),
                            created_at: done_at,
                            ..new.clone()
                        })
                        .await?;
                    auth.claim(&rad.id).map_err(|e| anyhow!("{e}"))?;
                    let signed = done_at + Duration::hours(2);
                    report.authorize(&rad, signed).map_err(|e| anyhow!("{e}"))?;
                    auth.complete(&rad.id).map_err(|e| anyhow!("{e}"))?;
                    tx.save_work_item(&auth).await?;
                    tx.record_discrepancy(
                        acc.as_str(),
                        &by.id,
                        &item.task,
                        grade(n),
                        &rad.id,
                        signed,
                    )
                    .await?;
                } else {
                    report.authorize(&by, done_at).map_err(|e| anyhow!("{e}"))?;
                    item.complete(&by.id).map_err(|e| anyhow!("{e}"))?;
                    tx.save_work_item(&item).await?;
                }
                tx.save_report(&report).await?;
                h.reports += 1;
                break;
            }
        }
    }
    Ok(())
}

/// A cleared exam's final report as the RIS sends it: Dutch free text naming the findings
/// the applications looked for (present when the exam holds one, else excluded; every
/// thirteenth hedged), labelled by the built-in labeller as a live one would be.
async fn ris_report(
    tx: &mut Tx,
    staff: &Staff<'_>,
    acc: &radgate_domain::ids::AccessionNumber,
    read: &[AiResult],
    truth: bool,
    n: u64,
    at: DateTime<Utc>,
) -> Result<()> {
    let vocabulary = &staff.vocabulary;
    let mut lines = vec!["Conclusie:".to_string()];
    for f in read.iter().flat_map(|r| &r.findings) {
        let Some(term) = vocabulary
            .findings
            .iter()
            .find(|t| t.code == f.code.as_str())
            .and_then(|t| t.nl.first())
        else {
            continue;
        };
        let mut capital = term.chars();
        let capitalised = capital
            .next()
            .map(|c| c.to_uppercase().chain(capital).collect::<String>())
            .unwrap_or_default();
        lines.push(if share(n, 13) == 0 {
            format!("{capitalised} is niet uit te sluiten.")
        } else if truth {
            format!("{capitalised} rechts.")
        } else {
            format!("Geen aanwijzingen voor {term}.")
        });
    }
    let report = ExternalReport::new(
        acc.clone(),
        Status::Final,
        lines.join("\n"),
        Some(staff.radiologist(n).id.to_string()),
        Some(at),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let Some(seq) = tx
        .insert_external_report(&report, "demo-history", at)
        .await?
    else {
        return Ok(());
    };
    let labels = radgate_domain::labeller::label(vocabulary, &report.text);
    tx.save_labels(acc.as_str(), Origin::Ris, seq, &labels, at)
        .await?;
    tx.refresh_truth(acc.as_str(), at).await?;
    Ok(())
}

/// A pilot of the drifting application, declared before its month began and still
/// undecided: the RAIO's decision to make.
pub async fn declare_pilot(store: &Store, dept: &Department, raio: &ProfessionalId) -> Result<()> {
    let today = Utc::now().date_naive();
    let start = today - Duration::days(35);
    let end = today - Duration::days(1);
    let Some(app) = dept.ai_application(DRIFTING_APP) else {
        return Ok(());
    };
    let finding = app
        .findings
        .first()
        .map(|f| f.code.clone())
        .context("the drifting application has a finding")?;
    let pilot = Pilot {
        id: "demo-fracture-pilot".into(),
        app: app.id.clone(),
        start,
        end,
        baseline_start: start - Duration::days(35),
        baseline_end: start - Duration::days(1),
        expected: vec![Expectation::SensitivityAtLeast {
            finding,
            value: 0.85,
        }],
        declared_by: raio.to_string(),
        declared_at: (start - Duration::days(7))
            .and_hms_opt(9, 0, 0)
            .context("a valid time")?
            .and_utc(),
    };
    store.declare_pilot(&pilot).await?;
    Ok(())
}
