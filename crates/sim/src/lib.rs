//! The department simulator: what would this policy do to this department's work?
//!
//! It generates arrivals by exam mix and hour of day, simulates each configured AI
//! application from declared operating characteristics, routes every exam with the real
//! policy engine, and runs the work through the department's roster. The AI applications
//! here are simulators with chosen characteristics, never diagnostic models.

mod config;
mod draw;
mod engine;
mod report;

pub use config::{
    AgeSim, AiSim, Days, ExamSim, FindingSim, ScoreModel, Shift, SimConfig, StaffGroup, TaskSim,
};
pub use draw::{DrawnAi, DrawnExam, Feed};
pub use engine::SimError;
pub use report::{Missed, SimReport, Turnaround};

use radgate_domain::{Department, Policy};

/// Simulates `days` days from the configuration's start date. Same inputs and seed, same
/// report.
pub fn simulate(
    dept: &Department,
    cfg: &SimConfig,
    policy: &Policy,
    days: u32,
    seed: u64,
) -> Result<SimReport, SimError> {
    let mut plan = engine::Plan::new(dept, cfg, policy);
    let tally = engine::run(&mut plan, days, seed)?;
    Ok(SimReport::from_tally(
        tally,
        &dept.name,
        &policy.version,
        cfg.start.to_string(),
        days,
        seed,
    ))
}
