//! `radgate labeller evaluate`: the report labeller against people's labels of a set of
//! reports, per finding and language, as an AI application is measured.

use std::path::Path;

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use radgate_domain::labeller::{LabelledReport, Vocabulary, evaluate};
use radgate_server::labelling::{External, Labeller};

use crate::Format;
use crate::load;
use crate::serve_cmd::Target;

/// The vocabulary built into the binary (`examples/labeller.toml`).
pub const VOCABULARY: &str = include_str!("../../../examples/labeller.toml");

/// The vocabulary in `path`, or the built-in one.
pub fn vocabulary(path: Option<&Path>) -> Result<Vocabulary> {
    let text = match path {
        Some(p) => load::read(p)?,
        None => VOCABULARY.to_owned(),
    };
    Vocabulary::parse(&text).with_context(|| {
        format!(
            "{}: not a labeller vocabulary",
            path.map_or("the built-in vocabulary".into(), |p| p
                .display()
                .to_string())
        )
    })
}

/// Which labeller to run: a vocabulary file, the built-in vocabulary, or a service.
#[derive(Clone, Copy)]
pub struct Choice<'a> {
    pub vocabulary: Option<&'a Path>,
    pub url: Option<&'a str>,
}

impl Choice<'_> {
    /// The labeller chosen; an external one is asked for the register's findings.
    pub fn labeller(self, dept: &radgate_domain::Department) -> Result<Labeller> {
        match self.url {
            Some(url) => {
                let mut findings: Vec<String> = dept
                    .ai_applications
                    .iter()
                    .flat_map(|a| a.findings.iter().map(|f| f.code.to_string()))
                    .collect();
                findings.sort();
                findings.dedup();
                Ok(Labeller::External(
                    External::new(url, findings).map_err(anyhow::Error::msg)?,
                ))
            }
            None => Ok(Labeller::Vocabulary(vocabulary(self.vocabulary)?)),
        }
    }
}

/// `radgate labeller relabel`: labels the period's final reports again with the chosen
/// labeller and decides their studies' truth again, with progress on stderr.
pub fn relabel(
    target: Target,
    from: NaiveDate,
    to: NaiveDate,
    choice: Choice<'_>,
    department: Option<&Path>,
    format: Format,
) -> Result<()> {
    if to < from {
        bail!("--to ({to}) is before --from ({from})");
    }
    let labeller = match department {
        Some(d) => choice.labeller(&load::department(d)?.0)?,
        None => choice.labeller(&crate::bundled::load()?.0)?,
    };
    let done = load::runtime()?.block_on(async {
        let store = target.open().await?;
        let mut last = std::time::Instant::now();
        let done = radgate_server::labelling::relabel(&store, &labeller, from, to, |n, total| {
            if n == total || last.elapsed() >= std::time::Duration::from_secs(2) {
                eprintln!("relabelled {n} of {total} studies");
                last = std::time::Instant::now();
            }
        })
        .await?;
        anyhow::Ok(done)
    })?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        Format::Text => {
            println!(
                "relabelled {} studies from {from} to {to} with vocabulary {}",
                done.studies, done.version
            );
            if !done.failed.is_empty() {
                println!("failed ({}): {}", done.failed.len(), done.failed.join(", "));
            }
        }
    }
    if !done.failed.is_empty() {
        bail!("{} studies could not be relabelled", done.failed.len());
    }
    Ok(())
}

pub fn run(
    reports: &Path,
    vocabulary_path: Option<&Path>,
    department: Option<&Path>,
    format: Format,
) -> Result<()> {
    let mut v = vocabulary(vocabulary_path)?;
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
