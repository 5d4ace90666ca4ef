//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0, with and without
//! comments, over a whole document or the subtree of one element (what a same-document
//! `#id` reference selects), optionally leaving out one element (the enveloped-signature
//! transform).
//!
//! The parser has already done what canonicalization asks of it: line endings normalised,
//! attribute values normalised, character and predefined entity references replaced, CDATA
//! sections turned into text. What is left is rendering: prefixes as written (recovered from
//! source positions), namespace declarations by the inclusive or exclusive rule, attributes
//! sorted, and the fixed escaping.

use std::collections::BTreeMap;

use roxmltree::{Document, Node, NodeId};

use crate::xml::{Lifted, NOTHING_LIFTED};

/// The XML namespace, bound to `xml` by definition and never declared in output.
pub const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Which canonicalization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// Canonical XML 1.0.
    Inclusive,
    /// Exclusive XML Canonicalization 1.0, with the `InclusiveNamespaces PrefixList`
    /// (`#default` names the default namespace).
    Exclusive {
        /// Prefixes treated by the inclusive rule.
        inclusive_prefixes: Vec<String>,
    },
}

/// A canonicalization method with its comment mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct C14nOptions {
    /// Inclusive or exclusive.
    pub method: Method,
    /// Keep comments.
    pub with_comments: bool,
}

impl C14nOptions {
    /// Exclusive C14N without comments and no prefix list: what Kanta uses.
    pub fn exclusive() -> Self {
        Self {
            method: Method::Exclusive {
                inclusive_prefixes: Vec::new(),
            },
            with_comments: false,
        }
    }

    /// Canonical XML 1.0 without comments.
    pub fn inclusive() -> Self {
        Self {
            method: Method::Inclusive,
            with_comments: false,
        }
    }
}

/// How a diagnosis may reshape text nodes while canonicalizing: used only to explain a
/// digest mismatch ("would the digest match if the reformatting were undone?"), never to
/// verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reformatting {
    /// Text as it is (real canonicalization).
    None,
    /// Whitespace-only text nodes beside elements left out (indentation between elements).
    DropIndentation,
    /// As `DropIndentation`, and leading and trailing whitespace of every text node trimmed
    /// (a base64 value moved onto its own indented lines).
    DropIndentationAndTrim,
    /// Carriage returns left out of text (line endings written as `&#13;` after signing).
    DropCarriageReturns,
}

/// Canonical bytes of `apex` and its descendants (the whole document when `None`), leaving
/// out `exclude` and its descendants.
pub fn canonicalize(
    doc: &Document<'_>,
    apex: Option<Node<'_, '_>>,
    exclude: Option<NodeId>,
    opts: &C14nOptions,
) -> Vec<u8> {
    canonicalize_lifted(
        doc,
        &NOTHING_LIFTED,
        apex,
        exclude,
        opts,
        Reformatting::None,
    )
}

/// [`canonicalize`] over a DOM built from a prepared text: the character data taken out of
/// it (`lifted`) is rendered in place of its stand-ins, and text nodes are reshaped as
/// `reformatting` says (`Reformatting::None` to verify; the others only to explain a
/// digest mismatch).
pub fn canonicalize_lifted(
    doc: &Document<'_>,
    lifted: &Lifted,
    apex: Option<Node<'_, '_>>,
    exclude: Option<NodeId>,
    opts: &C14nOptions,
    reformatting: Reformatting,
) -> Vec<u8> {
    let mut c = Canonicalizer {
        text: doc.input_text(),
        lifted,
        opts,
        exclude,
        reformatting,
        // About the size of what it covers (a whole document or one element's text, and
        // what was taken out of the text), and an eighth more: the canonical form writes
        // every empty element's end tag out and may repeat namespace declarations, and a
        // buffer grown once near the end is a copy of all of it.
        out: Vec::with_capacity({
            let covered =
                apex.map_or(doc.input_text().len(), |n| n.range().len()) + lifted.taken_bytes();
            covered + covered / 8
        }),
    };
    match apex {
        Some(node) if node.is_element() => c.element(node, &BTreeMap::new(), true),
        Some(node) => c.other(node),
        None => {
            let root = doc.root();
            let mut seen_element = false;
            for child in root.children() {
                if child.is_element() {
                    c.element(child, &BTreeMap::new(), true);
                    seen_element = true;
                } else if child.is_comment() && !opts.with_comments || child.is_text() {
                    continue;
                } else {
                    if seen_element {
                        c.out.push(b'\n');
                    }
                    c.other(child);
                    if !seen_element {
                        c.out.push(b'\n');
                    }
                }
            }
        }
    }
    c.out
}

struct Canonicalizer<'o, 'i> {
    text: &'i str,
    lifted: &'o Lifted,
    opts: &'o C14nOptions,
    exclude: Option<NodeId>,
    reformatting: Reformatting,
    out: Vec<u8>,
}

/// The qualified name of an element as written in the source.
fn element_qname<'i>(text: &'i str, node: Node<'_, 'i>) -> &'i str {
    let start = node.range().start + 1;
    let rest = text.get(start..).unwrap_or("");
    let end = rest
        .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
        .unwrap_or(rest.len());
    &rest[..end]
}

fn prefix_of(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(p, _)| p)
}

struct Attr<'a> {
    ns: &'a str,
    local: &'a str,
    qname: String,
    value: &'a str,
}

impl<'o, 'i> Canonicalizer<'o, 'i> {
    fn element(&mut self, node: Node<'_, 'i>, rendered: &BTreeMap<String, String>, is_apex: bool) {
        if Some(node.id()) == self.exclude {
            return;
        }
        let qname = element_qname(self.text, node);
        let in_scope: BTreeMap<String, String> = node
            .namespaces()
            .filter(|ns| ns.name() != Some("xml"))
            .map(|ns| (ns.name().unwrap_or("").to_owned(), ns.uri().to_owned()))
            .collect();

        let mut attrs: Vec<Attr<'_>> = node
            .attributes()
            .map(|a| Attr {
                ns: a.namespace().unwrap_or(""),
                local: a.name(),
                qname: self
                    .text
                    .get(a.range_qname())
                    .unwrap_or(a.name())
                    .to_owned(),
                value: a.value(),
            })
            .collect();
        if is_apex && self.opts.method == Method::Inclusive {
            // Canonical XML 1.0 carries xml:* attributes of omitted ancestors onto the apex.
            let mut anc = node.parent();
            while let Some(a) = anc {
                if a.is_element() {
                    for at in a.attributes().filter(|at| at.namespace() == Some(XML_NS)) {
                        if !attrs.iter().any(|x| x.ns == XML_NS && x.local == at.name()) {
                            attrs.push(Attr {
                                ns: XML_NS,
                                local: at.name(),
                                qname: format!("xml:{}", at.name()),
                                value: at.value(),
                            });
                        }
                    }
                }
                anc = a.parent();
            }
        }
        attrs.sort_by(|a, b| (a.ns, a.local).cmp(&(b.ns, b.local)));

        // Which namespace declarations to render.
        let mut decls: Vec<(String, String)> = Vec::new();
        let default_rendered_nonempty = rendered.get("").is_some_and(|u| !u.is_empty());
        match &self.opts.method {
            Method::Inclusive => {
                for (p, u) in &in_scope {
                    if p.is_empty() && u.is_empty() {
                        continue;
                    }
                    if rendered.get(p) != Some(u) {
                        decls.push((p.clone(), u.clone()));
                    }
                }
                if in_scope.get("").is_none_or(|u| u.is_empty()) && default_rendered_nonempty {
                    decls.push((String::new(), String::new()));
                }
            }
            Method::Exclusive { inclusive_prefixes } => {
                let mut wanted: Vec<String> = vec![prefix_of(qname).to_owned()];
                for a in &attrs {
                    let p = prefix_of(&a.qname);
                    if !p.is_empty() && p != "xml" {
                        wanted.push(p.to_owned());
                    }
                }
                for p in inclusive_prefixes {
                    let p = if p == "#default" { "" } else { p.as_str() };
                    if in_scope.contains_key(p) {
                        wanted.push(p.to_owned());
                    }
                }
                wanted.sort();
                wanted.dedup();
                for p in wanted {
                    let u = in_scope.get(&p).cloned().unwrap_or_default();
                    if p.is_empty() && u.is_empty() {
                        if default_rendered_nonempty {
                            decls.push((String::new(), String::new()));
                        }
                    } else if rendered.get(&p) != Some(&u) {
                        decls.push((p, u));
                    }
                }
            }
        }
        decls.sort_by(|a, b| a.0.cmp(&b.0));

        self.out.push(b'<');
        self.out.extend_from_slice(qname.as_bytes());
        for (p, u) in &decls {
            if p.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            escape_attr(u, &mut self.out);
            self.out.push(b'"');
        }
        for a in &attrs {
            self.out.push(b' ');
            self.out.extend_from_slice(a.qname.as_bytes());
            self.out.extend_from_slice(b"=\"");
            escape_attr(a.value, &mut self.out);
            self.out.push(b'"');
        }
        self.out.push(b'>');

        let mut child_rendered = rendered.clone();
        for (p, u) in decls {
            child_rendered.insert(p, u);
        }
        for child in node.children() {
            if child.is_element() {
                self.element(child, &child_rendered, false);
            } else {
                self.other(child);
            }
        }
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(qname.as_bytes());
        self.out.push(b'>');
    }

    fn other(&mut self, node: Node<'_, 'i>) {
        if Some(node.id()) == self.exclude {
            return;
        }
        if node.is_text() {
            let text = self.lifted.text_of(node).unwrap_or("");
            match self.reformatting {
                Reformatting::None => escape_text(text, &mut self.out),
                Reformatting::DropIndentation | Reformatting::DropIndentationAndTrim => {
                    let blank = text.bytes().all(|b| b.is_ascii_whitespace());
                    let beside_element = node
                        .parent()
                        .is_some_and(|p| p.children().any(|c| c.is_element()));
                    if blank && beside_element {
                        return;
                    }
                    if self.reformatting == Reformatting::DropIndentationAndTrim {
                        escape_text(
                            text.trim_matches(|c: char| c.is_ascii_whitespace()),
                            &mut self.out,
                        );
                    } else {
                        escape_text(text, &mut self.out);
                    }
                }
                Reformatting::DropCarriageReturns => {
                    escape_text(&text.replace('\r', ""), &mut self.out);
                }
            }
        } else if node.is_comment() {
            if self.opts.with_comments {
                self.out.extend_from_slice(b"<!--");
                self.out
                    .extend_from_slice(node.text().unwrap_or("").as_bytes());
                self.out.extend_from_slice(b"-->");
            }
        } else if let Some(pi) = node.pi() {
            self.out.extend_from_slice(b"<?");
            self.out.extend_from_slice(pi.target.as_bytes());
            if let Some(v) = pi.value.filter(|v| !v.is_empty()) {
                self.out.push(b' ');
                self.out.extend_from_slice(v.as_bytes());
            }
            self.out.extend_from_slice(b"?>");
        }
    }
}

/// Copies `s` to `out`, writing `escape(b)` for the bytes it escapes: runs between them go
/// out whole (a base64 body has none, so it is one copy). The text is looked at 64 bytes at
/// a time with a test that has no early exit, so that it compiles to vector code; only a
/// chunk holding a byte to escape is walked byte by byte (measured: the byte-by-byte walk
/// of every text was a tenth of the signature check).
fn escape_with(s: &str, out: &mut Vec<u8>, escape: impl Fn(u8) -> Option<&'static [u8]>) {
    let b = s.as_bytes();
    let mut start = 0;
    let mut at = 0;
    for chunk in b.chunks(64) {
        if chunk
            .iter()
            .fold(false, |any, &c| any | escape(c).is_some())
        {
            for (i, &c) in chunk.iter().enumerate() {
                if let Some(e) = escape(c) {
                    out.extend_from_slice(&b[start..at + i]);
                    out.extend_from_slice(e);
                    start = at + i + 1;
                }
            }
        }
        at += chunk.len();
    }
    out.extend_from_slice(&b[start..]);
}

fn escape_text(s: &str, out: &mut Vec<u8>) {
    escape_with(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

fn escape_attr(s: &str, out: &mut Vec<u8>) {
    escape_with(s, out, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}
