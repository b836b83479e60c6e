//! Static checks of a parsed policy: rules that can never fire, and references that the
//! department does not back (tasks without agreement, unknown AI applications).

use super::{AiCondition, AiMissing, Conditions, Outcome, Policy, Rule};
use crate::agreement::SupervisionMode;
use crate::config::Diagnostic;
use crate::decision::Pathway;
use crate::department::Department;

/// Every problem of a parsed policy, sorted by line. Without a department the
/// cross-references cannot be checked, and AI score thresholds are held to `[0, 1]`.
pub fn check(policy: &Policy, department: Option<&Department>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for (j, later) in policy.rules.iter().enumerate() {
        if let Some(reason) = never_holds(&later.when) {
            out.push(Diagnostic {
                line: later.line,
                message: format!("rule `{}` can never fire: {reason}", later.id),
            });
            continue;
        }
        if let Some(earlier) = policy.rules[..j]
            .iter()
            .find(|earlier| covers(&earlier.when, &later.when))
        {
            out.push(Diagnostic {
                line: later.line,
                message: format!(
                    "rule `{}` can never fire: rule `{}` (line {}) comes first and matches every study it matches",
                    later.id, earlier.id, earlier.line
                ),
            });
        }
    }
    let outcomes = std::iter::once((
        &policy.default,
        "[default]".to_string(),
        policy.default_line,
    ))
    .chain(
        policy
            .rules
            .iter()
            .map(|r| (&r.then, format!("rule `{}`", r.id), r.line)),
    );
    for (o, name, line) in outcomes {
        check_outcome(policy, o, &name, line, department, &mut out);
    }
    for rule in &policy.rules {
        check_ai(rule, department, &mut out);
    }
    out.sort_by_key(|d| d.line);
    out
}

fn check_outcome(
    policy: &Policy,
    o: &Outcome,
    name: &str,
    line: usize,
    department: Option<&Department>,
    out: &mut Vec<Diagnostic>,
) {
    let mut problem = |line, message| out.push(Diagnostic { line, message });
    if o.pathway == Pathway::AutonomousNormal {
        if !policy.allow_autonomous_normal {
            problem(
                line,
                format!(
                    "{name}: pathway autonomous_normal needs `allow_autonomous_normal = true` at the top of the policy"
                ),
            );
        }
        if o.review_fraction <= 0.0 {
            problem(
                line,
                format!("{name}: pathway autonomous_normal must have a review_fraction above 0"),
            );
        }
    }
    let Some(d) = department else { return };
    match d.task(o.task.as_str()) {
        None => problem(
            o.task_line,
            format!(
                "{name}: task `{}` is not in the department's task catalog",
                o.task
            ),
        ),
        Some(t) if t.radiologist_only => {
            if matches!(
                o.pathway,
                Pathway::Gatekeeper | Pathway::DelegatedPreliminary
            ) {
                problem(
                    o.task_line,
                    format!(
                        "{name}: pathway {} needs a delegated task, but `{}` is the radiologist's own",
                        o.pathway, o.task
                    ),
                );
            }
        }
        Some(t) => {
            if d.agreements_for(t.id.as_str()).next().is_none() {
                problem(
                    o.task_line,
                    format!(
                        "{name}: task `{}` is not covered by any task agreement",
                        o.task
                    ),
                );
            }
            // The agreement's sampled review is a legal condition of the delegation; a
            // policy may sample more, never less.
            let required = d
                .agreements_for(t.id.as_str())
                .filter_map(|a| match a.supervision {
                    SupervisionMode::SampleReview { fraction } => Some((fraction, &a.id)),
                    _ => None,
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((fraction, agreement)) = required
                && o.review_fraction < fraction
            {
                problem(
                    line,
                    format!(
                        "{name}: review_fraction {} is below the {fraction} that agreement `{agreement}` requires",
                        o.review_fraction
                    ),
                );
            }
        }
    }
}

fn check_ai(rule: &Rule, department: Option<&Department>, out: &mut Vec<Diagnostic>) {
    for c in &rule.when.ai {
        let app = c
            .app
            .as_ref()
            .and_then(|a| department.map(|d| (a, d.ai_application(a.as_str()))));
        let spec = match app {
            Some((id, None)) => {
                out.push(Diagnostic {
                    line: c.app_line,
                    message: format!(
                        "rule `{}`: AI application `{id}` is not in the department's AI register",
                        rule.id
                    ),
                });
                None
            }
            Some((_, Some(app))) if !app.status.in_use() => {
                out.push(Diagnostic {
                    line: c.app_line,
                    message: format!(
                        "rule `{}`: AI application `{}` is {} in the register; rules may not rely on it",
                        rule.id,
                        app.id,
                        app.status.code()
                    ),
                });
                None
            }
            Some((_, Some(app))) => match &c.finding {
                Some(code) => {
                    let spec = app.finding(code.as_str());
                    if spec.is_none() {
                        out.push(Diagnostic {
                            line: c.line,
                            message: format!(
                                "rule `{}`: AI application `{}` does not report finding `{code}`",
                                rule.id, app.id
                            ),
                        });
                    }
                    spec
                }
                None => None,
            },
            None => None,
        };
        let (lo, hi) = spec.map_or((0.0, 1.0), |s| s.score_range);
        for (key, v, line) in [
            ("score_min", c.score_min, c.score_min_line),
            ("score_max", c.score_max, c.score_max_line),
        ] {
            if let Some(v) = v
                && !(lo..=hi).contains(&v)
            {
                out.push(Diagnostic {
                    line,
                    message: format!(
                        "rule `{}`: threshold {key} = {v} lies outside the score range [{lo}, {hi}]",
                        rule.id
                    ),
                });
            }
        }
    }
    if let Some(d) = department {
        for m in &rule.when.ai_missing {
            if d.ai_application(m.app.as_str()).is_none() {
                out.push(Diagnostic {
                    line: m.line,
                    message: format!(
                        "rule `{}`: AI application `{}` is not in the department's AI register",
                        rule.id, m.app
                    ),
                });
            }
        }
    }
}

/// A reason why no study can satisfy these conditions, if one is evident.
fn never_holds(c: &Conditions) -> Option<String> {
    for m in &c.ai_missing {
        if c.ai.iter().any(|a| a.app.as_ref() == Some(&m.app)) {
            return Some(format!(
                "it requires both a result from AI application `{}` and its absence",
                m.app
            ));
        }
    }
    let empty = [
        ("modality", &c.modality),
        ("procedure_code", &c.procedure_code),
        ("body_part", &c.body_part),
        ("site", &c.site),
        ("ordering_department", &c.ordering_department),
    ]
    .into_iter()
    .find(|(_, l)| l.as_ref().is_some_and(Vec::is_empty));
    if let Some((key, _)) = empty {
        return Some(format!("its `{key}` list is empty"));
    }
    if c.priority.as_ref().is_some_and(Vec::is_empty) {
        return Some("its `priority` list is empty".into());
    }
    None
}

/// Whether every study (with any AI results, at any time) that satisfies `later` also
/// satisfies `earlier`. Sound but not complete: it proves coverage condition by condition
/// and does not combine several earlier rules.
pub(crate) fn covers(earlier: &Conditions, later: &Conditions) -> bool {
    fn list<T: PartialEq>(e: &Option<Vec<T>>, l: &Option<Vec<T>>) -> bool {
        match (e, l) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(e), Some(l)) => l.iter().all(|x| e.contains(x)),
        }
    }
    fn bound_lo(e: Option<u32>, l: Option<u32>) -> bool {
        e.is_none_or(|e| l.is_some_and(|l| l >= e))
    }
    fn bound_hi(e: Option<u32>, l: Option<u32>) -> bool {
        e.is_none_or(|e| l.is_some_and(|l| l <= e))
    }
    let age_constrained = earlier.age_min.is_some() || earlier.age_max.is_some();
    list(&earlier.modality, &later.modality)
        && list(&earlier.procedure_code, &later.procedure_code)
        && list(&earlier.body_part, &later.body_part)
        && list(&earlier.priority, &later.priority)
        && list(&earlier.site, &later.site)
        && list(&earlier.ordering_department, &later.ordering_department)
        && (!age_constrained
            || (bound_lo(earlier.age_min, later.age_min)
                && bound_hi(earlier.age_max, later.age_max))
                && (later.age_min.is_some() || later.age_max.is_some()))
        && earlier
            .ai
            .iter()
            .all(|e| later.ai.iter().any(|l| ai_implies(l, e)))
        && earlier
            .ai_missing
            .iter()
            .all(|e| later.ai_missing.iter().any(|l| missing_implies(l, e)))
}

/// Whether any finding accepted by `l` is also accepted by `e`.
fn ai_implies(l: &AiCondition, e: &AiCondition) -> bool {
    fn same<T: PartialEq>(e: &Option<T>, l: &Option<T>) -> bool {
        e.is_none() || e == l
    }
    same(&e.app, &l.app)
        && same(&e.finding, &l.finding)
        && same(&e.critical, &l.critical)
        && same(&e.normal, &l.normal)
        && e.score_min
            .is_none_or(|em| l.score_min.is_some_and(|lm| lm >= em))
        && e.score_max
            .is_none_or(|em| l.score_max.is_some_and(|lm| lm <= em))
}

fn missing_implies(l: &AiMissing, e: &AiMissing) -> bool {
    l.app == e.app && l.after_minutes >= e.after_minutes
}
