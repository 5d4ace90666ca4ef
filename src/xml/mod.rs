//! Safe XML reading for everything the simulator parses. XML is hostile input: DTDs and
//! entity declarations are refused outright (so no entity expansion and no external fetch
//! can ever happen), and size, node count, depth, attribute count and text length are
//! bounded. The result is a read-only DOM (roxmltree) that keeps source positions, which
//! canonicalization needs to recover the prefixes as written.

mod write;

use roxmltree::{Document, Node, ParsingOptions};
use serde::Serialize;
pub use write::XmlWriter;

/// Bounds on what is parsed.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Limits {
    /// Largest document, in bytes.
    pub max_bytes: usize,
    /// Most nodes (elements, texts, comments, PIs).
    pub max_nodes: u32,
    /// Deepest element nesting.
    pub max_depth: usize,
    /// Most attributes on one element.
    pub max_attributes: usize,
    /// Longest single text node, in bytes.
    pub max_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_nodes: 4_000_000,
            max_depth: 256,
            max_attributes: 256,
            max_text_bytes: 48 * 1024 * 1024,
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
}

/// Parses `text` within `limits`.
pub fn parse<'a>(text: &'a str, limits: &Limits) -> Result<Document<'a>, XmlError> {
    if text.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: text.len(),
            limit: limits.max_bytes,
        });
    }
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
pub fn text_content(node: Node<'_, '_>) -> String {
    let mut out = String::new();
    for c in node.children().filter(Node::is_text) {
        out.push_str(c.text().unwrap_or(""));
    }
    out
}

/// The first child element of `node`, if any: a value that should be plain text but carries
/// markup.
pub fn first_child_element<'a, 'i>(node: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    node.children().find(Node::is_element)
}

/// An element path a person can follow: `/ClinicalDocument/component[1]/nonXMLBody`
/// (local names; the position among same-named siblings when there are several).
pub fn path_of(node: Node<'_, '_>) -> String {
    let mut parts = Vec::new();
    let mut cur = Some(node);
    while let Some(n) = cur {
        if n.is_element() {
            let name = n.tag_name().name();
            let same: Vec<_> = n
                .parent()
                .map(|p| {
                    p.children()
                        .filter(|c| c.is_element() && c.tag_name().name() == name)
                        .collect()
                })
                .unwrap_or_default();
            if same.len() > 1 {
                let pos = same.iter().position(|c| *c == n).unwrap_or(0) + 1;
                parts.push(format!("{name}[{pos}]"));
            } else {
                parts.push(name.to_owned());
            }
        }
        cur = n.parent();
    }
    parts.reverse();
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
