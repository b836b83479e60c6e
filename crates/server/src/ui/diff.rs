//! A line difference between two texts (longest common subsequence), shown side by side:
//! what the radiologist checks when a returned report comes back.

use maud::{Markup, html};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    Same(&'a str),
    Removed(&'a str),
    Added(&'a str),
}

/// The edit from `before` to `after`, line by line. Quadratic in the line counts, which a
/// report keeps small; beyond 2,000 lines each side it shows a full replacement.
pub fn lines<'a>(before: &'a str, after: &'a str) -> Vec<Line<'a>> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    if a.len() > 2000 || b.len() > 2000 {
        return a
            .iter()
            .map(|l| Line::Removed(l))
            .chain(b.iter().map(|l| Line::Added(l)))
            .collect();
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(Line::Same(a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(Line::Removed(a[i]));
            i += 1;
        } else {
            out.push(Line::Added(b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| Line::Removed(l)));
    out.extend(b[j..].iter().map(|l| Line::Added(l)));
    out
}

pub fn side_by_side(left_title: &str, before: &str, right_title: &str, after: &str) -> Markup {
    let d = lines(before, after);
    html! {
        div.diff {
            div {
                h4 { (left_title) }
                pre {
                    @for l in &d {
                        @match l {
                            Line::Same(s) => { (s) "\n" }
                            Line::Removed(s) => { del { (s) } "\n" }
                            Line::Added(_) => {}
                        }
                    }
                }
            }
            div {
                h4 { (right_title) }
                pre {
                    @for l in &d {
                        @match l {
                            Line::Same(s) => { (s) "\n" }
                            Line::Added(s) => { ins { (s) } "\n" }
                            Line::Removed(_) => {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_line_is_removed_then_added_and_the_rest_kept() {
        let d = lines("a\nb\nc", "a\nB\nc\nd");
        assert_eq!(
            d,
            vec![
                Line::Same("a"),
                Line::Removed("b"),
                Line::Added("B"),
                Line::Same("c"),
                Line::Added("d"),
            ]
        );
    }

    #[test]
    fn equal_texts_have_no_changes_and_empty_ones_none_at_all() {
        assert!(
            lines("x\ny", "x\ny")
                .iter()
                .all(|l| matches!(l, Line::Same(_)))
        );
        assert!(lines("", "").is_empty());
        assert_eq!(lines("", "new"), vec![Line::Added("new")]);
    }

    #[test]
    fn the_diff_rebuilds_both_texts() {
        let (before, after) = ("one\ntwo\nthree\nfour", "zero\ntwo\nfour\nfive");
        let d = lines(before, after);
        let left: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Line::Same(s) | Line::Removed(s) => Some(*s),
                _ => None,
            })
            .collect();
        let right: Vec<&str> = d
            .iter()
            .filter_map(|l| match l {
                Line::Same(s) | Line::Added(s) => Some(*s),
                _ => None,
            })
            .collect();
        assert_eq!(left.join("\n"), before);
        assert_eq!(right.join("\n"), after);
    }
}
