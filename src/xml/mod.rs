//! Safe XML reading for everything the simulator parses. XML is hostile input: DTDs and
//! entity declarations are refused outright (so no entity expansion and no external fetch
//! can ever happen), and every limit (size, node count, depth, attributes and namespace
//! declarations per element, namespaces in scope, text, attribute-value and name length) is
//! enforced by a streaming pre-pass in one linear pass over the bytes **before** any DOM is
//! built: a DOM builder's cost can grow faster than the input (duplicate-attribute and
//! namespace bookkeeping), so it only ever sees input that is already bounded. The result
//! is a read-only DOM (roxmltree) that keeps source positions, which canonicalization needs
//! to recover the prefixes as written. A message's reader uses [`Prepared`]: the same
//! pre-pass also takes the one large text it wants (the MIME entity) out before the DOM.

mod plain;
mod prescan;
mod write;

use crate::finding::RuleId;
pub use plain::RootFacts;
pub use prescan::check as prescan;
use roxmltree::{Document, Node, ParsingOptions};
use serde::Serialize;
pub use write::XmlWriter;

/// Bounds on what is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Most nodes (elements, texts, comments, PIs).
    pub max_nodes: u32,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most attributes on one element (namespace declarations included).
    pub max_attributes: usize,
    /// Most namespace declarations on one element.
    pub max_namespace_declarations: usize,
    /// Most namespace declarations in scope at any element.
    pub max_namespaces_in_scope: usize,
    /// Longest single text node, in bytes.
    pub max_text_bytes: usize,
    /// Longest attribute value, in bytes.
    pub max_attribute_value_bytes: usize,
    /// Longest element or attribute name, in bytes.
    pub max_name_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_nodes: 4_000_000,
            max_depth: 256,
            max_attributes: 256,
            max_namespace_declarations: 64,
            max_namespaces_in_scope: 256,
            max_text_bytes: 48 * 1024 * 1024,
            max_attribute_value_bytes: 1024 * 1024,
            max_name_bytes: 1024,
        }
    }
}

/// Why a document was refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum XmlError {
    /// Larger than allowed.
    #[error("document is {size} bytes, the limit is {limit}")]
    TooLarge {
        /// Size seen.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not UTF-8.
    #[error("document is not UTF-8 at byte {at}; Kanta documents are UTF-8")]
    NotUtf8 {
        /// First bad byte.
        at: usize,
    },
    /// A DOCTYPE was present.
    #[error("DTDs and entity declarations are refused (found at {position})")]
    Dtd {
        /// Line:column.
        position: String,
    },
    /// Not well-formed.
    #[error("not well-formed XML: {message}")]
    Malformed {
        /// The parser's message with position.
        message: String,
    },
    /// Nested too deep.
    #[error("element nesting {depth} exceeds the limit {limit} at {path}")]
    TooDeep {
        /// Depth seen.
        depth: usize,
        /// The limit.
        limit: usize,
        /// Where.
        path: String,
    },
    /// Too many attributes.
    #[error("element {path} has {count} attributes, the limit is {limit}")]
    TooManyAttributes {
        /// Where.
        path: String,
        /// Count seen.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A text node too long.
    #[error("a text node of {len} bytes at {path} exceeds the limit {limit}")]
    TextTooLong {
        /// Where.
        path: String,
        /// Length seen.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Any other bound (namespace declarations, names, attribute values, nodes).
    #[error("{what} at {path}: {seen} exceeds the limit {limit} (limits.{key})")]
    Limit {
        /// What was counted.
        what: String,
        /// Where.
        path: String,
        /// What was seen.
        seen: usize,
        /// The limit.
        limit: usize,
        /// The configuration key that sets it.
        key: String,
    },
}

impl XmlError {
    /// The rule it breaks: W-003 a DTD, W-004 too large, W-006 another limit, W-001 not
    /// well-formed (or not UTF-8).
    pub fn code(&self) -> RuleId {
        match self {
            Self::Dtd { .. } => RuleId::W003,
            Self::TooLarge { .. } => RuleId::W004,
            Self::TooDeep { .. }
            | Self::TooManyAttributes { .. }
            | Self::TextTooLong { .. }
            | Self::Limit { .. } => RuleId::W006,
            Self::NotUtf8 { .. } | Self::Malformed { .. } => RuleId::W001,
        }
    }
}

/// Parses `text` within `limits`: the streaming pre-pass first (linear, refuses what is out
/// of bounds), then the DOM.
pub fn parse<'a>(text: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    within_size(text, limits)?;
    prescan::check(text, limits)?;
    dom(text, limits)
}

/// The root element of a well-formed `text`, with [`parse`]'s verdict and errors, for a
/// reader who needs nothing else from it: when a plain document within the limits (see
/// `plain`), read in one pass without a DOM; otherwise by [`parse`].
pub fn root_of(text: &str, limits: &Limits) -> Result<RootFacts, XmlError> {
    within_size(text, limits)?;
    match plain::vouch(text, limits) {
        Some(facts) => Ok(facts),
        None => parse(text, limits).map(|d| RootFacts::of(&d)),
    }
}

fn within_size(text: &str, limits: &Limits) -> Result<(), XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

/// A text ready for the DOM, with the large runs of character data in one named element
/// taken out first (see [`Prepared::new`]).
#[derive(Debug)]
pub struct Prepared<'t> {
    text: std::borrow::Cow<'t, str>,
    /// The normalised text as it was, kept to say where a defect is (`None`: nothing was
    /// taken out, `text` is it).
    whole: Option<std::borrow::Cow<'t, str>>,
    lifted: Lifted,
}

/// Character data taken out of a text before its DOM was built, by where its stand-in text
/// node starts in the prepared text.
///
/// A DOM built from a prepared text holds a one-space stand-in where each run was: whoever
/// reads such a DOM's text reads it through [`Lifted::text_of`] or [`Lifted::text_content`]
/// (the DOM alone would give the stand-in).
///
/// Each run also keeps where it lay in the text the preparation was given, when that text
/// needed no line ends normalised (its offsets are then the sender's): [`Lifted::source_of`].
#[derive(Debug, Default)]
pub struct Lifted(Vec<(usize, String)>, Vec<std::ops::Range<usize>>);

/// Nothing taken out: for reading a DOM built from a whole text.
pub static NOTHING_LIFTED: Lifted = Lifted(Vec::new(), Vec::new());

impl<'t> Prepared<'t> {
    /// Normalises line ends, runs the streaming pre-pass (every limit, as [`parse`]) and,
    /// in the same pass, takes the character data of the elements whose local-name path
    /// ends with `lift` out of the text, each run replaced by a one-space stand-in.
    ///
    /// Why: the DOM builder reads character data one character at a time, several times
    /// slower than the rest of a document, and a text node that holds a reference (`&#13;`
    /// at each line end of a MIME entity, as XML writers escape a carriage return) slower
    /// still, although only one reader wants that text (the MIME reader; the display form's
    /// base64, which only its decoder and the canonicaliser read). A run is taken out only
    /// when the pre-pass can read it exactly as the DOM would (plain text and predefined or
    /// numeric references, a whole text node); anything the DOM builder would refuse stays
    /// for it to refuse with its own message.
    /// Read the taken text with [`Lifted::text_of`] or [`Lifted::text_content`].
    pub fn new(text: &'t str, limits: &Limits, lift: &[&str]) -> Result<Self, XmlError> {
        Self::lifting(text, limits, &[lift])
    }

    /// [`Prepared::new`] with the character data of the elements whose local-name path ends
    /// with any of `lifts` taken out.
    pub fn lifting(text: &'t str, limits: &Limits, lifts: &[&[&str]]) -> Result<Self, XmlError> {
        within_size(text, limits)?;
        let normalized = normalize_line_ends(text);
        let runs = prescan::scan(&normalized, limits, lifts)?;
        if runs.is_empty() {
            return Ok(Self {
                text: normalized,
                whole: None,
                lifted: Lifted::default(),
            });
        }
        let mut out = String::with_capacity(
            normalized.len() + runs.len() - runs.iter().map(|r| r.range.len()).sum::<usize>(),
        );
        let mut lifted = Vec::with_capacity(runs.len());
        let sources = match normalized {
            std::borrow::Cow::Borrowed(_) => runs.iter().map(|r| r.range.clone()).collect(),
            std::borrow::Cow::Owned(_) => Vec::new(),
        };
        let mut at = 0;
        for run in runs {
            out.push_str(&normalized[at..run.range.start]);
            lifted.push((out.len(), run.value));
            // One character, so that the text node stays where it was (a run is a whole
            // text node, at least LIFT_MIN_BYTES long, so never empty).
            out.push(' ');
            at = run.range.end;
        }
        out.push_str(&normalized[at..]);
        Ok(Self {
            text: std::borrow::Cow::Owned(out),
            whole: Some(normalized),
            lifted: Lifted(lifted, sources),
        })
    }

    /// The DOM of the prepared text (its limits were checked by [`Prepared::new`]).
    ///
    /// A run taken out was a whole text node the DOM builder accepts, so the prepared
    /// text is well-formed and within every bound exactly when the whole text is; but the
    /// stand-ins move what follows them, so a defect is reported as found in the whole
    /// text, where its line and column are the sender's.
    pub fn parse(&self, limits: &Limits) -> Result<Document<'_>, XmlError> {
        dom(&self.text, limits).map_err(|e| match &self.whole {
            Some(whole) => dom(whole, limits).err().unwrap_or(e),
            None => e,
        })
    }

    /// What was taken out.
    pub fn lifted(&self) -> &Lifted {
        &self.lifted
    }
}

impl Lifted {
    /// Whether nothing was taken out.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The bytes taken out, all runs together.
    pub fn taken_bytes(&self) -> usize {
        self.0.iter().map(|(_, v)| v.len()).sum()
    }

    /// The taken-out run whose stand-in is the text node `t`, and where it lay in the text
    /// the preparation was given (`None` also when that text had its line ends normalised).
    /// [`source_offset`] finds a byte of the run's value in it.
    pub fn source_of(&self, t: Node<'_, '_>) -> Option<(std::ops::Range<usize>, &str)> {
        if self.1.is_empty() || !t.is_text() {
            return None;
        }
        let i = self
            .0
            .binary_search_by_key(&t.range().start, |(at, _)| *at)
            .ok()?;
        Some((self.1.get(i)?.clone(), self.0[i].1.as_str()))
    }

    /// [`Lifted::source_of`] the only text node of `element`, when it has exactly one.
    pub fn source_of_text(&self, element: Node<'_, '_>) -> Option<(std::ops::Range<usize>, &str)> {
        let mut texts = element.children().filter(Node::is_text);
        match (texts.next(), texts.next()) {
            (Some(only), None) => self.source_of(only),
            _ => None,
        }
    }

    /// The taken-out run whose stand-in is the text node `t`.
    fn taken(&self, t: Node<'_, '_>) -> Option<&str> {
        if self.0.is_empty() || !t.is_text() {
            return None;
        }
        let start = t.range().start;
        self.0
            .binary_search_by_key(&start, |(at, _)| *at)
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The character data of a text node (a taken-out run in place of its stand-in);
    /// what [`Node::text`] gives for any other node.
    pub fn text_of<'a>(&'a self, node: Node<'a, '_>) -> Option<&'a str> {
        self.taken(node).or_else(|| node.text())
    }

    /// [`text_content`], with the taken-out runs in place of their stand-ins.
    pub fn text_content<'a>(&'a self, node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
        if !node.children().any(|c| self.taken(c).is_some()) {
            return text_content(node);
        }
        // The usual case, a MIME entity taken whole: borrowed, not copied again.
        let mut texts = node.children().filter(Node::is_text);
        if let (Some(only), None) = (texts.next(), texts.next())
            && let Some(value) = self.taken(only)
        {
            return std::borrow::Cow::Borrowed(value);
        }
        let mut out = String::new();
        for t in node.children().filter(Node::is_text) {
            out.push_str(self.text_of(t).unwrap_or(""));
        }
        std::borrow::Cow::Owned(out)
    }
}

/// The DOM of a text the pre-pass has let through.
fn dom<'a>(text: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    let opts = ParsingOptions {
        allow_dtd: false,
        nodes_limit: limits.max_nodes,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, opts).map_err(|e| match e {
        roxmltree::Error::DtdDetected => XmlError::Dtd {
            position: e.pos().to_string(),
        },
        other => XmlError::Malformed {
            message: other.to_string(),
        },
    })?;
    check_shape(doc.root(), limits)?;
    Ok(doc)
}

/// Where byte `value_offset` of a taken-out run's value lies in the run as written (`raw`,
/// its references unresolved): plain text maps byte for byte, and a byte of a reference's
/// character maps to the reference's `&`.
pub fn source_offset(raw: &str, value_offset: usize) -> usize {
    let (mut raw_at, mut value_at) = (0, 0);
    let mut found = None;
    let _ = plain::references(raw, |reference, c| {
        if found.is_some() {
            return;
        }
        let plain = reference.start - raw_at;
        if value_offset < value_at + plain {
            found = Some(raw_at + (value_offset - value_at));
        } else if value_offset < value_at + plain + c.len_utf8() {
            found = Some(reference.start);
        } else {
            value_at += plain + c.len_utf8();
            raw_at = reference.end;
        }
    });
    found.unwrap_or(raw_at + (value_offset - value_at))
}

/// The text with its line ends normalised as XML 1.0 §2.11 has a processor do before
/// parsing (`\r\n` and a lone `\r` become `\n`); borrowed when there is no `\r`. Parsing
/// the normalised text gives the same document, but text nodes with line breaks (base64 in
/// 76-character lines, a MIME entity) are then borrowed by the DOM instead of copied
/// character by character.
pub fn normalize_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    let b = text.as_bytes();
    if memchr::memchr(b'\r', b).is_none() {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut start = 0;
    for i in memchr::memchr_iter(b'\r', b) {
        // A `\r\n`'s `\n` was skipped with its `\r` (a `\r` is never a `\n`).
        if i < start {
            continue;
        }
        out.push_str(&text[start..i]);
        out.push('\n');
        start = i + 1 + usize::from(b.get(i + 1) == Some(&b'\n'));
    }
    out.push_str(&text[start..]);
    std::borrow::Cow::Owned(out)
}

/// Parses bytes, which must be UTF-8.
pub fn parse_bytes<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Document<'a>, XmlError> {
    if bytes.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| XmlError::NotUtf8 {
        at: e.valid_up_to(),
    })?;
    parse(text, limits)
}

fn check_shape(root: Node<'_, '_>, limits: &Limits) -> Result<(), XmlError> {
    // Iterative walk: a hostile depth must not be able to exhaust the stack here.
    let mut stack = vec![(root, 0usize)];
    while let Some((node, depth)) = stack.pop() {
        if node.is_element() {
            if depth > limits.max_depth {
                return Err(XmlError::TooDeep {
                    depth,
                    limit: limits.max_depth,
                    path: path_of(node),
                });
            }
            let count = node.attributes().len();
            if count > limits.max_attributes {
                return Err(XmlError::TooManyAttributes {
                    path: path_of(node),
                    count,
                    limit: limits.max_attributes,
                });
            }
        } else if let Some(pi) = node.pi()
            && pi.target.eq_ignore_ascii_case("xml")
        {
            // roxmltree reads a malformed declaration (`<?xml<x …?>`) as a processing
            // instruction; the target is reserved, and libxml2 refuses it too. Found by fuzzing.
            return Err(XmlError::Malformed {
                message: "a processing instruction may not be named \"xml\" (a malformed or misplaced XML declaration)".into(),
            });
        } else if let Some(t) = node.text()
            && node.is_text()
            && t.len() > limits.max_text_bytes
        {
            return Err(XmlError::TextTooLong {
                path: node.parent().map(path_of).unwrap_or_default(),
                len: t.len(),
                limit: limits.max_text_bytes,
            });
        }
        for child in node.children() {
            stack.push((child, if child.is_element() { depth + 1 } else { depth }));
        }
    }
    Ok(())
}

/// The character data of `node`'s own text children, concatenated: what a reader of the
/// element's value may rely on. Comments and processing instructions are skipped (exclusive
/// C14N leaves them out of what a signature covers, so a value read from them would be
/// unsigned), and so is the content of child elements.
/// Borrowed when there is a single text node (the usual case, and the large one: a base64
/// body is read without a copy).
pub fn text_content<'a>(node: Node<'a, '_>) -> std::borrow::Cow<'a, str> {
    let mut texts = node.children().filter(Node::is_text);
    let Some(first) = texts.next() else {
        return std::borrow::Cow::Borrowed("");
    };
    let first = first.text().unwrap_or("");
    match texts.next() {
        None => std::borrow::Cow::Borrowed(first),
        Some(second) => {
            let mut out = String::with_capacity(first.len());
            out.push_str(first);
            out.push_str(second.text().unwrap_or(""));
            for t in texts {
                out.push_str(t.text().unwrap_or(""));
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// Decodes base64 spread over `pieces` (lines, or one text value) ignoring ASCII
/// whitespace, without first copying the compacted text: the runs between whitespace are
/// gathered into a small buffer that is decoded each time it fills, so a large body (a
/// 20 MB display form) costs one pass, its output and 4 KB, and a MIME entity's 76-character
/// lines cost one decoder call per 4 KB rather than one per line. Padding is accepted only
/// at the very end, as a whole-string decoder would.
///
/// Text in lines (a MIME entity's, a base64 value wrapped at 76 or 64 characters, or one
/// line) is read line by line first ([`decode_lines`]); anything else, and every text that
/// does not decode, is read run by run ([`decode_runs`]), which says what is wrong and where.
pub fn decode_base64<'a>(
    pieces: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<u8>, base64::DecodeError> {
    match decode_lines(pieces.clone()) {
        Some(out) => Ok(out),
        None => decode_runs(pieces),
    }
}

/// A whole number of quads, so that every full gathering buffer decodes on its own.
const GATHER: usize = 4096;

/// The decoding of base64 in lines that end in `\n` or `\r\n` and hold only the alphabet
/// and final padding; `None` for anything else, including every text that would not decode
/// (whitespace inside a line, a byte outside the alphabet, padding before the end), which
/// [`decode_runs`] then reads and refuses with its error. A line costs the search for its
/// end and a copy, where [`decode_runs`] looks at every byte for whitespace and padding: the
/// base64 decoder checks every byte itself, refusing a space, and padding anywhere but at
/// the end of what it is given.
fn decode_lines<'a>(pieces: impl Iterator<Item = &'a str> + Clone) -> Option<Vec<u8>> {
    let upper: usize = pieces.clone().map(str::len).sum();
    let mut out = Vec::with_capacity(upper / 4 * 3 + 3);
    let mut gather = Gather::new();
    // Padding ends the text: a buffer that is not the last must not end in it, though the
    // decoder takes it there.
    let mut full = |buf: &[u8]| match buf.last() {
        Some(b'=') => Err(()),
        _ => base64_simd::STANDARD
            .decode_append(buf, &mut out)
            .map(|_| ())
            .map_err(|_| ()),
    };
    for piece in pieces {
        let b = piece.as_bytes();
        let mut start = 0;
        // Base64 is written in lines of one length, so the next line's end is looked for
        // first where the last one's was: a line taken that way with a `\n` inside it (a
        // shorter line before) fails to decode like any other byte outside the alphabet,
        // and the text goes to `decode_runs`, which reads it byte by byte.
        let mut width = None;
        loop {
            let end = match width {
                Some(w) if b.get(start + w) == Some(&b'\n') => start + w,
                _ => memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |n| start + n),
            };
            let line = &b[start..end];
            gather
                .push(line.strip_suffix(b"\r").unwrap_or(line), &mut full)
                .ok()?;
            if end == b.len() {
                break;
            }
            width = Some(end - start);
            start = end + 1;
        }
    }
    base64_simd::STANDARD
        .decode_append(gather.held(), &mut out)
        .ok()?;
    Some(out)
}

/// [`decode_base64`] run by run: whitespace anywhere, and the decoder's error for text
/// that is not base64, at its offset in the compacted text.
fn decode_runs<'a>(
    pieces: impl Iterator<Item = &'a str> + Clone,
) -> Result<Vec<u8>, base64::DecodeError> {
    let total: usize = pieces.clone().map(|p| p.len() - spaces(p.as_bytes())).sum();
    let mut out = Vec::with_capacity(total / 4 * 3 + 3);
    let mut gather = Gather::new();
    // Characters decoded before the buffer's first.
    let mut gathered = 0usize;
    let mut full = |buf: &[u8]| {
        decode_quads(buf, &mut out).map_err(|e| at_offset(e, gathered))?;
        gathered += GATHER;
        Ok(())
    };
    let mut seen = 0usize;
    for piece in pieces {
        let mut rest = piece.as_bytes();
        loop {
            let ws = rest.iter().take_while(|&&b| is_space(b)).count();
            rest = &rest[ws..];
            if rest.is_empty() {
                break;
            }
            // A run ends before whitespace; any other control byte starts a run of its own
            // and the decoder refuses it.
            let run = 1 + first_at_or_below_space(&rest[1..]).unwrap_or(rest.len() - 1);
            let data = &rest[..run];
            rest = &rest[run..];
            if let Some(p) = memchr::memchr(b'=', data)
                && seen + p + 2 < total
            {
                return Err(base64::DecodeError::InvalidByte(seen + p, b'='));
            }
            seen += data.len();
            gather.push(data, &mut full)?;
        }
    }
    if !gather.held().is_empty() {
        decode_quads(gather.held(), &mut out).map_err(|e| at_offset(e, gathered))?;
    }
    Ok(out)
}

/// Base64 characters gathered into a small buffer that is decoded each time it fills.
struct Gather {
    buf: [u8; GATHER],
    held: usize,
}

impl Gather {
    fn new() -> Self {
        Self {
            buf: [0; GATHER],
            held: 0,
        }
    }

    /// Appends `data`, handing the buffer to `full` each time it fills; stops at the first
    /// error `full` returns.
    fn push<E>(
        &mut self,
        mut data: &[u8],
        full: &mut impl FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), E> {
        while !data.is_empty() {
            let take = (GATHER - self.held).min(data.len());
            self.buf[self.held..self.held + take].copy_from_slice(&data[..take]);
            self.held += take;
            data = &data[take..];
            if self.held == GATHER {
                self.held = 0;
                full(&self.buf)?;
            }
        }
        Ok(())
    }

    /// What is gathered and not yet handed over.
    fn held(&self) -> &[u8] {
        &self.buf[..self.held]
    }
}

/// Decodes one gathered buffer onto `out`: with SIMD (base64-simd, as strict as the
/// `base64` crate's standard engine: padding only at the end, zero trailing bits), and
/// with the `base64` crate again where that refuses it, for its error's kind and offset.
/// `base64_tests` holds the two to the same verdict.
fn decode_quads(buf: &[u8], out: &mut Vec<u8>) -> Result<(), base64::DecodeError> {
    use base64::Engine as _;
    let kept = out.len();
    if base64_simd::STANDARD.decode_append(buf, out).is_ok() {
        return Ok(());
    }
    out.truncate(kept);
    base64::engine::general_purpose::STANDARD.decode_vec(buf, out)
}

/// A decoder error about a gathered buffer, its offset moved to count from the start of the
/// whole text (whitespace not counted), as a decoder of the compacted text would report it.
fn at_offset(e: base64::DecodeError, gathered: usize) -> base64::DecodeError {
    use base64::DecodeError::{InvalidByte, InvalidLastSymbol};
    match e {
        InvalidByte(at, b) => InvalidByte(gathered + at, b),
        InvalidLastSymbol {
            offset,
            symbol,
            symbol_value,
        } => InvalidLastSymbol {
            offset: gathered + offset,
            symbol,
            symbol_value,
        },
        other => other,
    }
}

/// ASCII whitespace as base64 bodies may carry it (`u8::is_ascii_whitespace`), written
/// without short-circuits so that a loop over it becomes vector code.
fn is_space(b: u8) -> bool {
    (b == b' ') | (b == b'\t') | (b == b'\n') | (b == b'\r') | (b == 0x0C)
}

/// How many bytes of `s` are [`is_space`]: counted in byte-wide lanes, 255 bytes at a time
/// so that a lane cannot overflow.
fn spaces(s: &[u8]) -> usize {
    s.chunks(255)
        .map(|c| usize::from(c.iter().fold(0u8, |n, &b| n + u8::from(is_space(b)))))
        .sum()
}

/// Where the first byte at or below the space is (whitespace, or a control byte): 32 bytes
/// at a time, since base64 text is long runs without one.
fn first_at_or_below_space(s: &[u8]) -> Option<usize> {
    let mut at = 0;
    for chunk in s.chunks(32) {
        if chunk.iter().fold(false, |seen, &b| seen | (b <= b' ')) {
            return chunk.iter().position(|&b| b <= b' ').map(|p| at + p);
        }
        at += chunk.len();
    }
    None
}

/// The first child element of `node`, if any: a value that should be plain text but carries
/// markup.
pub fn first_child_element<'a, 'i>(node: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    node.children().find(Node::is_element)
}

/// An element path a person can follow: `/ClinicalDocument/component[1]/nonXMLBody`
/// (local names; the position among same-named siblings when there are several).
pub fn path_of(node: Node<'_, '_>) -> String {
    let mut out = String::with_capacity(96);
    write_path(node, &mut out);
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Writes the path of `node`'s nearest element (itself or an ancestor) onto `out`, the root's
/// step first. Called for every value a parser locates, so without a collection per step:
/// the position counts the same-named siblings before, and is written only when there is
/// another one.
fn write_path(node: Node<'_, '_>, out: &mut String) {
    let Some(n) = node.ancestors().find(Node::is_element) else {
        return;
    };
    if let Some(parent) = n.parent() {
        write_path(parent, out);
    }
    let name = n.tag_name().name();
    let same = |c: &Node<'_, '_>| c.is_element() && c.tag_name().name() == name;
    let before = n.prev_siblings().skip(1).filter(same).count();
    let repeated = before > 0 || n.next_siblings().skip(1).any(|c| same(&c));
    out.push('/');
    out.push_str(name);
    if repeated {
        use std::fmt::Write as _;
        // Writing to a String cannot fail.
        let _ = write!(out, "[{}]", before + 1);
    }
}

/// `n` values of a proptest strategy, always the same ones (for the tests that count how
/// many generated inputs reach each side of a property, so that it is not vacuous).
#[cfg(test)]
pub(crate) fn generated<S: proptest::strategy::Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    use proptest::strategy::ValueTree as _;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_offset_finds_each_value_byte_where_the_sender_wrote_it() {
        // (as written, its character): every byte of the value maps to its own byte, or
        // to the `&` of the reference that wrote it.
        let pieces: &[(&str, &str)] = &[
            ("ab", "ab"),
            ("&#13;", "\r"),
            ("\n", "\n"),
            ("&amp;", "&"),
            ("é", "é"),
            ("&#x20AC;", "€"),
            ("x", "x"),
            ("&lt;", "<"),
            ("&#13;", "\r"),
        ];
        let raw: String = pieces.iter().map(|p| p.0).collect();
        let mut expected = Vec::new();
        let mut at = 0;
        for (written, read) in pieces {
            for (k, _) in read.bytes().enumerate() {
                expected.push(if written.starts_with('&') { at } else { at + k });
            }
            at += written.len();
        }
        let got: Vec<usize> = (0..expected.len())
            .map(|v| source_offset(&raw, v))
            .collect();
        assert_eq!(got, expected);
        // Past the value's end: past the raw text's end.
        assert_eq!(source_offset(&raw, expected.len()), raw.len());
    }

    #[test]
    fn dtds_and_entities_are_refused() {
        let billion_laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;">]><lolz>&lol1;</lolz>"#;
        assert!(matches!(
            parse(billion_laughs, &Limits::default()),
            Err(XmlError::Dtd { .. })
        ));
        let xxe = r#"<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>"#;
        assert!(matches!(
            parse(xxe, &Limits::default()),
            Err(XmlError::Dtd { .. })
        ));
        assert!(matches!(
            parse("<x>&undefined;</x>", &Limits::default()),
            Err(XmlError::Malformed { .. })
        ));
    }

    #[test]
    fn limits_hold() {
        let small = Limits {
            max_bytes: 100,
            max_depth: 3,
            max_attributes: 2,
            max_text_bytes: 5,
            ..Limits::default()
        };
        assert!(matches!(
            parse(&"<a/>".repeat(30), &small),
            Err(XmlError::TooLarge { .. })
        ));
        let deep = parse("<a><b><c><d><e/></d></c></b></a>", &small).unwrap_err();
        assert!(matches!(deep, XmlError::TooDeep { .. }), "{deep}");
        assert!(deep.to_string().contains("/a/b/c/d"), "{deep}");
        assert!(matches!(
            parse("<a x='1' y='2' z='3'/>", &small),
            Err(XmlError::TooManyAttributes { .. })
        ));
        assert!(matches!(
            parse("<a>123456</a>", &small),
            Err(XmlError::TextTooLong { .. })
        ));
        assert!(parse("<a><b x='1'>12</b></a>", &small).is_ok());
        assert!(matches!(
            parse_bytes(b"<a>\xff</a>", &Limits::default()),
            Err(XmlError::NotUtf8 { at: 3 })
        ));
        // Deep nesting within the default limits is read without recursion trouble.
        let nested = format!("{}{}", "<a>".repeat(250), "</a>".repeat(250));
        assert!(parse(&nested, &Limits::default()).is_ok());
    }

    #[test]
    fn every_limit_is_checked_before_the_dom_and_named() {
        let small = Limits {
            max_namespace_declarations: 2,
            max_namespaces_in_scope: 3,
            max_attribute_value_bytes: 4,
            max_name_bytes: 8,
            max_nodes: 10,
            ..Limits::default()
        };
        let key = |x: &str| match parse(x, &small) {
            Err(XmlError::Limit { key, .. }) => key,
            other => panic!("{x}: {other:?}"),
        };
        assert_eq!(
            key("<a xmlns:p='1' xmlns:q='2' xmlns:r='3'/>"),
            "max_namespace_declarations"
        );
        assert_eq!(
            key("<a xmlns:p='1' xmlns:q='2'><b xmlns:r='3'><c xmlns:s='4'/></b></a>"),
            "max_namespaces_in_scope"
        );
        // Declarations go out of scope with their element.
        assert!(
            parse(
                "<a><b xmlns:p='1' xmlns:q='2'/><c xmlns:r='3' xmlns:s='4'/></a>",
                &small
            )
            .is_ok()
        );
        assert_eq!(key("<a x='12345'/>"), "max_attribute_value_bytes");
        assert_eq!(key("<abcdefghij/>"), "max_name_bytes");
        assert_eq!(key("<a abcdefghij='1'/>"), "max_name_bytes");
        assert_eq!(key(&format!("<a>{}</a>", "<b/>".repeat(10))), "max_nodes");
        let e = parse("<a><b x='12345'/></a>", &small).unwrap_err();
        assert!(e.to_string().contains("/a/b"), "{e}");
        assert_eq!(e.code(), "W-006");
        // A text node is the whole run of text, references and CDATA.
        let t = Limits {
            max_text_bytes: 10,
            ..Limits::default()
        };
        assert!(matches!(
            parse("<a>abcd&amp;<![CDATA[efgh]]></a>", &t),
            Err(XmlError::TextTooLong { .. })
        ));
        assert!(parse("<a>abcd<!--c-->efgh</a>", &t).is_ok());
        assert_eq!(
            parse("<!DOCTYPE a><a/>", &small).unwrap_err().code(),
            "W-003"
        );
        assert_eq!(parse("<a></b>", &small).unwrap_err().code(), "W-001");
    }

    #[test]
    fn hostile_attribute_and_namespace_floods_are_refused_in_one_linear_pass() {
        // Issue #12: 1 M attributes (12 MB) took minutes in the DOM builder, 65 000 namespace
        // declarations 30 s and 600 MB. Both are now refused by the pre-pass at the first
        // item over the limit (timings: scripts/attack.sh).
        let attrs = format!(
            "<a {}/>",
            (0..1_000_000)
                .map(|i| format!("a{i}=\"1\" "))
                .collect::<String>()
        );
        assert!(matches!(
            parse(&attrs, &Limits::default()),
            Err(XmlError::TooManyAttributes { count: 257, .. })
        ));
        let decls = format!(
            "<a {}><b/></a>",
            (0..200_000)
                .map(|i| format!("xmlns:p{i}=\"urn:{i}\" "))
                .collect::<String>()
        );
        assert!(matches!(
            parse(&decls, &Limits::default()),
            Err(XmlError::Limit { seen: 65, .. })
        ));
    }

    #[test]
    fn pi_named_xml_is_refused_fuzz_regression() {
        let e = parse("<?xml<a x=\"1\"?><r/>", &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("\"xml\""), "{e}");
        assert!(parse("<r><?XmL data?></r>", &Limits::default()).is_err());
        assert!(
            parse(
                "<?xml version=\"1.0\"?><r><?xml-stylesheet href=\"a\"?></r>",
                &Limits::default()
            )
            .is_ok()
        );
    }

    #[test]
    fn normalised_line_ends_parse_to_the_same_document() {
        let crlf = "<a x=\"1\r\n2\">l1\r\nl2\rl3<![CDATA[c\r\nd]]><!-- \r --></a>\r\n";
        let n = normalize_line_ends(crlf);
        assert_eq!(
            n,
            "<a x=\"1\n2\">l1\nl2\nl3<![CDATA[c\nd]]><!-- \n --></a>\n"
        );
        let (a, b) = (
            parse(crlf, &Limits::default()).unwrap(),
            parse(&n, &Limits::default()).unwrap(),
        );
        let texts = |d: &Document<'_>| {
            d.descendants()
                .filter(|n| !n.is_comment())
                .map(|n| {
                    (
                        n.text().map(str::to_owned),
                        n.attribute("x").map(str::to_owned),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(texts(&a), texts(&b));
        // roxmltree leaves a comment's `\r` as it is; §2.11 normalises the whole entity,
        // comments included (as libxml2 and so xmlsec1 do).
        let comment = |d: &Document<'_>| {
            d.descendants()
                .find(|n| n.is_comment())
                .and_then(|n| n.text())
                .map(str::to_owned)
        };
        assert_eq!(comment(&b).as_deref(), Some(" \n "));
        assert!(matches!(
            normalize_line_ends("no cr"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn base64_is_decoded_in_chunks_exactly_as_a_whole() {
        use base64::Engine as _;
        use base64::engine::general_purpose::STANDARD;
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = STANDARD.encode(&data);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        assert_eq!(decode_base64(lines.iter().copied()).unwrap(), data);
        let spaced = format!("\n\t {}\n ", lines.join("\r\n  "));
        assert_eq!(
            decode_base64(std::iter::once(spaced.as_str())).unwrap(),
            data
        );
        // What a whole-string decoder refuses, this refuses too.
        for bad in ["QQ==QUJD", "QUJD!", "QUJ", "Q===", "QUJDRA=x"] {
            assert!(STANDARD.decode(bad).is_err(), "{bad}");
            assert!(decode_base64(std::iter::once(bad)).is_err(), "{bad}");
        }
        assert_eq!(decode_base64(std::iter::once("QUJDRA==")).unwrap(), b"ABCD");
        assert_eq!(decode_base64(std::iter::once(" ")).unwrap(), b"");
        // Lines cut anywhere (seams inside a quad, one-character lines, whitespace runs)
        // decode as the whole string does, for every padding length.
        for n in [0usize, 1, 2, 3, 4, 5, 57, 300] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 256) as u8).collect();
            let b64 = STANDARD.encode(&data);
            for cut in 1..=9usize {
                let pieces: Vec<String> = b64
                    .as_bytes()
                    .chunks(cut)
                    .enumerate()
                    .map(|(i, c)| {
                        let ws = [" ", "\n", "\r\n ", "\t"][i % 4];
                        format!("{ws}{}", std::str::from_utf8(c).unwrap())
                    })
                    .collect();
                let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
                assert_eq!(
                    decode_base64(refs.iter().copied()).unwrap(),
                    data,
                    "{n} {cut}"
                );
                let joined = pieces.concat();
                assert_eq!(
                    decode_base64(std::iter::once(joined.as_str())).unwrap(),
                    data,
                    "{n} {cut}"
                );
            }
        }
        for bad in ["Q Q==QUJD", "QUJD RA=x", "QU JD=RA"] {
            assert!(decode_base64(std::iter::once(bad)).is_err(), "{bad}");
        }
    }

    /// Base64 text as a decoder may meet it: mostly the alphabet, some padding anywhere,
    /// now and then a byte outside it; or a real encoding with one byte changed (which
    /// reaches the trailing-bits and padding cases).
    fn base64ish() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use base64::Engine as _;
        use proptest::prelude::*;
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".to_vec();
        let byte = prop_oneof![
            20 => prop::sample::select(alphabet.clone()),
            2 => Just(b'='),
            1 => prop::sample::select(b"!-_. \n\x80\xff".to_vec()),
        ];
        prop_oneof![
            prop::collection::vec(byte, 0..80),
            (
                prop::collection::vec(any::<u8>(), 0..200),
                any::<prop::sample::Index>(),
                prop::sample::select([alphabet, b"=!".to_vec()].concat()),
            )
                .prop_map(|(data, at, to)| {
                    let mut b = base64::engine::general_purpose::STANDARD
                        .encode(data)
                        .into_bytes();
                    if !b.is_empty() {
                        let i = at.index(b.len());
                        b[i] = to;
                    }
                    b
                }),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

        /// The SIMD decoder never takes what the `base64` crate refuses, nor reads it
        /// otherwise; and a gathered buffer's verdict and error are the `base64` crate's.
        #[test]
        fn the_simd_decoder_gives_the_base64_crates_verdict(text in base64ish()) {
            use base64::Engine as _;
            let reference = base64::engine::general_purpose::STANDARD.decode(&text);
            if let Ok(fast) = base64_simd::STANDARD.decode_to_vec(&text) {
                proptest::prop_assert_eq!(Ok(fast), reference.clone());
            }
            let mut out = vec![1, 2];
            let got = decode_quads(&text, &mut out).map(|()| out[2..].to_vec());
            proptest::prop_assert_eq!(got, reference);
        }
    }

    /// Base64 as lines: `base64ish` text, or a real encoding around the gathering buffer's
    /// size with one character changed (or padding put) near a buffer's end, cut into lines of one length
    /// that end in `\r\n` or `\n`, now and then with whitespace inside a line or at its
    /// start, in one piece or one piece per line.
    fn lines() -> impl proptest::strategy::Strategy<Value = (Vec<String>, bool)> {
        use base64::Engine as _;
        use proptest::prelude::*;
        let near_a_buffer_end = (
            2990usize..3200,
            GATHER - 6..GATHER + 3,
            prop::sample::select(b"=A!\n P".to_vec()),
        )
            .prop_map(|(n, at, to)| {
                let data: Vec<u8> = (0..n).map(|i| (i * 13 % 256) as u8).collect();
                let mut b = base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into_bytes();
                let i = at.min(b.len() - 1);
                if to == b'P' {
                    // Padding that a quad ending there may have (`A=`: no bits left over).
                    b[i - 1..=i].copy_from_slice(b"A=");
                } else {
                    b[i] = to;
                }
                b
            });
        (
            prop_oneof![3 => base64ish(), 1 => near_a_buffer_end],
            prop_oneof![Just(76usize), Just(64), 1usize..100],
            prop::sample::select(vec!["\r\n", "\n", "\r\n", " \n", "\n\t"]),
            any::<bool>(),
            any::<bool>(),
            // One line made two (a line end in place of one of its characters, or put
            // between two): a line shorter than the others, and where the next line's end
            // is first looked for, a `\n` further on.
            proptest::option::of((
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                any::<bool>(),
            )),
        )
            .prop_map(|(text, width, end, last_ends, one_piece, split)| {
                let mut lines: Vec<String> = text
                    .chunks(width)
                    .map(|c| String::from_utf8_lossy(c).into_owned() + end)
                    .collect();
                if let Some((line, at, replace)) = split
                    && !lines.is_empty()
                {
                    let k = line.index(lines.len());
                    let content = lines[k].trim_end_matches(end).to_owned();
                    if content.len() > 1 && content.is_ascii() {
                        let a = 1 + at.index(content.len() - 1);
                        let rest = &content[a + usize::from(replace).min(content.len() - a)..];
                        lines[k] = format!("{}{end}", &content[..a]);
                        lines.insert(k + 1, format!("{rest}{end}"));
                    }
                }
                if !last_ends && let Some(l) = lines.last_mut() {
                    l.truncate(l.trim_end().len());
                }
                if one_piece {
                    lines = vec![lines.concat()];
                }
                (lines, one_piece)
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 4096, ..Default::default() })]

        /// Read line by line or run by run, base64 decodes to the same bytes, and what the
        /// line reader does not take, the run reader refuses or reads (so every error is
        /// the run reader's); both give a whole-string decoder's verdict on the compacted text.
        #[test]
        fn base64_in_lines_decodes_as_run_by_run((lines, _) in lines()) {
            use base64::Engine as _;
            let pieces = || lines.iter().map(String::as_str);
            let runs = decode_runs(pieces());
            if let Some(fast) = decode_lines(pieces()) {
                proptest::prop_assert_eq!(Ok(fast), runs.clone());
            }
            proptest::prop_assert_eq!(decode_base64(pieces()), runs.clone());
            let compact: Vec<u8> = lines.concat().into_bytes().into_iter().filter(|b| !is_space(*b)).collect();
            let whole = base64::engine::general_purpose::STANDARD.decode(&compact);
            proptest::prop_assert_eq!(runs.is_ok(), whole.is_ok());
            if let Ok(w) = whole {
                proptest::prop_assert_eq!(runs.unwrap(), w);
            }
        }
    }

    #[test]
    fn the_generated_lines_reach_the_line_reader_and_past_it() {
        let (mut read, mut left, mut long) = (0, 0, 0);
        for (lines, _) in generated(lines(), 2000) {
            let decodes = decode_runs(lines.iter().map(String::as_str)).is_ok();
            match decode_lines(lines.iter().map(String::as_str)) {
                Some(_) => read += 1,
                None if decodes => left += 1,
                None => {}
            }
            long += usize::from(lines.iter().map(String::len).sum::<usize>() > GATHER);
        }
        assert!(
            read > 400 && left > 100 && long > 200,
            "read line by line {read}, decodable but left to the run reader {left}, past one buffer {long}"
        );
    }

    #[test]
    fn a_mime_entitys_lines_are_read_line_by_line() {
        use base64::Engine as _;
        let data: Vec<u8> = (0..17_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
        let entity: String = b64
            .as_bytes()
            .chunks(76)
            .map(|c| format!("{}\r\n", std::str::from_utf8(c).unwrap()))
            .collect();
        assert_eq!(decode_lines(std::iter::once(entity.as_str())), Some(data));
    }

    #[test]
    fn a_bad_character_is_reported_where_a_whole_text_decoder_would_find_it() {
        use base64::Engine as _;
        let good = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 9000]);
        let mut compact = good.clone();
        compact.replace_range(5000..5001, "!");
        let lines: Vec<String> = compact
            .as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
            .collect();
        let whole = base64::engine::general_purpose::STANDARD.decode(&compact);
        let spread = decode_base64(lines.iter().map(String::as_str));
        assert_eq!(spread.unwrap_err(), whole.unwrap_err());
        assert_eq!(
            decode_base64(std::iter::once(compact.as_str())).unwrap_err(),
            base64::DecodeError::InvalidByte(5000, b'!')
        );
    }

    #[test]
    fn text_content_reads_text_nodes_only() {
        let doc = parse(
            "<t>QU<!--SU5KRUNU-->J<?pi x?>D<![CDATA[RA==]]><e>x</e></t>",
            &Limits::default(),
        )
        .unwrap();
        let t = doc.root_element();
        assert_eq!(text_content(t), "QUJDRA==");
        assert_eq!(
            first_child_element(t).map(|e| e.tag_name().name()),
            Some("e")
        );
    }

    #[test]
    fn paths_name_positions() {
        let doc = parse("<r><c/><c><x/></c></r>", &Limits::default()).unwrap();
        let x = doc.descendants().find(|n| n.has_tag_name("x")).unwrap();
        assert_eq!(path_of(x), "/r/c[2]/x");
        let first = doc.descendants().find(|n| n.has_tag_name("c")).unwrap();
        assert_eq!(path_of(first), "/r/c[1]");
        assert_eq!(path_of(doc.root_element()), "/r");
        assert_eq!(path_of(doc.root()), "/");
        // A text node's path is its element's.
        let doc = parse("<r><c>t</c></r>", &Limits::default()).unwrap();
        let t = doc.descendants().find(|n| n.is_text()).unwrap();
        assert_eq!(path_of(t), "/r/c");
    }

    #[test]
    fn paths_are_the_position_among_same_named_siblings_in_hand_written_documents() {
        // Each step's position worked out from its definition: the element among its
        // parent's element children of the same name, written when there are several.
        fn by_definition(node: Node<'_, '_>) -> String {
            let mut steps: Vec<String> = node
                .ancestors()
                .filter(Node::is_element)
                .map(|n| {
                    let name = n.tag_name().name();
                    let same: Vec<_> = n
                        .parent()
                        .into_iter()
                        .flat_map(|p| p.children())
                        .filter(|c| c.is_element() && c.tag_name().name() == name)
                        .collect();
                    match same.iter().position(|c| *c == n) {
                        Some(i) if same.len() > 1 => format!("{name}[{}]", i + 1),
                        _ => name.to_owned(),
                    }
                })
                .collect();
            steps.reverse();
            format!("/{}", steps.join("/"))
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance");
        let mut seen = 0;
        // (The SP17 template has a placeholder where an attribute goes.) And many siblings
        // of one name among others.
        let many = format!(
            "<r>{}<x/></r>",
            "<c><d/><e/><d/>t</c><!-- --><b/>".repeat(12)
        );
        for name in [
            "cda-sp1.xml",
            "soap11.xml",
            "soap12.xml",
            "frame.xml",
            "many",
        ] {
            let text = match name {
                "many" => many.clone(),
                _ => std::fs::read_to_string(dir.join(name)).unwrap(),
            };
            let doc = parse(&text, &Limits::default()).unwrap();
            for n in doc.descendants().filter(Node::is_element) {
                assert_eq!(path_of(n), by_definition(n), "{name}");
                seen += usize::from(path_of(n).contains('['));
            }
        }
        assert!(seen > 10, "{seen} paths with a position");
    }

    /// The element `text` under `cd` read both ways: from one DOM, and with its character
    /// data taken out before the DOM. The DOM (roxmltree, not our code) is the oracle.
    fn both_ways(xml: &str) -> (Result<String, String>, Result<String, String>) {
        both_ways_with(xml, &Limits::default())
    }

    fn both_ways_with(
        xml: &str,
        limits: &Limits,
    ) -> (Result<String, String>, Result<String, String>) {
        let limits = *limits;
        let find = |doc: &Document<'_>| {
            doc.descendants()
                .find(|n| n.has_tag_name("text"))
                .map(|n| n.id())
        };
        let normalized = normalize_line_ends(xml);
        let whole = parse(&normalized, &limits)
            .map_err(|e| e.to_string())
            .map(|d| {
                find(&d)
                    .map(|id| text_content(d.get_node(id).unwrap()).into_owned())
                    .unwrap_or_default()
            });
        let lifted = Prepared::new(xml, &limits, &["cd", "text"])
            .and_then(|p| {
                let d = p.parse(&limits)?;
                Ok(find(&d)
                    .map(|id| {
                        p.lifted()
                            .text_content(d.get_node(id).unwrap())
                            .into_owned()
                    })
                    .unwrap_or_default())
            })
            .map_err(|e| e.to_string());
        (whole, lifted)
    }

    #[test]
    fn lifted_text_reads_as_the_dom_reads_it() {
        let long = "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz48Q2xpbmljYWxEb2N1bWVudCB4";
        let lines = |end: &str| format!("{long}{end}\n").repeat(8);
        let mut cases = vec![
            // As XML writers escape a MIME entity's CRLF and its Content-ID.
            format!(
                "<m><cd><text>MIME-Version: 1.0&#13;\nContent-ID: &lt;1.2.3&gt;&#13;\n{}</text></cd></m>",
                lines("&#13;")
            ),
            format!("<m><cd><text>{}</text></cd></m>", lines("")),
            format!(
                "<m><cd><text>{}&amp;&apos;&quot;&#x41;&#65;&#x1F600;&#9;</text></cd></m>",
                lines("&#13;")
            ),
            // Raw CRLF in the text (normalised first, as the DOM does).
            format!("<m><cd><text>{}</text></cd></m>", lines("\r")),
            // Split by a comment or a PI: two text nodes, both read.
            format!(
                "<m><cd><text>{}<!-- c -->{}<?p x?>{}</text></cd></m>",
                lines("&#13;"),
                lines(""),
                lines("&lt;")
            ),
            // CDATA in the run: left to the DOM.
            format!(
                "<m><cd><text>{}<![CDATA[a<b]]>{}</text></cd></m>",
                lines("&#13;"),
                lines("")
            ),
            // Another element's text: not lifted, read as before.
            format!(
                "<m><cd><other>{}</other><text>x</text></cd></m>",
                lines("&#13;")
            ),
            // Not directly inside: a child element's text stays.
            format!(
                "<m><cd><text>{}<b>{}</b>{}</text></cd></m>",
                lines("&#13;"),
                lines("&#13;"),
                lines("")
            ),
            // Non-ASCII, and a short text (below the lifting size).
            format!("<m><cd><text>äö€ {}</text></cd></m>", lines("&#13;")),
            "<m><cd><text>short &lt;x&gt;</text></cd></m>".to_owned(),
        ];
        // What the DOM refuses must still be refused, with the DOM's own message.
        for bad in [
            "&#0;",
            "&#xFFFE;",
            "&nbsp;",
            "]]>",
            "\u{1}",
            "\u{FFFF}",
            "&#xD800;",
            "&#99999999999;",
            "&#x;",
            // Near the carriage return read without a search: not it.
            "&#13",
            "&#13x;",
        ] {
            cases.push(format!(
                "<m><cd><text>{}{bad}{}</text></cd></m>",
                lines("&#13;"),
                lines("")
            ));
        }
        for xml in &cases {
            let (whole, lifted) = both_ways(xml);
            assert_eq!(whole, lifted, "{xml}");
        }
        let (whole, _) = both_ways(&cases[0]);
        assert!(whole.unwrap().contains("Content-ID: <1.2.3>\r\n"));
    }

    /// Character data in the element to lift from, made of pieces that the reader splits
    /// into events (references), that end a run (markup), that continue it (CDATA) and that
    /// the DOM builder refuses, followed by a tail that may be malformed.
    fn lift_document() -> impl proptest::strategy::Strategy<Value = (String, Limits)> {
        use proptest::prelude::*;
        let line = "PD94bWwgdmVyc2lvbj0iMS4wIiBlbmNvZGluZz0iVVRGLTgiPz48Q2xpbmljYWxEb2N1bWVudCB4";
        let piece = prop_oneof![
            6 => (1usize..12).prop_map(move |n| format!("{line}&#13;\n").repeat(n)),
            2 => (1usize..6).prop_map(move |n| format!("{line}\n").repeat(n)),
            6 => prop::sample::select(vec![
                "&lt;", "&gt;", "&amp;", "&apos;", "&quot;", "&#x41;", "&#65;", "&#x1F600;",
                "&#9;", "&#13;", "&#013;", "&#xD;", "\r\n", "\r", "\u{e4}\u{20ac} ", "x",
            ])
            .prop_map(str::to_owned),
            3 => prop::sample::select(vec![
                "<!-- c -->", "<?p x?>", "<b>inner</b>", "<b/>", "<![CDATA[a<b]]>",
            ])
            .prop_map(str::to_owned),
            1 => prop::sample::select(vec![
                "&#0;", "&#xFFFE;", "&#xD800;", "&#99999999999;", "&#x;", "&#;", "&nbsp;",
                "&", "&lt", "&#13", "&#13x;", "]]>", "\u{1}", "\u{FFFF}", "<", "<![CDATA[", "<!--",
            ])
            .prop_map(str::to_owned),
        ];
        let tail = prop::sample::select(vec![
            "</text></cd></m>",
            "</text><text>x</text></cd></m>",
            "</text><x a='1' a='2'/></cd></m>",
            "</text><y>&bad;</y></cd></m>",
            "</text></cd></n>",
            "</text></cd>",
            "",
        ]);
        let open = prop::sample::select(vec!["<text>", "<text a='1'>", "<text/><text>"]);
        let limits = (
            prop::sample::select(vec![100usize, 400, 2_000, 1 << 20, 1 << 20, 1 << 20]),
            prop::sample::select(vec![5u32, 8, 13, 1 << 20, 1 << 20, 1 << 20]),
        )
            .prop_map(|(max_text_bytes, max_nodes)| Limits {
                max_text_bytes,
                max_nodes,
                ..Limits::default()
            });
        (open, prop::collection::vec(piece, 0..8), tail, limits).prop_map(
            |(open, pieces, tail, limits)| {
                (format!("<m><cd>{open}{}{tail}", pieces.concat()), limits)
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2048, ..Default::default() })]

        /// Taking runs out reads the element's text exactly as the DOM does, refuses what
        /// it refuses with the same message, and leaves the reader where it would have
        /// been (every later error, with its byte position, is the same as without lifting).
        #[test]
        fn lifting_is_invisible_to_every_reader((xml, limits) in lift_document()) {
            let (whole, lifted) = both_ways_with(&xml, &limits);
            proptest::prop_assert_eq!(whole, lifted, "{}", xml);
            let normalized = normalize_line_ends(&xml);
            let with = prescan::scan(&normalized, &limits, &[&["cd", "text"]]).map(|_| ());
            let without = prescan::scan(&normalized, &limits, &[]).map(|_| ());
            proptest::prop_assert_eq!(with, without, "{}", xml);
        }
    }

    #[test]
    fn the_generated_lifting_documents_reach_every_side() {
        // The property above means little unless runs are really taken out, and documents
        // are refused both by a limit and by the DOM builder.
        let (mut taken, mut limit, mut malformed) = (0, 0, 0);
        for (xml, limits) in generated(lift_document(), 2000) {
            match Prepared::new(&xml, &limits, &["cd", "text"]) {
                Ok(p) => {
                    taken += usize::from(!p.lifted().is_empty());
                    malformed += usize::from(p.parse(&limits).is_err());
                }
                Err(_) => limit += 1,
            }
        }
        assert!(
            taken > 200 && limit > 200 && malformed > 200,
            "taken {taken}, refused by a limit {limit}, by the DOM builder {malformed}"
        );
    }

    #[test]
    fn positions_after_a_lifted_run_are_kept() {
        let run = "QUJD&#13;\n".repeat(100);
        for tail in [
            "</cd></n>",
            "<x a='1' a='2'/></cd></m>",
            "<y>&bad;</y></cd></m>",
        ] {
            let xml = format!("<m><cd><text>{run}ab\u{e4}c</text>{tail}");
            let (whole, lifted) = both_ways(&xml);
            let (Err(w), Err(l)) = (&whole, &lifted) else {
                panic!("{tail}: {whole:?} / {lifted:?}");
            };
            assert_eq!(w, l, "{tail}");
        }
        let xml = format!("<m><cd><text>{run}</text></cd></m>");
        let p = Prepared::new(&xml, &Limits::default(), &["cd", "text"]).unwrap();
        assert!(!p.lifted().is_empty());
        assert!(
            p.text.len() < 200,
            "the run is replaced by its line ends: {}",
            p.text.len()
        );
    }

    #[test]
    fn lifting_keeps_every_limit() {
        let run = "QUJD&#13;\n".repeat(100);
        let xml = format!("<m><cd><text>{run}</text></cd></m>");
        let tight = Limits {
            max_text_bytes: 500,
            ..Limits::default()
        };
        assert!(matches!(
            Prepared::new(&xml, &tight, &["cd", "text"]),
            Err(XmlError::TextTooLong { .. })
        ));
        let small = Limits {
            max_bytes: 100,
            ..Limits::default()
        };
        assert!(matches!(
            Prepared::new(&xml, &small, &["cd", "text"]),
            Err(XmlError::TooLarge { .. })
        ));
    }
}
