//! The MIME multipart/related entity that carries CDA documents inside
//! `controlActProcess/subject/clinicalDocument/text` (interface.md §1.9): one base64 part per
//! document, `Content-ID` = the document OID. Parsed strictly into typed parts; every way it
//! can be wrong has an `M-` code.

use crate::finding::RuleId;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;

/// What one entity may hold (the `limits.mime_*` settings); the entity's size is bounded by
/// the message it travels in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MimeLimits {
    /// Most parts.
    pub max_parts: usize,
    /// Most header lines of the entity or of one part.
    pub max_headers: usize,
    /// Longest header (continuation lines included), in bytes.
    pub max_header_bytes: usize,
}

impl Default for MimeLimits {
    fn default() -> Self {
        Self {
            max_parts: 16,
            max_headers: 64,
            max_header_bytes: 8192,
        }
    }
}

/// Why the entity could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MimeError {
    /// No Content-Type header.
    #[error("M-001: the MIME entity has no Content-Type header")]
    NoContentType,
    /// Not multipart/related.
    #[error("M-002: the MIME entity is {seen:?}, expected multipart/related")]
    NotMultipartRelated {
        /// The Content-Type seen.
        seen: String,
    },
    /// No boundary parameter.
    #[error("M-003: the multipart Content-Type has no boundary parameter")]
    NoBoundary,
    /// The boundary never appears, or the closing delimiter is missing.
    #[error("M-004: {detail} (boundary {boundary:?})")]
    Delimiters {
        /// The boundary.
        boundary: String,
        /// What is missing.
        detail: String,
    },
    /// A part's base64 does not decode.
    #[error("M-005: part {part} ({content_id}) is not valid base64: {detail}")]
    BadBase64 {
        /// 1-based part number.
        part: usize,
        /// Its Content-ID.
        content_id: String,
        /// The decoder's message.
        detail: String,
    },
    /// A transfer encoding we do not take.
    #[error(
        "M-006: part {part} has Content-Transfer-Encoding {seen:?}; base64 is expected (7bit, 8bit and binary are read as is)"
    )]
    UnsupportedEncoding {
        /// 1-based part number.
        part: usize,
        /// The encoding seen.
        seen: String,
    },
    /// Too large or too many parts.
    #[error("M-007: {detail}")]
    TooLarge {
        /// What limit was hit.
        detail: String,
    },
}

impl MimeError {
    /// The stable code.
    pub fn code(&self) -> RuleId {
        match self {
            Self::NoContentType => RuleId::M001,
            Self::NotMultipartRelated { .. } => RuleId::M002,
            Self::NoBoundary => RuleId::M003,
            Self::Delimiters { .. } => RuleId::M004,
            Self::BadBase64 { .. } => RuleId::M005,
            Self::UnsupportedEncoding { .. } => RuleId::M006,
            Self::TooLarge { .. } => RuleId::M007,
        }
    }
}

/// One part, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MimePart {
    /// Headers as (lower-case name, value), in order.
    pub headers: Vec<(String, String)>,
    /// Content-Type (media type with parameters), empty when absent.
    pub content_type: String,
    /// Content-ID without the angle brackets.
    pub content_id: Option<String>,
    /// Content-Transfer-Encoding, lower case.
    pub transfer_encoding: Option<String>,
    /// The decoded body.
    #[serde(skip)]
    pub body: Vec<u8>,
    /// Where the body's base64 lay in the entity's text, when it was decoded from base64
    /// (from its first line's start to its last line's end).
    #[serde(skip)]
    pub base64_at: Option<std::ops::Range<usize>>,
}

impl MimePart {
    /// The media type without parameters, lower case.
    pub fn media_type(&self) -> String {
        self.content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }
}

/// A multipart/related entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MimeEntity {
    /// Top-level headers.
    pub headers: Vec<(String, String)>,
    /// The boundary.
    pub boundary: String,
    /// The parts in order.
    pub parts: Vec<MimePart>,
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Header lines (with continuations) up to the first empty line; returns the headers and
/// the index of the first body line. `what` names the entity or part in errors.
fn read_headers(
    lines: &[&str],
    start: usize,
    limits: &MimeLimits,
    what: &str,
) -> Result<(Vec<(String, String)>, usize), MimeError> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut i = start;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line.trim().is_empty() {
            break;
        }
        // A continuation is indented (RFC 5322 folding); a published Kanta message (a Java mail
        // library's output) also breaks a parameter list after its ';' without indenting:
        // `Content-Type: multipart/related;` then `boundary="…"` on the next line.
        let unindented_parameter = headers.last().is_some_and(|(_, v)| v.ends_with(';'))
            && line.split_once(':').is_none_or(|(k, _)| k.contains('='));
        if line.starts_with([' ', '\t']) || unindented_parameter {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
                if last.0.len() + last.1.len() > limits.max_header_bytes {
                    return Err(MimeError::TooLarge {
                        detail: format!(
                            "{what}: header {:?} is longer than {} bytes (limits.mime_max_header_bytes)",
                            last.0, limits.max_header_bytes
                        ),
                    });
                }
            }
        } else if let Some((k, v)) = line.split_once(':') {
            if line.len() > limits.max_header_bytes {
                return Err(MimeError::TooLarge {
                    detail: format!(
                        "{what}: a header line of {} bytes exceeds {} (limits.mime_max_header_bytes)",
                        line.len(),
                        limits.max_header_bytes
                    ),
                });
            }
            if headers.len() == limits.max_headers {
                return Err(MimeError::TooLarge {
                    detail: format!(
                        "{what}: more than {} header lines (limits.mime_max_headers)",
                        limits.max_headers
                    ),
                });
            }
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Ok((headers, i))
}

fn parameter(value: &str, name: &str) -> Option<String> {
    value.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// Parses a multipart/related entity (as text, after XML unescaping), within `limits`.
pub fn parse_related(text: &str, limits: &MimeLimits) -> Result<MimeEntity, MimeError> {
    // Line ends may be CRLF (MIME) or LF (after XML line-end normalisation).
    let body = text.trim_start_matches(['\r', '\n', ' ', '\t']);
    let skipped = text.len() - body.len();
    // As `split('\n')`, with the line ends found in one vector pass (a 35 KB entity is
    // some 450 lines of 76 characters; a search started per line cost more than the rest).
    // `starts`: where each line starts in `text`.
    let mut lines: Vec<&str> = Vec::with_capacity(body.len() / 64 + 1);
    let mut starts: Vec<usize> = Vec::with_capacity(body.len() / 64 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', body.as_bytes()) {
        lines.push(&body[start..end]);
        starts.push(skipped + start);
        start = end + 1;
    }
    lines.push(&body[start..]);
    starts.push(skipped + start);
    for l in &mut lines {
        *l = l.strip_suffix('\r').unwrap_or(l);
    }
    let (headers, body_start) = read_headers(&lines, 0, limits, "the MIME entity")?;
    let ct = header(&headers, "content-type")
        .ok_or(MimeError::NoContentType)?
        .to_owned();
    if !ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case("multipart/related")
    {
        return Err(MimeError::NotMultipartRelated { seen: ct });
    }
    let boundary = parameter(&ct, "boundary")
        .filter(|b| !b.is_empty())
        .ok_or(MimeError::NoBoundary)?;
    let delimiter = format!("--{boundary}");
    let close = format!("--{boundary}--");
    let delims = |what: &str| MimeError::Delimiters {
        boundary: boundary.clone(),
        detail: what.to_owned(),
    };
    let mut i = lines[body_start..]
        .iter()
        .position(|l| l.trim_end() == delimiter)
        .map(|p| body_start + p)
        .ok_or_else(|| delims("the boundary delimiter never appears"))?;
    let mut parts = Vec::new();
    loop {
        // `lines[i]` is a delimiter.
        let number = parts.len() + 1;
        if number > limits.max_parts {
            return Err(MimeError::TooLarge {
                detail: format!(
                    "more than {} MIME parts (limits.mime_max_parts)",
                    limits.max_parts
                ),
            });
        }
        let (part_headers, body_from) =
            read_headers(&lines, i + 1, limits, &format!("MIME part {number}"))?;
        let end = lines[body_from..]
            .iter()
            .position(|l| {
                let t = l.trim_end();
                t == delimiter || t == close
            })
            .map(|p| body_from + p)
            .ok_or_else(|| {
                delims(&format!(
                    "part {} is not followed by a delimiter or the closing {close}",
                    parts.len() + 1
                ))
            })?;
        let raw = &lines[body_from..end];
        let encoding =
            header(&part_headers, "content-transfer-encoding").map(|e| e.to_ascii_lowercase());
        let content_id = header(&part_headers, "content-id").map(|c| {
            c.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        });
        let base64_at = (encoding.as_deref() == Some("base64") && body_from < end)
            .then(|| starts[body_from]..starts[end - 1] + lines[end - 1].len());
        let body = match encoding.as_deref() {
            Some("base64") => {
                // Straight from the lines into the bytes: no copy of the base64 in between.
                crate::xml::decode_base64(raw.iter().copied()).map_err(|e| {
                    MimeError::BadBase64 {
                        part: number,
                        content_id: content_id.clone().unwrap_or_else(|| "no Content-ID".into()),
                        detail: e.to_string(),
                    }
                })?
            }
            None | Some("7bit" | "8bit" | "binary") => raw.join("\n").into_bytes(),
            Some(other) => {
                return Err(MimeError::UnsupportedEncoding {
                    part: number,
                    seen: other.to_owned(),
                });
            }
        };
        parts.push(MimePart {
            content_type: header(&part_headers, "content-type")
                .unwrap_or("")
                .to_owned(),
            content_id,
            transfer_encoding: encoding,
            headers: part_headers,
            body,
            base64_at,
        });
        if lines[end].trim_end() == close {
            break;
        }
        i = end;
    }
    Ok(MimeEntity {
        headers,
        boundary,
        parts,
    })
}

/// Builds the entity for one CDA, as the reference client sends it: base64 in 76-character
/// lines, CRLF line ends, `Content-ID: <document OID>`.
pub fn encode_related(cda: &[u8], document_oid: &str, boundary: &str) -> String {
    let b64 = B64.encode(cda);
    let mut s = format!(
        "MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=\"{boundary}\"\r\n\r\n--{boundary}\r\n\
         Content-Type: text/xml; charset=UTF-8\r\nContent-Transfer-Encoding: BASE64\r\nContent-ID: <{document_oid}>\r\n\r\n"
    );
    for chunk in b64.as_bytes().chunks(76) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push_str("\r\n");
    }
    s.push_str(&format!("--{boundary}--\r\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_lf_line_ends() {
        let e = encode_related("<ClinicalDocument/>".as_bytes(), "1.2.3", "----=_Part_1");
        for text in [e.clone(), e.replace("\r\n", "\n")] {
            let m = parse_related(&text, &MimeLimits::default()).unwrap();
            assert_eq!(m.parts.len(), 1);
            assert_eq!(m.parts[0].content_id.as_deref(), Some("1.2.3"));
            assert_eq!(m.parts[0].media_type(), "text/xml");
            assert_eq!(m.parts[0].body, b"<ClinicalDocument/>");
        }
    }

    #[test]
    fn every_fault_has_its_code() {
        let code = |t: &str| parse_related(t, &MimeLimits::default()).unwrap_err().code();
        assert_eq!(code("MIME-Version: 1.0\n\nbody"), "M-001");
        assert_eq!(code("Content-Type: text/plain\n\nbody"), "M-002");
        assert_eq!(code("Content-Type: multipart/related\n\nbody"), "M-003");
        assert_eq!(
            code("Content-Type: multipart/related; boundary=b\n\nno delimiter"),
            "M-004"
        );
        assert_eq!(
            code(
                "Content-Type: multipart/related; boundary=b\n\n--b\nContent-Type: text/xml\n\nx\n"
            ),
            "M-004"
        );
        assert_eq!(
            code(
                "Content-Type: multipart/related; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n!!!\n--b--\n"
            ),
            "M-005"
        );
        assert_eq!(
            code(
                "Content-Type: multipart/related; boundary=b\n\n--b\nContent-Transfer-Encoding: quoted-printable\n\nx\n--b--\n"
            ),
            "M-006"
        );
    }

    #[test]
    fn a_parameter_broken_onto_an_unindented_line_is_read() {
        // The shape of a published health-care archive message's entity.
        let t = "Message-ID: <1.x@host>\nMIME-Version: 1.0\nContent-Type: multipart/related;\nboundary=\"----=_Part_9_1.2\"\n\n------=_Part_9_1.2\nContent-Type: text/xml; charset=UTF-8\nContent-Transfer-Encoding: BASE64\nContent-ID: <1.2.3>\n\nYQ==\n\n------=_Part_9_1.2--\n";
        let m = parse_related(t, &MimeLimits::default()).unwrap();
        assert_eq!(m.boundary, "----=_Part_9_1.2");
        assert_eq!(m.parts[0].body, b"a");
    }

    #[test]
    fn header_floods_and_part_floods_are_refused_before_decoding() {
        let limits = MimeLimits::default();
        let many_headers = format!(
            "Content-Type: multipart/related; boundary=b\n{}\n--b\n\nx\n--b--\n",
            "X-A: 1\n".repeat(200_000)
        );
        let e = parse_related(&many_headers, &limits).unwrap_err();
        assert!(e.to_string().contains("mime_max_headers"), "{e}");
        let long = format!(
            "Content-Type: multipart/related; boundary=b\nX-A: {}\n\n--b\n\nx\n--b--\n",
            "a".repeat(10_000_000)
        );
        let e = parse_related(&long, &limits).unwrap_err();
        assert!(e.to_string().contains("mime_max_header_bytes"), "{e}");
        let parts = format!(
            "Content-Type: multipart/related; boundary=b\n\n{}--b--\n",
            "--b\n\nx\n".repeat(17)
        );
        let e = parse_related(&parts, &limits).unwrap_err();
        assert!(e.to_string().contains("mime_max_parts"), "{e}");
        assert_eq!(e.code(), "M-007");
    }

    #[test]
    fn extra_parts_are_kept() {
        let t = "Content-Type: multipart/related;\n boundary=\"b\"\n\n--b\nContent-ID: <a>\nContent-Transfer-Encoding: base64\n\nYQ==\n--b\nContent-ID: <b>\n\nplain\n--b--\n";
        let m = parse_related(t, &MimeLimits::default()).unwrap();
        assert_eq!(m.parts.len(), 2);
        assert_eq!(m.parts[0].body, b"a");
        assert_eq!(m.parts[1].body, b"plain");
    }
}
