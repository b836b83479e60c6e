//! radgate's statistics: pure functions, no I/O. Every figure is checked in tests against
//! closed forms, published tables or an independent implementation (statsmodels).

pub mod proportion;
pub mod special;

pub use proportion::{Interval, Method, ProportionError, proportion};
