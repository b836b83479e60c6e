//! Counters for `/metrics` in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub ingest_created: [AtomicU64; 4],
    pub ingest_unchanged: [AtomicU64; 4],
    pub ingest_rejected: [AtomicU64; 4],
    pub reroutes: AtomicU64,
    pub claims: AtomicU64,
    pub logins_failed: AtomicU64,
    /// DICOM instances acknowledged.
    pub dicom_stored: AtomicU64,
    /// DICOM instances acknowledged (journaled) whose files or index rows are not yet
    /// written; set by the receiver's materializer.
    pub dicom_unfiled: AtomicU64,
}

/// What was ingested, as an index into the counters.
#[derive(Clone, Copy)]
pub enum Kind {
    Order = 0,
    Study = 1,
    AiResult = 2,
    Report = 3,
}

const KINDS: [&str; 4] = ["order", "study", "ai_result", "report"];

impl Metrics {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(
        &self,
        open_items: i64,
        outbox: radgate_store::Backlog,
        unreconciled: i64,
    ) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP radgate_ingest_total Messages ingested, by kind and outcome."
        );
        let _ = writeln!(s, "# TYPE radgate_ingest_total counter");
        for (i, kind) in KINDS.iter().enumerate() {
            for (outcome, c) in [
                ("created", &self.ingest_created[i]),
                ("unchanged", &self.ingest_unchanged[i]),
                ("rejected", &self.ingest_rejected[i]),
            ] {
                let _ = writeln!(
                    s,
                    "radgate_ingest_total{{kind=\"{kind}\",outcome=\"{outcome}\"}} {}",
                    c.load(Ordering::Relaxed)
                );
            }
        }
        for (name, help, c) in [
            (
                "radgate_reroutes_total",
                "Studies routed again because a later AI result changed the decision.",
                &self.reroutes,
            ),
            ("radgate_claims_total", "Work items claimed.", &self.claims),
            (
                "radgate_logins_failed_total",
                "Failed login attempts.",
                &self.logins_failed,
            ),
            (
                "radgate_dicom_instances_stored_total",
                "DICOM instances received and acknowledged.",
                &self.dicom_stored,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP radgate_open_work_items Work items waiting to be claimed.\n# TYPE radgate_open_work_items gauge\nradgate_open_work_items {open_items}"
        );
        let _ = writeln!(
            s,
            "# HELP radgate_dicom_unfiled DICOM instances acknowledged (in the receiver's journal) not yet written to their files and indexed.\n# TYPE radgate_dicom_unfiled gauge\nradgate_dicom_unfiled {}",
            self.dicom_unfiled.load(Ordering::Relaxed)
        );
        let oldest = outbox
            .oldest
            .map_or(0, |t| (chrono::Utc::now() - t).num_seconds().max(0));
        let _ = writeln!(
            s,
            "# HELP radgate_outbox_pending Messages owed to other systems (ORU to the RIS), not yet acknowledged.\n# TYPE radgate_outbox_pending gauge\nradgate_outbox_pending {}\n# HELP radgate_outbox_oldest_seconds Age of the oldest message not yet acknowledged.\n# TYPE radgate_outbox_oldest_seconds gauge\nradgate_outbox_oldest_seconds {oldest}",
            outbox.pending
        );
        let _ = writeln!(
            s,
            "# HELP radgate_reconciliation_open Received studies that could not be routed as they came (GET /api/v1/reconciliation).\n# TYPE radgate_reconciliation_open gauge\nradgate_reconciliation_open {unreconciled}"
        );
        s
    }
}
