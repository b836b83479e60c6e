//! radgate's statistics: pure functions, no I/O. Every figure is checked in tests against
//! closed forms, published tables or an independent implementation (statsmodels, scipy,
//! scikit-learn, pingouin, krippendorff, irrCAC).

pub mod agreement;
pub mod bland_altman;
pub mod drift;
pub mod gwet;
pub mod icc;
pub mod krippendorff;
pub mod marginal;
pub mod paired;
pub mod proportion;
pub mod raters;
pub mod roc;
pub mod signed_rank;
pub mod special;

pub use agreement::{AgreementError, Kappa, Weights, cohen_kappa};
pub use bland_altman::{BlandAltman, bland_altman};
pub use drift::{Homogeneity, KolmogorovSmirnov, chi2_homogeneity, ks_two_sample, psi, psi_counts};
pub use gwet::gwet_ac2_quadratic;
pub use icc::{Icc, icc};
pub use krippendorff::krippendorff_alpha_ordinal;
pub use marginal::{StuartMaxwell, stuart_maxwell};
pub use paired::{McNemar, mcnemar};
pub use proportion::{Interval, Method, ProportionError, proportion, trials_for_wilson_width};
pub use raters::{Bias, RaterComparison, compare_raters};
pub use roc::{Auc, auc_delong, roc_curve};
pub use signed_rank::{SignedRank, SignedRankMethod, wilcoxon_signed_rank};
