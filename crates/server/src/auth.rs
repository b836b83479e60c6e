//! Who is calling: a person with a login session, or a system with an API key.
//! What they may do is the domain's question (`radgate_domain::authz`), asked by handlers.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use radgate_domain::authz::{self, Feed, Requester, Scope, StudyTie};
use radgate_store::{ApiKey, User};
use sha2::{Digest, Sha256};

use crate::problem::Problem;
use crate::state::App;

pub const SESSION_COOKIE: &str = "radgate_session";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub enum Caller {
    Person(User),
    /// A system's key with its scopes as the domain reads them (a stored scope that no
    /// longer reads, such as an application since removed from the register, grants
    /// nothing).
    System(ApiKey, Vec<Scope>),
}

impl Caller {
    /// The person behind the request; systems may not act as people (claim, sign).
    pub fn person(&self) -> Result<&User, Problem> {
        match self {
            Caller::Person(u) => Ok(u),
            Caller::System(k, _) => Err(Problem::forbidden(format!(
                "API key `{}` acts for a system, not a person",
                k.name
            ))),
        }
    }

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

    /// Who is asking, as the domain's access rules see them.
    pub fn requester(&self) -> Requester<'_> {
        match self {
            Caller::Person(u) => Requester::Person(u.role),
            Caller::System(_, scopes) => Requester::System(scopes),
        }
    }

    /// May this caller feed routing with `what` (`authz::may_feed`)?
    pub fn may_feed(&self, what: Feed<'_>) -> Result<(), Problem> {
        authz::may_feed(self.requester(), what).map_err(|e| match self {
            Caller::System(k, _) => Problem::forbidden(format!("API key `{}`: {e}", k.name)),
            Caller::Person(_) => Problem::forbidden(e.to_string()),
        })
    }

    /// The study a request names by its accession number `raw`, when this caller may read
    /// its clinical records: refused as invalid (422) or forbidden otherwise.
    pub async fn readable_study(
        &self,
        app: &App,
        raw: String,
    ) -> Result<radgate_domain::ids::AccessionNumber, Problem> {
        let accession = crate::api::accession(raw)?;
        self.may_read_study(app, accession.as_str()).await?;
        Ok(accession)
    }

    /// May this caller read the clinical records of study `accession`
    /// (`authz::may_read_study`)? A person's tie to the study is their work on it.
    pub async fn may_read_study(&self, app: &App, accession: &str) -> Result<(), Problem> {
        let tie = match self {
            Caller::System(..) => StudyTie {
                worked_on: false,
                may_claim_open_item: false,
            },
            Caller::Person(u) => {
                let items = app.store.work_items_for(accession).await?;
                let worked_on = items
                    .iter()
                    .any(|i| i.assignee.as_ref() == Some(&u.professional));
                // Asked only when it can still matter: working on it already suffices.
                let may_claim_open_item = if worked_on {
                    false
                } else {
                    let portfolio = app.store.portfolio(&u.professional).await?;
                    let tasks = authz::claimable_tasks(
                        &u.professional,
                        u.role,
                        &app.department,
                        &portfolio,
                        chrono::Utc::now().date_naive(),
                    );
                    items.iter().any(|i| {
                        i.state == radgate_domain::workitem::WorkItemState::Open
                            && tasks.contains(&i.task)
                    })
                };
                StudyTie {
                    worked_on,
                    may_claim_open_item,
                }
            }
        };
        if authz::may_read_study(self.requester(), tie) {
            Ok(())
        } else {
            Err(self.not_for_reading())
        }
    }

    /// May this caller search clinical records across studies (`authz::may_search_clinical`)?
    pub fn may_search_clinical(&self) -> Result<(), Problem> {
        if authz::may_search_clinical(self.requester()) {
            Ok(())
        } else {
            Err(self.not_for_reading())
        }
    }

    fn not_for_reading(&self) -> Problem {
        Problem::forbidden(match self {
            Caller::System(k, _) => format!(
                "API key `{}` lacks the `read` scope for clinical records",
                k.name
            ),
            Caller::Person(_) => {
                "a study's records are for radiologists and for those who work on it".into()
            }
        })
    }

    /// The actor recorded in the audit log.
    pub fn actor(&self) -> String {
        match self {
            Caller::Person(u) => u.professional.to_string(),
            Caller::System(k, _) => format!("api-key:{}", k.name),
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
                Some(k) => {
                    let scopes = k
                        .scopes
                        .iter()
                        .filter_map(|s| Scope::parse(s, &app.department).ok())
                        .collect();
                    Ok(Caller::System(k, scopes))
                }
                None => Err(Problem::unauthenticated()),
            };
        }
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(Problem::unauthenticated)?;
        match session_user(app, token, true).await? {
            Some(u) => Ok(Caller::Person(u)),
            None => Err(Problem::unauthenticated()),
        }
    }
}

/// The value of cookie `name` in the request's headers.
pub(crate) fn cookie<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The person whose live session `token` is, if any (ends idle sessions); `used`: the
/// request counts as the person's activity (not so for what the browser asks by itself).
pub(crate) async fn session_user(
    app: &App,
    token: &str,
    used: bool,
) -> Result<Option<User>, Problem> {
    let (hash, now) = (sha256_hex(token), chrono::Utc::now());
    Ok(if used {
        app.store.session_user(&hash, now, app.session_idle).await?
    } else {
        app.store
            .session_user_unused(&hash, now, app.session_idle)
            .await?
    })
}

/// Slows down password guessing without letting anyone lock another person out. Failures
/// are counted per source address and per (username, address); past a few free attempts
/// each further try waits twice as long as the one before (1 s, 2 s, 4 s ... up to 15
/// minutes), and the count is forgotten 15 minutes after the last failure. The right
/// password from another address is never refused because someone guessed elsewhere, and
/// spraying many usernames from one address runs into the address's own count.
///
/// Behind a reverse proxy every client has the proxy's address: then the per-address
/// delays apply to everyone at once, so put radgate's login behind the proxy's own limits.
pub struct Throttle {
    entries: Mutex<HashMap<Key, Entry>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    UserAtAddress(String, IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
}

/// Failures from one (username, address) before delays begin.
const FREE_PER_USER: u32 = 3;
/// Failures from one address, over all usernames, before delays begin.
const FREE_PER_ADDRESS: u32 = 10;
const LONGEST: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most; beyond it the stalest are forgotten first.
const MAX_ENTRIES: usize = 100_000;

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl Entry {
    /// When the next attempt may be made, after `free` failures that cost nothing.
    fn next(&self, free: u32) -> Instant {
        if self.failures < free {
            return self.last;
        }
        let doublings = (self.failures - free).min(20);
        self.last + Duration::from_secs(1u64 << doublings).min(LONGEST)
    }
}

impl Throttle {
    fn keys(username: &str, addr: IpAddr) -> [(Key, u32); 2] {
        [
            (Key::Address(addr), FREE_PER_ADDRESS),
            (Key::UserAtAddress(username.to_owned(), addr), FREE_PER_USER),
        ]
    }

    /// Seconds to wait before the next attempt for `username` from `addr`, if any.
    pub fn wait(&self, username: &str, addr: IpAddr) -> Option<u64> {
        self.wait_at(username, addr, Instant::now())
    }

    fn wait_at(&self, username: &str, addr: IpAddr, now: Instant) -> Option<u64> {
        let map = self.entries.lock().expect("throttle lock");
        Self::keys(username, addr)
            .iter()
            .filter_map(|(k, free)| map.get(k).map(|e| e.next(*free)))
            .filter(|next| *next > now)
            .map(|next| (next - now).as_secs_f64().ceil() as u64)
            .max()
    }

    pub fn failed(&self, username: &str, addr: IpAddr) {
        self.failed_at(username, addr, Instant::now());
    }

    fn failed_at(&self, username: &str, addr: IpAddr, now: Instant) {
        let mut map = self.entries.lock().expect("throttle lock");
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| now.duration_since(e.last) < LONGEST);
            if map.len() >= MAX_ENTRIES {
                // Still full: forget the stalest half rather than grow.
                let mut ages: Vec<Instant> = map.values().map(|e| e.last).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                map.retain(|_, e| e.last > cut);
            }
        }
        for (key, _) in Self::keys(username, addr) {
            let e = map.entry(key).or_insert(Entry {
                failures: 0,
                last: now,
            });
            if now.duration_since(e.last) >= LONGEST {
                e.failures = 0;
            }
            e.failures += 1;
            e.last = now;
        }
    }

    /// A successful login forgets that username's failures from that address.
    pub fn succeeded(&self, username: &str, addr: IpAddr) {
        self.entries
            .lock()
            .expect("throttle lock")
            .remove(&Key::UserAtAddress(username.to_owned(), addr));
    }
}

/// The password hashes computed at once: argon2id takes 19 MiB and tens of milliseconds
/// each, so a flood of logins must queue for a few permits, not for memory. Logins beyond
/// them are answered 429 at once.
pub fn hash_permits() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

/// The password checks of logins, on a fixed set of threads of their own: one per permit.
/// Fixed threads keep memory flat: the allocator keeps an arena per thread that has
/// allocated, and a fresh thread per hash would leave 19 MiB behind in each.
pub struct PasswordChecks {
    permits: Arc<tokio::sync::Semaphore>,
    jobs: std::sync::mpsc::SyncSender<Check>,
}

struct Check {
    password: String,
    hash: String,
    answer: tokio::sync::oneshot::Sender<bool>,
}

/// All the permits are taken: the login is refused at once.
#[derive(Debug)]
pub struct Busy;

impl PasswordChecks {
    pub fn start(threads: usize) -> PasswordChecks {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Check>(threads);
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("password-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().expect("password queue").recv();
                        let Ok(c) = next else { return };
                        let _ = c.answer.send(verify_password(&c.password, &c.hash));
                    }
                })
                .expect("a thread for password checks");
        }
        PasswordChecks {
            permits: Arc::new(tokio::sync::Semaphore::new(threads)),
            jobs,
        }
    }

    /// Whether `password` matches `hash`, checked on the password threads; `Busy` when
    /// every one of them is taken.
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, Busy> {
        let _permit = self.permits.clone().try_acquire_owned().map_err(|_| Busy)?;
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Check {
                password,
                hash,
                answer,
            })
            .map_err(|_| Busy)?;
        answered.await.map_err(|_| Busy)
    }
}

/// The client's address, as the listener saw it (`None` when served without one, as in
/// tests that call the router directly).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
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
    fn guessing_slows_down_per_address_and_never_locks_out_the_owner_elsewhere() {
        let t = Throttle::default();
        let (attacker, owner): (IpAddr, IpAddr) =
            ("10.0.0.66".parse().unwrap(), "10.0.0.7".parse().unwrap());
        let t0 = Instant::now();
        for i in 0..FREE_PER_USER {
            assert_eq!(t.wait_at("raio", attacker, t0), None, "free attempt {i}");
            t.failed_at("raio", attacker, t0);
        }
        // Past the free attempts: 1 s, then 2 s, then 4 s.
        assert_eq!(t.wait_at("raio", attacker, t0), Some(1));
        t.failed_at("raio", attacker, t0);
        assert_eq!(t.wait_at("raio", attacker, t0), Some(2));
        t.failed_at("raio", attacker, t0);
        assert_eq!(t.wait_at("raio", attacker, t0), Some(4));
        // The owner, from their own workstation, is not slowed down at all.
        assert_eq!(t.wait_at("raio", owner, t0), None);
        // 15 minutes after the last failure the count is forgotten.
        t.failed_at("raio", attacker, t0);
        assert_eq!(t.wait_at("raio", attacker, t0 + LONGEST), None);
        t.failed_at("raio", attacker, t0 + LONGEST);
        assert_eq!(
            t.wait_at("raio", attacker, t0 + LONGEST),
            None,
            "a fresh count"
        );
    }

    #[test]
    fn spraying_many_usernames_from_one_address_is_throttled_too() {
        let t = Throttle::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for i in 0..FREE_PER_ADDRESS {
            t.failed_at(&format!("user{i}"), a, t0);
        }
        assert_eq!(t.wait_at("someone-new", a, t0), Some(1));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(t.wait_at("someone-new", other, t0), None);
    }

    #[test]
    fn the_throttle_stays_bounded_under_a_flood_of_addresses() {
        let t = Throttle::default();
        let t0 = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 / 2 + 10) {
            let addr = IpAddr::from(std::net::Ipv4Addr::from(i));
            t.failed_at("x", addr, t0 + Duration::from_millis(u64::from(i)));
        }
        assert!(t.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
