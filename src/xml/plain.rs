//! Vouching for a plain document in one pass of its own, so that a reader who only
//! needs to know that a text is well-formed and what its root element is (the display
//! form's check, B-002) need not build a DOM.
//!
//! The DOM builder (roxmltree) stays the judge: the pass vouches only for documents made
//! of a small, strict subset of XML (elements; attributes in the canonical lexical shape;
//! ASCII names; text and predefined or numeric references; declared namespace prefixes;
//! comments; no processing instructions, CDATA or declarations) that are within every limit
//! as the pre-pass (`prescan`) counts them, and gives up ("unsure") at anything else, which
//! then goes to the pre-pass and the DOM builder exactly as any document does. So the rule
//! it must keep is one-sided: whatever it vouches for, the pre-pass and the DOM builder
//! accept with the same root. The tests below check that against both over generated and
//! edited documents, under the default limits and under tight ones.

use super::Limits;

/// The root element of a well-formed document, as a DOM reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootFacts {
    /// Local name.
    pub local: String,
    /// Namespace name (`None` when in no namespace).
    pub namespace: Option<String>,
    /// The unprefixed `class` attribute's value, normalised as a DOM reads it.
    pub class: Option<String>,
}

impl RootFacts {
    /// The facts of a DOM's root element (what [`Vouch`] must agree with).
    pub fn of(doc: &roxmltree::Document<'_>) -> Self {
        let root = doc.root_element();
        Self {
            local: root.tag_name().name().to_owned(),
            namespace: root.tag_name().namespace().map(str::to_owned),
            class: root.attribute("class").map(str::to_owned),
        }
    }
}

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// An ASCII NCName (the strict subset vouched for).
fn is_ncname(s: &[u8]) -> bool {
    match s.split_first() {
        Some((first, rest)) => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
        }
        None => false,
    }
}

/// Splits an ASCII QName into prefix (empty when none) and local part; a colon needs a
/// prefix before it.
fn qname(s: &str) -> Option<(&str, &str)> {
    // Names are short: a plain search beats a general one here.
    let (prefix, local) = match s.bytes().position(|c| c == b':') {
        Some(at) => (
            is_ncname(&s.as_bytes()[..at]).then_some(&s[..at])?,
            &s[at + 1..],
        ),
        None => ("", s),
    };
    is_ncname(local.as_bytes()).then_some((prefix, local))
}

/// What one pass over the whole document tells of every run of character data in it
/// (text, attribute values, comments), so that each run need not be read byte by byte
/// again: only for the `&`, `]]>` and `<` the document holds at all.
#[derive(Debug, Clone, Copy)]
struct Whole {
    /// The document holds a `&` somewhere.
    amp: bool,
    /// The document holds a `]]>` somewhere.
    cdata_end: bool,
}

impl Default for Whole {
    /// Nothing known: every run is searched for both.
    fn default() -> Self {
        Self {
            amp: true,
            cdata_end: true,
        }
    }
}

impl Whole {
    /// `None` when the document holds, anywhere, a character XML does not allow anywhere
    /// (a control character but tab, line feed and carriage return; U+FFFE; U+FFFF):
    /// unsure, left to the DOM builder. Vector code over the whole text, once.
    fn of(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        if control(b) || forbidden_ef(text) {
            return None;
        }
        Some(Self {
            amp: memchr::memchr(b'&', b).is_some(),
            cdata_end: memchr::memmem::find(b, b"]]>").is_some(),
        })
    }

    /// Character data between two pieces of markup (so without a `<`): what the subset
    /// allows ([`allowed_chars`]), the document's characters already judged.
    fn text(self, raw: &str) -> bool {
        self.judged(raw, true)
    }

    /// An attribute value or a comment's body: as [`Whole::text`], without a `<`, and with
    /// references only where `refs`.
    fn chars(self, s: &str, refs: bool) -> bool {
        memchr::memchr(b'<', s.as_bytes()).is_none() && self.judged(s, refs)
    }

    /// No `]]>`, and references (only where `refs`) that resolve.
    fn judged(self, s: &str, refs: bool) -> bool {
        let b = s.as_bytes();
        !(self.cdata_end && memchr::memmem::find(b, b"]]>").is_some())
            && (!self.amp
                || memchr::memchr(b'&', b).is_none()
                || (refs && references(s, |_, _| ()).is_some()))
    }
}

/// Whether `b` holds a control character XML does not allow (all but tab, line feed and
/// carriage return). Without early exit, so that it compiles to vector code.
fn control(b: &[u8]) -> bool {
    b.iter().fold(false, |bad, &c| {
        bad | ((c < 0x20) & (c != b'\t') & (c != b'\n') & (c != b'\r'))
    })
}

/// Whether `s` holds U+FFFE or U+FFFF (both start with the byte 0xEF in UTF-8).
fn forbidden_ef(s: &str) -> bool {
    memchr::memchr(0xEF, s.as_bytes()).is_some()
        && (s.contains('\u{FFFE}') || s.contains('\u{FFFF}'))
}

/// Hands `each` every reference in `raw` in order (its byte range, `&` to `;`, and the
/// character it stands for); `None` at the first that is not predefined or numeric, or
/// names no allowed character (the DOM builder's to refuse).
pub(super) fn references(
    raw: &str,
    mut each: impl FnMut(std::ops::Range<usize>, char),
) -> Option<()> {
    let b = raw.as_bytes();
    let mut from = 0;
    while let Some(n) = memchr::memchr(b'&', &b[from..]) {
        let amp = from + n;
        let name = &b[amp + 1..];
        // `&#13;` ends every line of a MIME entity or a signer's base64 carried in XML:
        // nearly every reference met, and read here without a search. Any other name
        // ends at the first `;` (a name that resolves holds no `&`, so that search never
        // passes the next reference: the whole stays one pass).
        let (len, c) = if name.starts_with(b"#13;") {
            (3, '\r')
        } else {
            let len = name.iter().position(|&c| c == b';')?;
            (len, resolve(&name[..len])?)
        };
        from = amp + 2 + len;
        each(amp..from, c);
    }
    Some(())
}

/// Whether `s` holds only what character data may hold, references aside: no `<`, no
/// `]]>`, no character XML does not allow. `Some(true)` when it holds a `&` (whose
/// references the caller judges). One rule, read two ways for speed: a lookup per byte for
/// the short texts of a display form (measured the fastest there against a vectorised fold
/// and a search per kind), vector code for the long runs the pre-pass takes out.
pub(super) fn allowed_chars(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let (control_or_lt, gt, amp, ef) = if b.len() < LONG {
        let seen = b.iter().fold(0u8, |seen, &c| seen | CLASS[usize::from(c)]);
        (
            seen & (CONTROL | LT) != 0,
            seen & GT != 0,
            seen & AMP != 0,
            seen & EF != 0,
        )
    } else {
        (
            control(b) || memchr::memchr(b'<', b).is_some(),
            memchr::memchr(b'>', b).is_some(),
            memchr::memchr(b'&', b).is_some(),
            memchr::memchr(0xEF, b).is_some(),
        )
    };
    if control_or_lt || (gt && memchr::memmem::find(b, b"]]>").is_some()) || (ef && forbidden_ef(s))
    {
        return None;
    }
    Some(amp)
}

/// From this length on, [`allowed_chars`] reads with vector code.
const LONG: usize = 256;

/// A predefined entity or a character reference, as XML 1.0 §4.1 reads them; `None` for
/// anything else (left to the DOM builder, which refuses it).
pub(super) fn resolve(name: &[u8]) -> Option<char> {
    let code = match name {
        b"lt" => return Some('<'),
        b"gt" => return Some('>'),
        b"amp" => return Some('&'),
        b"apos" => return Some('\''),
        b"quot" => return Some('"'),
        [b'#', b'x', hex @ ..] if !hex.is_empty() => number(hex, 16)?,
        [b'#', dec @ ..] if !dec.is_empty() => number(dec, 10)?,
        _ => return None,
    };
    let c = char::from_u32(code)?;
    let allowed =
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}');
    allowed.then_some(c)
}

/// The digits of a character reference in `radix` (10 or 16); `None` for any other byte or
/// past `u32` (such a reference names no character).
fn number(digits: &[u8], radix: u32) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, &d| {
        n.checked_mul(radix)?
            .checked_add(char::from(d).to_digit(radix)?)
    })
}

/// The kinds of byte [`allowed_chars`] looks for (bits of what it saw).
const CONTROL: u8 = 1;
const LT: u8 = 2;
const GT: u8 = 4;
const AMP: u8 = 8;
const EF: u8 = 16;

/// The kind of each byte for [`allowed_chars`].
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 0x20 {
        if !matches!(c, 0x09 | 0x0A | 0x0D) {
            t[c] = CONTROL;
        }
        c += 1;
    }
    t[b'<' as usize] = LT;
    t[b'>' as usize] = GT;
    t[b'&' as usize] = AMP;
    t[0xEF] = EF;
    t
};

/// One attribute of a start tag, as written.
struct RawAttribute<'t> {
    /// The QName as written, and its parts.
    name: &'t str,
    prefix: &'t str,
    local: &'t str,
    value: &'t str,
}

/// Reads the attributes of a start tag from just after its name up to the tag's end, in
/// the canonical lexical shape: whitespace, a QName, `=` with optional whitespace around it,
/// a quoted value; then optional whitespace and `>` or `/>`. Returns where the tag ends (the
/// byte after `>`) and whether it is an empty element's; `None` at anything else (a `>`
/// inside a quoted value is the value's, as XML reads it).
fn attributes<'t>(raw: &'t str, out: &mut Vec<RawAttribute<'t>>) -> Option<(usize, bool)> {
    let b = raw.as_bytes();
    let mut i = 0;
    loop {
        let ws = b[i..].iter().take_while(|c| is_space(**c)).count();
        i += ws;
        match b.get(i)? {
            b'>' => return Some((i + 1, false)),
            b'/' => return (b.get(i + 1) == Some(&b'>')).then_some((i + 2, true)),
            _ if ws == 0 => return None,
            _ => {}
        }
        let name = &raw[i..i + name_len(&b[i..])];
        let (prefix, local) = qname(name)?;
        i += name.len();
        i += b[i..].iter().take_while(|c| is_space(**c)).count();
        if b.get(i) != Some(&b'=') {
            return None;
        }
        i += 1;
        i += b[i..].iter().take_while(|c| is_space(**c)).count();
        let quote = *b.get(i).filter(|q| matches!(q, b'"' | b'\''))?;
        let len = memchr::memchr(quote, &b[i + 1..])?;
        out.push(RawAttribute {
            name,
            prefix,
            local,
            value: &raw[i + 1..i + 1 + len],
        });
        i += len + 2;
    }
}

/// How many bytes at the start of `b` can be part of an ASCII QName (whether they make one
/// is [`qname`]'s to say).
fn name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':'))
        .count()
}

/// The root's facts when `text` is a plain document (the subset in this module's comment)
/// within every bound of `limits`; `None` when it is not, or when it comes near a bound:
/// the caller then leaves it to the pre-pass and the DOM builder, which judge it (and name
/// the bound it breaks) exactly as for any document.
///
/// One pass over the bytes, without an XML reader: the subset is small enough to read
/// directly, and a general reader's work per event (validating each event's bytes as UTF-8
/// again, splitting text at every reference, reading attributes twice) cost more than the
/// subset's checks themselves. The counts are those of the pre-pass (`prescan`): every
/// run of character data between markup (whitespace outside the root too), element and
/// comment is a node, and a run's bytes are counted as written.
pub(super) fn vouch(text: &str, limits: &Limits) -> Option<RootFacts> {
    Vouch::default().read(text, limits)
}

/// The vouching pass's state.
#[derive(Default)]
struct Vouch<'t> {
    root: Option<RootFacts>,
    /// Open elements' names as written, for their end tags.
    open: Vec<&'t str>,
    /// Prefixes declared in scope, and how many each open element declared.
    prefixes: Vec<&'t str>,
    declared: Vec<usize>,
    /// Namespace declarations (default ones too) in scope, and each open element's, as
    /// the pre-pass counts them for its limits.
    in_scope: usize,
    declarations: Vec<usize>,
    scratch: Vec<RawAttribute<'t>>,
    locals: Vec<&'t str>,
    nodes: usize,
    whole: Whole,
}

impl<'t> Vouch<'t> {
    fn read(mut self, text: &'t str, limits: &Limits) -> Option<RootFacts> {
        let max_nodes = usize::try_from(limits.max_nodes).unwrap_or(usize::MAX);
        self.whole = Whole::of(text)?;
        let b = text.as_bytes();
        let mut i = 0;
        loop {
            let lt = memchr::memchr(b'<', &b[i..]).map_or(b.len(), |n| i + n);
            if lt > i {
                self.character_data(&text[i..lt], limits)?;
            }
            if lt == b.len() {
                // The DOM also counts its document node, so one more must fit.
                return (self.open.is_empty() && self.nodes < max_nodes)
                    .then_some(self.root)
                    .flatten();
            }
            i = match b.get(lt + 1)? {
                b'/' => self.end(text, lt + 2)?,
                b'!' => self.comment(text, lt)?,
                b'?' => return None,
                _ => self.start(text, lt + 1, limits)?,
            };
            if self.nodes > max_nodes {
                return None;
            }
        }
    }

    /// A run of character data between markup: one node, counted as written.
    fn character_data(&mut self, raw: &str, limits: &Limits) -> Option<()> {
        self.nodes += 1;
        let fine = if self.open.is_empty() {
            raw.bytes().all(is_space)
        } else {
            self.whole.text(raw)
        };
        (fine && raw.len() <= limits.max_text_bytes).then_some(())
    }

    /// A comment at `at` (`<!--`): no `--` inside, not ending in `-`, and only characters
    /// XML allows. Returns where it ends.
    fn comment(&mut self, text: &str, at: usize) -> Option<usize> {
        let body_at = at + 4;
        if !text[at..].starts_with("<!--") {
            return None;
        }
        let len = memchr::memmem::find(&text.as_bytes()[body_at..], b"-->")?;
        let body = &text[body_at..body_at + len];
        // `chars` refuses `<` and `&`, which a comment may hold: unsure, not wrong.
        if body.contains("--") || body.ends_with('-') || !self.whole.chars(body, false) {
            return None;
        }
        self.nodes += 1;
        Some(body_at + len + 3)
    }

    /// An end tag whose name starts at `at` (after `</`). Returns where it ends.
    fn end(&mut self, text: &str, at: usize) -> Option<usize> {
        let len = memchr::memchr(b'>', &text.as_bytes()[at..])?;
        let name = text[at..at + len].trim_end_matches([' ', '\t', '\n', '\r']);
        if self.open.pop()? != name {
            return None;
        }
        let n = self.declared.pop().unwrap_or(0);
        self.prefixes.truncate(self.prefixes.len() - n);
        self.in_scope -= self.declarations.pop().unwrap_or(0);
        Some(at + len + 1)
    }

    /// A start tag whose name starts at `at` (after `<`). Returns where it ends.
    fn start(&mut self, text: &'t str, at: usize, limits: &Limits) -> Option<usize> {
        let name = &text[at..at + name_len(&text.as_bytes()[at..])];
        let (prefix, local) = qname(name)?;
        let at_root = self.open.is_empty();
        if matches!(prefix, "xml" | "xmlns")
            || (at_root && self.root.is_some())
            || name.len() > limits.max_name_bytes
            || self.open.len() + 1 > limits.max_depth
        {
            return None;
        }
        self.nodes += 1;
        let mut attrs = std::mem::take(&mut self.scratch);
        attrs.clear();
        let read = attributes(&text[at + name.len()..], &mut attrs);
        let judged = read.and_then(|(len, empty)| {
            let declared = self.judge_attributes(&attrs, prefix, local, at_root, limits)?;
            Some((len, empty, declared))
        });
        self.scratch = attrs;
        let (len, empty, (declared, declarations)) = judged?;
        if empty {
            self.prefixes.truncate(self.prefixes.len() - declared);
        } else {
            self.open.push(name);
            self.declared.push(declared);
            self.declarations.push(declarations);
            self.in_scope += declarations;
        }
        Some(at + name.len() + len)
    }

    /// Checks one element's attributes and declarations against the subset and the
    /// limits; pushes the prefixes it declares and returns how many, and how many
    /// namespace declarations (default ones too) it makes. (`None` ends the whole pass, so
    /// nothing pushed needs taking back.)
    fn judge_attributes(
        &mut self,
        attrs: &[RawAttribute<'t>],
        prefix: &str,
        local: &str,
        at_root: bool,
        limits: &Limits,
    ) -> Option<(usize, usize)> {
        if attrs.len() > limits.max_attributes {
            return None;
        }
        let mut default_ns = None;
        let mut declared = 0;
        let mut declarations = 0;
        let mut class = None;
        self.locals.clear();
        for a in attrs {
            if a.name.len() > limits.max_name_bytes
                || a.value.len() > limits.max_attribute_value_bytes
            {
                return None;
            }
            // Two attributes with one local name might be one expanded name: unsure.
            self.locals.push(a.local);
            let declaration = a.prefix == "xmlns" || (a.prefix.is_empty() && a.local == "xmlns");
            if declaration {
                declarations += 1;
                let uri = a.value;
                if uri.is_empty()
                    || uri == XML_NS
                    || uri == XMLNS_NS
                    || !self.whole.chars(uri, false)
                    || uri.bytes().any(|c| matches!(c, b'\t' | b'\n' | b'\r'))
                    || declarations > limits.max_namespace_declarations
                    || self.in_scope + declarations > limits.max_namespaces_in_scope
                {
                    return None;
                }
                if a.prefix.is_empty() {
                    default_ns = Some(uri);
                } else {
                    if matches!(a.local, "xml" | "xmlns") {
                        return None;
                    }
                    self.prefixes.push(a.local);
                    declared += 1;
                }
            } else {
                if !self.whole.chars(a.value, true) {
                    return None;
                }
                // Only the root's class is a fact anyone reads.
                if at_root && a.prefix.is_empty() && a.local == "class" {
                    if a.value.contains(['&', '\r']) {
                        return None;
                    }
                    class = Some(a.value.replace(['\t', '\n'], " "));
                }
            }
        }
        let duplicate = match self.locals.as_mut_slice() {
            [] | [_] => false,
            [a, b] => a == b,
            more => {
                more.sort_unstable();
                more.windows(2).any(|w| w[0] == w[1])
            }
        };
        let in_scope = |p: &str| self.prefixes.iter().rev().any(|q| *q == p);
        let resolved = !duplicate
            && (prefix.is_empty() || in_scope(prefix))
            && attrs.iter().all(|a| {
                a.prefix.is_empty()
                    || a.prefix == "xmlns"
                    || a.prefix == "xml"
                    || in_scope(a.prefix)
            });
        if !resolved {
            return None;
        }
        if at_root {
            let namespace = if prefix.is_empty() {
                default_ns
            } else {
                // A prefix in scope at the root was declared on the root itself.
                attrs
                    .iter()
                    .rev()
                    .find(|a| a.prefix == "xmlns" && a.local == prefix)
                    .map(|a| a.value)
            };
            self.root = Some(RootFacts {
                local: local.to_owned(),
                namespace: namespace.map(str::to_owned),
                class,
            });
        }
        Some((declared, declarations))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, XmlError, dom, generated, parse, root_of};
    use proptest::prelude::*;

    /// What roxmltree (the judge) says of `text` under the limits' options.
    fn judge(text: &str, limits: &Limits) -> Result<RootFacts, XmlError> {
        dom(text, limits).map(|d| RootFacts::of(&d))
    }

    /// The one rule: what is vouched for, the judge accepts with the same root, and within
    /// the limits as the pre-pass counts them (`parse`: the pre-pass, then the judge).
    fn holds(text: &str, limits: &Limits) -> Result<bool, String> {
        match vouch(text, limits) {
            Some(facts) => match parse(text, limits).map(|d| RootFacts::of(&d)) {
                Ok(j) if j == facts => Ok(true),
                other => Err(format!(
                    "vouched {facts:?} but the DOM says {other:?}: {text:?}"
                )),
            },
            _ => Ok(false),
        }
    }

    /// `root_of`'s answer and `parse`'s, errors as their messages.
    fn both(text: &str, limits: &Limits) -> [Result<RootFacts, String>; 2] {
        [
            root_of(text, limits).map_err(|e| e.to_string()),
            parse(text, limits)
                .map(|d| RootFacts::of(&d))
                .map_err(|e| e.to_string()),
        ]
    }

    fn template(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/conformance")
            .join(name);
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn the_display_forms_in_use_are_vouched_for() {
        let limits = Limits::default();
        let meta = crate::document::Metadata::client_relationship_example(
            "1.2.246.10.99900016.10.0.5",
            "010190-902S",
        );
        // Ours, and the hand-written ones that follow the published template (comments,
        // tabs, empty elements, non-ASCII text).
        let forms = [
            crate::document::Body::example(&meta, 20_000).xhtml,
            template("display-sp1.xhtml"),
            template("display-sp17.xhtml"),
        ];
        for form in &forms {
            assert_eq!(holds(form, &limits), Ok(true), "{form}");
            let facts = root_of(form, &limits).unwrap();
            assert_eq!(facts.local, "div");
            assert_eq!(
                facts.namespace.as_deref(),
                Some("http://www.w3.org/1999/xhtml")
            );
            assert!(
                facts
                    .class
                    .unwrap()
                    .split_whitespace()
                    .any(|c| c == "soc-document")
            );
        }
    }

    #[test]
    fn what_the_dom_builder_refuses_is_never_vouched_for() {
        let limits = Limits::default();
        for bad in [
            "<a><b></a>",
            "<a>",
            "<a></a><b/>",
            "x<a/>",
            "<a/>x",
            "<a/>&amp;",
            "<p:a/>",
            "<a p:x='1'/>",
            "<a x='1' x='2'/>",
            "<a xmlns:p='u' xmlns:q='u' p:x='1' q:x='2'/>",
            "<a xmlns:p='u' xmlns:p='v'/>",
            "<a xmlns:xml='urn:x'/>",
            "<a xmlns:p='http://www.w3.org/XML/1998/namespace'/>",
            "<a xmlns='http://www.w3.org/2000/xmlns/'/>",
            "<xmlns:a xmlns:xmlns='u'/>",
            "<a x='<'/>",
            "<a x='&bogus;'/>",
            "<a x='&#0;'/>",
            "<a x='1'y='2'/>",
            "<a x=1/>",
            "<a x/>",
            "<a>&bogus;</a>",
            "<a>a ]]> b</a>",
            "<a>\u{1}</a>",
            "<a>\u{FFFE}</a>",
            "<a><!-- a -- b --></a>",
            "<a><!-- a ---></a>",
            "<1a/>",
            "<a></a >x",
            "<a></ a>",
        ] {
            assert!(judge(bad, &limits).is_err(), "the judge takes {bad:?}");
            assert!(vouch(bad, &limits).is_none(), "vouched for {bad:?}");
            // And `root_of` gives exactly `parse`'s refusal.
            let [fast, full] = both(bad, &limits);
            assert_eq!(fast, full);
        }
    }

    #[test]
    fn outside_the_subset_it_is_unsure_and_the_dom_builder_judges() {
        let limits = Limits::default();
        for fine in [
            "<?xml version='1.0'?><a/>",
            "<a><?pi x?></a>",
            "<a><![CDATA[x]]></a>",
            "<a xmlns=''/>",
            "<é/>",
            "<a><!-- <b> & c --></a>",
            "\u{FEFF}<a/>",
            "<a class='x&#x20;soc-document'/>",
        ] {
            assert!(judge(fine, &limits).is_ok(), "the judge refuses {fine:?}");
            assert!(vouch(fine, &limits).is_none(), "{fine:?}");
            assert_eq!(root_of(fine, &limits).ok(), judge(fine, &limits).ok());
        }
    }

    #[test]
    fn a_document_at_the_node_limit_is_left_to_the_dom_builder() {
        // Three nodes for the pre-pass (a, b, text); the DOM adds its document node.
        let text = "<a><b/>t</a>";
        let at = |max_nodes| Limits {
            max_nodes,
            ..Limits::default()
        };
        assert!(vouch(text, &at(4)).is_some());
        assert!(vouch(text, &at(3)).is_none());
        let [fast, full] = both(text, &at(3));
        assert_eq!(fast, full);
    }

    #[test]
    fn each_bound_met_exactly_is_vouched_for_and_one_past_it_is_not() {
        /// Sets one bound of the limits.
        type Bound = fn(&mut Limits, usize);
        // (document, the bound, the value it meets exactly)
        let cases: [(&str, Bound, usize); 7] = [
            // Declarations end with their element: two siblings' are never in scope together.
            (
                "<a><b xmlns:p='u'></b><b xmlns:p='u'></b></a>",
                |l, n| l.max_namespaces_in_scope = n,
                1,
            ),
            (
                "<a xmlns:p='u' xmlns:q='v'/>",
                |l, n| l.max_namespace_declarations = n,
                2,
            ),
            ("<a><b><c/></b></a>", |l, n| l.max_depth = n, 3),
            ("<a>abc&amp;</a>", |l, n| l.max_text_bytes = n, 8),
            ("<a x='1' y='2'/>", |l, n| l.max_attributes = n, 2),
            ("<abc p:x='1' xmlns:p='u'/>", |l, n| l.max_name_bytes = n, 7),
            ("<a x='1&lt;'/>", |l, n| l.max_attribute_value_bytes = n, 5),
        ];
        for (text, bound, exactly) in cases {
            let at = |n| {
                let mut limits = Limits::default();
                bound(&mut limits, n);
                limits
            };
            assert!(vouch(text, &at(exactly)).is_some(), "{text} at {exactly}");
            assert!(
                vouch(text, &at(exactly - 1)).is_none(),
                "{text} at {}",
                exactly - 1
            );
            let [fast, full] = both(text, &at(exactly - 1));
            assert!(full.is_err(), "{text}");
            assert_eq!(fast, full);
        }
    }

    /// Pieces of XML for generated documents: the first `GOOD_*` of each are within the
    /// subset (in a root that declares `h`), the rest are not or are not XML at all.
    const NAMES: &[&str] = &[
        "div", "p", "h:p", "a-b.c_d", "q:div", "xml:x", "xmlns:y", "1a", "é", "a:", ":a",
    ];
    const GOOD_NAMES: usize = 4;
    const ATTRIBUTES: &[&str] = &[
        " class=\"soc-document\"",
        " class='soc-document other'",
        " class=\"a\tsoc-document\"",
        " id='x'",
        " h:a=\"1\"",
        " x=\">\"",
        " x=\"&amp;&#60;&#x3c;\"",
        " x = '1'",
        " xml:lang=\"fi\"",
        " xmlns:h=\"urn:h\"",
        " xmlns=\"http://www.w3.org/1999/xhtml\"",
        " xmlns:q=\"urn:h\"",
        " h:x='1' q:x='2'",
        " a=\"1\" a=\"2\"",
        " xmlns=\"\"",
        " xmlns:h=\"\"",
        " xmlns:xml=\"http://www.w3.org/XML/1998/namespace\"",
        " x=\"<\"",
        " x=\"&bogus;\"",
        " x=\"&#0;\"",
        " x=\"a\r\nb\"",
        "x=\"1\"",
        " x=\"1\"y=\"2\"",
        " x=1",
        " x",
        " /",
    ];
    const GOOD_ATTRIBUTES: usize = 9;
    /// The plain root's declarations.
    const DECLARE_H: usize = 9;
    const DECLARE_XHTML: usize = 10;
    const TEXTS: &[&str] = &[
        "hello",
        "a &lt; b &gt; c",
        "&#13;&#10;",
        "]]&gt;",
        "<!-- c -->",
        "<!---->",
        "\r\n\t",
        "é ö",
        "&#65;",
        "<br/>",
        ">",
        "]]>",
        "\u{1}",
        "&",
        "&nope;",
        "\u{FFFE}",
        "<!-- a--b -->",
        "<!--x--->",
        "<?pi x?>",
        "<![CDATA[x]]>",
        "&#x110000;",
        "</x>",
    ];
    const GOOD_TEXTS: usize = 11;
    const OUTSIDE: &[&str] = &[
        "",
        " \n",
        "<!-- c -->",
        "<?xml version=\"1.0\"?>",
        "\u{FEFF}",
        "x",
        "<a/>",
        "<!DOCTYPE a>",
        "&amp;",
    ];
    const GOOD_OUTSIDE: usize = 3;

    /// Mostly a piece within the subset.
    fn pick(good: usize, all: usize) -> impl Strategy<Value = usize> {
        prop_oneof![6 => 0..good, 1 => 0..all]
    }

    #[derive(Debug, Clone)]
    struct Element {
        name: usize,
        attributes: Vec<usize>,
        children: Vec<Child>,
        end_name: Option<usize>,
    }

    #[derive(Debug, Clone)]
    enum Child {
        Text(usize),
        Element(Element),
    }

    fn element() -> impl Strategy<Value = Element> {
        let names = || pick(GOOD_NAMES, NAMES.len());
        let attributes = || prop::collection::vec(pick(GOOD_ATTRIBUTES, ATTRIBUTES.len()), 0..3);
        let leaf = (names(), attributes()).prop_map(|(name, attributes)| Element {
            name,
            attributes,
            children: Vec::new(),
            end_name: None,
        });
        leaf.prop_recursive(4, 24, 4, move |inner| {
            (
                names(),
                attributes(),
                prop::collection::vec(
                    prop_oneof![
                        pick(GOOD_TEXTS, TEXTS.len()).prop_map(Child::Text),
                        inner.prop_map(Child::Element)
                    ],
                    0..4,
                ),
                prop::option::weighted(0.05, 0..NAMES.len()),
            )
                .prop_map(|(name, attributes, children, end_name)| Element {
                    name,
                    attributes,
                    children,
                    end_name,
                })
        })
    }

    fn render(e: &Element, out: &mut String) {
        out.push('<');
        out.push_str(NAMES[e.name]);
        for a in &e.attributes {
            out.push_str(ATTRIBUTES[*a]);
        }
        if e.children.is_empty() {
            out.push_str("/>");
            return;
        }
        out.push('>');
        for c in &e.children {
            match c {
                Child::Text(t) => out.push_str(TEXTS[*t]),
                Child::Element(e) => render(e, out),
            }
        }
        out.push_str("</");
        out.push_str(NAMES[e.end_name.unwrap_or(e.name)]);
        out.push('>');
    }

    /// A document from the pieces, the root mostly plain, then a few random edits.
    fn document() -> impl Strategy<Value = String> {
        (
            prop::option::weighted(0.8, Just(())),
            element(),
            pick(GOOD_OUTSIDE, OUTSIDE.len()),
            pick(GOOD_OUTSIDE, OUTSIDE.len()),
            prop_oneof![
                2 => Just(Vec::new()),
                1 => prop::collection::vec(
                    (any::<prop::sample::Index>(), 0..TEXTS.len(), any::<bool>()),
                    1..3,
                ),
            ],
        )
            .prop_map(|(plain, root, before, after, edits)| {
                let mut root = root;
                if plain.is_some() {
                    // Most roots declare the namespace their prefixes use, so that deeper
                    // trouble is reached.
                    root.name = 0;
                    root.attributes
                        .retain(|a| !matches!(*a, DECLARE_H | DECLARE_XHTML | 14 | 15));
                    root.attributes.extend([DECLARE_H, DECLARE_XHTML]);
                }
                let mut out = OUTSIDE[before].to_owned();
                render(&root, &mut out);
                out.push_str(OUTSIDE[after]);
                for (at, piece, insert) in edits {
                    let mut i = at.index(out.len() + 1);
                    while !out.is_char_boundary(i) {
                        i -= 1;
                    }
                    if insert {
                        out.insert_str(i, TEXTS[piece]);
                    } else {
                        let mut j = (i + 1 + piece).min(out.len());
                        while !out.is_char_boundary(j) {
                            j -= 1;
                        }
                        out.replace_range(i..j, "");
                    }
                }
                out
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

        /// Generated and edited documents: whatever is vouched for, roxmltree accepts with
        /// the same root, and `root_of` always says what `parse` says.
        #[test]
        fn what_is_vouched_for_the_dom_builder_accepts(text in document()) {
            let limits = Limits::default();
            prop_assert!(holds(&text, &limits).is_ok(), "{:?}", holds(&text, &limits));
            let [fast, full] = both(&text, &limits);
            prop_assert_eq!(fast, full);
        }

        /// The same under tight limits: the pass counts as the pre-pass does, so it never
        /// vouches for a document the pre-pass refuses, and `root_of` then names the bound
        /// broken exactly as `parse` does.
        #[test]
        fn what_is_vouched_for_is_within_the_limits(text in document(), limits in tight()) {
            prop_assert!(holds(&text, &limits).is_ok(), "{:?} {:?}", holds(&text, &limits), limits);
            let [fast, full] = both(&text, &limits);
            prop_assert_eq!(fast, full);
        }
    }

    /// Limits near what the generated documents hold, each tight now and then (so that it
    /// is sometimes met exactly and sometimes broken) and otherwise the default.
    fn tight() -> impl Strategy<Value = Limits> {
        fn now_and_then(tight: std::ops::Range<usize>, loose: usize) -> BoxedStrategy<usize> {
            prop_oneof![2 => Just(loose), 1 => tight].boxed()
        }
        let d = Limits::default();
        (
            (
                now_and_then(2..40, 1000),
                now_and_then(1..7, d.max_depth),
                now_and_then(0..5, d.max_attributes),
                now_and_then(1..9, d.max_name_bytes),
            ),
            (
                now_and_then(0..3, d.max_namespace_declarations),
                now_and_then(0..4, d.max_namespaces_in_scope),
                now_and_then(0..30, d.max_attribute_value_bytes),
                now_and_then(0..40, d.max_text_bytes),
            ),
        )
            .prop_map(
                move |(
                    (max_nodes, max_depth, max_attributes, max_name_bytes),
                    (
                        max_namespace_declarations,
                        max_namespaces_in_scope,
                        max_attribute_value_bytes,
                        max_text_bytes,
                    ),
                )| Limits {
                    max_nodes: u32::try_from(max_nodes).unwrap(),
                    max_depth,
                    max_attributes,
                    max_name_bytes,
                    max_namespace_declarations,
                    max_namespaces_in_scope,
                    max_attribute_value_bytes,
                    max_text_bytes,
                    ..d
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

        /// The character rule reads the same way short (a lookup per byte) and long (vector
        /// code): a text and the same text made long give one verdict.
        #[test]
        fn the_character_rule_is_one_rule_at_every_length(
            pieces in prop::collection::vec(
                prop::sample::select(vec![
                    "a", " ", "\t", "\n", "\r", "\u{1}", "\u{1f}", "\u{7f}", "<", ">", "]", "]]>",
                    "&", "&amp;", "\u{e4}", "\u{20ac}", "\u{FFFD}", "\u{FFFE}", "\u{FFFF}",
                    "\u{10000}", "\u{EFFF}",
                ]),
                0..24,
            )
        ) {
            let short = pieces.concat();
            prop_assume!(short.len() < LONG);
            let long = format!("{short}{}", "a".repeat(LONG));
            prop_assert_eq!(allowed_chars(&short), allowed_chars(&long), "{:?}", short);
        }
    }

    #[test]
    fn the_generated_documents_reach_both_sides() {
        // The property above means little unless many generated documents are vouched for
        // and many are refused by the judge.
        let (mut vouched, mut refused) = (0, 0);
        let limits = Limits::default();
        for text in generated(document(), 2000) {
            vouched += usize::from(vouch(&text, &limits).is_some());
            refused += usize::from(judge(&text, &limits).is_err());
        }
        assert!(
            vouched > 200 && refused > 200,
            "vouched {vouched}, refused {refused}"
        );
        // And under tight limits, both vouched for and refused by a bound.
        let (mut vouched, mut bounded) = (0, 0);
        for (text, limits) in generated((document(), tight()), 2000) {
            vouched += usize::from(vouch(&text, &limits).is_some());
            bounded += usize::from(matches!(
                parse(&text, &limits),
                Err(XmlError::Limit { .. }
                    | XmlError::TooDeep { .. }
                    | XmlError::TooManyAttributes { .. }
                    | XmlError::TextTooLong { .. })
            ));
        }
        assert!(
            vouched > 100 && bounded > 300,
            "tight limits: vouched {vouched}, refused by a bound {bounded}"
        );
    }

    #[test]
    fn every_edit_of_a_template_keeps_the_rule() {
        // Each piece inserted at every character of the hand-written template, and each
        // character taken out.
        let limits = Limits::default();
        let form = template("display-sp1.xhtml");
        let mut vouched = 0;
        for (i, _) in form.char_indices() {
            for piece in TEXTS
                .iter()
                .chain(ATTRIBUTES)
                .chain(["'", "\"", "=", "/", ":"].iter())
            {
                let mut text = form.clone();
                text.insert_str(i, piece);
                vouched += usize::from(holds(&text, &limits).unwrap());
            }
            let mut text = form.clone();
            text.remove(i);
            vouched += usize::from(holds(&text, &limits).unwrap());
        }
        assert!(vouched > 1000, "{vouched}");
    }
}
