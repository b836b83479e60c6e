//! AI performance over HTTP: the same figures as `radgate monitor`, for radiologists (the
//! RAIO is one).

use axum::extract::{Path, State};
use chrono::{NaiveDate, Utc};
use radgate_domain::monitoring::{MetricsRow, TurnaroundRow, turnaround_rows};
use radgate_domain::truth::Source;
use radgate_store::Stratum;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Params;
use crate::problem::Problem;
use crate::state::App;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub(crate) from: Option<NaiveDate>,
    pub(crate) to: Option<NaiveDate>,
    pub(crate) by: Option<String>,
    /// Also the ROC AUC with its DeLong interval.
    #[serde(default)]
    pub(crate) auc: bool,
    /// Only calls whose truth came from this source: feedback, adjudication, coded,
    /// labeller.
    pub(crate) source: Option<String>,
}

pub async fn metrics(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(w): Params<Window>,
) -> Result<axum::Json<Vec<MetricsRow>>, Problem> {
    caller.ai_overseer()?;
    if app.department.ai_application(&id).is_none() {
        return Err(Problem::not_found(format!(
            "no AI application `{id}` in the register"
        )));
    }
    let by = match w.by.as_deref() {
        None => None,
        Some(s) => Some(Stratum::parse(s).ok_or_else(|| {
            Problem::invalid(
                "by",
                format!("by must be site, scanner, protocol or month, not `{s}`"),
            )
        })?),
    };
    let source = match w.source.as_deref() {
        None => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| {
            Problem::invalid(
                "source",
                format!("source must be feedback, adjudication, coded or labeller, not `{s}`"),
            )
        })?),
    };
    let start = w
        .from
        .unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let end =
        w.to.unwrap_or_else(|| Utc::now().date_naive() + chrono::Days::new(1));
    if end < start {
        return Err(Problem::invalid("to", "`to` is before `from`"));
    }
    let rows: Vec<MetricsRow> = app
        .store
        .monitor_counts_from(&id, start, end, by, source)
        .await?
        .into_iter()
        .map(MetricsRow::of)
        .collect();
    if w.auc {
        let scores = app
            .store
            .scored_calls_from(&id, start, end, by, source)
            .await?;
        return Ok(axum::Json(MetricsRow::with_auc(rows, &scores)));
    }
    Ok(axum::Json(rows))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnaroundQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    /// Minutes within which an AI result should be available (default 10).
    ai_sla_minutes: Option<f64>,
}

/// Acquisition to AI result and to authorized report, per priority and overall.
pub async fn turnaround(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<TurnaroundQuery>,
) -> Result<axum::Json<Vec<TurnaroundRow>>, Problem> {
    caller.ai_overseer()?;
    if app.department.ai_application(&id).is_none() {
        return Err(Problem::not_found(format!(
            "no AI application `{id}` in the register"
        )));
    }
    let sla = q.ai_sla_minutes.unwrap_or(10.0);
    if !(sla > 0.0 && sla.is_finite()) {
        return Err(Problem::invalid(
            "ai_sla_minutes",
            "must be a positive number of minutes",
        ));
    }
    let start = q
        .from
        .unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let end =
        q.to.unwrap_or_else(|| Utc::now().date_naive() + chrono::Days::new(1));
    let times = app.store.turnaround_times(&id, start, end).await?;
    Ok(axum::Json(turnaround_rows(&times, sla)))
}
