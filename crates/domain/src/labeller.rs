//! From report text to present / absent / uncertain per finding of the register: a
//! deterministic, explainable labeller in the manner of ConText (Harkema et al., 2009).
//!
//! The vocabulary is data (`examples/labeller.toml`): per finding the words Dutch and
//! English reports use, and the cues that negate a mention, hedge it or place it in the
//! past, with the words that end a cue's reach. A report's conclusion section decides
//! first where it names the finding. Every label carries the vocabulary's version and the
//! words that decided it.
//!
//! A mention is matched on whole words, longest first; a shorter term inside a longer one
//! ("fracture" in "cervical spine fracture") is not a second mention. A cue reaches a
//! mention within [`REACH`] words in the same sentence, up to a terminator ("but",
//! "maar"). Where cues compete, the longest wins, and a hedge beats a negation of the
//! same length ("cannot be excluded" is a hedge, not an exclusion). A finding is present
//! when one mention is affirmed, else uncertain when one is hedged, else absent (negated,
//! only in the past, or not mentioned).

use serde::{Deserialize, Serialize};

/// How many words a cue reaches.
pub const REACH: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cues {
    pub negation_before: Vec<String>,
    pub negation_after: Vec<String>,
    pub uncertain_before: Vec<String>,
    pub uncertain_after: Vec<String>,
    pub history: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindingTerms {
    pub code: String,
    pub en: Vec<String>,
    pub nl: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {
    pub version: String,
    pub conclusion_headers: Vec<String>,
    pub terminators: Vec<String>,
    pub cues: Cues,
    #[serde(rename = "finding")]
    pub findings: Vec<FindingTerms>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VocabularyError {
    #[error("{0}")]
    Toml(String),
    #[error("finding `{0}` is listed twice")]
    Twice(String),
    #[error("finding `{0}` has no terms")]
    NoTerms(String),
}

impl Vocabulary {
    pub fn parse(text: &str) -> Result<Vocabulary, VocabularyError> {
        let v: Vocabulary =
            toml::from_str(text).map_err(|e| VocabularyError::Toml(e.to_string()))?;
        for (i, f) in v.findings.iter().enumerate() {
            if v.findings[..i].iter().any(|g| g.code == f.code) {
                return Err(VocabularyError::Twice(f.code.clone()));
            }
            if f.en.is_empty() && f.nl.is_empty() {
                return Err(VocabularyError::NoTerms(f.code.clone()));
            }
        }
        Ok(v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    Present,
    Absent,
    Uncertain,
}

/// One finding's label with the words that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub finding: String,
    pub value: Value,
    pub version: String,
    /// The sentence of the deciding mention, as the labeller read it (lower case), and
    /// the cue that turned it, if any; none when the report does not mention the finding.
    pub sentence: Option<String>,
    pub cue: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Affirmed,
    Negated,
    Uncertain,
    Historical,
}

/// A finding mentioned in a sentence, and how.
struct Mention {
    finding: usize,
    kind: Kind,
    sentence: usize,
    cue: Option<String>,
}

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// Lower case, punctuation as spaces (hyphens inside words kept), sentences split at
/// `.`, `;`, `!`, `?`, `:` and line ends. A line that is a header (a word followed by
/// `:`) starts a section.
fn sentences(text: &str) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, out: &mut Vec<(Vec<String>, String)>| {
        let w = words(current);
        if !w.is_empty() {
            out.push((w, current.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
        current.clear();
    };
    for c in text.chars().flat_map(char::to_lowercase) {
        match c {
            '.' | ';' | '!' | '?' | ':' | '\n' | '\r' => flush(&mut current, &mut out),
            c if c.is_alphanumeric() || c == '-' || c == '\'' => current.push(c),
            _ => current.push(' '),
        }
    }
    flush(&mut current, &mut out);
    out
}

/// Where `phrase` (as words) occurs in `sentence`, as `start..end` word ranges.
fn occurrences(sentence: &[String], phrase: &[String]) -> Vec<(usize, usize)> {
    if phrase.is_empty() || phrase.len() > sentence.len() {
        return Vec::new();
    }
    (0..=sentence.len() - phrase.len())
        .filter(|&i| sentence[i..i + phrase.len()] == *phrase)
        .map(|i| (i, i + phrase.len()))
        .collect()
}

/// Labels `text` for every finding of the vocabulary.
pub fn label(v: &Vocabulary, text: &str) -> Vec<Label> {
    let sents = sentences(text);
    let headers: Vec<Vec<String>> = v.conclusion_headers.iter().map(|h| words(h)).collect();
    // The conclusion: the sentences after a header sentence, up to the end (reports put
    // it last; a later header of another kind would be rare and is read as part of it).
    let conclusion_from = sents
        .iter()
        .position(|(w, _)| headers.iter().any(|h| w == h));
    let terminators: Vec<Vec<String>> = v.terminators.iter().map(|t| words(t)).collect();
    let cue_sets: [(&[String], Kind, bool); 5] = [
        (&v.cues.negation_before, Kind::Negated, true),
        (&v.cues.negation_after, Kind::Negated, false),
        (&v.cues.uncertain_before, Kind::Uncertain, true),
        (&v.cues.uncertain_after, Kind::Uncertain, false),
        (&v.cues.history, Kind::Historical, true),
    ];
    let mut mentions = Vec::new();
    for (si, (w, _)) in sents.iter().enumerate() {
        // Every term of every finding, longest first, whole words, no overlaps.
        let mut found: Vec<(usize, usize, usize)> = Vec::new();
        let mut terms: Vec<(usize, Vec<String>)> = v
            .findings
            .iter()
            .enumerate()
            .flat_map(|(fi, f)| f.en.iter().chain(&f.nl).map(move |t| (fi, words(t))))
            .collect();
        terms.sort_by_key(|t| std::cmp::Reverse(t.1.len()));
        for (fi, t) in &terms {
            for (s, e) in occurrences(w, t) {
                if found.iter().all(|&(_, fs, fe)| e <= fs || s >= fe) {
                    found.push((*fi, s, e));
                }
            }
        }
        let stops: Vec<usize> = terminators
            .iter()
            .flat_map(|t| occurrences(w, t).into_iter().map(|(s, _)| s))
            .collect();
        for (fi, s, e) in found {
            // The reach: back to the last terminator before the mention, forward to the
            // first after it, at most REACH words each way.
            let from = stops
                .iter()
                .filter(|&&x| x < s)
                .max()
                .map_or(0, |x| x + 1)
                .max(s.saturating_sub(REACH));
            let to = stops
                .iter()
                .filter(|&&x| x >= e)
                .min()
                .copied()
                .unwrap_or(w.len())
                .min(e + REACH);
            let mut best: Option<(usize, Kind, String)> = None;
            for (cues, kind, before) in &cue_sets {
                for cue in cues.iter() {
                    let cw = words(cue);
                    let (lo, hi) = if *before { (from, s) } else { (e, to) };
                    let hit = occurrences(w, &cw)
                        .into_iter()
                        .any(|(cs, ce)| cs >= lo && ce <= hi);
                    if !hit {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some((len, k, _)) => {
                            cw.len() > *len
                                || (cw.len() == *len
                                    && *kind == Kind::Uncertain
                                    && *k == Kind::Negated)
                        }
                    };
                    if better {
                        best = Some((cw.len(), *kind, cue.clone()));
                    }
                }
            }
            let (kind, cue) = match best {
                Some((_, k, c)) => (k, Some(c)),
                None => (Kind::Affirmed, None),
            };
            mentions.push(Mention {
                finding: fi,
                kind,
                sentence: si,
                cue,
            });
        }
    }
    v.findings
        .iter()
        .enumerate()
        .map(|(fi, f)| {
            let all: Vec<&Mention> = mentions.iter().filter(|m| m.finding == fi).collect();
            let in_conclusion: Vec<&Mention> = match conclusion_from {
                Some(c) => all.iter().copied().filter(|m| m.sentence > c).collect(),
                None => Vec::new(),
            };
            let deciding = if in_conclusion.is_empty() {
                all
            } else {
                in_conclusion
            };
            let pick = |k: Kind| deciding.iter().find(|m| m.kind == k).copied();
            let (value, m) = if let Some(m) = pick(Kind::Affirmed) {
                (Value::Present, Some(m))
            } else if let Some(m) = pick(Kind::Uncertain) {
                (Value::Uncertain, Some(m))
            } else if let Some(m) = pick(Kind::Negated) {
                (Value::Absent, Some(m))
            } else {
                (Value::Absent, pick(Kind::Historical))
            };
            Label {
                finding: f.code.clone(),
                value,
                version: v.version.clone(),
                sentence: m.map(|m| sents[m.sentence].1.clone()),
                cue: m.and_then(|m| m.cue.clone()),
            }
        })
        .collect()
}

/// One report of an evaluation set, with a person's labels (`radgate labeller evaluate`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledReport {
    pub id: String,
    pub language: String,
    pub text: String,
    /// Finding code to value; a finding left out is not scored for this report.
    pub labels: std::collections::BTreeMap<String, Value>,
}

/// How the labeller agrees with people on one finding in one language: "present" as the
/// positive call, with Wilson 95% intervals, and Cohen's kappa over the three values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    pub finding: String,
    pub language: String,
    pub n: usize,
    pub sensitivity: Option<radgate_stats::proportion::Interval>,
    pub specificity: Option<radgate_stats::proportion::Interval>,
    pub kappa: Option<f64>,
    /// Reports where the labeller and the person differ, by id.
    pub disagreements: Vec<String>,
}

fn code(v: Value) -> i64 {
    match v {
        Value::Absent => 0,
        Value::Uncertain => 1,
        Value::Present => 2,
    }
}

/// Scores the labeller against `reports`, per finding of the vocabulary and language,
/// in vocabulary order and then by language.
pub fn evaluate(v: &Vocabulary, reports: &[LabelledReport]) -> Vec<Score> {
    use radgate_stats::proportion::{Method, proportion};
    let labelled: Vec<(&LabelledReport, Vec<Label>)> =
        reports.iter().map(|r| (r, label(v, &r.text))).collect();
    let mut languages: Vec<&str> = reports.iter().map(|r| r.language.as_str()).collect();
    languages.sort_unstable();
    languages.dedup();
    let mut out = Vec::new();
    for f in &v.findings {
        for lang in &languages {
            let mut pairs = Vec::new();
            let mut ids = Vec::new();
            for (r, labels) in labelled.iter().filter(|(r, _)| r.language == *lang) {
                let Some(truth) = r.labels.get(&f.code) else {
                    continue;
                };
                let got = labels
                    .iter()
                    .find(|l| l.finding == f.code)
                    .map_or(Value::Absent, |l| l.value);
                if got != *truth {
                    ids.push(r.id.clone());
                }
                pairs.push((*truth, got));
            }
            if pairs.is_empty() {
                continue;
            }
            let count = |t: bool, g: bool| {
                pairs
                    .iter()
                    .filter(|(a, b)| (*a == Value::Present) == t && (*b == Value::Present) == g)
                    .count() as u64
            };
            let (tp, fn_, tn, fp) = (
                count(true, true),
                count(true, false),
                count(false, false),
                count(false, true),
            );
            let rate = |k, n| proportion(k, n, Method::Wilson, 0.95).ok();
            let coded: Vec<(i64, i64)> = pairs.iter().map(|(a, b)| (code(*a), code(*b))).collect();
            out.push(Score {
                finding: f.code.clone(),
                language: (*lang).to_owned(),
                n: pairs.len(),
                sensitivity: rate(tp, tp + fn_),
                specificity: rate(tn, tn + fp),
                kappa: radgate_stats::agreement::cohen_kappa(
                    &coded,
                    radgate_stats::agreement::Weights::None,
                )
                .ok()
                .map(|k| k.kappa),
                disagreements: ids,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOCABULARY: &str = include_str!("../../../examples/labeller.toml");

    fn value(text: &str, finding: &str) -> Value {
        let v = Vocabulary::parse(VOCABULARY).unwrap();
        label(&v, text)
            .into_iter()
            .find(|l| l.finding == finding)
            .unwrap()
            .value
    }

    #[test]
    fn english_mentions_negations_hedges_and_the_past() {
        use Value::*;
        let pe = "pulmonary_embolism";
        for (text, expected) in [
            (
                "Filling defects in the right lower lobe arteries, consistent with pulmonary embolism.",
                Present,
            ),
            ("No evidence of pulmonary embolism.", Absent),
            ("Pulmonary embolism is excluded.", Absent),
            ("Pulmonary embolism cannot be excluded.", Uncertain),
            ("Possible small subsegmental embolus.", Uncertain),
            ("Known pulmonary embolism, unchanged.", Absent),
            (
                "No consolidation, but a pulmonary embolism in the left lower lobe.",
                Present,
            ),
            ("Normal study.", Absent),
        ] {
            assert_eq!(value(text, pe), expected, "{text}");
        }
    }

    #[test]
    fn dutch_mentions_negations_hedges_and_the_past() {
        use Value::*;
        let pe = "pulmonary_embolism";
        for (text, expected) in [
            ("Centrale longembolie rechts.", Present),
            ("Geen aanwijzingen voor longembolie.", Absent),
            ("Longembolie is niet uit te sluiten.", Uncertain),
            (
                "Verdenking op longembolie in de rechter onderkwab.",
                Uncertain,
            ),
            ("Longembolie kan niet worden uitgesloten.", Uncertain),
            ("Bekende longembolie links.", Absent),
            ("Longembolie is uitgesloten.", Absent),
            ("Geen pleuravocht, maar wel een longembolie links.", Present),
        ] {
            assert_eq!(value(text, pe), expected, "{text}");
        }
    }

    #[test]
    fn the_conclusion_decides_and_a_longer_term_is_one_mention() {
        let text = "Verslag: mogelijk een fractuur van de radius.\nConclusie: geen fractuur.";
        assert_eq!(value(text, "fracture"), Value::Absent);
        let text = "Findings: no acute abnormality.\nImpression: fracture of the distal radius.";
        assert_eq!(value(text, "fracture"), Value::Present);
        // A cervical spine fracture is not also an appendicular "fracture".
        let text = "Cervical spine fracture at C5.";
        assert_eq!(value(text, "cspine_fracture"), Value::Present);
        assert_eq!(value(text, "fracture"), Value::Absent);
    }

    #[test]
    fn every_label_says_what_decided_it() {
        let v = Vocabulary::parse(VOCABULARY).unwrap();
        let l = label(&v, "Geen aanwijzingen voor longembolie.");
        let pe = l
            .iter()
            .find(|l| l.finding == "pulmonary_embolism")
            .unwrap();
        assert_eq!(pe.version, v.version);
        assert_eq!(pe.cue.as_deref(), Some("geen aanwijzingen voor"));
        assert_eq!(
            pe.sentence.as_deref(),
            Some("geen aanwijzingen voor longembolie")
        );
        let ptx = l.iter().find(|l| l.finding == "pneumothorax").unwrap();
        assert_eq!((ptx.value, ptx.sentence.as_deref()), (Value::Absent, None));
    }

    #[test]
    fn the_evaluation_counts_present_as_the_positive_call_and_names_disagreements() {
        let v = Vocabulary::parse(VOCABULARY).unwrap();
        let report = |id: &str, text: &str, truth: Value| LabelledReport {
            id: id.into(),
            language: "en".into(),
            text: text.into(),
            labels: [("pneumothorax".to_string(), truth)].into_iter().collect(),
        };
        let set = [
            report("a", "Pneumothorax on the right.", Value::Present),
            report("b", "No pneumothorax.", Value::Absent),
            // The person read a present finding the text hedges: a miss of "present".
            report("c", "Possible pneumothorax.", Value::Present),
            report("d", "Normal study.", Value::Absent),
        ];
        let scores = evaluate(&v, &set);
        let s = scores.iter().find(|s| s.finding == "pneumothorax").unwrap();
        assert_eq!(s.n, 4);
        let sens = s.sensitivity.as_ref().unwrap();
        assert!((sens.estimate - 0.5).abs() < 1e-12, "{sens:?}");
        assert!((s.specificity.as_ref().unwrap().estimate - 1.0).abs() < 1e-12);
        assert_eq!(s.disagreements, ["c"]);
        // Findings the labels leave out are not scored.
        assert!(scores.iter().all(|s| s.finding == "pneumothorax"));
    }

    #[test]
    fn a_vocabulary_with_a_finding_twice_or_an_unknown_key_is_refused() {
        let twice =
            format!("{VOCABULARY}\n[[finding]]\ncode = \"fracture\"\nen = [\"x\"]\nnl = []\n");
        assert!(matches!(
            Vocabulary::parse(&twice),
            Err(VocabularyError::Twice(_))
        ));
        let unknown = VOCABULARY.replace("version =", "versoin = \"x\"\nversion =");
        assert!(matches!(
            Vocabulary::parse(&unknown),
            Err(VocabularyError::Toml(_))
        ));
    }
}
