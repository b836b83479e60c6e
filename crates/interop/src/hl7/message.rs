//! HL7 v2 messages: segments, fields, repetitions and components, with the delimiters
//! the message's own MSH declares and the standard escape sequences.

/// Where in a message something is wrong, in HL7's own terms (ERR-2: segment ID, its
/// position among the message's segments, field number), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{segment}-{field}: {reason}")]
pub struct Hl7Error {
    pub segment: String,
    /// 1-based position of the segment in the message (0 when it is missing).
    pub sequence: usize,
    pub field: usize,
    pub reason: String,
    /// HL7 table 0357 code for ERR-3: 100 segment sequence error, 101 required field
    /// missing, 102 data type error, 103 table value not found, 200 unsupported message
    /// type, 203 unsupported version ID, 207 application internal error.
    pub code: u16,
}

impl Hl7Error {
    pub fn new(
        segment: &str,
        sequence: usize,
        field: usize,
        code: u16,
        reason: impl Into<String>,
    ) -> Hl7Error {
        Hl7Error {
            segment: segment.to_owned(),
            sequence,
            field,
            reason: reason.into(),
            code,
        }
    }
}

/// The message's delimiters, from MSH-1 and MSH-2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    pub field: char,
    pub component: char,
    pub repetition: char,
    pub escape: char,
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            field: '|',
            component: '^',
            repetition: '~',
            escape: '\\',
            subcomponent: '&',
        }
    }
}

impl Delimiters {
    /// MSH-2 as written.
    pub fn encoding_characters(&self) -> String {
        [
            self.component,
            self.repetition,
            self.escape,
            self.subcomponent,
        ]
        .iter()
        .collect()
    }

    /// Escapes `text` so that it stands as one value in a field (HL7 v2.5.1 section 2.7).
    pub fn escape(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            let seq = match c {
                c if c == self.field => "F",
                c if c == self.component => "S",
                c if c == self.subcomponent => "T",
                c if c == self.repetition => "R",
                c if c == self.escape => "E",
                '\r' => {
                    out.push_str(&format!("{0}.br{0}", self.escape));
                    continue;
                }
                '\n' => continue,
                c => {
                    out.push(c);
                    continue;
                }
            };
            out.push(self.escape);
            out.push_str(seq);
            out.push(self.escape);
        }
        out
    }

    /// Decodes the escape sequences of one value; unknown sequences stay as written.
    pub fn unescape(&self, raw: &str) -> String {
        if !raw.contains(self.escape) {
            return raw.to_owned();
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(start) = rest.find(self.escape) {
            out.push_str(&rest[..start]);
            let after = &rest[start + self.escape.len_utf8()..];
            let Some(end) = after.find(self.escape) else {
                out.push_str(&rest[start..]);
                return out;
            };
            match &after[..end] {
                "F" => out.push(self.field),
                "S" => out.push(self.component),
                "T" => out.push(self.subcomponent),
                "R" => out.push(self.repetition),
                "E" => out.push(self.escape),
                ".br" => out.push('\n'),
                other => {
                    out.push(self.escape);
                    out.push_str(other);
                    out.push(self.escape);
                }
            }
            rest = &after[end + self.escape.len_utf8()..];
        }
        out.push_str(rest);
        out
    }
}

/// One segment: its ID and its fields as written (still escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub id: String,
    /// `fields[n]` is field n (1-based; `fields[0]` is the segment ID). For MSH, field 1
    /// is the field separator and field 2 the encoding characters, as the standard counts.
    fields: Vec<String>,
}

impl Segment {
    /// Field `n` as written, or "" when absent.
    pub fn raw(&self, n: usize) -> &str {
        self.fields.get(n).map_or("", String::as_str)
    }

    pub fn field_count(&self) -> usize {
        self.fields.len().saturating_sub(1)
    }
}

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub delimiters: Delimiters,
    pub segments: Vec<Segment>,
}

impl Message {
    /// Parses a message. Segments end with a carriage return (a line feed, or CR LF, is
    /// taken too, as some senders write them); the first segment must be a well-formed
    /// MSH, whose delimiters then apply to the rest.
    pub fn parse(text: &str) -> Result<Message, Hl7Error> {
        let text = text.trim_start_matches(['\r', '\n']);
        let msh = |reason: &str, field| Hl7Error::new("MSH", 1, field, 102, reason);
        if !text.starts_with("MSH") {
            return Err(Hl7Error::new(
                "MSH",
                0,
                0,
                100,
                "the message does not start with an MSH segment",
            ));
        }
        let mut chars = text[3..].chars();
        let field = chars
            .next()
            .ok_or_else(|| msh("MSH-1 (the field separator) is missing", 1))?;
        let encoding: String = chars.take_while(|c| *c != field).collect();
        let enc: Vec<char> = encoding.chars().collect();
        if !(4..=5).contains(&enc.len()) {
            return Err(msh(
                "MSH-2 must hold the four encoding characters, e.g. ^~\\&",
                2,
            ));
        }
        let all = [field, enc[0], enc[1], enc[2], enc[3]];
        if all.iter().any(|c| c.is_alphanumeric() || c.is_whitespace())
            || (0..5).any(|i| all[i + 1..].contains(&all[i]))
        {
            return Err(msh(
                "MSH-1 and MSH-2 must be five distinct punctuation characters",
                2,
            ));
        }
        let delimiters = Delimiters {
            field,
            component: enc[0],
            repetition: enc[1],
            escape: enc[2],
            subcomponent: enc[3],
        };
        let mut segments = Vec::new();
        for (i, line) in text
            .split(['\r', '\n'])
            .filter(|l| !l.is_empty())
            .enumerate()
        {
            let parts: Vec<&str> = line.split(field).collect();
            let id = parts[0];
            if id.len() != 3
                || !id
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            {
                return Err(Hl7Error::new(
                    id,
                    i + 1,
                    0,
                    100,
                    format!(
                        "segment {} has no valid segment ID (three capitals or digits)",
                        i + 1
                    ),
                ));
            }
            let mut fields: Vec<String> = Vec::with_capacity(parts.len() + 1);
            fields.push(id.to_owned());
            if id == "MSH" {
                if i != 0 {
                    return Err(Hl7Error::new("MSH", i + 1, 0, 100, "a second MSH segment"));
                }
                fields.push(field.to_string());
                fields.extend(parts[1..].iter().map(|s| (*s).to_owned()));
            } else {
                fields.extend(parts[1..].iter().map(|s| (*s).to_owned()));
            }
            segments.push(Segment {
                id: id.to_owned(),
                fields,
            });
        }
        Ok(Message {
            delimiters,
            segments,
        })
    }

    /// The first segment with this ID and its 1-based position.
    pub fn segment(&self, id: &str) -> Option<(usize, &Segment)> {
        self.segments
            .iter()
            .enumerate()
            .find(|(_, s)| s.id == id)
            .map(|(i, s)| (i + 1, s))
    }

    pub fn msh(&self) -> &Segment {
        &self.segments[0]
    }

    /// Component `c` (1-based) of the first repetition of field `n` of `seg`, unescaped;
    /// "" when absent.
    pub fn component(&self, seg: &Segment, n: usize, c: usize) -> String {
        let d = &self.delimiters;
        let first = seg.raw(n).split(d.repetition).next().unwrap_or("");
        let comp = first
            .split(d.component)
            .nth(c.saturating_sub(1))
            .unwrap_or("");
        // The first subcomponent: what a reader of a simple value expects.
        let sub = comp.split(d.subcomponent).next().unwrap_or("");
        d.unescape(sub)
    }

    /// The whole first repetition of field `n`, unescaped, components and all.
    pub fn value(&self, seg: &Segment, n: usize) -> String {
        let d = &self.delimiters;
        d.unescape(seg.raw(n).split(d.repetition).next().unwrap_or(""))
    }
}

/// Builds a message segment by segment with the default delimiters, escaping values.
#[derive(Debug, Default)]
pub struct Builder {
    d: Delimiters,
    out: String,
}

/// A field value for [`Builder::segment`]: plain text (escaped) or components (each
/// escaped, joined with the component separator).
pub enum Value<'a> {
    Text(&'a str),
    Components(Vec<&'a str>),
    /// Written as is: for MSH-2 and values already in HL7 form.
    Raw(&'a str),
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    pub fn delimiters(&self) -> Delimiters {
        self.d
    }

    /// Appends a segment. For MSH, give fields from MSH-2 on (MSH-1 is the separator).
    pub fn segment(&mut self, id: &str, fields: &[Value<'_>]) -> &mut Builder {
        self.out.push_str(id);
        let mut values: Vec<String> = fields
            .iter()
            .map(|v| match v {
                Value::Text(t) => self.d.escape(t),
                Value::Components(cs) => cs
                    .iter()
                    .map(|c| self.d.escape(c))
                    .collect::<Vec<_>>()
                    .join(&self.d.component.to_string()),
                Value::Raw(r) => (*r).to_owned(),
            })
            .collect();
        while values.last().is_some_and(String::is_empty) {
            values.pop();
        }
        for v in values {
            self.out.push(self.d.field);
            self.out.push_str(&v);
        }
        self.out.push('\r');
        self
    }

    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.out)
    }
}

/// HL7 DTM `YYYY[MM[DD[HH[MM[SS[.S...]]]]]][+/-ZZZZ]` to UTC. Without an offset the time
/// is taken as UTC: senders should state their offset.
pub fn parse_timestamp(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{FixedOffset, NaiveDate, TimeZone};
    let s = s.trim();
    let (body, offset) = match s.find(['+', '-']) {
        Some(i) => (&s[..i], Some(&s[i..])),
        None => (s, None),
    };
    let (whole, _fraction) = body.split_once('.').unwrap_or((body, ""));
    if whole.len() < 8 || whole.len() > 14 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| whole.get(a..b).map_or(Some(0), |x| x.parse::<u32>().ok());
    let date = NaiveDate::from_ymd_opt(whole[..4].parse().ok()?, n(4, 6)?, n(6, 8)?)?;
    let naive = date.and_hms_opt(n(8, 10)?, n(10, 12)?, n(12, 14)?)?;
    let offset = match offset {
        None => FixedOffset::east_opt(0)?,
        Some(o) => {
            if o.len() != 5 || !o[1..].chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let secs = (o[1..3].parse::<i32>().ok()? * 60 + o[3..5].parse::<i32>().ok()?) * 60;
            if o.starts_with('-') {
                FixedOffset::west_opt(secs)?
            } else {
                FixedOffset::east_opt(secs)?
            }
        }
    };
    offset
        .from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// An HL7 DTM of `t` with its offset: `YYYYMMDDHHMMSS+0000`.
pub fn format_timestamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y%m%d%H%M%S+0000").to_string()
}
