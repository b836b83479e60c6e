//! SVG charts of an AI application's monitoring for the UI: performance by month with
//! Wilson 95% bands, the discordance CUSUM against its limit, and the ROC curve where
//! scores exist. The numbers come from the same store queries and domain functions as
//! the metrics and drift endpoints; this module only draws them.

mod svg;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use chrono::{NaiveDate, Utc};
use radgate_domain::ai::{AiApplication, FindingSpec};
use radgate_domain::drift::{AlarmKind, DriftSettings, cusum_path};
use radgate_domain::monitoring::{MetricsRow, Rate};
use radgate_store::Stratum;
use serde::Deserialize;

use crate::auth::Caller;
use crate::extract::Params;
use crate::problem::Problem;
use crate::state::App;
use svg::{PALETTE, Plot, count_ticks, percent_ticks};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartQuery {
    /// The finding charted; the application's first by default.
    finding: Option<String>,
    /// sensitivity (default), specificity, ppv or npv: the performance chart only.
    metric: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

fn svg(body: String) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
}

/// The caller may see monitoring; the application and finding exist.
fn target<'a>(
    app: &'a App,
    caller: &Caller,
    id: &str,
    finding: Option<&str>,
) -> Result<(&'a AiApplication, &'a FindingSpec), Problem> {
    caller.ai_overseer()?;
    let Some(entry) = app.department.ai_application(id) else {
        return Err(Problem::not_found(format!(
            "no AI application `{id}` in the register"
        )));
    };
    let spec = match finding {
        None => entry.findings.first(),
        Some(f) => entry.finding(f),
    };
    let Some(spec) = spec else {
        return Err(Problem::not_found(format!(
            "{id} reports no finding `{}`",
            finding.unwrap_or_default()
        )));
    };
    Ok((entry, spec))
}

fn window(q: &ChartQuery) -> Result<(NaiveDate, NaiveDate), Problem> {
    let start = q
        .from
        .unwrap_or(NaiveDate::from_ymd_opt(1, 1, 1).expect("valid date"));
    let end =
        q.to.unwrap_or_else(|| Utc::now().date_naive() + chrono::Days::new(1));
    if end < start {
        return Err(Problem::invalid("to", "`to` is before `from`"));
    }
    Ok((start, end))
}

/// The performance chart's data: per version, the months and the metric's rate in each.
pub(crate) fn performance_svg(
    app: &str,
    finding: &str,
    metric: &str,
    floor: Option<f64>,
    rows: &[MetricsRow],
) -> String {
    let pick = |r: &MetricsRow| -> Option<Rate> {
        match metric {
            "specificity" => r.metrics.specificity,
            "ppv" => r.metrics.ppv,
            "npv" => r.metrics.npv,
            _ => r.metrics.sensitivity,
        }
    };
    let rows: Vec<&MetricsRow> = rows.iter().filter(|r| r.finding == finding).collect();
    let mut months: Vec<&str> = rows.iter().filter_map(|r| r.stratum.as_deref()).collect();
    months.sort_unstable();
    months.dedup();
    let mut versions: Vec<&str> = rows.iter().map(|r| r.version.as_str()).collect();
    versions.sort_unstable();
    versions.dedup();
    let mut plot = Plot::new(
        &format!("{app}: {metric} for {finding}, by month (Wilson 95% band)"),
        "month of acquisition",
        metric,
        (-0.5, months.len().max(1) as f64 - 0.5),
        (0.0, 1.0),
    );
    plot.y_ticks(&percent_ticks());
    plot.x_ticks(
        &months
            .iter()
            .enumerate()
            .map(|(i, m)| (i as f64, (*m).to_owned()))
            .collect::<Vec<_>>(),
    );
    let mut drawn = false;
    for (v, version) in versions.iter().enumerate() {
        let color = PALETTE[v % PALETTE.len()];
        let mut band = Vec::new();
        let mut line = Vec::new();
        for (i, month) in months.iter().enumerate() {
            let rate = rows
                .iter()
                .find(|r| r.version == *version && r.stratum.as_deref() == Some(*month))
                .and_then(|r| pick(r));
            if let Some(rate) = rate {
                band.push((i as f64, rate.wilson[0], rate.wilson[1]));
                line.push((i as f64, rate.estimate));
            }
        }
        drawn |= !line.is_empty();
        plot.band(&band, color);
        plot.line(&line, &format!("version {version}"), color);
    }
    if let Some(floor) = floor {
        plot.h_line(floor, &format!("floor {:.0}%", 100.0 * floor));
    }
    if !drawn {
        plot.note("No reported exams yet");
    }
    plot.finish()
}

pub async fn performance(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ChartQuery>,
) -> Result<impl IntoResponse, Problem> {
    let (entry, spec) = target(&app, &caller, &id, q.finding.as_deref())?;
    let metric = q.metric.as_deref().unwrap_or("sensitivity");
    if !["sensitivity", "specificity", "ppv", "npv"].contains(&metric) {
        return Err(Problem::invalid(
            "metric",
            format!("metric is sensitivity, specificity, ppv or npv, not `{metric}`"),
        ));
    }
    let (start, end) = window(&q)?;
    let rows: Vec<MetricsRow> = app
        .store
        .monitor_counts(entry.id.as_str(), start, end, Some(Stratum::Month))
        .await?
        .into_iter()
        .map(MetricsRow::of)
        .collect();
    let floor = (metric == "sensitivity")
        .then_some(spec.sensitivity_floor)
        .flatten();
    Ok(svg(performance_svg(
        entry.id.as_str(),
        spec.code.as_str(),
        metric,
        floor,
        &rows,
    )))
}

pub async fn cusum(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ChartQuery>,
) -> Result<impl IntoResponse, Problem> {
    let (entry, spec) = target(&app, &caller, &id, q.finding.as_deref())?;
    let points = app
        .store
        .call_points(entry.id.as_str(), spec.code.as_str())
        .await?;
    let since = app
        .store
        .last_cleared(
            entry.id.as_str(),
            spec.code.as_str(),
            AlarmKind::Cusum.code(),
        )
        .await?;
    let path = cusum_path(
        &points,
        &DriftSettings::default(),
        since,
        Utc::now().date_naive(),
    );
    Ok(svg(cusum_svg(
        entry.id.as_str(),
        spec.code.as_str(),
        path.as_ref(),
    )))
}

pub(crate) fn cusum_svg(
    app: &str,
    finding: &str,
    path: Option<&radgate_domain::drift::CusumPath>,
) -> String {
    let title = format!("{app}: discordance CUSUM for {finding}");
    let Some(path) = path else {
        let mut plot = Plot::new(
            &title,
            "labelled exams after the baseline",
            "CUSUM",
            (0.0, 1.0),
            (0.0, 1.0),
        );
        plot.note("Not enough labelled baseline exams to design the chart yet");
        return plot.finish();
    };
    let limit = f64::from(path.design.limit);
    let n = path.sums.len() as f64;
    let mut plot = Plot::new(
        &title,
        &format!(
            "labelled exams after the baseline{}",
            path.sums
                .first()
                .map_or_else(String::new, |(d, _)| format!(" (from {d})"))
        ),
        "CUSUM",
        (0.0, n.max(1.0)),
        (0.0, limit * 1.1),
    );
    plot.y_ticks(&count_ticks(limit, 5));
    plot.x_ticks(&count_ticks(n.max(1.0), 8));
    let points: Vec<(f64, f64)> = std::iter::once((0.0, 0.0))
        .chain(
            path.sums
                .iter()
                .enumerate()
                .map(|(i, (_, s))| ((i + 1) as f64, f64::from(*s))),
        )
        .collect();
    plot.steps(
        &points,
        &format!(
            "baseline discordance {:.2}%, tuned to {:.2}%",
            100.0 * path.design.p0,
            100.0 * path.design.p1
        ),
        PALETTE[0],
    );
    plot.h_line(
        limit,
        &format!(
            "limit {} (one false alarm per {:.0} exams)",
            path.design.limit, path.design.arl0
        ),
    );
    plot.finish()
}

pub async fn roc(
    State(app): State<App>,
    caller: Caller,
    Path(id): Path<String>,
    Params(q): Params<ChartQuery>,
) -> Result<impl IntoResponse, Problem> {
    let (entry, spec) = target(&app, &caller, &id, q.finding.as_deref())?;
    let (start, end) = window(&q)?;
    let calls = app
        .store
        .scored_calls(entry.id.as_str(), start, end, None)
        .await?;
    let mut versions: Vec<&str> = calls
        .iter()
        .filter(|c| c.finding == spec.code.as_str())
        .map(|c| c.version.as_str())
        .collect();
    versions.sort_unstable();
    versions.dedup();
    let per_version: Vec<(String, Vec<f64>, Vec<f64>)> = versions
        .iter()
        .map(|v| {
            let mine = calls
                .iter()
                .filter(|c| c.finding == spec.code.as_str() && c.version == *v);
            let (pos, neg): (Vec<_>, Vec<_>) = mine.partition(|c| c.truth);
            (
                (*v).to_owned(),
                pos.iter().map(|c| c.score).collect(),
                neg.iter().map(|c| c.score).collect(),
            )
        })
        .collect();
    Ok(svg(roc_svg(
        entry.id.as_str(),
        spec.code.as_str(),
        &per_version,
    )))
}

/// ROC curves per version (`(version, positive scores, negative scores)`).
pub(crate) fn roc_svg(
    app: &str,
    finding: &str,
    versions: &[(String, Vec<f64>, Vec<f64>)],
) -> String {
    let mut plot = Plot::new(
        &format!("{app}: ROC for {finding} against final reports"),
        "1 - specificity",
        "sensitivity",
        (0.0, 1.0),
        (0.0, 1.0),
    );
    plot.x_ticks(&percent_ticks());
    plot.y_ticks(&percent_ticks());
    plot.segment((0.0, 0.0), (1.0, 1.0), "chance");
    let mut drawn = false;
    for (i, (version, pos, neg)) in versions.iter().enumerate() {
        let Some(curve) = radgate_stats::roc_curve(pos, neg) else {
            continue;
        };
        let label = match radgate_stats::auc_delong(pos, neg, 0.95) {
            Some(a) => format!(
                "version {version}: AUC {:.3} (DeLong 95% {:.3}-{:.3}; {} positive, {} negative)",
                a.auc, a.lower, a.upper, a.positives, a.negatives
            ),
            None => format!("version {version}"),
        };
        plot.line(&curve, &label, PALETTE[i % PALETTE.len()]);
        drawn = true;
    }
    if !drawn {
        plot.note("No scored, reported exams of both classes yet");
    }
    plot.finish()
}

#[cfg(test)]
mod tests {
    use radgate_domain::drift::{CusumDesign, CusumPath};
    use radgate_domain::monitoring::{CountRow, Counts};

    use super::*;

    fn row(version: &str, month: &str, tp: u64, fn_: u64) -> MetricsRow {
        MetricsRow::of(CountRow {
            version: version.into(),
            finding: "pulmonary_embolism".into(),
            stratum: Some(month.into()),
            counts: Counts {
                tp,
                fn_,
                tn: 50,
                fp: 5,
                ..Counts::default()
            },
        })
    }

    /// The `points` of the first element of `tag` with class `class`, as pixel pairs.
    fn points(doc: &roxmltree::Document, tag: &str, class: &str) -> Vec<(f64, f64)> {
        let node = doc
            .descendants()
            .find(|n| n.has_tag_name(tag) && n.attribute("class") == Some(class))
            .unwrap_or_else(|| panic!("no <{tag} class={class}>"));
        node.attribute("points")
            .unwrap()
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect()
    }

    /// The plot area runs from pixel row 344 (y = 0) up to 40 (y = 1).
    fn row_of(y: f64) -> f64 {
        344.0 - 304.0 * y
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 0.051, "{a} vs {b}");
    }

    #[test]
    fn the_performance_chart_draws_each_month_at_its_rate_inside_its_wilson_band() {
        // 30/40 = 75% (Wilson 59.8-85.8%), then 45/50 = 90% (Wilson 78.6-95.7%).
        let rows = [
            row("3.2.0", "2026-10", 30, 10),
            row("3.2.0", "2026-11", 45, 5),
        ];
        let text = performance_svg(
            "pe<detect>",
            "pulmonary_embolism",
            "sensitivity",
            Some(0.8),
            &rows,
        );
        let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
        assert!(text.contains("pe&lt;detect&gt;"), "the title is escaped");
        let line = points(&doc, "polyline", "series");
        assert_eq!(line.len(), 2);
        close(line[0].1, row_of(0.75));
        close(line[1].1, row_of(0.9));
        assert!(line[0].0 < line[1].0, "months left to right");
        let band = points(&doc, "polygon", "band");
        let w1 = Rate::of(30, 40).unwrap().wilson;
        let w2 = Rate::of(45, 50).unwrap().wilson;
        // Upper edge left to right, then the lower edge back.
        let want = [w1[1], w2[1], w2[0], w1[0]];
        for (p, w) in band.iter().zip(want) {
            close(p.1, row_of(w));
        }
        let floor = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("reference"))
            .unwrap();
        close(floor.attribute("y1").unwrap().parse().unwrap(), row_of(0.8));
        let empty = performance_svg("pe-detect", "pulmonary_embolism", "sensitivity", None, &[]);
        assert!(empty.contains("No reported exams yet"));
        roxmltree::Document::parse(&empty).unwrap();
    }

    #[test]
    fn the_cusum_chart_climbs_to_its_limit() {
        let design = CusumDesign::for_arl(0.05, 0.10, 10_000.0);
        let day: NaiveDate = "2026-11-01".parse().unwrap();
        let sums: Vec<(NaiveDate, u32)> = (1..=design.limit).map(|s| (day, s)).collect();
        let path = CusumPath { design, sums };
        let text = cusum_svg("pe-detect", "pulmonary_embolism", Some(&path));
        let doc = roxmltree::Document::parse(&text).unwrap();
        let steps = points(&doc, "polyline", "series");
        let limit_row = doc
            .descendants()
            .find(|n| n.attribute("class") == Some("reference"))
            .unwrap()
            .attribute("y1")
            .unwrap()
            .parse::<f64>()
            .unwrap();
        close(steps.last().unwrap().1, limit_row);
        assert!(text.contains(&format!("limit {}", design.limit)));
        let none = cusum_svg("pe-detect", "pulmonary_embolism", None);
        assert!(none.contains("Not enough labelled baseline exams"));
    }

    #[test]
    fn the_roc_chart_draws_the_curve_and_names_the_auc() {
        let pos = vec![0.9, 0.8, 0.4];
        let neg = vec![0.7, 0.3, 0.2, 0.1];
        let text = roc_svg(
            "pe-detect",
            "pulmonary_embolism",
            &[("3.2.0".into(), pos.clone(), neg.clone())],
        );
        let doc = roxmltree::Document::parse(&text).unwrap();
        let curve = points(&doc, "polyline", "series");
        let want = radgate_stats::roc_curve(&pos, &neg).unwrap();
        assert_eq!(curve.len(), want.len());
        // (0, 0) bottom left, (1, 1) top right.
        close(curve[0].1, row_of(0.0));
        close(curve.last().unwrap().1, row_of(1.0));
        // AUC: of the 12 positive-negative pairs the positive outranks in 11 (0.9 and 0.8
        // beat all four, 0.4 loses only to 0.7): 11/12 = 0.917.
        assert!(text.contains("AUC 0.917"), "{text}");
    }
}
