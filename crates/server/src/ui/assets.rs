//! The screens' own assets, compiled into the binary: nothing is fetched from elsewhere,
//! so a hospital intranet without internet gets the whole UI.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const CSS: &str = "/assets/radgate.css";
pub const JS: &str = "/assets/radgate.js";
/// htmx, pinned; its licence (0BSD) is beside it in `assets/`.
pub const HTMX: &str = "/assets/htmx-2.0.11.min.js";

const FILES: &[(&str, &str, &str)] = &[
    (
        "radgate.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/radgate.css"),
    ),
    (
        "radgate.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/radgate.js"),
    ),
    (
        "htmx-2.0.11.min.js",
        "text/javascript; charset=utf-8",
        include_str!("../../assets/htmx-2.0.11.min.js"),
    ),
];

/// The total size of the screens' assets, in bytes.
pub fn total_bytes() -> usize {
    FILES.iter().map(|(_, _, body)| body.len()).sum()
}

pub async fn serve(Path(file): Path<String>) -> Response {
    match FILES.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, body)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=3600"),
                ),
            ],
            *body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
