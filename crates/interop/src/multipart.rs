//! `multipart/related` bodies (RFC 2387), as DICOMweb carries instances: WADO-RS answers
//! with one `application/dicom` part per instance, STOW-RS takes them the same way
//! (PS3.18 8.6.1.2).

/// One part: its Content-Type (if it gave one) and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub content_type: Option<String>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartError {
    #[error("the Content-Type is not multipart/related")]
    NotRelated,
    #[error("the Content-Type names no boundary")]
    NoBoundary,
    #[error("the body does not start with its boundary")]
    NoFirstBoundary,
    #[error("part {0} has no blank line after its headers")]
    NoHeaderEnd(usize),
    #[error("the body has no closing boundary")]
    NotClosed,
}

/// The parameter `name` of a Content-Type, unquoted.
pub fn parameter(content_type: &str, name: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The boundary of a `multipart/related` Content-Type.
pub fn boundary(content_type: &str) -> Result<String, MultipartError> {
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/related") {
        return Err(MultipartError::NotRelated);
    }
    parameter(content_type, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or(MultipartError::NoBoundary)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a body into its parts.
pub fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, MultipartError> {
    let delimiter = format!("--{boundary}");
    let start = find(body, delimiter.as_bytes(), 0).ok_or(MultipartError::NoFirstBoundary)?;
    // Every later delimiter follows a CRLF that belongs to it, not to the part.
    let next = format!("\r\n--{boundary}");
    let mut at = start + delimiter.len();
    let mut parts = Vec::new();
    loop {
        if body.get(at..at + 2) == Some(b"--") {
            return Ok(parts);
        }
        let header_start = find(body, b"\r\n", at).ok_or(MultipartError::NotClosed)? + 2;
        let header_end = find(body, b"\r\n\r\n", header_start - 2)
            .ok_or(MultipartError::NoHeaderEnd(parts.len() + 1))?;
        // A part without headers has its blank line right after the delimiter's CRLF.
        let headers = String::from_utf8_lossy(body.get(header_start..header_end).unwrap_or(&[]));
        let content_type = headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        });
        let body_start = header_end + 4;
        let end = find(body, next.as_bytes(), body_start).ok_or(MultipartError::NotClosed)?;
        parts.push(Part {
            content_type,
            body: body[body_start..end].to_vec(),
        });
        at = end + next.len();
    }
}

/// Writes parts as one body with `boundary`.
pub fn write(parts: &[Part], boundary: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.body.len() + 96).sum());
    for p in parts {
        out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        if let Some(ct) = &p.content_type {
            out.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&p.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_read_back_as_written_even_when_a_body_holds_crlf_and_dashes() {
        let parts = vec![
            Part {
                content_type: Some("application/dicom".into()),
                body: b"DICM\r\n--not-the-boundary\r\n\x00\x01".to_vec(),
            },
            Part {
                content_type: None,
                body: Vec::new(),
            },
        ];
        let body = write(&parts, "b0und4ry");
        assert_eq!(parse(&body, "b0und4ry").unwrap(), parts);
    }

    #[test]
    fn content_types_give_their_boundary_and_a_bad_body_says_why() {
        let ct = r#"multipart/related; type="application/dicom"; boundary="abc def""#;
        assert_eq!(boundary(ct).unwrap(), "abc def");
        assert_eq!(parameter(ct, "type").as_deref(), Some("application/dicom"));
        assert_eq!(
            boundary("application/json"),
            Err(MultipartError::NotRelated)
        );
        assert_eq!(
            boundary("multipart/related; type=x"),
            Err(MultipartError::NoBoundary)
        );
        assert_eq!(parse(b"junk", "b"), Err(MultipartError::NoFirstBoundary));
        assert_eq!(
            parse(b"--b\r\nContent-Type: x\r\n\r\nunclosed", "b"),
            Err(MultipartError::NotClosed)
        );
    }
}
