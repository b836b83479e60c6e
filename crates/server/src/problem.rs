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
    /// Seconds the client should wait before trying again (`Retry-After`), for 429 and 503.
    #[serde(skip)]
    pub retry_after: Option<u64>,
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
            retry_after: None,
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

    /// 429 with `Retry-After: seconds`.
    pub fn too_many(detail: impl Into<String>, seconds: u64) -> Problem {
        let mut p = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "about:blank#throttled",
            "Too many attempts",
            detail,
        );
        p.retry_after = Some(seconds.max(1));
        p
    }

    pub fn unsupported_media_type(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "about:blank#unsupported-media-type",
            "Unsupported media type",
            detail,
        )
    }

    pub fn too_large(limit: usize) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "about:blank#too-large",
            "Body too large",
            format!("bodies are limited to {limit} bytes"),
        )
    }

    /// A problem for a status some layer below the handlers chose (405, a path that does
    /// not decode): the status's own title, and the detail given.
    pub fn of_status(status: StatusCode, detail: impl Into<String>) -> Problem {
        match status {
            StatusCode::METHOD_NOT_ALLOWED => Problem::new(
                status,
                "about:blank#method-not-allowed",
                "Method not allowed",
                detail,
            ),
            StatusCode::NOT_FOUND => Problem::not_found(detail),
            StatusCode::UNPROCESSABLE_ENTITY => {
                Problem::new(status, "about:blank#invalid", "Invalid input", detail)
            }
            s if s.is_server_error() => Problem::internal(detail.into()),
            s => Problem::new(s, "about:blank#bad-request", "Bad request", detail),
        }
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
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(s) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(s));
        }
        response
    }
}

impl From<radgate_store::StoreError> for Problem {
    fn from(e: radgate_store::StoreError) -> Problem {
        Problem::internal(e)
    }
}
