//! A small SVG plotter for the monitoring charts: axes with ticks, lines, interval bands,
//! reference lines and a legend. Pure: data in, text out.

use std::fmt::Write;

/// Series colours, distinguishable in print and for the common colour-vision deficiencies
/// (Okabe-Ito).
pub const PALETTE: [&str; 6] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
];
/// Reference lines (limits, floors, chance).
pub const REFERENCE: &str = "#B00020";

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 400.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 56.0;

/// Escapes text for SVG content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub struct Plot {
    x: (f64, f64),
    y: (f64, f64),
    body: String,
    legend: Vec<(String, &'static str)>,
}

impl Plot {
    /// A plot of `x` against `y` (each `(min, max)`; an empty range is widened so that
    /// scaling stays finite).
    pub fn new(title: &str, x_label: &str, y_label: &str, x: (f64, f64), y: (f64, f64)) -> Plot {
        let widen = |(lo, hi): (f64, f64)| {
            if hi > lo {
                (lo, hi)
            } else {
                (lo - 0.5, lo + 0.5)
            }
        };
        let mut p = Plot {
            x: widen(x),
            y: widen(y),
            body: String::new(),
            legend: Vec::new(),
        };
        let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM);
        let _ = write!(
            p.body,
            r##"<text x="{:.1}" y="24" text-anchor="middle" font-size="15" font-weight="bold">{}</text><rect x="{x0}" y="{y0}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="12">{}</text><text x="16" y="{:.1}" text-anchor="middle" font-size="12" transform="rotate(-90 16 {:.1})">{}</text>"##,
            WIDTH / 2.0,
            escape(title),
            x1 - x0,
            y1 - y0,
            (x0 + x1) / 2.0,
            HEIGHT - 12.0,
            escape(x_label),
            (y0 + y1) / 2.0,
            (y0 + y1) / 2.0,
            escape(y_label)
        );
        p
    }

    /// The pixel column of `x`.
    pub fn sx(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (WIDTH - LEFT - RIGHT)
    }

    /// The pixel row of `y` (up is larger).
    pub fn sy(&self, y: f64) -> f64 {
        HEIGHT - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (HEIGHT - TOP - BOTTOM)
    }

    fn path(&self, points: &[(f64, f64)]) -> String {
        points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", self.sx(x), self.sy(y)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub fn x_ticks(&mut self, ticks: &[(f64, String)]) {
        for (x, label) in ticks {
            let px = self.sx(*x);
            let _ = write!(
                self.body,
                r##"<line x1="{px:.1}" y1="{:.1}" x2="{px:.1}" y2="{:.1}" stroke="#444"/><text x="{px:.1}" y="{:.1}" text-anchor="middle" font-size="11">{}</text>"##,
                HEIGHT - BOTTOM,
                HEIGHT - BOTTOM + 5.0,
                HEIGHT - BOTTOM + 18.0,
                escape(label)
            );
        }
    }

    pub fn y_ticks(&mut self, ticks: &[(f64, String)]) {
        for (y, label) in ticks {
            let py = self.sy(*y);
            let _ = write!(
                self.body,
                r##"<line x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                py + 4.0,
                escape(label)
            );
        }
    }

    /// A line through `points`, with a dot on each, named in the legend.
    pub fn line(&mut self, points: &[(f64, f64)], label: &str, color: &'static str) {
        if points.is_empty() {
            return;
        }
        let _ = write!(
            self.body,
            r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            self.path(points)
        );
        for &(x, y) in points {
            let _ = write!(
                self.body,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
                self.sx(x),
                self.sy(y)
            );
        }
        self.legend.push((label.to_owned(), color));
    }

    /// A step line (for a CUSUM): horizontal then vertical between points.
    pub fn steps(&mut self, points: &[(f64, f64)], label: &str, color: &'static str) {
        let mut stepped = Vec::with_capacity(points.len() * 2);
        for (i, &(x, y)) in points.iter().enumerate() {
            if i > 0 {
                stepped.push((x, points[i - 1].1));
            }
            stepped.push((x, y));
        }
        if stepped.is_empty() {
            return;
        }
        let _ = write!(
            self.body,
            r#"<polyline class="series" points="{}" fill="none" stroke="{color}" stroke-width="1.5"/>"#,
            self.path(&stepped)
        );
        self.legend.push((label.to_owned(), color));
    }

    /// A shaded band between `(x, lower, upper)` triples: an interval around a line.
    pub fn band(&mut self, points: &[(f64, f64, f64)], color: &'static str) {
        if points.is_empty() {
            return;
        }
        let upper: Vec<(f64, f64)> = points.iter().map(|&(x, _, u)| (x, u)).collect();
        let lower: Vec<(f64, f64)> = points.iter().rev().map(|&(x, l, _)| (x, l)).collect();
        let _ = write!(
            self.body,
            r#"<polygon class="band" points="{} {}" fill="{color}" fill-opacity="0.18" stroke="none"/>"#,
            self.path(&upper),
            self.path(&lower)
        );
    }

    /// A dashed horizontal reference line at `y`, labelled at its right end.
    pub fn h_line(&mut self, y: f64, label: &str) {
        let py = self.sy(y);
        let _ = write!(
            self.body,
            r#"<line class="reference" x1="{LEFT}" y1="{py:.1}" x2="{:.1}" y2="{py:.1}" stroke="{REFERENCE}" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="{REFERENCE}">{}</text>"#,
            WIDTH - RIGHT,
            WIDTH - RIGHT - 4.0,
            py - 4.0,
            escape(label)
        );
    }

    /// A dashed reference segment between two data points (the ROC diagonal).
    pub fn segment(&mut self, from: (f64, f64), to: (f64, f64), label: &str) {
        let _ = write!(
            self.body,
            r#"<line class="reference" x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{REFERENCE}" stroke-dasharray="6 4"/>"#,
            self.sx(from.0),
            self.sy(from.1),
            self.sx(to.0),
            self.sy(to.1)
        );
        self.legend.push((label.to_owned(), REFERENCE));
    }

    /// A message in the middle of the plot area (no data yet).
    pub fn note(&mut self, text: &str) {
        let _ = write!(
            self.body,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14" fill="#666">{}</text>"##,
            (LEFT + WIDTH - RIGHT) / 2.0,
            (TOP + HEIGHT - BOTTOM) / 2.0,
            escape(text)
        );
    }

    pub fn finish(mut self) -> String {
        for (i, (label, color)) in self.legend.iter().enumerate() {
            let y = TOP + 14.0 + 16.0 * i as f64;
            let _ = write!(
                self.body,
                r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text>"#,
                LEFT + 10.0,
                y - 9.0,
                LEFT + 26.0,
                y,
                escape(label)
            );
        }
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" role="img">{}</svg>"#,
            std::mem::take(&mut self.body)
        )
    }
}

/// Ticks at 0, 0.2, ..., 1 labelled as percentages.
pub fn percent_ticks() -> Vec<(f64, String)> {
    (0..=5)
        .map(|i| {
            let v = f64::from(i) / 5.0;
            (v, format!("{:.0}%", 100.0 * v))
        })
        .collect()
}

/// About `n` round ticks over `[0, max]`.
pub fn count_ticks(max: f64, n: usize) -> Vec<(f64, String)> {
    let raw = (max / n.max(1) as f64).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    let mut ticks = Vec::new();
    let mut v = 0.0;
    while v <= max + 1e-9 {
        ticks.push((v, format!("{v:.0}")));
        v += step;
    }
    ticks
}
