//! `radgate monitor`: an AI application's performance against final reports, per version
//! and finding, optionally by site, scanner, protocol or month.

use anyhow::{Result, bail};
use chrono::{NaiveDate, Utc};
use radgate_domain::monitoring::{MetricsRow, Rate, Turnaround, turnaround_rows};
use radgate_domain::truth::Source;
use radgate_store::Stratum;

use crate::serve_cmd::Target;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum MonitorFormat {
    Text,
    Json,
    Csv,
}

/// The days counted: `from` to `to` inclusive (UTC); open ends reach back to year 1 and
/// forward to tomorrow.
pub fn window(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<(NaiveDate, NaiveDate)> {
    let start = from.unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let end = to.unwrap_or_else(|| Utc::now().date_naive() + chrono::Days::new(1));
    if end < start {
        bail!("--to ({end}) is before --from ({start})");
    }
    Ok((start, end))
}

/// What the metrics are broken down by and restricted to.
pub struct Filter<'a> {
    /// site, scanner, protocol or month
    pub by: Option<&'a str>,
    /// Only calls whose truth came from this source.
    pub source: Option<&'a str>,
}

pub fn run(
    target: Target,
    app: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    filter: Filter<'_>,
    auc: bool,
    format: MonitorFormat,
) -> Result<()> {
    let source = match filter.source {
        None => None,
        Some(s) => match Source::parse(s) {
            Some(s) => Some(s),
            None => bail!("--source must be feedback, adjudication, coded or labeller, not `{s}`"),
        },
    };
    let by = match filter.by {
        None => None,
        Some(s) => match Stratum::parse(s) {
            Some(s) => Some(s),
            None => bail!("--by must be site, scanner, protocol or month, not `{s}`"),
        },
    };
    let (start, end) = window(from, to)?;
    let rows = tokio::runtime::Runtime::new()?.block_on(async {
        let store = target.open().await?;
        let rows: Vec<MetricsRow> = store
            .monitor_counts_from(app, start, end, by, source)
            .await?
            .into_iter()
            .map(MetricsRow::of)
            .collect();
        if auc {
            let scores = store.scored_calls_from(app, start, end, by, source).await?;
            return anyhow::Ok(MetricsRow::with_auc(rows, &scores));
        }
        anyhow::Ok(rows)
    })?;
    match format {
        MonitorFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        MonitorFormat::Csv => print!("{}", csv_of(&rows)),
        MonitorFormat::Text => {
            if rows.is_empty() {
                println!("{app}: no AI results on studies with a final report in this window");
            }
            for r in &rows {
                print!("{}", text_of(app, r));
            }
        }
    }
    Ok(())
}

fn pct(r: &Option<Rate>) -> String {
    match r {
        Some(r) => format!(
            "{:.1}% ({}/{}; Wilson {:.1}-{:.1}%)",
            100.0 * r.estimate,
            r.successes,
            r.trials,
            100.0 * r.wilson[0],
            100.0 * r.wilson[1]
        ),
        None => "-".into(),
    }
}

fn text_of(app: &str, r: &MetricsRow) -> String {
    let c = &r.metrics.counts;
    let mut s = format!(
        "{app} {} {}{}: TP {} FP {} FN {} TN {} (found later {})\n",
        r.version,
        r.finding,
        r.stratum
            .as_ref()
            .map(|s| format!(" [{s}]"))
            .unwrap_or_default(),
        c.tp,
        c.fp,
        c.fn_,
        c.tn,
        c.found_later
    );
    for (name, rate) in [
        ("prevalence", &r.metrics.prevalence),
        ("sensitivity", &r.metrics.sensitivity),
        ("specificity", &r.metrics.specificity),
        ("PPV", &r.metrics.ppv),
        ("NPV", &r.metrics.npv),
    ] {
        s += &format!("  {name:<12} {}\n", pct(rate));
    }
    if let Some(a) = &r.auc {
        s += &format!(
            "  ROC AUC      {:.3} (DeLong 95% {:.3}-{:.3}; {} positive, {} negative scores)\n",
            a.auc, a.lower, a.upper, a.positives, a.negatives
        );
    }
    if let Some(m) = &r.metrics.versus_human {
        s += &format!(
            "  vs initial human report on {} studies: AI alone right {}, human alone right {}, McNemar exact p {:.4}\n",
            c.paired, c.ai_only_right, c.human_only_right, m.p_exact
        );
    }
    s
}

fn csv_of(rows: &[MetricsRow]) -> String {
    let mut out = String::from("version,finding,stratum,tp,fp,fn,tn,found_later");
    for name in ["prevalence", "sensitivity", "specificity", "ppv", "npv"] {
        for part in [
            "",
            "_wald_lo",
            "_wald_hi",
            "_wilson_lo",
            "_wilson_hi",
            "_exact_lo",
            "_exact_hi",
        ] {
            out += &format!(",{name}{part}");
        }
    }
    out += ",paired,ai_only_right,human_only_right,mcnemar_p_exact,auc,auc_lower,auc_upper\n";
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    for r in rows {
        let c = &r.metrics.counts;
        out += &format!(
            "{},{},{},{},{},{},{},{}",
            quote(&r.version),
            quote(&r.finding),
            quote(r.stratum.as_deref().unwrap_or("")),
            c.tp,
            c.fp,
            c.fn_,
            c.tn,
            c.found_later
        );
        for rate in [
            &r.metrics.prevalence,
            &r.metrics.sensitivity,
            &r.metrics.specificity,
            &r.metrics.ppv,
            &r.metrics.npv,
        ] {
            match rate {
                Some(x) => {
                    for v in [
                        x.estimate,
                        x.wald[0],
                        x.wald[1],
                        x.wilson[0],
                        x.wilson[1],
                        x.exact[0],
                        x.exact[1],
                    ] {
                        out += &format!(",{v}");
                    }
                }
                None => out += ",,,,,,,",
            }
        }
        out += &format!(
            ",{},{},{},{}",
            c.paired,
            c.ai_only_right,
            c.human_only_right,
            r.metrics
                .versus_human
                .map(|m| m.p_exact.to_string())
                .unwrap_or_default()
        );
        out += &match r.auc {
            Some(a) => format!(",{},{},{}\n", a.auc, a.lower, a.upper),
            None => ",,,\n".into(),
        };
    }
    out
}

/// `radgate monitor --turnaround`: acquisition to AI result and to authorized report.
pub fn turnaround(
    target: Target,
    app: &str,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    ai_sla_minutes: f64,
    format: MonitorFormat,
) -> Result<()> {
    if !(ai_sla_minutes > 0.0 && ai_sla_minutes.is_finite()) {
        bail!("--ai-sla-minutes must be a positive number of minutes");
    }
    let (start, end) = window(from, to)?;
    let times = tokio::runtime::Runtime::new()?.block_on(async {
        anyhow::Ok(
            target
                .open()
                .await?
                .turnaround_times(app, start, end)
                .await?,
        )
    })?;
    let rows = turnaround_rows(&times, ai_sla_minutes);
    match format {
        MonitorFormat::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        MonitorFormat::Csv => {
            println!("priority,stage,exams,median_minutes,p90_minutes,within_sla");
            for r in &rows {
                for (stage, t) in [
                    ("ai_result", &r.to_ai_result),
                    ("authorized_report", &r.to_authorized_report),
                ] {
                    if let Some(t) = t {
                        println!(
                            "{},{stage},{},{},{},{}",
                            r.priority,
                            t.exams,
                            t.median_minutes,
                            t.p90_minutes,
                            t.within_sla
                                .map(|w| w.estimate.to_string())
                                .unwrap_or_default()
                        );
                    }
                }
            }
        }
        MonitorFormat::Text => {
            for r in &rows {
                let line = |t: &Option<Turnaround>| match t {
                    Some(t) => format!(
                        "median {:.1} min, p90 {:.1} min over {} exams{}",
                        t.median_minutes,
                        t.p90_minutes,
                        t.exams,
                        t.within_sla
                            .map(|w| format!(
                                ", {:.1}% within {ai_sla_minutes} min",
                                100.0 * w.estimate
                            ))
                            .unwrap_or_default()
                    ),
                    None => "-".into(),
                };
                println!("{app} {}:", r.priority);
                println!("  to AI result          {}", line(&r.to_ai_result));
                println!("  to authorized report  {}", line(&r.to_authorized_report));
            }
        }
    }
    Ok(())
}
