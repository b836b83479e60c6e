//! Who is calling: a person with a login session, or a system with an API key.
//! What they may do is the domain's question (`radgate_domain::authz`), asked by handlers.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use radgate_store::{ApiKey, User};
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::state::App;

pub const SESSION_COOKIE: &str = "radgate_session";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Person(User),
    System(ApiKey),
}

impl Caller {
    /// The person behind the request; systems may not act as people (claim, sign).
    pub fn person(&self) -> Result<&User, Problem> {
        match self {
            Caller::Person(u) => Ok(u),
            Caller::System(k) => Err(Problem::forbidden(format!(
                "API key `{}` acts for a system, not a person",
                k.name
            ))),
        }
    }

    /// Systems need the scope; people may ingest too (manual entry), as themselves.
    /// The person, when they may oversee the AI applications and cleared exams
    /// (monitoring, the register, pilots, safety): `authz::may_oversee_ai`.
    pub fn ai_overseer(&self) -> Result<&User, Problem> {
        let person = self.person()?;
        if !radgate_domain::authz::may_oversee_ai(person.role) {
            return Err(Problem::forbidden(
                "AI oversight (monitoring, the register, pilots, safety) is for radiologists",
            ));
        }
        Ok(person)
    }

    /// The person, when they keep the AI register (status changes, alarm clearances,
    /// pilots): `authz::keeps_ai_register`.
    pub fn register_keeper(&self, dept: &radgate_domain::Department) -> Result<&User, Problem> {
        let person = self.person()?;
        if !radgate_domain::authz::keeps_ai_register(&person.professional, dept) {
            return Err(Problem::forbidden(
                "only the department's RAIO keeps the AI register: status changes, alarm clearances and pilots",
            ));
        }
        Ok(person)
    }

    pub fn require_scope(&self, scope: &str) -> Result<(), Problem> {
        match self {
            Caller::System(k) if !k.scopes.iter().any(|s| s == scope) => Err(Problem::forbidden(
                format!("API key `{}` lacks the `{scope}` scope", k.name),
            )),
            _ => Ok(()),
        }
    }

    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Person(u) => u.professional.to_string(),
            Caller::System(k) => format!("api-key:{}", k.name),
        }
    }
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// 32 random bytes as hex: session tokens and API keys.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system provides randomness");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    // Argon2::default() is argon2id with the RFC 9106 second recommended parameters.
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing cannot fail for valid input")
        .to_string()
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

impl FromRequestParts<App> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Caller, Problem> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let key = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or_else(Problem::unauthenticated)?;
            return match app.store.api_key(&sha256_hex(key.trim())).await? {
                Some(k) => Ok(Caller::System(k)),
                None => Err(Problem::unauthenticated()),
            };
        }
        let token = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == SESSION_COOKIE)
            .map(|(_, value)| value.to_string())
            .ok_or_else(Problem::unauthenticated)?;
        match app
            .store
            .session_user(&sha256_hex(&token), chrono::Utc::now())
            .await?
        {
            Some(u) => Ok(Caller::Person(u)),
            None => Err(Problem::unauthenticated()),
        }
    }
}

/// Slows down password guessing: after `LIMIT` failures for one username within
/// `WINDOW`, further attempts are refused until the window has passed.
#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, Vec<Instant>>>,
}

const LIMIT: usize = 5;
const WINDOW: Duration = Duration::from_secs(15 * 60);

impl Throttle {
    /// Seconds to wait before the next attempt, if the username is throttled.
    pub fn wait(&self, username: &str) -> Option<u64> {
        let mut map = self.failures.lock().expect("throttle lock");
        let now = Instant::now();
        let list = map.entry(username.to_string()).or_default();
        list.retain(|t| now.duration_since(*t) < WINDOW);
        (list.len() >= LIMIT).then(|| (WINDOW - now.duration_since(list[0])).as_secs().max(1))
    }

    pub fn failed(&self, username: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .entry(username.to_string())
            .or_default()
            .push(Instant::now());
    }

    pub fn succeeded(&self, username: &str) {
        self.failures
            .lock()
            .expect("throttle lock")
            .remove(username);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_against_their_own_hash() {
        let h = hash_password("correct horse");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert_ne!(h, hash_password("correct horse"), "salted");
    }

    #[test]
    fn five_failures_throttle_the_username_only() {
        let t = Throttle::default();
        for _ in 0..4 {
            t.failed("alice");
        }
        assert_eq!(t.wait("alice"), None);
        t.failed("alice");
        assert!(t.wait("alice").is_some());
        assert_eq!(t.wait("bob"), None);
        t.succeeded("alice");
        assert_eq!(t.wait("alice"), None);
    }
}
