//! Quality feedback into the portfolio: the discrepancies radiologists grade when they
//! authorize delegated preliminary reports, the rolling rates with Wilson intervals, and
//! when they suspend an authorization.

use chrono::NaiveDate;
use radgate_stats::{Interval, Method, proportion};
use serde::{Deserialize, Serialize};

use crate::department::Department;
use crate::ids::{ProfessionalId, TaskTypeId};
use crate::portfolio::Suspension;
use crate::report::Report;

/// A radiologist's grade of a delegated preliminary report at authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum Discrepancy {
    None = 0,
    Minor = 1,
    Major = 2,
}

impl TryFrom<u8> for Discrepancy {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(Discrepancy::None),
            1 => Ok(Discrepancy::Minor),
            2 => Ok(Discrepancy::Major),
            v => Err(format!(
                "discrepancy grade must be 0 (none), 1 (minor) or 2 (major), found {v}"
            )),
        }
    }
}

impl From<Discrepancy> for u8 {
    fn from(d: Discrepancy) -> u8 {
        d as u8
    }
}

/// When discrepancy rates are too high. The defaults follow the Royal College of
/// Radiologists' audit guidance: 5% major and 10% minor, over 50 consecutive reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    pub major: f64,
    pub minor: f64,
    /// The rolling window: the most recent reports judged, and the fewest judged at all.
    pub window: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            major: 0.05,
            minor: 0.10,
            window: 50,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// Reports in the window (the most recent `window`).
    pub reports: usize,
    pub major: Option<Interval>,
    pub minor: Option<Interval>,
    /// Why the authorization must be suspended, when it must.
    pub suspend: Option<String>,
    /// Minor discrepancies above their limit: reported, not a reason to suspend.
    pub minor_above_limit: bool,
}

/// Judges the most recent grades (oldest first in `grades`), at most a window of them, after
/// every grade: suspension when the Wilson 95% lower bound of the major rate, or of the
/// minor rate, exceeds its limit. Evidence acts as it comes: three majors in four reports
/// suspend at once; the lower bound keeps one minor slip in twenty from doing so.
pub fn judge(grades: &[Discrepancy], limits: &Limits) -> Judgement {
    let recent = &grades[grades.len().saturating_sub(limits.window)..];
    let n = recent.len() as u64;
    let rate = |which: Discrepancy| {
        let k = recent.iter().filter(|g| **g == which).count() as u64;
        (n > 0).then(|| proportion(k, n, Method::Wilson, 0.95).expect("k <= n, n > 0"))
    };
    let (major, minor) = (rate(Discrepancy::Major), rate(Discrepancy::Minor));
    let over = |name: &str, r: Interval, limit: f64| {
        format!(
            "{name} discrepancy rate {:.1}% over the last {n} reports (95% CI {:.1}-{:.1}%) exceeds the {:.0}% limit",
            r.estimate * 100.0,
            r.lower * 100.0,
            r.upper * 100.0,
            limit * 100.0
        )
    };
    let minor_above_limit = minor.is_some_and(|m| m.lower > limits.minor);
    let suspend = match (major, minor) {
        (Some(m), _) if m.lower > limits.major => Some(over("major", m, limits.major)),
        (_, Some(m)) if minor_above_limit => Some(over("minor", m, limits.minor)),
        _ => None,
    };
    Judgement {
        reports: recent.len(),
        major,
        minor,
        suspend,
        minor_above_limit,
    }
}

/// Who supervises a suspension of `report`'s author: the responsible specialist of the
/// agreement they wrote it under, or else the radiologist who graded it.
pub fn suspension_supervisor(
    report: &Report,
    dept: &Department,
    grader: &ProfessionalId,
) -> ProfessionalId {
    report
        .author
        .mandate
        .as_ref()
        .and_then(|m| dept.agreements.iter().find(|a| a.id == m.agreement_id))
        .and_then(|a| a.responsible_specialists.first().cloned())
        .unwrap_or_else(|| grader.clone())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiftError {
    #[error("only {supervisor}, who is named on the suspension, can lift it")]
    NotSupervisor { supervisor: ProfessionalId },
    #[error("the suspension was already lifted on {0}")]
    AlreadyLifted(NaiveDate),
}

impl Suspension {
    /// A new suspension by quality monitoring, liftable by `supervisor` only.
    pub fn by_monitoring(
        professional: ProfessionalId,
        task: TaskTypeId,
        since: NaiveDate,
        reason: String,
        supervisor: ProfessionalId,
    ) -> Suspension {
        Suspension {
            professional,
            task,
            since,
            reason,
            supervisor,
            lifted_on: None,
        }
    }

    pub fn lift(&mut self, by: &ProfessionalId, on: NaiveDate) -> Result<(), LiftError> {
        if let Some(d) = self.lifted_on {
            return Err(LiftError::AlreadyLifted(d));
        }
        if by != &self.supervisor {
            return Err(LiftError::NotSupervisor {
                supervisor: self.supervisor.clone(),
            });
        }
        self.lifted_on = Some(on);
        Ok(())
    }

    pub fn is_active_on(&self, day: NaiveDate) -> bool {
        self.since <= day && self.lifted_on.is_none_or(|d| d > day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grades(major: usize, minor: usize, total: usize) -> Vec<Discrepancy> {
        let mut g = vec![Discrepancy::None; total - major - minor];
        g.extend(vec![Discrepancy::Minor; minor]);
        g.extend(vec![Discrepancy::Major; major]);
        g
    }

    #[test]
    fn six_majors_in_fifty_suspend_and_five_do_not() {
        // Wilson 95%: 5/50 has lower bound 0.0435 (< 5%), 6/50 has 0.0562 (> 5%).
        let five = judge(&grades(5, 0, 50), &Limits::default());
        assert!(
            (five.major.unwrap().lower - 0.0435).abs() < 5e-4,
            "{five:?}"
        );
        assert_eq!(five.suspend, None);
        let six = judge(&grades(6, 0, 50), &Limits::default());
        assert!((six.major.unwrap().lower - 0.0562).abs() < 5e-4, "{six:?}");
        assert!(six.suspend.unwrap().contains("over the last 50 reports"));
    }

    #[test]
    fn evidence_acts_before_the_window_is_full() {
        // 3 majors in 4: Wilson 95% lower bound 30.1% (statsmodels' proportion_confint(3, 4,
        // method="wilson")), far above 5%.
        let j = judge(&grades(3, 0, 4), &Limits::default());
        assert!((j.major.unwrap().lower - 0.300_64).abs() < 5e-4, "{j:?}");
        assert!(j.suspend.unwrap().contains("over the last 4 reports"));
        // 1 major in 20: lower bound 0.89%, within the limit.
        assert_eq!(judge(&grades(1, 0, 20), &Limits::default()).suspend, None);
    }

    #[test]
    fn too_many_minor_discrepancies_suspend_too() {
        // 8 minors in 20: Wilson lower bound 21.9% > 10%.
        let j = judge(&grades(0, 8, 20), &Limits::default());
        assert!(j.suspend.unwrap().starts_with("minor discrepancy rate"));
        assert!(j.minor_above_limit);
        // 2 minors in 20: lower bound 2.8%.
        assert_eq!(judge(&grades(0, 2, 20), &Limits::default()).suspend, None);
    }

    #[test]
    fn only_the_most_recent_window_counts() {
        let mut g = vec![Discrepancy::Major; 20];
        g.extend(vec![Discrepancy::None; 50]);
        let j = judge(&g, &Limits::default());
        assert_eq!((j.reports, j.suspend), (50, None));
    }

    #[test]
    fn only_the_named_supervisor_lifts_a_suspension() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let mut s = Suspension::by_monitoring(
            ProfessionalId::parse("ap-smit").unwrap(),
            TaskTypeId::parse("oncology_preliminary_report").unwrap(),
            day,
            "test".into(),
            ProfessionalId::parse("rad-devries").unwrap(),
        );
        assert!(s.is_active_on(day));
        assert!(matches!(
            s.lift(&ProfessionalId::parse("rad-bakker").unwrap(), day),
            Err(LiftError::NotSupervisor { .. })
        ));
        s.lift(&ProfessionalId::parse("rad-devries").unwrap(), day)
            .unwrap();
        assert!(!s.is_active_on(day));
        assert!(matches!(
            s.lift(&ProfessionalId::parse("rad-devries").unwrap(), day),
            Err(LiftError::AlreadyLifted(_))
        ));
    }
}
