//! Evaluating a policy for one study: first matching rule wins.
//!
//! Matching is a cheap pass without allocation; reasons and the explanation are written
//! only for the rule that fired.

use chrono::{DateTime, Duration, Utc};

use super::{AiCondition, AiMissing, Conditions, Outcome, Policy, Rule};
use crate::ai::{AiFinding, AiResult};
use crate::decision::{AiEvidence, Decision};
use crate::study::Study;

impl Policy {
    /// Routes `study` given the AI results that have arrived by `now`: a result received
    /// after `now` is not seen. Results are read as the register says they mean
    /// (`ai::read_result`) before they come here.
    ///
    /// Deterministic: the same policy, study, results (in the same order) and `now` give
    /// the same decision.
    pub fn decide(&self, study: &Study, results: &[AiResult], now: DateTime<Utc>) -> Decision {
        let arrived: Vec<AiResult>;
        let results = if results.iter().all(|r| r.received_at <= now) {
            results
        } else {
            arrived = results
                .iter()
                .filter(|r| r.received_at <= now)
                .cloned()
                .collect();
            &arrived
        };
        let fired = self
            .rules
            .iter()
            .find(|rule| rule.when.holds(study, results, now));
        match fired {
            Some(rule) => self.decision(Some(rule), &rule.then, study, results, now),
            None => self.decision(None, &self.default, study, results, now),
        }
    }

    fn decision(
        &self,
        rule: Option<&Rule>,
        then: &Outcome,
        study: &Study,
        results: &[AiResult],
        now: DateTime<Utc>,
    ) -> Decision {
        let priority = then.priority.unwrap_or(study.priority);
        let sla_minutes = then
            .sla_minutes
            .unwrap_or_else(|| self.sla.minutes(priority));
        // Saturating: routing must not panic on any time, however far out.
        let due = study
            .acquired_at
            .checked_add_signed(Duration::minutes(sla_minutes.into()))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let (reasons, ai_evidence) = match rule {
            Some(rule) => rule.when.reasons(study, results, now),
            None => (Vec::new(), Vec::new()),
        };
        let mut decision = Decision {
            policy_version: self.version.clone(),
            rule: rule.map(|r| r.id.clone()),
            pathway: then.pathway,
            task: then.task.clone(),
            priority,
            sla_minutes,
            due,
            readers: then.readers(),
            review_fraction: then.review_fraction,
            flags: then.flags.clone(),
            reasons,
            ai_evidence,
            explanation: String::new(),
        };
        decision.explanation = explain(&decision, rule, study);
        decision
    }
}

fn explain(d: &Decision, rule: Option<&Rule>, study: &Study) -> String {
    let head = match rule {
        Some(rule) if rule.description.is_empty() => format!(
            "Rule `{}` (line {}) of policy {} fired",
            rule.id, rule.line, d.policy_version
        ),
        Some(rule) => format!(
            "Rule `{}` (line {}) of policy {} fired ({})",
            rule.id, rule.line, d.policy_version, rule.description
        ),
        None => format!(
            "No rule of policy {} matched; the policy default applies",
            d.policy_version
        ),
    };
    let because = if d.reasons.is_empty() {
        String::new()
    } else {
        format!(" because {}", d.reasons.join("; "))
    };
    let priority_source = if rule.is_some_and(|r| r.then.priority.is_some()) {
        "set by the rule"
    } else if rule.is_none() && d.priority != study.priority {
        "set by the default"
    } else {
        "as ordered"
    };
    let review = if d.review_fraction > 0.0 {
        format!(
            ", {:.1}% sampled for retrospective review",
            d.review_fraction * 100.0
        )
    } else {
        String::new()
    };
    let flags = if d.flags.is_empty() {
        String::new()
    } else {
        format!(", flagged {}", d.flags.join(", "))
    };
    format!(
        "{head}{because}. Study {} goes to pathway {} as task {}, priority {} ({priority_source}), \
         due {} ({} min after acquisition), {} reader(s){review}{flags}.",
        study.accession,
        d.pathway,
        d.task,
        d.priority,
        d.due.format("%Y-%m-%d %H:%M UTC"),
        d.sla_minutes,
        d.readers,
    )
}

fn in_list<T: PartialEq + ?Sized, U: AsRef<T>>(list: &Option<Vec<U>>, v: &T) -> bool {
    list.as_ref()
        .is_none_or(|l| l.iter().any(|x| x.as_ref() == v))
}

impl Conditions {
    pub(crate) fn holds(&self, s: &Study, results: &[AiResult], now: DateTime<Utc>) -> bool {
        in_list(&self.modality, s.modality.as_str())
            && in_list(&self.procedure_code, s.procedure_code.as_str())
            && in_list(&self.body_part, s.body_part.as_str())
            && self
                .priority
                .as_ref()
                .is_none_or(|l| l.contains(&s.priority))
            && in_list(&self.site, s.site.as_str())
            && in_list(&self.ordering_department, s.ordering_department.as_str())
            && self.age_holds(s)
            && self.ai.iter().all(|c| c.first_match(results).is_some())
            && self.ai_missing.iter().all(|m| m.holds(s, results, now))
    }

    fn age_holds(&self, s: &Study) -> bool {
        if self.age_min.is_none() && self.age_max.is_none() {
            return true;
        }
        // An age band cannot hold for a study whose age is unknown.
        s.patient_age_years.is_some_and(|age| {
            self.age_min.is_none_or(|lo| age >= lo) && self.age_max.is_none_or(|hi| age <= hi)
        })
    }

    fn reasons(
        &self,
        s: &Study,
        results: &[AiResult],
        now: DateTime<Utc>,
    ) -> (Vec<String>, Vec<AiEvidence>) {
        let mut reasons = Vec::new();
        let mut list = |name: &str, l: &Option<Vec<String>>, v: &str| {
            if let Some(l) = l {
                reasons.push(format!("{name} {v} is one of [{}]", l.join(", ")));
            }
        };
        list("modality", &self.modality, &s.modality);
        list("procedure code", &self.procedure_code, &s.procedure_code);
        list("body part", &self.body_part, &s.body_part);
        list("site", &self.site, &s.site);
        list(
            "ordering department",
            &self.ordering_department,
            &s.ordering_department,
        );
        if let Some(l) = &self.priority {
            let names: Vec<_> = l.iter().map(|p| p.code()).collect();
            reasons.push(format!(
                "ordered priority {} is one of [{}]",
                s.priority,
                names.join(", ")
            ));
        }
        if self.age_min.is_some() || self.age_max.is_some() {
            let band = match (self.age_min, self.age_max) {
                (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
                (Some(lo), None) => format!(">= {lo}"),
                (None, Some(hi)) => format!("<= {hi}"),
                (None, None) => unreachable!("checked above"),
            };
            reasons.push(format!(
                "patient age {} is in band {band}",
                s.patient_age_years.unwrap_or_default()
            ));
        }
        let mut evidence = Vec::new();
        for c in &self.ai {
            if let Some((result, finding)) = c.first_match(results) {
                reasons.push(c.describe(result, finding));
                evidence.push(AiEvidence {
                    app: result.app.clone(),
                    app_version: result.app_version.clone(),
                    finding: finding.code.clone(),
                    score: finding.score,
                    critical: finding.critical,
                    normal: finding.normal,
                });
            }
        }
        for m in &self.ai_missing {
            reasons.push(format!(
                "no result from AI application {} after {} min (waited {} min since acquisition)",
                m.app,
                m.after_minutes,
                (now - s.acquired_at).num_minutes()
            ));
        }
        (reasons, evidence)
    }
}

impl AiCondition {
    /// The first finding, in result order, that satisfies this condition.
    fn first_match<'r>(&self, results: &'r [AiResult]) -> Option<(&'r AiResult, &'r AiFinding)> {
        results
            .iter()
            .filter(|r| self.app.as_ref().is_none_or(|a| a == &r.app))
            .find_map(|r| r.findings.iter().find(|f| self.accepts(f)).map(|f| (r, f)))
    }

    fn accepts(&self, f: &AiFinding) -> bool {
        self.finding.as_ref().is_none_or(|c| c == &f.code)
            && self.critical.is_none_or(|want| f.critical == want)
            && self.normal.is_none_or(|want| f.normal == want)
            && (self.score_min.is_none() && self.score_max.is_none()
                || f.score.is_some_and(|s| {
                    self.score_min.is_none_or(|lo| s >= lo)
                        && self.score_max.is_none_or(|hi| s <= hi)
                }))
    }

    fn describe(&self, r: &AiResult, f: &AiFinding) -> String {
        let mut parts = Vec::new();
        match (f.score, self.score_min, self.score_max) {
            (Some(s), Some(lo), Some(hi)) => parts.push(format!("score {s} within [{lo}, {hi}]")),
            (Some(s), Some(lo), None) => parts.push(format!("score {s} >= {lo}")),
            (Some(s), None, Some(hi)) => parts.push(format!("score {s} <= {hi}")),
            (Some(s), None, None) => parts.push(format!("score {s}")),
            (None, ..) => {}
        }
        if let Some(c) = self.critical {
            parts.push(
                if c {
                    "flagged critical"
                } else {
                    "not flagged critical"
                }
                .into(),
            );
        }
        if let Some(n) = self.normal {
            parts.push(
                if n {
                    "called normal"
                } else {
                    "not called normal"
                }
                .into(),
            );
        }
        format!(
            "AI {} {} reported {} {}",
            r.app,
            r.app_version,
            f.code,
            parts.join(", ")
        )
    }
}

impl AiMissing {
    fn holds(&self, s: &Study, results: &[AiResult], now: DateTime<Utc>) -> bool {
        !results.iter().any(|r| r.app == self.app)
            && now - s.acquired_at >= Duration::minutes(self.after_minutes.into())
    }
}
