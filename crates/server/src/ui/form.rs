//! Who is looking at a page, in which language, and the forms they post: every post
//! carries a token bound to the session (CSRF), checked before anything else is read.

use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use radgate_store::User;

use super::layout;
use super::text::{Lang, Text};
use crate::auth::{Caller, SESSION_COOKIE, cookie, session_user, sha256_hex};
use crate::problem::Problem;
use crate::state::App;

pub const LANG_COOKIE: &str = "radgate_lang";
/// A form's body is small: the longest is a report text.
const MAX_FORM_BYTES: usize = 128 * 1024;

/// The signed-in person looking at a page.
pub struct Viewer {
    pub user: User,
    pub lang: Lang,
    /// The token every form of this session carries.
    pub csrf: String,
}

impl Viewer {
    pub fn t(&self) -> &'static Text {
        self.lang.t()
    }

    /// The same caller the JSON API would see for this person.
    pub fn caller(&self) -> Caller {
        Caller::Person(self.user.clone())
    }

    /// A refusal or failure, shown as a page.
    pub fn problem(&self, p: Problem) -> Response {
        layout::error_page(Some(self), self.lang, p.status, &p.detail)
    }
}

/// The language a request asks for: the user's choice, else the browser's, else English.
pub fn lang_of(headers: &axum::http::HeaderMap) -> Lang {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Lang::parse) {
        return l;
    }
    let accepted = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accepted.trim_start().to_ascii_lowercase().starts_with("nl") {
        Lang::Nl
    } else {
        Lang::En
    }
}

/// The CSRF token of a session: derived from its secret, so nothing more is stored, and
/// useless to anyone who cannot read the session cookie.
pub fn csrf_of(session_token: &str) -> String {
    sha256_hex(&format!("radgate-csrf\n{session_token}"))
}

/// Compares without stopping at the first difference.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

async fn viewer(parts: &Parts, app: &App) -> Result<Option<Viewer>, Problem> {
    let Some(token) = cookie(&parts.headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    // htmx asks only for the live worklist's refresh: the browser's doing, not the
    // person's, so it does not keep an unattended session open.
    let used = !parts.headers.contains_key("hx-request");
    Ok(session_user(app, token, used).await?.map(|user| Viewer {
        user,
        lang: lang_of(&parts.headers),
        csrf: csrf_of(token),
    }))
}

impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Viewer, Response> {
        match viewer(parts, app).await {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(to_login(parts)),
            Err(p) => Err(p.into_response()),
        }
    }
}

impl OptionalFromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Option<Viewer>, Response> {
        viewer(parts, app)
            .await
            .map_err(IntoResponse::into_response)
    }
}

/// Not signed in (or the session ended): to the login screen, and back here afterwards.
/// A request from htmx is told where to go instead of being given the login page as a
/// fragment.
fn to_login(parts: &Parts) -> Response {
    let back = match parts.method {
        axum::http::Method::GET => parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| p.starts_with('/') && !p.starts_with("//"))
            .unwrap_or("/"),
        _ => "/",
    };
    let to = format!(
        "/login?next={}",
        form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
    );
    if parts.headers.contains_key("hx-request") {
        return (StatusCode::UNAUTHORIZED, [("hx-redirect", to)]).into_response();
    }
    Redirect::to(&to).into_response()
}

/// The fields of a posted form, in order; a name may repeat (check boxes).
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_urlencoded::parse(body).into_owned().collect())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed; empty counts as absent.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every field, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every value of `name`.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads a form body: urlencoded and within the size limit, or a page saying why not.
pub async fn read_form(
    body: axum::body::Body,
    headers: &axum::http::HeaderMap,
    lang: Lang,
    viewer: Option<&Viewer>,
) -> Result<Fields, Response> {
    let urlencoded = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !urlencoded {
        return Err(layout::error_page(
            viewer,
            lang,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "forms are posted as application/x-www-form-urlencoded",
        ));
    }
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            layout::error_page(
                viewer,
                lang,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("a form may hold at most {} KiB", MAX_FORM_BYTES / 1024),
            )
        })?;
    Ok(Fields::parse(&bytes))
}

/// A form posted by a signed-in person with their session's CSRF token.
pub struct Posted {
    pub viewer: Viewer,
    pub fields: Fields,
}

impl FromRequest<App> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Posted, Response> {
        let (mut parts, body) = req.into_parts();
        let viewer = <Viewer as FromRequestParts<App>>::from_request_parts(&mut parts, app).await?;
        let fields = read_form(body, &parts.headers, viewer.lang, Some(&viewer)).await?;
        if !fields
            .get("csrf")
            .is_some_and(|t| same_token(t, &viewer.csrf))
        {
            let t = viewer.t();
            return Err(layout::error_page(
                Some(&viewer),
                viewer.lang,
                StatusCode::FORBIDDEN,
                t.form_expired,
            ));
        }
        Ok(Posted { viewer, fields })
    }
}
