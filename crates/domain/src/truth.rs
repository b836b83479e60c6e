//! Where the truth about a study's finding comes from, and when a person must decide it.
//!
//! AI monitoring compares each AI call with the truth. A study can have up to four
//! sources, and the strongest that speaks about a finding decides:
//!
//! 1. **feedback**: the signing radiologist's verdict on the AI's call at sign-off (agree,
//!    false alarm, missed), in the spirit of IHE AI Result Assessment;
//! 2. **adjudication**: a radiologist's answer on the adjudication list;
//! 3. **coded**: the coded findings of a report written and authorized in radgate;
//! 4. **labeller**: what the labeller read in the final report text (from the RIS, or
//!    radgate's own report where it has no codes to speak).
//!
//! A finding goes on the adjudication list when the labeller decides it and its label is
//! uncertain, or the label and an AI call disagree; and when a radgate report's text
//! plainly says the opposite of its codes. Until someone adjudicates, a labelled answer
//! counts (an uncertain one does not): leaving out every disagreement would leave only
//! the cases where the AI was right.

use serde::{Deserialize, Serialize};

use crate::ids::{AiAppId, FindingCode};
use crate::labeller::{Label, Value};
use crate::monitoring::Truth;
use crate::report::Report;

/// The source of a finding's truth, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Feedback,
    Adjudication,
    Coded,
    Labeller,
}

impl Source {
    pub const ALL: [Source; 4] = [
        Source::Feedback,
        Source::Adjudication,
        Source::Coded,
        Source::Labeller,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Source::Feedback => "feedback",
            Source::Adjudication => "adjudication",
            Source::Coded => "coded",
            Source::Labeller => "labeller",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|x| x.code() == s)
    }
}

/// A radiologist's verdict on one AI call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The AI's call (positive or negative) is right.
    Agree,
    /// The AI called the finding and it is not there.
    FalseAlarm,
    /// The finding is there and the AI did not call it.
    Missed,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Agree, Verdict::FalseAlarm, Verdict::Missed];

    pub fn code(self) -> &'static str {
        match self {
            Verdict::Agree => "agree",
            Verdict::FalseAlarm => "false_alarm",
            Verdict::Missed => "missed",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|x| x.code() == s)
    }

    /// Whether this verdict can be true of a call: a false alarm needs a positive call,
    /// a miss a negative one.
    pub fn fits(self, ai_positive: bool) -> bool {
        !matches!(
            (self, ai_positive),
            (Verdict::FalseAlarm, false) | (Verdict::Missed, true)
        )
    }

    /// Whether the finding is present, given the AI's call.
    pub fn present(self, ai_positive: bool) -> bool {
        match self {
            Verdict::Agree => ai_positive,
            Verdict::FalseAlarm => false,
            Verdict::Missed => true,
        }
    }
}

/// Feedback on one AI finding of the study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feedback {
    pub app: AiAppId,
    pub finding: FindingCode,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// One AI call of a study: the application, the finding and whether it called it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub app: AiAppId,
    pub finding: FindingCode,
    pub positive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedbackError {
    #[error("{app} made no call on {finding} for this study")]
    NoSuchCall { app: AiAppId, finding: FindingCode },
    #[error("feedback on {app}'s {finding} is given twice")]
    Twice { app: AiAppId, finding: FindingCode },
    #[error(
        "{app} did not call {finding}, so it cannot be a false alarm (say `missed` or `agree`)"
    )]
    NotAnAlarm { app: AiAppId, finding: FindingCode },
    #[error("{app} called {finding}, so it did not miss it (say `false_alarm` or `agree`)")]
    NotMissed { app: AiAppId, finding: FindingCode },
    #[error("the feedback says {finding} is both present and absent")]
    Contradicts { finding: FindingCode },
    #[error("a comment has at most {max} characters")]
    CommentTooLong { max: usize },
}

/// The longest comment feedback or an adjudication keeps.
pub const MAX_COMMENT: usize = 2000;

/// Checks feedback against the study's AI calls and returns the truth it states per
/// finding. Feedback need not cover every call; what it covers must be consistent.
pub fn feedback_truth(
    feedback: &[Feedback],
    calls: &[Call],
) -> Result<Vec<(FindingCode, bool)>, FeedbackError> {
    let mut out: Vec<(FindingCode, bool)> = Vec::new();
    for (i, f) in feedback.iter().enumerate() {
        let (app, finding) = (f.app.clone(), f.finding.clone());
        if feedback[..i]
            .iter()
            .any(|g| g.app == f.app && g.finding == f.finding)
        {
            return Err(FeedbackError::Twice { app, finding });
        }
        if f.comment
            .as_ref()
            .is_some_and(|c| c.chars().count() > MAX_COMMENT)
        {
            return Err(FeedbackError::CommentTooLong { max: MAX_COMMENT });
        }
        let Some(call) = calls
            .iter()
            .find(|c| c.app == f.app && c.finding == f.finding)
        else {
            return Err(FeedbackError::NoSuchCall { app, finding });
        };
        if !f.verdict.fits(call.positive) {
            return Err(if call.positive {
                FeedbackError::NotMissed { app, finding }
            } else {
                FeedbackError::NotAnAlarm { app, finding }
            });
        }
        let present = f.verdict.present(call.positive);
        match out.iter().find(|(g, _)| *g == f.finding) {
            Some((_, p)) if *p != present => return Err(FeedbackError::Contradicts { finding }),
            Some(_) => {}
            None => out.push((finding, present)),
        }
    }
    Ok(out)
}

/// What the labeller read over a sequence of final texts (the report, then its addenda
/// or corrections, in the order received): a later text that mentions the finding
/// overrides what came before; a finding present only from a later text was found later.
/// `None` when no text was labelled for the finding.
pub fn labelled(texts: &[Vec<Label>], finding: &str) -> Option<(Value, bool)> {
    let mut value: Option<Value> = None;
    let mut first_present = false;
    for (i, labels) in texts.iter().enumerate() {
        let Some(l) = labels.iter().find(|l| l.finding == finding) else {
            continue;
        };
        // An unmentioned finding is absent in the first text and leaves an earlier
        // answer alone in a later one.
        if i == 0 || l.sentence.is_some() || value.is_none() {
            value = Some(l.value);
        }
        if i == 0 {
            first_present = l.value == Value::Present;
        }
    }
    value.map(|v| (v, v == Value::Present && !first_present))
}

/// Why a finding is on the adjudication list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The report text hedges ("cannot be excluded").
    Uncertain,
    /// The report text and an AI call disagree.
    AiDisagrees,
    /// The report's text says the opposite of its coded findings.
    TextContradictsCodes,
}

impl Reason {
    pub const ALL: [Reason; 3] = [
        Reason::Uncertain,
        Reason::AiDisagrees,
        Reason::TextContradictsCodes,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Reason::Uncertain => "uncertain",
            Reason::AiDisagrees => "ai_disagrees",
            Reason::TextContradictsCodes => "text_contradicts_codes",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|x| x.code() == s)
    }
}

/// Everything known about a study's truth.
#[derive(Debug, Default)]
pub struct Evidence<'a> {
    /// The truth the signing radiologist's feedback states ([`feedback_truth`]).
    pub feedback: &'a [(FindingCode, bool)],
    /// The adjudicated answers.
    pub adjudicated: &'a [(FindingCode, bool)],
    /// radgate's own report, if any.
    pub report: Option<&'a Report>,
    /// The labels of radgate's report text (its authorization, then each addendum).
    pub report_labels: &'a [Vec<Label>],
    /// The labels of the final texts from the RIS, in the order received.
    pub ris_labels: &'a [Vec<Label>],
}

/// A finding's truth and where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FindingTruth {
    pub present: bool,
    pub found_later: bool,
    pub source: Source,
}

/// The truth of each called finding (none while unknown) and what a person must decide.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decided {
    pub truth: Vec<(FindingCode, Option<FindingTruth>)>,
    pub adjudicate: Vec<(FindingCode, Reason)>,
}

/// Decides the truth of every finding the study's AI calls name, by the order of
/// [`Source`], and which findings a radiologist must adjudicate.
pub fn decide(calls: &[Call], ev: &Evidence<'_>) -> Decided {
    let mut findings: Vec<&FindingCode> = Vec::new();
    for c in calls {
        if !findings.contains(&&c.finding) {
            findings.push(&c.finding);
        }
    }
    let coded = ev.report.and_then(Truth::of);
    let mut out = Decided::default();
    for f in findings {
        let ai_calls: Vec<bool> = calls
            .iter()
            .filter(|c| c.finding == *f)
            .map(|c| c.positive)
            .collect();
        let given = |list: &[(FindingCode, bool)]| list.iter().find(|(g, _)| g == f).map(|x| x.1);
        // Adjudication is owed only where nothing stronger than the text speaks.
        let mut owed: Option<Reason> = None;
        let truth = if let Some(p) = given(ev.feedback) {
            Some((p, false, Source::Feedback))
        } else if let Some(p) = given(ev.adjudicated) {
            Some((p, false, Source::Adjudication))
        } else if let Some(t) = &coded {
            let present = t.present.contains(f);
            // The text contradicts the codes only where it plainly says the opposite: an
            // affirmed mention the codes leave out, or a negated mention they include.
            if let Some((v, _)) = labelled(ev.report_labels, f.as_str()) {
                let mentioned = ev
                    .report_labels
                    .iter()
                    .flatten()
                    .any(|l| l.finding == f.as_str() && l.sentence.is_some());
                let contradicts = match v {
                    Value::Present => !present,
                    Value::Absent => present && mentioned,
                    Value::Uncertain => false,
                };
                if contradicts {
                    owed = Some(Reason::TextContradictsCodes);
                }
            }
            Some((present, t.found_later.contains(f), Source::Coded))
        } else {
            let from_text = labelled(ev.ris_labels, f.as_str())
                .or_else(|| labelled(ev.report_labels, f.as_str()));
            match from_text {
                Some((Value::Uncertain, _)) => {
                    owed = Some(Reason::Uncertain);
                    None
                }
                Some((v, later)) => {
                    let present = v == Value::Present;
                    if ai_calls.iter().any(|&p| p != present) {
                        owed = Some(Reason::AiDisagrees);
                    }
                    Some((present, later, Source::Labeller))
                }
                None => None,
            }
        };
        if let Some(r) = owed {
            out.adjudicate.push((f.clone(), r));
        }
        out.truth.push((
            f.clone(),
            truth.map(|(present, found_later, source)| FindingTruth {
                present,
                found_later,
                source,
            }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(app: &str, finding: &str, positive: bool) -> Call {
        Call {
            app: AiAppId::parse(app).unwrap(),
            finding: FindingCode::parse(finding).unwrap(),
            positive,
        }
    }

    fn fb(app: &str, finding: &str, verdict: Verdict) -> Feedback {
        Feedback {
            app: AiAppId::parse(app).unwrap(),
            finding: FindingCode::parse(finding).unwrap(),
            verdict,
            comment: None,
        }
    }

    fn label(finding: &str, value: Value, mentioned: bool) -> Label {
        Label {
            finding: finding.into(),
            value,
            version: "t".into(),
            sentence: mentioned.then(|| "s".into()),
            cue: None,
        }
    }

    const PE: &str = "pulmonary_embolism";

    #[test]
    fn feedback_states_the_truth_of_each_call_and_refuses_what_cannot_be() {
        let calls = [call("pe-a", PE, true), call("pe-b", PE, false)];
        let t = feedback_truth(&[fb("pe-a", PE, Verdict::FalseAlarm)], &calls).unwrap();
        assert_eq!(t, [(FindingCode::parse(PE).unwrap(), false)]);
        let t = feedback_truth(
            &[
                fb("pe-a", PE, Verdict::Agree),
                fb("pe-b", PE, Verdict::Missed),
            ],
            &calls,
        )
        .unwrap();
        assert_eq!(t, [(FindingCode::parse(PE).unwrap(), true)]);
        let refusals = [
            (
                vec![fb("pe-b", PE, Verdict::FalseAlarm)],
                "cannot be a false alarm",
            ),
            (vec![fb("pe-a", PE, Verdict::Missed)], "did not miss"),
            (vec![fb("pe-c", PE, Verdict::Agree)], "made no call"),
            (
                vec![
                    fb("pe-a", PE, Verdict::Agree),
                    fb("pe-a", PE, Verdict::Agree),
                ],
                "twice",
            ),
            (
                vec![
                    fb("pe-a", PE, Verdict::Agree),
                    fb("pe-b", PE, Verdict::Agree),
                ],
                "both present and absent",
            ),
        ];
        for (given, says) in refusals {
            let e = feedback_truth(&given, &calls).unwrap_err().to_string();
            assert!(e.contains(says), "{given:?}: {e}");
        }
    }

    #[test]
    fn the_strongest_source_decides_and_the_text_sends_doubt_to_a_person() {
        let calls = [call("pe-a", PE, true)];
        let pe = FindingCode::parse(PE).unwrap();
        let absent_text = [vec![label(PE, Value::Absent, true)]];
        // The labeller alone: it decides, and its disagreement with the AI is adjudicated.
        let d = decide(
            &calls,
            &Evidence {
                ris_labels: &absent_text,
                ..Evidence::default()
            },
        );
        assert_eq!(d.truth[0].1.unwrap().source, Source::Labeller);
        assert!(!d.truth[0].1.unwrap().present);
        assert_eq!(d.adjudicate, [(pe.clone(), Reason::AiDisagrees)]);
        // The adjudicated answer overrides it, and nothing more is owed.
        let adjudicated = [(pe.clone(), true)];
        let d = decide(
            &calls,
            &Evidence {
                ris_labels: &absent_text,
                adjudicated: &adjudicated,
                ..Evidence::default()
            },
        );
        assert_eq!(
            d.truth[0].1.unwrap(),
            FindingTruth {
                present: true,
                found_later: false,
                source: Source::Adjudication
            }
        );
        assert!(d.adjudicate.is_empty());
        // Feedback overrides the adjudication.
        let feedback = [(pe.clone(), false)];
        let d = decide(
            &calls,
            &Evidence {
                feedback: &feedback,
                adjudicated: &adjudicated,
                ris_labels: &absent_text,
                ..Evidence::default()
            },
        );
        assert_eq!(d.truth[0].1.unwrap().source, Source::Feedback);
        assert!(!d.truth[0].1.unwrap().present);
        // An uncertain text has no truth until a person decides.
        let hedged = [vec![label(PE, Value::Uncertain, true)]];
        let d = decide(
            &calls,
            &Evidence {
                ris_labels: &hedged,
                ..Evidence::default()
            },
        );
        assert_eq!(d.truth[0].1, None);
        assert_eq!(d.adjudicate, [(pe.clone(), Reason::Uncertain)]);
        // Agreement with the AI needs nobody.
        let present_text = [vec![label(PE, Value::Present, true)]];
        let d = decide(
            &calls,
            &Evidence {
                ris_labels: &present_text,
                ..Evidence::default()
            },
        );
        assert!(d.truth[0].1.unwrap().present && d.adjudicate.is_empty());
        // Nothing known: no truth, nothing owed.
        let d = decide(&calls, &Evidence::default());
        assert_eq!(d.truth, [(pe, None)]);
        assert!(d.adjudicate.is_empty());
    }

    #[test]
    fn a_later_text_that_mentions_the_finding_overrides_and_counts_as_found_later() {
        let report = vec![label(PE, Value::Absent, false)];
        let addendum = vec![label(PE, Value::Present, true)];
        let silent = vec![label(PE, Value::Absent, false)];
        assert_eq!(
            labelled(&[report.clone(), addendum.clone()], PE),
            Some((Value::Present, true))
        );
        assert_eq!(
            labelled(&[report.clone(), addendum, silent], PE),
            Some((Value::Present, true)),
            "a later text silent on the finding changes nothing"
        );
        let first = vec![label(PE, Value::Present, true)];
        let retracted = vec![label(PE, Value::Absent, true)];
        assert_eq!(
            labelled(&[first, retracted], PE),
            Some((Value::Absent, false))
        );
        assert_eq!(labelled(&[report], "fracture"), None);
    }
}
