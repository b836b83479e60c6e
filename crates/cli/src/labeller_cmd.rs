//! `radgate labeller evaluate`: the report labeller against people's labels of a set of
//! reports, per finding and language, as an AI application is measured.

use std::path::Path;

use anyhow::{Context, Result, bail};
use radgate_domain::labeller::{LabelledReport, Vocabulary, evaluate};

use crate::Format;
use crate::load;

/// The vocabulary built into the binary (`examples/labeller.toml`).
pub const VOCABULARY: &str = include_str!("../../../examples/labeller.toml");

pub fn run(
    reports: &Path,
    vocabulary: Option<&Path>,
    department: Option<&Path>,
    format: Format,
) -> Result<()> {
    let text = match vocabulary {
        Some(p) => load::read(p)?,
        None => VOCABULARY.to_owned(),
    };
    let mut v = Vocabulary::parse(&text).with_context(|| {
        format!(
            "{}: not a labeller vocabulary",
            vocabulary.map_or("the built-in vocabulary".into(), |p| p
                .display()
                .to_string())
        )
    })?;
    if let Some(d) = department {
        let (dept, _) = load::department(d)?;
        let register: Vec<String> = dept
            .ai_applications
            .iter()
            .flat_map(|a| a.findings.iter().map(|f| f.code.to_string()))
            .collect();
        if let Some(missing) = register
            .iter()
            .find(|c| v.findings.iter().all(|f| &f.code != *c))
        {
            bail!("the vocabulary has no terms for the register's finding `{missing}`");
        }
        v.findings.retain(|f| register.contains(&f.code));
    }
    let body = load::read(reports)?;
    let mut set = Vec::new();
    for (i, line) in body.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let r: LabelledReport = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not a labelled report", reports.display(), i + 1))?;
        if r.language != "nl" && r.language != "en" {
            bail!(
                "{}:{}: language is `nl` or `en`, not `{}`",
                reports.display(),
                i + 1,
                r.language
            );
        }
        if let Some(unknown) = r
            .labels
            .keys()
            .find(|k| v.findings.iter().all(|f| &f.code != *k))
        {
            bail!(
                "{}:{}: `{unknown}` is not a finding of the vocabulary",
                reports.display(),
                i + 1
            );
        }
        set.push(r);
    }
    let scores = evaluate(&v, &set);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&scores)?),
        Format::Text => {
            println!(
                "labeller {} against {} reports: sensitivity and specificity of `present` (Wilson 95%), Cohen's kappa",
                v.version,
                set.len()
            );
            let show = |i: &Option<radgate_stats::proportion::Interval>| {
                i.as_ref().map_or("-".to_string(), |i| {
                    format!("{:.3} [{:.3}, {:.3}]", i.estimate, i.lower, i.upper)
                })
            };
            for s in &scores {
                println!(
                    "  {:<24} {}  n {:>4}  sensitivity {}  specificity {}  kappa {}",
                    s.finding,
                    s.language,
                    s.n,
                    show(&s.sensitivity),
                    show(&s.specificity),
                    s.kappa.map_or("-".into(), |k| format!("{k:.3}"))
                );
            }
        }
    }
    Ok(())
}
