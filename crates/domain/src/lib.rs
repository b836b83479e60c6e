//! radgate's domain: the types and rules that decide. No I/O, no async, no clocks: callers
//! pass the current time in.
//!
//! - [`policy`]: routing a study and its AI results to a [`decision::Decision`].
//! - [`department`]: the task catalog, people, task agreements and AI register.
//! - [`report`]: the report lifecycle; [`workitem`]: worklist items.

pub mod acquisition;
pub mod agreement;
pub mod ai;
pub mod ai_sr;
pub mod assessor_agreement;
pub mod audit;
pub mod authz;
pub mod config;
pub mod decision;
pub mod department;
pub mod drift;
pub mod ending;
pub mod external_report;
pub mod ids;
pub mod labeller;
pub mod matching;
pub mod monitoring;
pub mod pilot;
pub mod placement;
pub mod policy;
pub mod portfolio;
pub mod portfolio_csv;
pub mod professional;
pub mod programme;
pub mod quality;
pub mod replay;
pub mod report;
pub mod rubric;
pub mod safety;
pub mod sampling;
pub mod study;
pub mod thesis;
pub mod truth;
pub mod ups;
pub mod workitem;

pub use decision::{Decision, Pathway};
pub use department::Department;
pub use policy::Policy;
pub use study::{Priority, Study};
