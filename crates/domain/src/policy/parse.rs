//! Reading a policy from TOML, reporting every problem with its line.

use super::{AiCondition, AiMissing, Conditions, Outcome, Policy, Rule, SlaTable};
use crate::config::{Diagnostics, Ids, Located, Reader, Table, parsed};
use crate::decision::Pathway;
use crate::ids::{AiAppId, FindingCode, RuleId, TaskTypeId};
use crate::study::Priority;

impl Policy {
    /// Parses a policy. Problems of syntax, unknown keys, types and single values are all
    /// reported at once; cross-checks (shadowing, references) are in [`super::check`].
    pub fn parse(text: &str) -> Result<Policy, Diagnostics> {
        match Policy::parse_partly(text) {
            (Some(p), problems) if problems.is_empty() => Ok(p),
            (_, problems) => Err(Diagnostics(problems)),
        }
    }

    /// Parses what can be parsed: the problems found, and, where the file's structure
    /// allows (its version, SLA table and default read), the policy made of the rules that
    /// read without a problem, so that [`super::check`] can report the semantic problems
    /// in the same pass. Leaving a broken rule out can hide a problem of a later rule, never
    /// invent one.
    pub fn parse_partly(text: &str) -> (Option<Policy>, Vec<crate::config::Diagnostic>) {
        let mut r = Reader::new(text);
        let Some(doc) = r.parse() else {
            return (None, r.into_diagnostics());
        };
        let mut top = Table::new(&doc, "the policy", 1);
        let version = top.req_string(&mut r, "version");
        if let Some(v) = &version
            && v.value.trim().is_empty()
        {
            r.error(v.line, "`version` must not be empty");
        }
        let name = top.string(&mut r, "name").map(|n| n.value);
        let department = top.string(&mut r, "department").map(|d| d.value);
        let allow_autonomous_normal = top
            .boolean(&mut r, "allow_autonomous_normal")
            .is_some_and(|b| b.value);
        let ai_wait_minutes = top.count(&mut r, "ai_wait_minutes").map_or(30, |m| m.value);

        let sla = match top.table(&mut r, "sla") {
            Some(mut t) => {
                let mut get = |key| {
                    let present = t.has(key);
                    let v = t.count(&mut r, key);
                    if !present {
                        r.error(t.line, format!("[sla] is missing `{key}` (minutes)"));
                    }
                    v.map_or(0, |v| v.value)
                };
                let sla = SlaTable {
                    stat: get("stat"),
                    urgent: get("urgent"),
                    routine: get("routine"),
                };
                t.finish(&mut r);
                Some(sla)
            }
            None => {
                r.error(
                    1,
                    "the policy is missing the [sla] table (minutes per priority)",
                );
                None
            }
        };

        let default = match top.table(&mut r, "default") {
            Some(mut t) => {
                t.name = "[default]".into();
                let line = t.line;
                let o = outcome(&mut r, &mut t);
                t.finish(&mut r);
                o.map(|o| (o, line))
            }
            None => {
                r.error(1, "the policy is missing the [default] outcome");
                None
            }
        };

        let mut rules = Vec::new();
        let mut ids = Ids::new("rule");
        for mut t in top.tables(&mut r, "rule") {
            let problems_before = r.error_count();
            let id = ids.read(&mut r, &mut t);
            let id = id.and_then(|id| parsed(&mut r, id, RuleId::parse));
            let description = t.string(&mut r, "description").map(|d| d.value);
            let when = match t.table(&mut r, "when") {
                Some(mut w) => {
                    w.name = format!("{}.when", t.name);
                    let c = conditions(&mut r, &mut w);
                    w.finish(&mut r);
                    c
                }
                None => Conditions::default(),
            };
            let then = match t.table(&mut r, "then") {
                Some(mut th) => {
                    th.name = format!("{}.then", t.name);
                    let o = outcome(&mut r, &mut th);
                    th.finish(&mut r);
                    o
                }
                None => {
                    r.error(
                        t.line,
                        format!("{} is missing its [rule.then] outcome", t.name),
                    );
                    None
                }
            };
            let line = t.line;
            t.finish(&mut r);
            let clean = r.error_count() == problems_before;
            if let (Some(id), Some(then), true) = (id, then, clean) {
                rules.push(Rule {
                    id,
                    line,
                    description: description.unwrap_or_default(),
                    when,
                    then,
                });
            }
        }
        top.finish(&mut r);

        let policy = match (version, sla, default) {
            (Some(version), Some(sla), Some((default, default_line))) => Some(Policy {
                version: version.value,
                name: name.unwrap_or_default(),
                department,
                allow_autonomous_normal,
                ai_wait_minutes,
                sla,
                default,
                default_line,
                rules,
            }),
            _ => None,
        };
        (policy, r.into_diagnostics())
    }
}

fn outcome(r: &mut Reader, t: &mut Table) -> Option<Outcome> {
    let pathway = t.req_string(r, "pathway").and_then(|p| {
        let found = Pathway::parse(&p.value);
        if found.is_none() {
            let known: Vec<_> = Pathway::ALL.iter().map(|p| p.code()).collect();
            r.error(
                p.line,
                format!(
                    "unknown pathway `{}` (known: {})",
                    p.value,
                    known.join(", ")
                ),
            );
        }
        found
    });
    let task = t.req_string(r, "task");
    let task_line = task.as_ref().map_or(t.line, |l| l.line);
    let task = task.and_then(|v| parsed(r, v, TaskTypeId::parse));
    let priority = t.string(r, "priority").and_then(|p| priority(r, p));
    let sla_minutes = t.count(r, "sla_minutes").map(|m| m.value);
    let readers = t.count(r, "readers").and_then(|n| {
        if (1..=4).contains(&n.value) {
            Some(n.value as u8)
        } else {
            r.error(
                n.line,
                format!("`readers` must be 1 to 4, found {}", n.value),
            );
            None
        }
    });
    let review_fraction = match t.float(r, "review_fraction") {
        Some(f) if !(0.0..=1.0).contains(&f.value) => {
            r.error(
                f.line,
                format!("`review_fraction` must lie in [0, 1], found {}", f.value),
            );
            0.0
        }
        Some(f) => f.value,
        None => 0.0,
    };
    let flags = t.strings(r, "flags").map_or(Vec::new(), |f| f.value);
    let (pathway, task) = (pathway?, task?);
    match (pathway, readers) {
        (Pathway::DoubleRead, Some(n)) if n < 2 => {
            r.error(
                t.line,
                format!("{}: double_read needs `readers` >= 2", t.name),
            );
        }
        (p, Some(n)) if p != Pathway::DoubleRead && n != 1 => {
            r.error(
                t.line,
                format!(
                    "{}: only double_read has more than one reader, {p} has 1",
                    t.name
                ),
            );
        }
        _ => {}
    }
    Some(Outcome {
        pathway,
        task,
        task_line,
        priority,
        sla_minutes,
        readers,
        review_fraction,
        flags,
    })
}

fn priority(r: &mut Reader, p: Located<String>) -> Option<Priority> {
    let found = Priority::parse(&p.value);
    if found.is_none() {
        r.error(
            p.line,
            format!(
                "unknown priority `{}` (known: stat, urgent, routine)",
                p.value
            ),
        );
    }
    found
}

fn conditions(r: &mut Reader, t: &mut Table) -> Conditions {
    let mut c = Conditions {
        modality: t.strings(r, "modality").map(|v| v.value),
        procedure_code: t.strings(r, "procedure_code").map(|v| v.value),
        body_part: t.strings(r, "body_part").map(|v| v.value),
        site: t.strings(r, "site").map(|v| v.value),
        ordering_department: t.strings(r, "ordering_department").map(|v| v.value),
        ..Conditions::default()
    };
    c.priority = t.list(r, "priority", priority).map(|l| l.value);
    c.age_min = t.count(r, "age_min").map(|v| v.value);
    c.age_max = t.count(r, "age_max").map(|v| v.value);
    if let (Some(lo), Some(hi)) = (c.age_min, c.age_max)
        && lo > hi
    {
        r.error(
            t.line,
            format!("{}: age_min {lo} is greater than age_max {hi}", t.name),
        );
    }
    for mut a in t.tables(r, "ai") {
        a.name = format!("{} ai condition", t.name);
        let score_min = a.float(r, "score_min");
        let score_max = a.float(r, "score_max");
        let app = a.string(r, "app");
        let line_of = |v: Option<usize>| v.unwrap_or(a.line);
        let (app_line, score_min_line, score_max_line) = (
            line_of(app.as_ref().map(|v| v.line)),
            line_of(score_min.as_ref().map(|v| v.line)),
            line_of(score_max.as_ref().map(|v| v.line)),
        );
        let cond = AiCondition {
            app: app.and_then(|v| parsed(r, v, AiAppId::parse)),
            finding: a
                .string(r, "finding")
                .and_then(|v| parsed(r, v, FindingCode::parse)),
            score_min: score_min.map(|v| v.value),
            score_max: score_max.map(|v| v.value),
            critical: a.boolean(r, "critical").map(|v| v.value),
            normal: a.boolean(r, "normal").map(|v| v.value),
            line: a.line,
            app_line,
            score_min_line,
            score_max_line,
        };
        if let (Some(lo), Some(hi)) = (cond.score_min, cond.score_max)
            && lo > hi
        {
            r.error(
                a.line,
                format!("score_min {lo} is greater than score_max {hi}"),
            );
        }
        if cond.critical == Some(true) && cond.normal == Some(true) {
            r.error(a.line, "an AI finding cannot be both critical and normal");
        }
        a.finish(r);
        c.ai.push(cond);
    }
    for mut m in t.tables(r, "ai_missing") {
        m.name = format!("{} ai_missing condition", t.name);
        let app = m
            .req_string(r, "app")
            .and_then(|v| parsed(r, v, AiAppId::parse));
        let after = m.req_count(r, "after_minutes").map(|v| v.value);
        let line = m.line;
        m.finish(r);
        if let (Some(app), Some(after_minutes)) = (app, after) {
            c.ai_missing.push(AiMissing {
                app,
                after_minutes,
                line,
            });
        }
    }
    c
}
