//! RFC 9457 problem details: every error the API returns names what went wrong and, for
//! bad input, the field.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(skip)]
    pub status: StatusCode,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
            field: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "about:blank#bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn invalid(field: impl Into<String>, detail: impl Into<String>) -> Problem {
        let mut p = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "about:blank#invalid",
            "Invalid input",
            detail,
        );
        p.field = Some(field.into());
        p
    }

    pub fn unauthenticated() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "about:blank#unauthenticated",
            "Not authenticated",
            "log in (POST /api/v1/login) or send an API key as `Authorization: Bearer <key>`",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::FORBIDDEN,
            "about:blank#forbidden",
            "Not permitted",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "about:blank#not-found",
            "Not found",
            detail,
        )
    }

    pub fn conflict(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::CONFLICT,
            "about:blank#conflict",
            "Conflict",
            detail,
        )
    }

    pub fn too_many(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "about:blank#throttled",
            "Too many attempts",
            detail,
        )
    }

    pub fn internal(detail: impl std::fmt::Display) -> Problem {
        // The detail goes to the log, not to the client.
        tracing::error!("internal error: {detail}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "about:blank#internal",
            "Internal error",
            "see the server log",
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "about:blank#unavailable",
            "Not ready",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&self).expect("problem serializes");
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<radgate_store::StoreError> for Problem {
    fn from(e: radgate_store::StoreError) -> Problem {
        Problem::internal(e)
    }
}
