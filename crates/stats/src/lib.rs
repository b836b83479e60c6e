//! radgate's statistics: pure functions, no I/O. Every figure is checked in tests against
//! closed forms, published tables or an independent implementation (statsmodels, scipy).

pub mod agreement;
pub mod drift;
pub mod paired;
pub mod proportion;
pub mod roc;
pub mod special;

pub use agreement::{AgreementError, Kappa, Weights, cohen_kappa};
pub use drift::{KolmogorovSmirnov, ks_two_sample, psi};
pub use paired::{McNemar, mcnemar};
pub use proportion::{Interval, Method, ProportionError, proportion};
pub use roc::{Auc, auc_delong};
