//! The streaming pre-pass: one linear pass over the text with quick-xml (no DOM, no
//! allocation per node) that refuses a document as soon as it steps over a limit. What it
//! lets through is bounded per element (attributes, namespace declarations, names) and in
//! total (nodes, depth, text), so the DOM builder that follows does bounded work.

use std::io::BufRead;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::plain::{allowed_chars, references};
use super::{Limits, XmlError};

/// Open elements' local names, borrowed from the text (no allocation per element).
type Stack<'t> = Vec<std::borrow::Cow<'t, str>>;

fn path(stack: &[std::borrow::Cow<'_, str>]) -> String {
    format!("/{}", stack.join("/"))
}

fn limit(
    what: &str,
    stack: &[std::borrow::Cow<'_, str>],
    seen: usize,
    limit: usize,
    key: &str,
) -> XmlError {
    XmlError::Limit {
        what: what.to_owned(),
        path: path(stack),
        seen,
        limit,
        key: key.to_owned(),
    }
}

/// A reader position as a byte offset (the text is in memory, so it fits).
fn offset(p: u64) -> usize {
    usize::try_from(p).unwrap_or(usize::MAX)
}

fn local(qname: &str) -> &str {
    // Names are short: a plain search beats a general one (as in `plain::qname`).
    match qname.bytes().rposition(|c| c == b':') {
        Some(at) => &qname[at + 1..],
        None => qname,
    }
}

/// Checks one start tag; returns the number of namespace declarations it makes.
fn element(
    e: &BytesStart<'_>,
    stack: &[std::borrow::Cow<'_, str>],
    in_scope: usize,
    limits: &Limits,
) -> Result<usize, XmlError> {
    let name = e.name();
    if name.as_ref().len() > limits.max_name_bytes {
        return Err(limit(
            "an element name",
            stack,
            name.as_ref().len(),
            limits.max_name_bytes,
            "max_name_bytes",
        ));
    }
    let mut attributes = 0usize;
    let mut declarations = 0usize;
    // Without the duplicate check: quick-xml's is quadratic in the attribute count, and
    // duplicates are the DOM builder's to refuse once the count is bounded.
    for a in e.attributes().with_checks(false) {
        let a = a.map_err(|err| XmlError::Malformed {
            message: format!("in an attribute of {}: {err}", path(stack)),
        })?;
        attributes += 1;
        if attributes > limits.max_attributes {
            return Err(XmlError::TooManyAttributes {
                path: path(stack),
                count: attributes,
                limit: limits.max_attributes,
            });
        }
        let key = a.key.as_ref();
        if key.len() > limits.max_name_bytes {
            return Err(limit(
                "an attribute name",
                stack,
                key.len(),
                limits.max_name_bytes,
                "max_name_bytes",
            ));
        }
        if a.value.len() > limits.max_attribute_value_bytes {
            return Err(limit(
                "an attribute value",
                stack,
                a.value.len(),
                limits.max_attribute_value_bytes,
                "max_attribute_value_bytes",
            ));
        }
        if key == "xmlns" || key.starts_with("xmlns:") {
            declarations += 1;
            if declarations > limits.max_namespace_declarations {
                return Err(limit(
                    "namespace declarations on one element",
                    stack,
                    declarations,
                    limits.max_namespace_declarations,
                    "max_namespace_declarations",
                ));
            }
            if in_scope + declarations > limits.max_namespaces_in_scope {
                return Err(limit(
                    "namespace declarations in scope",
                    stack,
                    in_scope + declarations,
                    limits.max_namespaces_in_scope,
                    "max_namespaces_in_scope",
                ));
            }
        }
    }
    Ok(declarations)
}

/// Refuses `text` at the first limit it breaks; `Ok` means it is within every bound (not
/// that it is well-formed: the DOM builder decides that).
pub fn check(text: &str, limits: &Limits) -> Result<(), XmlError> {
    scan(text, limits, &[]).map(|_| ())
}

/// Runs of character data shorter than this stay in the DOM: lifting them saves less than
/// it costs.
const LIFT_MIN_BYTES: usize = 256;

/// A run of character data taken out of the text before the DOM is built: its byte range
/// in the text and its value (references resolved), exactly as the DOM would have read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// Where the run's bytes start and end in the text scanned.
    pub range: std::ops::Range<usize>,
    /// The character data, references resolved.
    pub value: String,
}

/// The run of character data that starts at byte `at` of `text` when it can be taken out
/// whole: it reaches up to the next markup (which is not CDATA, so the run ends there), is
/// at least [`LIFT_MIN_BYTES`] and at most `max_text` bytes, and [`run_value`] can read it.
/// `None` leaves it to the reader, event by event, and to the DOM builder.
fn whole_run(text: &str, at: usize, max_text: usize) -> Option<Run> {
    let rest = text.get(at..)?;
    let len = memchr::memchr(b'<', rest.as_bytes())?;
    if !(LIFT_MIN_BYTES..=max_text).contains(&len) || rest[len..].starts_with("<![") {
        return None;
    }
    let value = run_value(&rest[..len])?;
    Some(Run {
        range: at..at + len,
        value,
    })
}

/// The value of a run of character data made only of text and references, read from its
/// raw bytes in one pass (not piece by piece as the reader splits it at each reference, a
/// MIME entity's `&#13;` at every line end); `None` when it holds something the DOM builder
/// must judge itself (what the vouching pass's rule for character data refuses,
/// [`allowed_chars`], or a reference that is not predefined or numeric), so that it refuses
/// it with its own message and position. `raw` is from a line-end normalised text (the
/// only kind [`scan`] is given to lift from), so it holds no carriage return for the DOM
/// to turn into a line feed.
fn run_value(raw: &str) -> Option<String> {
    allowed_chars(raw)?;
    let mut value = String::with_capacity(raw.len());
    let mut at = 0;
    references(raw, |reference, c| {
        value.push_str(&raw[at..reference.start]);
        value.push(c);
        at = reference.end;
    })?;
    value.push_str(&raw[at..]);
    Some(value)
}

/// [`check`], and the runs of character data at least [`LIFT_MIN_BYTES`] long directly
/// inside elements whose local-name path ends with one of `lifts` (none when there is
/// none), read in the same pass.
pub fn scan(text: &str, limits: &Limits, lifts: &[&[&str]]) -> Result<Vec<Run>, XmlError> {
    let mut runs = Vec::new();
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Open elements' local names and their namespace declarations (bounded by max_depth).
    let mut stack: Stack<'_> = Vec::new();
    let mut declared: Vec<usize> = Vec::new();
    let mut in_scope = 0usize;
    let mut nodes = 0usize;
    let max_nodes = usize::try_from(limits.max_nodes).unwrap_or(usize::MAX);
    // Bytes of the current run of character data (text, CDATA and references make one
    // text node), or `None` between runs.
    let mut run: Option<usize> = None;
    let liftable = |stack: &Stack<'_>| {
        lifts.iter().any(|lift| {
            !lift.is_empty()
                && stack.len() >= lift.len()
                && stack[stack.len() - lift.len()..]
                    .iter()
                    .zip(lift.iter())
                    .all(|(a, b)| a == b)
        })
    };
    loop {
        let before = offset(reader.buffer_position());
        let event = reader.read_event().map_err(|e| XmlError::Malformed {
            message: format!("{e} (byte {})", reader.error_position()),
        })?;
        let chars = match &event {
            Event::Text(t) => Some(t.len()),
            Event::CData(c) => Some(c.len()),
            Event::GeneralRef(r) => Some(r.len() + 2),
            _ => None,
        };
        match chars {
            Some(n) => {
                let total = run.unwrap_or_else(|| {
                    nodes += 1;
                    0
                }) + n;
                if total > limits.max_text_bytes {
                    return Err(XmlError::TextTooLong {
                        path: path(&stack),
                        len: total,
                        limit: limits.max_text_bytes,
                    });
                }
                run = Some(total);
            }
            None => run = None,
        }
        let (start, opens) = match event {
            Event::Start(e) => (Some(e), true),
            Event::Empty(e) => (Some(e), false),
            other => {
                match other {
                    Event::End(_) => {
                        stack.pop();
                        in_scope -= declared.pop().unwrap_or(0);
                    }
                    Event::Comment(_) | Event::PI(_) => nodes += 1,
                    Event::DocType(_) => {
                        return Err(XmlError::Dtd {
                            position: format!("byte {}", reader.buffer_position()),
                        });
                    }
                    Event::Eof => return Ok(runs),
                    _ => {}
                }
                (None, false)
            }
        };
        if let Some(e) = start {
            nodes += 1;
            // On the stack while it is checked, so that errors name it.
            // The name as it stands in the text: the event starts at its `<`.
            let name = e.name().into_inner();
            let written = text
                .get(before + 1..before + 1 + name.len())
                .filter(|w| *w == name);
            stack.push(match written {
                Some(w) => std::borrow::Cow::Borrowed(local(w)),
                None => std::borrow::Cow::Owned(local(name).to_owned()),
            });
            if stack.len() > limits.max_depth {
                return Err(XmlError::TooDeep {
                    depth: stack.len(),
                    limit: limits.max_depth,
                    path: path(&stack),
                });
            }
            let n = element(&e, &stack, in_scope, limits)?;
            if opens {
                declared.push(n);
                in_scope += n;
            } else {
                stack.pop();
            }
        }
        if nodes > max_nodes {
            return Err(limit("nodes", &stack, nodes, max_nodes, "max_nodes"));
        }
        // Character data starts here inside an element to lift from: taken whole when it
        // can be, and the reader moved past it, so that a MIME entity's thousand pieces
        // (text, `&#13;`, text, ...) are not read one event at a time. It is one text node,
        // counted and bounded as the reader would have (a run the reader must see, or one
        // at the node limit, is left to it, so its error is the same).
        if run.is_none() && nodes < max_nodes && liftable(&stack) {
            let at = offset(reader.buffer_position());
            if let Some(taken) = whole_run(text, at, limits.max_text_bytes) {
                nodes += 1;
                reader.stream().consume(taken.range.len());
                runs.push(taken);
            }
        }
    }
}
