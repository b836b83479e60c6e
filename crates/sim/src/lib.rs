//! The department simulator: what would this policy do to this department's work?
//!
//! It generates arrivals by exam mix and hour of day, simulates each configured AI
//! application from declared operating characteristics, routes every exam with the real
//! policy engine, and runs the work through the department's roster. The AI applications
//! here are simulators with chosen characteristics, never diagnostic models.

mod config;
mod draw;
mod engine;
pub mod masai;
mod report;

pub use config::{
    AgeSim, AiSim, ConsensusWhen, Days, ExamSim, FindingSim, ScoreModel, Shift, SimConfig,
    StaffGroup, TaskSim,
};
pub use draw::{DrawnAi, DrawnExam, Feed};
pub use engine::SimError;
pub use report::{Missed, Screening, ScreeningArm, SimReport, Turnaround};

use radgate_domain::{Decision, Department, Pathway, Policy, Study};

/// The radiologist minutes of a decision for a study, by the department's simulation
/// parameters: each read the task's minutes (else the exam's read minutes); a delegate's
/// report the authorization's share of a read; gatekeeper and autonomous pathways the
/// expected retrospective reviews. `None` for a procedure the parameters do not know.
pub fn radiologist_minutes(cfg: &SimConfig, d: &Decision, study: &Study) -> Option<f64> {
    let read = cfg
        .exams
        .iter()
        .find(|e| e.procedure_code == study.procedure_code)?
        .read_minutes;
    let task = cfg
        .tasks
        .iter()
        .find(|t| t.id == d.task)
        .and_then(|t| t.minutes)
        .unwrap_or(read);
    Some(match d.pathway {
        Pathway::RadiologistRead | Pathway::SingleRead | Pathway::DoubleRead => {
            f64::from(d.readers) * task
        }
        Pathway::DelegatedPreliminary => read * cfg.authorize_minutes_factor,
        Pathway::Gatekeeper | Pathway::AutonomousNormal => {
            d.review_fraction * read * cfg.review_minutes_factor
        }
    })
}

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
