//! Typed extraction whose every refusal is an RFC 9457 problem naming the field: JSON bodies,
//! query strings and work item ids. And the net under them: any error response that is not
//! a problem yet (a wrong method, a path that does not decode) becomes one, and a NUL byte
//! anywhere in a request is refused before a handler or a database sees it.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::problem::Problem;

/// Larger bodies are refused with 413 before they are read: no radgate message is near it.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The field a serde message is about: the path serde_path_to_error puts in front
/// (`study.body_part: invalid type ...`), else the name in backticks of a missing or
/// unknown field, else `body`. Never the whole message.
pub(crate) fn field_of(detail: &str, whole: &str) -> String {
    if let Some((head, _)) = detail.split_once(": ")
        && !head.is_empty()
        && head != "."
        && !head.contains(' ')
    {
        return head.to_owned();
    }
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = detail.split(marker).nth(1)
            && let Some((name, _)) = rest.split_once('`')
        {
            return name.to_owned();
        }
    }
    whole.to_owned()
}

/// A JSON body whose rejection is a problem naming the field and the reason.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(JsonRejection::JsonDataError(e)) => {
                // serde names the path (`study.body_part`) and the reason.
                let detail =
                    std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string());
                Err(Problem::invalid(field_of(&detail, "body"), detail))
            }
            Err(JsonRejection::JsonSyntaxError(e)) => {
                let detail =
                    std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string());
                let mut p = Problem::bad_request(format!("the body is not JSON: {detail}"));
                p.field = Some("body".into());
                Err(p)
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Problem::unsupported_media_type(
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(Problem::too_large(MAX_BODY_BYTES))
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// A query string whose rejection is a problem naming the parameter.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Params(v)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                let detail =
                    std::error::Error::source(&e).map_or_else(|| e.body_text(), |s| s.to_string());
                let mut p = Problem::bad_request(detail.clone());
                p.field = Some(field_of(&detail, "query"));
                Err(p)
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// A work item id from the path, refused as a problem when it is not a number.
pub struct ItemId(pub u64);

impl<S: Send + Sync> FromRequestParts<S> for ItemId {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Problem> {
        match Path::<u64>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(ItemId(id)),
            Err(e @ PathRejection::FailedToDeserializePathParams(_)) => {
                Err(Problem::invalid("id", e.body_text()))
            }
            Err(e) => Err(Problem::bad_request(e.body_text())),
        }
    }
}

/// Where a NUL byte sits in a JSON value, as a field path (`findings[0].code`).
fn nul_in(v: &serde_json::Value, at: &str) -> Option<String> {
    let join = |key: &str| {
        if at.is_empty() {
            key.to_owned()
        } else {
            format!("{at}.{key}")
        }
    };
    match v {
        serde_json::Value::String(s) => s.contains('\0').then(|| at.to_owned()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_in(x, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(join(k))
            } else {
                nul_in(x, &join(k))
            }
        }),
        _ => None,
    }
}

fn nul_refused(field: &str) -> Response {
    Problem::invalid(
        if field.is_empty() { "body" } else { field },
        "a NUL character is not text radgate stores",
    )
    .into_response()
}

/// Refuses a NUL byte in the path, the query or a JSON body with 422, on every backend
/// alike (PostgreSQL cannot store one; SQLite could, and so must not either).
pub async fn refuse_nul(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let encoded_nul = |s: &str| s.contains("%00") || s.contains('\0');
    if encoded_nul(uri.path()) {
        return nul_refused("path");
    }
    if uri.query().is_some_and(encoded_nul) {
        return nul_refused("query");
    }
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !is_json {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => return Problem::too_large(MAX_BODY_BYTES).into_response(),
    };
    // JSON writes NUL as an escape; only then is the value worth walking.
    if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"))
        && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes)
        && let Some(field) = nul_in(&v, "")
    {
        return nul_refused(&field);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Turns an error response that is not a problem yet (axum's own 405 without a body, a
/// path that does not decode, a query the FHIR facade could not read) into one, keeping
/// its status and headers (`Allow` on a 405).
pub async fn problems_only(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let typed = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json") || v.contains("fhir+json"));
    if typed {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = match (status, text.is_empty()) {
        (StatusCode::METHOD_NOT_ALLOWED, _) => {
            let allow = parts
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("this resource takes {allow}")
        }
        (_, false) => text,
        (s, true) => s.canonical_reason().unwrap_or("error").to_owned(),
    };
    let problem = Problem::of_status(status, detail);
    let fresh = problem.into_response();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/problem+json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, fresh.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_field_is_a_name_never_the_whole_message() {
        assert_eq!(
            field_of("study.body_part: invalid type: integer", "body"),
            "study.body_part"
        );
        assert_eq!(
            field_of("missing field `accession` at line 1 column 2", "body"),
            "accession"
        );
        assert_eq!(
            field_of(".: unknown field `x`, expected one of `a`", "body"),
            "x"
        );
        assert_eq!(field_of("EOF while parsing a value", "body"), "body");
        assert_eq!(field_of("width: invalid float literal", "query"), "width");
    }

    #[test]
    fn a_nul_is_found_where_it_is() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a": {"b": ["x", "y\u0000"]}, "c": 1}"#).unwrap();
        assert_eq!(nul_in(&v, "").as_deref(), Some("a.b[1]"));
        let clean: serde_json::Value = serde_json::from_str(r#"{"a": "b"}"#).unwrap();
        assert_eq!(nul_in(&clean, ""), None);
    }
}
