//! `radgate stats ...`.

use anyhow::Result;
use radgate_stats::{Method, proportion as interval};

use crate::IntervalMethod;

pub fn proportion(
    successes: u64,
    trials: u64,
    method: IntervalMethod,
    confidence: f64,
) -> Result<()> {
    let method = match method {
        IntervalMethod::Wald => Method::Wald,
        IntervalMethod::Wilson => Method::Wilson,
        IntervalMethod::Exact => Method::Exact,
    };
    let i = interval(successes, trials, method, confidence)?;
    println!("{}", serde_json::to_string(&i)?);
    Ok(())
}
