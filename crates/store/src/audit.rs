//! The append-only, hash-chained audit log.
//!
//! Event `n` stores `hash_n = SHA-256(hash_{n-1} || "\n" || canonical(event_n))`, with
//! sequence numbers 1, 2, 3, ... and an all-zero hash before the first. Altering, deleting
//! or inserting a row breaks the chain at that row, which [`Store::verify_audit`] names.
//! (Rewriting the whole chain from some row on is only caught against a copy of an
//! earlier head hash kept elsewhere; `audit verify` prints the head for that purpose.)

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{Result, Store};

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One stored audit event, as the chain sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    pub kind: String,
    pub subject: String,
    /// The event's detail as stored JSON text; hashed as text, so it is never reformatted.
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The canonical form of an event: its fields in a fixed order, as compact JSON.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    kind: &'a str,
    subject: &'a str,
    detail: &'a str,
}

/// The hash that event `seq` with these contents must carry after `prev_hash`.
pub fn chain_hash(
    prev_hash: &str,
    seq: i64,
    at: i64,
    actor: &str,
    kind: &str,
    subject: &str,
    detail: &str,
) -> String {
    let canonical = serde_json::to_vec(&Canonical {
        seq,
        at,
        actor,
        kind,
        subject,
        detail,
    })
    .expect("plain strings and integers serialize");
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(&canonical);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl AuditRecord {
    fn expected_hash(&self) -> String {
        chain_hash(
            &self.prev_hash,
            self.seq,
            self.at,
            &self.actor,
            &self.kind,
            &self.subject,
            &self.detail,
        )
    }
}

/// Why the chain is broken at an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    #[error(
        "audit event {found} follows event {previous}: events in between were deleted or renumbered"
    )]
    Gap { previous: i64, found: i64 },
    #[error(
        "audit event {seq} does not continue the chain: its previous-hash is not the hash of the event before it (an event was inserted, deleted or altered)"
    )]
    Link { seq: i64 },
    #[error("audit event {seq} was altered: its contents do not match its hash")]
    Altered { seq: i64 },
}

impl ChainBreak {
    pub fn seq(&self) -> i64 {
        match self {
            ChainBreak::Gap { found, .. } => *found,
            ChainBreak::Link { seq } | ChainBreak::Altered { seq } => *seq,
        }
    }
}

/// An intact chain: how many events and the hash of the last one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub events: u64,
    pub head: String,
}

/// Follows the chain from where `state` left off; pure, so it is tested without a database.
pub(crate) fn verify_step(
    state: &mut ChainReport,
    last_seq: &mut i64,
    r: &AuditRecord,
) -> Result<(), ChainBreak> {
    if r.seq != *last_seq + 1 {
        return Err(ChainBreak::Gap {
            previous: *last_seq,
            found: r.seq,
        });
    }
    if r.prev_hash != state.head {
        return Err(ChainBreak::Link { seq: r.seq });
    }
    if r.hash != r.expected_hash() {
        return Err(ChainBreak::Altered { seq: r.seq });
    }
    *last_seq = r.seq;
    state.events += 1;
    state.head = r.hash.clone();
    Ok(())
}

const PAGE: i64 = 5_000;

impl Store {
    /// Walks the whole audit log in order and reports the first event that breaks the chain.
    pub async fn verify_audit(&self) -> Result<Result<ChainReport, ChainBreak>> {
        let mut report = ChainReport {
            events: 0,
            head: GENESIS.to_string(),
        };
        let mut last_seq = 0i64;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor, kind, subject, detail, prev_hash, hash FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(last_seq)
            .bind(PAGE)
            .fetch_all(self.pool())
            .await?;
            if rows.is_empty() {
                return Ok(Ok(report));
            }
            for row in &rows {
                let r = record(row)?;
                if let Err(e) = verify_step(&mut report, &mut last_seq, &r) {
                    return Ok(Err(e));
                }
            }
        }
    }

    /// The audit events about `subject`, oldest first.
    pub async fn audit_trail(&self, subject: &str) -> Result<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT seq, at, actor, kind, subject, detail, prev_hash, hash FROM audit_events WHERE subject = $1 ORDER BY seq",
        )
        .bind(subject)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(record).collect()
    }
}

/// What the audit viewer searches by; every part is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditSearch {
    /// Events about this subject: an accession number, or `kind/id` such as `ai/cxr-triage`.
    pub subject: Option<String>,
    pub actor: Option<String>,
    pub kind: Option<String>,
    /// Milliseconds since the Unix epoch, inclusive.
    pub from: Option<i64>,
    /// Milliseconds since the Unix epoch, exclusive.
    pub to: Option<i64>,
    /// Only events older than this sequence number (the next page).
    pub before: Option<i64>,
    pub limit: u32,
}

impl Store {
    /// Audit events matching `s`, newest first.
    pub async fn audit_search(&self, s: &AuditSearch) -> Result<Vec<AuditRecord>> {
        let mut sql = String::from(
            "SELECT seq, at, actor, kind, subject, detail, prev_hash, hash FROM audit_events WHERE 1 = 1",
        );
        let mut n = 0;
        let mut cond = |column: &str, op: &str| {
            n += 1;
            format!(" AND {column} {op} ${n}")
        };
        let text = [
            ("subject", &s.subject),
            ("actor", &s.actor),
            ("kind", &s.kind),
        ];
        for (column, value) in &text {
            if value.is_some() {
                sql += &cond(column, "=");
            }
        }
        let numbers = [
            ("at", ">=", s.from),
            ("at", "<", s.to),
            ("seq", "<", s.before),
        ];
        for (column, op, value) in &numbers {
            if value.is_some() {
                sql += &cond(column, op);
            }
        }
        n += 1;
        sql += &format!(" ORDER BY seq DESC LIMIT ${n}");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for (_, value) in text {
            if let Some(v) = value {
                q = q.bind(v.as_str());
            }
        }
        for (_, _, value) in numbers {
            if let Some(v) = value {
                q = q.bind(v);
            }
        }
        q.bind(i64::from(s.limit))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(record)
            .collect()
    }
}

pub(crate) fn record(row: &sqlx::any::AnyRow) -> Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.try_get("seq")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        subject: row.try_get("subject")?,
        detail: row.try_get("detail")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let (actor, kind, subject, detail) = (
                    "system",
                    "study_ingested",
                    format!("ACC{seq}"),
                    "{}".to_string(),
                );
                let hash = chain_hash(&prev, seq, 1000 + seq, actor, kind, &subject, &detail);
                let r = AuditRecord {
                    seq,
                    at: 1000 + seq,
                    actor: actor.into(),
                    kind: kind.into(),
                    subject,
                    detail,
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> Result<ChainReport, ChainBreak> {
        let mut report = ChainReport {
            events: 0,
            head: GENESIS.to_string(),
        };
        let mut last = 0;
        for r in records {
            verify_step(&mut report, &mut last, r)?;
        }
        Ok(report)
    }

    #[test]
    fn an_intact_chain_verifies_and_reports_its_head() {
        let c = chain(5);
        let report = verify(&c).unwrap();
        assert_eq!(report.events, 5);
        assert_eq!(report.head, c[4].hash);
    }

    #[test]
    fn sha256_matches_a_known_vector() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1, through the same hashing code path.
        let mut h = Sha256::new();
        h.update(b"abc");
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn altered_deleted_and_inserted_events_are_named() {
        let mut c = chain(5);
        c[2].subject = "ACC999".into();
        assert_eq!(verify(&c), Err(ChainBreak::Altered { seq: 3 }));

        let mut c = chain(5);
        c.remove(2);
        assert_eq!(
            verify(&c),
            Err(ChainBreak::Gap {
                previous: 2,
                found: 4
            })
        );

        // An inserted event renumbered into place, with a self-consistent hash.
        let mut c = chain(5);
        let mut forged = c[2].clone();
        forged.subject = "forged".into();
        forged.hash = forged.expected_hash();
        c[2] = forged;
        assert_eq!(verify(&c), Err(ChainBreak::Link { seq: 4 }));
    }
}
