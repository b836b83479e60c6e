//! Statistics over HTTP that need no stored data: the assessor-agreement report for pairs
//! the caller sends, as JSON (`{"pairs": [...]}`) or as the CSV `radgate stats agreement`
//! reads (`Content-Type: text/csv`).

use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use radgate_domain::assessor_agreement::{
    AgreementReport, ScorePair, agreement_report, parse_pairs,
};
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pairs {
    pairs: Vec<ScorePair>,
}

pub async fn agreement(
    _caller: Caller,
    req: Request,
) -> Result<axum::Json<AgreementReport>, Problem> {
    let is_csv = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/csv"));
    let pairs = if is_csv {
        let text = String::from_request(req, &())
            .await
            .map_err(|e| Problem::bad_request(e.to_string()))?;
        parse_pairs(&text).map_err(|rows| {
            let detail = rows.iter().map(ToString::to_string).collect::<Vec<_>>();
            Problem::invalid("csv", detail.join("; "))
        })?
    } else {
        let Body(p) = Body::<Pairs>::from_request(req, &()).await?;
        p.pairs
    };
    agreement_report(&pairs)
        .map(axum::Json)
        .map_err(|e| Problem::invalid("pairs", e.to_string()))
}
