//! Policy replay over the store: the period's studies a batch at a time through
//! `radgate_domain::replay`, never writing. `POST /api/v1/policy/replay` for the
//! radiologists who oversee AI; `radgate policy replay` calls [`run`] too.

use axum::extract::State;
use chrono::{NaiveDate, NaiveTime};
use radgate_domain::ids::AiAppId;
use radgate_domain::policy::check;
use radgate_domain::replay::{Replay, Replayer};
use radgate_domain::{Department, Policy};
use radgate_sim::SimConfig;
use radgate_store::Store;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Body;
use crate::problem::Problem;
use crate::state::App;

/// Studies read per batch.
const BATCH: u32 = 5000;
/// The longest policy text the route takes (the example policy is under 10,000): the
/// longest, escaped as JSON (six bytes a character at worst), still fits the body limit.
const MAX_POLICY: usize = 40_000;

/// Replays the studies acquired from `from` to `to` (whole UTC days, inclusive) through
/// `policy`; `progress` hears the studies done so far.
pub async fn run(
    store: &Store,
    policy: &Policy,
    dept: &Department,
    costs: Option<&SimConfig>,
    (from, to): (NaiveDate, NaiveDate),
    as_live: &[AiAppId],
    mut progress: impl FnMut(u64),
) -> Result<Replay, radgate_store::StoreError> {
    let changes = store.latest_status_changes().await?;
    let minutes = costs.map(|c| move |d: &_, s: &_| radgate_sim::radiologist_minutes(c, d, s));
    let minutes_ref: Option<radgate_domain::replay::Minutes<'_>> = minutes
        .as_ref()
        .map(|m| m as radgate_domain::replay::Minutes<'_>);
    let mut replayer = Replayer::new(policy, dept, &changes, as_live, minutes_ref);
    let start = from.and_time(NaiveTime::MIN).and_utc();
    let end = (to + chrono::Days::new(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    let mut cursor = None;
    let mut done = 0u64;
    loop {
        let (cases, next) = store
            .replay_batch(start, end, cursor.as_ref(), BATCH)
            .await?;
        for c in &cases {
            replayer.add(c);
        }
        done += cases.len() as u64;
        progress(done);
        match next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    Ok(replayer.finish())
}

/// The new policy, if it passes `policy check` against the register in force (the
/// latest status changes in the store), the applications asked to be live counted as in
/// use; else the problems.
pub async fn checked(
    store: &Store,
    text: &str,
    dept: &Department,
    as_live: &[AiAppId],
) -> Result<Result<Policy, Vec<String>>, radgate_store::StoreError> {
    let changes = store.latest_status_changes().await?;
    let policy = match Policy::parse(text) {
        Ok(p) => p,
        Err(e) => return Ok(Err(vec![e.to_string()])),
    };
    let live = radgate_domain::replay::register_for_replay(dept, &changes, as_live);
    let problems: Vec<String> = check(&policy, Some(&live))
        .iter()
        .map(ToString::to_string)
        .collect();
    Ok(if problems.is_empty() {
        Ok(policy)
    } else {
        Err(problems)
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// The new policy, as the TOML of a policy file.
    pub(crate) policy: String,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    #[serde(default)]
    pub(crate) as_live: Vec<AiAppId>,
}

/// Replays the period through the posted policy; nothing is stored.
pub async fn replay(
    State(app): State<App>,
    caller: Caller,
    Body(r): Body<ReplayRequest>,
) -> Result<axum::Json<Replay>, Problem> {
    caller.ai_overseer()?;
    if r.policy.chars().count() > MAX_POLICY {
        return Err(Problem::invalid(
            "policy",
            format!("a policy has at most {MAX_POLICY} characters"),
        ));
    }
    if r.to < r.from {
        return Err(Problem::invalid("to", "`to` is before `from`"));
    }
    if (r.to - r.from).num_days() > 731 {
        return Err(Problem::invalid("to", "a replay covers at most two years"));
    }
    if let Some(a) = r
        .as_live
        .iter()
        .find(|a| app.department.ai_application(a.as_str()).is_none())
    {
        return Err(Problem::invalid(
            "as_live",
            format!("no AI application `{a}` in the register"),
        ));
    }
    let policy = checked(&app.store, &r.policy, &app.department, &r.as_live)
        .await?
        .map_err(|p| Problem::invalid("policy", p.join("; ")))?;
    let out = run(
        &app.store,
        &policy,
        &app.department,
        app.costs.as_deref(),
        (r.from, r.to),
        &r.as_live,
        |_| {},
    )
    .await?;
    Ok(axum::Json(out))
}
