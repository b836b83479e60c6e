//! The durable outbox: messages owed to other systems, written in the same transaction as
//! what made them due (an authorized report), handed to the sender in order, and marked
//! sent only when the receiver acknowledged them. Delivery is at least once: a message
//! whose sender died mid-send goes again after its lease, under the same control ID.

use chrono::{DateTime, Duration, Utc};
use sqlx::Row;

use crate::{Result, Store, Tx, from_millis, millis};

/// A message waiting to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: i64,
    pub destination: String,
    pub accession: String,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: DateTime<Utc>,
}

/// How many messages wait, and since when the oldest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub pending: u64,
    pub oldest: Option<DateTime<Utc>>,
}

impl Tx {
    /// Owes `payload` to `destination`, due at once.
    pub async fn enqueue(
        &mut self,
        destination: &str,
        accession: &str,
        kind: &str,
        payload: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.lock("outbox").await?;
        sqlx::query(
            "INSERT INTO outbox (id, destination, accession, kind, payload, created_at, next_at) \
             SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $5 FROM outbox",
        )
        .bind(destination)
        .bind(accession)
        .bind(kind)
        .bind(payload)
        .bind(millis(now))
        .execute(self.conn())
        .await?;
        Ok(())
    }
}

impl Store {
    /// The oldest unsent message for `destination` if it is due, leased for `lease` so
    /// that another instance does not send it meanwhile. Messages go one at a time and in
    /// order: a report's correction never overtakes the report.
    pub async fn next_due(
        &self,
        destination: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<OutboxMessage>> {
        // A plain read first: an idle sender polls without taking the write lock.
        let due: Option<i64> = sqlx::query(
            "SELECT MIN(next_at) AS due FROM outbox WHERE destination = $1 AND sent_at IS NULL",
        )
        .bind(destination)
        .fetch_one(self.pool())
        .await?
        .try_get("due")?;
        if due.is_none_or(|d| d > millis(now)) {
            return Ok(None);
        }
        let mut tx = self.begin().await?;
        tx.lock("outbox").await?;
        let sql = format!(
            "SELECT id, destination, accession, kind, payload, attempts, created_at, next_at FROM outbox \
             WHERE destination = $1 AND sent_at IS NULL ORDER BY id LIMIT 1{}",
            tx.for_update()
        );
        let Some(r) = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(destination)
            .fetch_optional(tx.conn())
            .await?
        else {
            return Ok(None);
        };
        if r.try_get::<i64, _>("next_at")? > millis(now) {
            return Ok(None);
        }
        let m = OutboxMessage {
            id: r.try_get("id")?,
            destination: r.try_get("destination")?,
            accession: r.try_get("accession")?,
            kind: r.try_get("kind")?,
            payload: r.try_get("payload")?,
            attempts: r.try_get("attempts")?,
            created_at: from_millis(r.try_get("created_at")?),
        };
        sqlx::query("UPDATE outbox SET next_at = $1 WHERE id = $2")
            .bind(millis(now + lease))
            .bind(m.id)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(Some(m))
    }

    pub async fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE outbox SET sent_at = $1, attempts = attempts + 1, last_error = NULL WHERE id = $2")
            .bind(millis(now))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records a failed attempt and when to try again.
    pub async fn mark_failed(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE outbox SET attempts = attempts + 1, last_error = $1, next_at = $2 WHERE id = $3")
            .bind(error)
            .bind(millis(retry_at))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn backlog(&self) -> Result<Backlog> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE sent_at IS NULL",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(Backlog {
            pending: r.try_get::<i64, _>("n")? as u64,
            oldest: r.try_get::<Option<i64>, _>("oldest")?.map(from_millis),
        })
    }
}
