//! A strict reader for radgate's TOML files (policies, departments).
//!
//! Serde's `deny_unknown_fields` stops at the first problem and only knows byte offsets.
//! People who edit a policy want every problem at once, each with its line, so the
//! parsers walk the spanned document themselves through [`Table`], which records every
//! key it was asked for and reports the rest as unknown.

use std::collections::HashMap;
use std::ops::Range;

use serde::Serialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// One problem in a configuration file, located by 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// All problems found in one file; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} problem(s), first: {}", .0.len(), .0[0])]
pub struct Diagnostics(pub Vec<Diagnostic>);

/// Maps byte offsets to lines and collects diagnostics while a file is read.
pub struct Reader<'s> {
    line_starts: Vec<usize>,
    text: &'s str,
    diagnostics: Vec<Diagnostic>,
}

impl<'s> Reader<'s> {
    pub fn new(text: &'s str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Reader {
            line_starts,
            text,
            diagnostics: Vec::new(),
        }
    }

    /// Parses the document; a syntax error becomes the single diagnostic.
    pub fn parse(&mut self) -> Option<DeTable<'s>> {
        match DeTable::parse(self.text) {
            Ok(table) => Some(table.into_inner()),
            Err(e) => {
                let line = e.span().map_or(1, |s| self.line_of(s.start));
                self.error(line, format!("invalid TOML: {}", e.message().trim()));
                None
            }
        }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&start| start <= offset)
    }

    pub fn error(&mut self, line: usize, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            line,
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        !self.diagnostics.is_empty()
    }

    /// How many problems have been found so far.
    pub fn error_count(&self) -> usize {
        self.diagnostics.len()
    }

    /// The problems found, by line.
    pub fn into_diagnostics(mut self) -> Vec<Diagnostic> {
        self.diagnostics.sort_by_key(|d| d.line);
        self.diagnostics
    }

    pub fn into_result<T>(mut self, value: T) -> Result<T, Diagnostics> {
        if self.diagnostics.is_empty() {
            Ok(value)
        } else {
            self.diagnostics.sort_by_key(|d| d.line);
            Err(Diagnostics(self.diagnostics))
        }
    }
}

/// A value with the line it was written on.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// One TOML table being read; keys that nobody asks for are reported by [`Table::finish`].
pub struct Table<'t, 'i> {
    table: &'t DeTable<'i>,
    /// Human name of the table for messages, e.g. `[[rule]] "pe-positive"`.
    pub name: String,
    pub line: usize,
    asked: Vec<&'static str>,
}

type Item<'t, 'i> = &'t Spanned<DeValue<'i>>;

impl<'t, 'i> Table<'t, 'i> {
    pub fn new(table: &'t DeTable<'i>, name: impl Into<String>, line: usize) -> Self {
        Table {
            table,
            name: name.into(),
            line,
            asked: Vec::new(),
        }
    }

    fn get(&mut self, key: &'static str) -> Option<Item<'t, 'i>> {
        self.asked.push(key);
        self.table.get(key)
    }

    fn type_error(&self, r: &mut Reader, key: &str, item: Item, expected: &str) {
        r.error(
            r.line_of(item.span().start),
            format!(
                "`{key}` in {} must be {expected}, found {}",
                self.name,
                item.get_ref().type_str()
            ),
        );
    }

    fn missing(&self, r: &mut Reader, key: &str) {
        r.error(
            self.line,
            format!("{} is missing required key `{key}`", self.name),
        );
    }

    /// Accepts `key` without reading it: another reader owns that part of the file.
    pub fn skip(&mut self, key: &'static str) {
        self.asked.push(key);
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.contains_key(key)
    }

    pub fn string(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<String>> {
        let item = self.get(key)?;
        match item.get_ref().as_str() {
            Some(s) => Some(Located {
                value: s.to_owned(),
                line: r.line_of(item.span().start),
            }),
            None => {
                self.type_error(r, key, item, "a string");
                None
            }
        }
    }

    pub fn req_string(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<String>> {
        let present = self.has(key);
        let v = self.string(r, key);
        if !present {
            self.missing(r, key);
        }
        v
    }

    pub fn float(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<f64>> {
        let item = self.get(key)?;
        let line = r.line_of(item.span().start);
        match number(item.get_ref()) {
            // No radgate setting is infinite or undefined; refusing them here keeps `nan`
            // and `inf` out of every calculation downstream.
            Some(value) if !value.is_finite() => {
                r.error(
                    line,
                    format!(
                        "`{key}` in {} must be a finite number, found {value}",
                        self.name
                    ),
                );
                None
            }
            Some(value) => Some(Located { value, line }),
            None => {
                self.type_error(r, key, item, "a number");
                None
            }
        }
    }

    pub fn integer(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<i64>> {
        let item = self.get(key)?;
        let line = r.line_of(item.span().start);
        match integer(item.get_ref()) {
            Some(value) => Some(Located { value, line }),
            None => {
                self.type_error(r, key, item, "an integer");
                None
            }
        }
    }

    /// A non-negative integer that fits `u32`, e.g. minutes or counts.
    pub fn count(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<u32>> {
        let v = self.integer(r, key)?;
        match u32::try_from(v.value) {
            Ok(value) => Some(Located {
                value,
                line: v.line,
            }),
            Err(_) => {
                r.error(
                    v.line,
                    format!(
                        "`{key}` in {} must be a whole number >= 0, found {}",
                        self.name, v.value
                    ),
                );
                None
            }
        }
    }

    pub fn req_count(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<u32>> {
        let present = self.has(key);
        let v = self.count(r, key);
        if !present {
            self.missing(r, key);
        }
        v
    }

    pub fn boolean(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<bool>> {
        let item = self.get(key)?;
        match item.get_ref().as_bool() {
            Some(value) => Some(Located {
                value,
                line: r.line_of(item.span().start),
            }),
            None => {
                self.type_error(r, key, item, "true or false");
                None
            }
        }
    }

    /// A date written as a TOML local date (`2028-12-31`).
    pub fn date(
        &mut self,
        r: &mut Reader,
        key: &'static str,
    ) -> Option<Located<chrono::NaiveDate>> {
        let item = self.get(key)?;
        let line = r.line_of(item.span().start);
        let date = item
            .get_ref()
            .as_datetime()
            .and_then(|d| d.date)
            .and_then(|d| {
                chrono::NaiveDate::from_ymd_opt(d.year.into(), d.month.into(), d.day.into())
            });
        match date {
            Some(value) => Some(Located { value, line }),
            None => {
                self.type_error(r, key, item, "a date such as 2028-12-31");
                None
            }
        }
    }

    /// A string or a list of strings; a single string is read as a list of one.
    pub fn strings(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<Vec<String>>> {
        let item = self.get(key)?;
        let line = r.line_of(item.span().start);
        match item.get_ref() {
            DeValue::String(s) => Some(Located {
                value: vec![s.to_string()],
                line,
            }),
            DeValue::Array(a) => {
                let mut out = Vec::with_capacity(a.len());
                for v in a.iter() {
                    match v.get_ref().as_str() {
                        Some(s) => out.push(s.to_owned()),
                        None => {
                            self.type_error(r, key, v, "a list of strings");
                            return None;
                        }
                    }
                }
                Some(Located { value: out, line })
            }
            _ => {
                self.type_error(r, key, item, "a string or a list of strings");
                None
            }
        }
    }

    /// A string or a list of strings, each turned into a `T` by `f`, which reports what it
    /// refuses; the list's line locates every item.
    pub fn list<T>(
        &mut self,
        r: &mut Reader,
        key: &'static str,
        mut f: impl FnMut(&mut Reader, Located<String>) -> Option<T>,
    ) -> Option<Located<Vec<T>>> {
        let v = self.strings(r, key)?;
        let line = v.line;
        let value = v
            .value
            .into_iter()
            .filter_map(|value| f(r, Located { value, line }))
            .collect();
        Some(Located { value, line })
    }

    /// A list of numbers, e.g. `[0.0, 1.0]`.
    pub fn floats(&mut self, r: &mut Reader, key: &'static str) -> Option<Located<Vec<f64>>> {
        let item = self.get(key)?;
        let line = r.line_of(item.span().start);
        let Some(a) = item.get_ref().as_array() else {
            self.type_error(r, key, item, "a list of numbers");
            return None;
        };
        let mut out = Vec::with_capacity(a.len());
        for v in a.iter() {
            match number(v.get_ref()) {
                Some(x) => out.push(x),
                None => {
                    self.type_error(r, key, v, "a list of numbers");
                    return None;
                }
            }
        }
        Some(Located { value: out, line })
    }

    /// A sub-table (`[a.b]` or an inline table).
    pub fn table(&mut self, r: &mut Reader, key: &'static str) -> Option<Table<'t, 'i>> {
        let item = self.get(key)?;
        match item.get_ref().as_table() {
            Some(t) => Some(Table::new(
                t,
                format!("{}.{key}", self.name),
                r.line_of(item.span().start),
            )),
            None => {
                self.type_error(r, key, item, "a table");
                None
            }
        }
    }

    /// An array of tables (`[[key]]` or a list of inline tables), each named by `namer`.
    pub fn tables(&mut self, r: &mut Reader, key: &'static str) -> Vec<Table<'t, 'i>> {
        let Some(item) = self.get(key) else {
            return Vec::new();
        };
        let Some(a) = item.get_ref().as_array() else {
            self.type_error(r, key, item, "an array of tables");
            return Vec::new();
        };
        let mut out = Vec::with_capacity(a.len());
        for (i, v) in a.iter().enumerate() {
            match v.get_ref().as_table() {
                Some(t) => out.push(Table::new(
                    t,
                    format!("[[{key}]] #{}", i + 1),
                    r.line_of(v.span().start),
                )),
                None => self.type_error(r, key, v, "an array of tables"),
            }
        }
        out
    }

    /// Key/value pairs of a free-form table such as `{ stat = 30, urgent = 120 }`.
    pub fn entries(&self, r: &Reader) -> Vec<(Located<String>, Item<'t, 'i>)> {
        self.table
            .iter()
            .map(|(k, v)| {
                (
                    Located {
                        value: k.get_ref().to_string(),
                        line: r.line_of(k.span().start),
                    },
                    v,
                )
            })
            .collect()
    }

    /// Reports every key that was not asked for, naming the keys that are known here.
    pub fn finish(self, r: &mut Reader) {
        for (k, _) in self.table.iter() {
            let key: &str = k.get_ref();
            if !self.asked.contains(&key) {
                let mut known = self.asked.clone();
                known.sort_unstable();
                known.dedup();
                r.error(
                    r.line_of(k.span().start),
                    format!(
                        "unknown key `{key}` in {} (known keys: {})",
                        self.name,
                        known.join(", ")
                    ),
                );
            }
        }
    }

    pub fn span_line(r: &Reader, span: Range<usize>) -> usize {
        r.line_of(span.start)
    }
}

/// Reads the `id` of each table of one kind, names the table after it, and reports an id
/// used twice.
pub struct Ids {
    what: &'static str,
    seen: HashMap<String, usize>,
}

impl Ids {
    pub fn new(what: &'static str) -> Self {
        Ids {
            what,
            seen: HashMap::new(),
        }
    }

    pub fn read(&mut self, r: &mut Reader, t: &mut Table) -> Option<Located<String>> {
        let id = t.req_string(r, "id")?;
        t.name = format!("{} `{}`", self.what, id.value);
        if let Some(first) = self.seen.insert(id.value.clone(), id.line) {
            r.error(
                id.line,
                format!(
                    "duplicate {} id `{}` (first used on line {first})",
                    self.what, id.value
                ),
            );
        }
        Some(id)
    }
}

/// Builds a value with its validating constructor, reporting a refusal at its line.
pub fn parsed<T, E: std::fmt::Display>(
    r: &mut Reader,
    v: Located<String>,
    f: impl FnOnce(String) -> Result<T, E>,
) -> Option<T> {
    match f(v.value) {
        Ok(t) => Some(t),
        Err(e) => {
            r.error(v.line, e.to_string());
            None
        }
    }
}

pub fn number(v: &DeValue) -> Option<f64> {
    match v {
        DeValue::Float(f) => f.as_str().replace('_', "").parse().ok(),
        DeValue::Integer(_) => integer(v).map(|i| i as f64),
        _ => None,
    }
}

pub fn integer(v: &DeValue) -> Option<i64> {
    match v {
        DeValue::Integer(i) => i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_all_reported_with_their_lines() {
        let text = "a = 1\nbee = 2\n\n[t]\nx = \"s\"\ny = 3\n";
        let mut r = Reader::new(text);
        let doc = r.parse().unwrap();
        let mut top = Table::new(&doc, "top", 1);
        assert_eq!(top.integer(&mut r, "a").unwrap().value, 1);
        let mut t = top.table(&mut r, "t").unwrap();
        assert_eq!(t.string(&mut r, "x").unwrap().line, 5);
        t.finish(&mut r);
        top.finish(&mut r);
        let d = r.into_result(()).unwrap_err().0;
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].line, 2);
        assert!(
            d[0].message.contains("unknown key `bee`"),
            "{}",
            d[0].message
        );
        assert_eq!(d[1].line, 6);
        assert!(d[1].message.contains("unknown key `y` in top.t"));
    }

    #[test]
    fn wrong_type_names_key_expected_and_found() {
        let mut r = Reader::new("x = \"high\"\n");
        let doc = r.parse().unwrap();
        let mut top = Table::new(&doc, "top", 1);
        assert!(top.float(&mut r, "x").is_none());
        let d = r.into_result(()).unwrap_err().0;
        assert_eq!(d[0].line, 1);
        assert!(
            d[0].message
                .contains("`x` in top must be a number, found string")
        );
    }

    #[test]
    fn syntax_error_is_located() {
        let mut r = Reader::new("a = 1\nb = [1,\nc = 2\n");
        assert!(r.parse().is_none());
        let d = r.into_result(()).unwrap_err().0;
        assert!(d[0].message.starts_with("invalid TOML"));
        assert!(d[0].line >= 2, "{:?}", d);
    }

    #[test]
    fn nan_and_infinity_are_refused() {
        let mut r = Reader::new("a = nan\nb = -inf\nc = 1.5\n");
        let doc = r.parse().unwrap();
        let mut t = Table::new(&doc, "top", 1);
        assert!(t.float(&mut r, "a").is_none());
        assert!(t.float(&mut r, "b").is_none());
        assert_eq!(t.float(&mut r, "c").unwrap().value, 1.5);
        let d = r.into_result(()).unwrap_err().0;
        assert_eq!(d.len(), 2);
        assert!(
            d[0].message.contains("`a` in top must be a finite number"),
            "{}",
            d[0]
        );
        assert_eq!(d[1].line, 2);
    }

    #[test]
    fn integers_accept_underscores_and_radix() {
        let mut r = Reader::new("a = 1_000\nb = 0x10\nc = 2.5e1\n");
        let doc = r.parse().unwrap();
        let mut t = Table::new(&doc, "top", 1);
        assert_eq!(t.integer(&mut r, "a").unwrap().value, 1000);
        assert_eq!(t.integer(&mut r, "b").unwrap().value, 16);
        assert_eq!(t.float(&mut r, "c").unwrap().value, 25.0);
    }
}
