//! Placement rounds: the trainees' rankings and each matched round's result, which the
//! next rounds read as the trainees' earlier placements.

use chrono::{DateTime, Utc};
use radgate_domain::audit::{AuditEvent, AuditKind};
use radgate_domain::ids::ProfessionalId;
use radgate_domain::placement::{PastPlacement, Placed, RoundRanking};
use sqlx::Row;

use crate::{Result, Store, StoreError, millis};

fn trainee(row: &sqlx::any::AnyRow) -> Result<ProfessionalId> {
    let t: String = row.try_get("trainee")?;
    ProfessionalId::parse(t.clone()).map_err(|e| StoreError::Corrupt {
        what: "placement trainee",
        key: t,
        reason: e.to_string(),
    })
}

impl Store {
    /// Stores (or replaces) a trainee's ranking for a round, with its audit event.
    pub async fn put_ranking(
        &self,
        programme: &str,
        round: &str,
        r: &RoundRanking,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let ranked = serde_json::to_string(&r.ranked).expect("a list of strings serializes");
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO placement_rankings (programme, round, trainee, ranked, at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (programme, round, trainee) DO UPDATE SET ranked = excluded.ranked, at = excluded.at",
        )
        .bind(programme)
        .bind(round)
        .bind(r.trainee.as_str())
        .bind(&ranked)
        .bind(millis(now))
        .execute(tx.conn())
        .await?;
        tx.audit(&AuditEvent {
            at: now,
            actor: r.trainee.to_string(),
            kind: AuditKind::AuthorizationChange,
            subject: format!("placements/{programme}/{round}"),
            detail: serde_json::json!({ "ranked": r.ranked }),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The rankings of a round, by trainee.
    pub async fn rankings(&self, programme: &str, round: &str) -> Result<Vec<RoundRanking>> {
        let rows = sqlx::query(
            "SELECT trainee, ranked FROM placement_rankings WHERE programme = $1 AND round = $2 ORDER BY trainee",
        )
        .bind(programme)
        .bind(round)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let who = trainee(row)?;
                let ranked: String = row.try_get("ranked")?;
                let ranked = serde_json::from_str(&ranked).map_err(|e| StoreError::Corrupt {
                    what: "placement ranking",
                    key: who.to_string(),
                    reason: e.to_string(),
                })?;
                Ok(RoundRanking {
                    trainee: who,
                    ranked,
                })
            })
            .collect()
    }

    /// The placements matched in the programme's rounds before `round`.
    pub async fn placements_before(
        &self,
        programme: &str,
        round: &str,
    ) -> Result<Vec<PastPlacement>> {
        let rows = sqlx::query(
            "SELECT trainee, placement FROM placement_matches WHERE programme = $1 AND round < $2 ORDER BY round, trainee",
        )
        .bind(programme)
        .bind(round)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PastPlacement {
                    trainee: trainee(row)?,
                    placement: row.try_get("placement")?,
                })
            })
            .collect()
    }

    /// Records a round's result, replacing an earlier run of the same round, with its
    /// audit event under `by`.
    pub async fn record_round(
        &self,
        programme: &str,
        round: &str,
        placed: &[Placed],
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM placement_matches WHERE programme = $1 AND round = $2")
            .bind(programme)
            .bind(round)
            .execute(tx.conn())
            .await?;
        for p in placed {
            sqlx::query(
                "INSERT INTO placement_matches (programme, round, trainee, placement, at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(programme)
            .bind(round)
            .bind(p.trainee.as_str())
            .bind(&p.placement)
            .bind(millis(now))
            .execute(tx.conn())
            .await?;
        }
        tx.audit(&AuditEvent {
            at: now,
            actor: by.to_string(),
            kind: AuditKind::AuthorizationChange,
            subject: format!("placements/{programme}/{round}"),
            detail: serde_json::json!({ "matched": placed.iter().map(|p| (p.trainee.as_str(), p.placement.as_str())).collect::<Vec<_>>() }),
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
