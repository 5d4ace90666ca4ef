//! The streaming pre-pass: one linear pass over the text with quick-xml (no DOM, no
//! allocation per node) that refuses a document as soon as it steps over a limit. What it
//! lets through is bounded per element (attributes, namespace declarations, names) and in
//! total (nodes, depth, text), so the DOM builder that follows does bounded work.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::{Limits, XmlError};

fn path(stack: &[String]) -> String {
    format!("/{}", stack.join("/"))
}

fn limit(what: &str, stack: &[String], seen: usize, limit: usize, key: &str) -> XmlError {
    XmlError::Limit {
        what: what.to_owned(),
        path: path(stack),
        seen,
        limit,
        key: key.to_owned(),
    }
}

fn local(qname: &str) -> &str {
    qname.rsplit_once(':').map_or(qname, |(_, l)| l)
}

/// Checks one start tag; returns the number of namespace declarations it makes.
fn element(
    e: &BytesStart<'_>,
    stack: &[String],
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
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    // Open elements' local names and their namespace declarations (bounded by max_depth).
    let mut stack: Vec<String> = Vec::new();
    let mut declared: Vec<usize> = Vec::new();
    let mut in_scope = 0usize;
    let mut nodes = 0usize;
    let max_nodes = usize::try_from(limits.max_nodes).unwrap_or(usize::MAX);
    // Bytes of the current run of character data (text, CDATA and references make one
    // text node), or `None` between runs.
    let mut run: Option<usize> = None;
    loop {
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
                    Event::Eof => return Ok(()),
                    _ => {}
                }
                (None, false)
            }
        };
        if let Some(e) = start {
            nodes += 1;
            // On the stack while it is checked, so that errors name it.
            stack.push(local(e.name().into_inner()).to_owned());
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
    }
}
