//! Reading single records and a patient's records, for the FHIR facade: studies, AI
//! results, orders and the accession numbers of a patient's studies.

use radgate_domain::Study;
use radgate_domain::ai::AiResult;
use radgate_domain::study::Order;
use sqlx::{AssertSqlSafe, Row};

use crate::tx::parse;
use crate::{Result, Store};

impl Store {
    pub async fn study(&self, accession: &str) -> Result<Option<Study>> {
        let row = sqlx::query("SELECT body FROM studies WHERE accession = $1")
            .bind(accession)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("study", accession, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    pub async fn ai_result(&self, id: &str) -> Result<Option<AiResult>> {
        let row = sqlx::query("SELECT body FROM ai_results WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("AI result", id, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// The AI results of a study, in arrival order.
    pub async fn ai_results_of(&self, accession: &str) -> Result<Vec<AiResult>> {
        let rows = sqlx::query(
            "SELECT id, body FROM ai_results WHERE accession = $1 ORDER BY received_at, id",
        )
        .bind(accession)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                parse("AI result", &id, &r.try_get::<String, _>("body")?)
            })
            .collect()
    }

    /// The AI results of several studies at once (a worklist page), in arrival order.
    pub async fn ai_results_of_many(&self, accessions: &[&str]) -> Result<Vec<AiResult>> {
        if accessions.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (1..=accessions.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT id, body FROM ai_results WHERE accession IN ({}) ORDER BY received_at, id",
            marks.join(", ")
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for a in accessions {
            q = q.bind(*a);
        }
        q.fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                parse("AI result", &id, &r.try_get::<String, _>("body")?)
            })
            .collect()
    }

    /// Every routing decision of a study, oldest first, with when it was made.
    pub async fn decisions_of(
        &self,
        accession: &str,
    ) -> Result<Vec<(chrono::DateTime<chrono::Utc>, radgate_domain::Decision)>> {
        let rows =
            sqlx::query("SELECT body, decided_at FROM decisions WHERE accession = $1 ORDER BY id")
                .bind(accession)
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    crate::from_millis(r.try_get("decided_at")?),
                    parse("decision", accession, &r.try_get::<String, _>("body")?)?,
                ))
            })
            .collect()
    }

    /// Routing decision `id` of study `accession`, if it is one of that study's.
    pub async fn decision(
        &self,
        accession: &str,
        id: i64,
    ) -> Result<Option<radgate_domain::Decision>> {
        let row = sqlx::query("SELECT body FROM decisions WHERE id = $1 AND accession = $2")
            .bind(id)
            .bind(accession)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| parse("decision", accession, &r.try_get::<String, _>("body")?))
            .transpose()
    }

    /// The orders placed for `patient`, newest first.
    pub async fn orders_of_patient(&self, patient: &str) -> Result<Vec<Order>> {
        self.of_patient("orders", "order", "received_at", patient)
            .await
    }

    /// The studies of `patient`, newest acquisition first.
    pub async fn studies_of_patient(&self, patient: &str) -> Result<Vec<Study>> {
        self.of_patient("studies", "study", "acquired_at", patient)
            .await
    }

    /// The records of `table` whose JSON body names `patient`, newest `by` first.
    async fn of_patient<T: serde::de::DeserializeOwned>(
        &self,
        table: &'static str,
        what: &'static str,
        by: &'static str,
        patient: &str,
    ) -> Result<Vec<T>> {
        // Table and column names are the callers' constants, never input.
        let sql = format!(
            "SELECT accession, body FROM {table} WHERE {} = $1 ORDER BY {by} DESC, accession",
            self.dialect().json_text("body", "patient")
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(patient)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| {
                let acc: String = r.try_get("accession")?;
                parse(what, &acc, &r.try_get::<String, _>("body")?)
            })
            .collect()
    }
}
