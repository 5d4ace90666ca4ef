//! Compact XML writing on quick-xml, for everything the simulator emits (documents,
//! messages, acknowledgements, faults): no indentation, since whitespace inside signed
//! content is significant; escaping is quick-xml's, the output byte for byte its writer's.

use quick_xml::events::attributes::Attribute;

/// A writer into memory.
///
/// Writes the text itself (quick-xml's `Writer` wanted an owned start tag per element,
/// grown attribute by attribute, then copied out: 1.2 % of the server's samples while
/// archiving, for the acknowledgement alone); the escaping is still quick-xml's, as its
/// writer escapes (attribute values by [`Attribute::from`], character data by
/// [`quick_xml::escape::escape`]), which the test below checks against quick-xml's writer.
pub struct XmlWriter(String);

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        // An acknowledgement's size: most of what is written fits without growing.
        Self(String::with_capacity(2048))
    }

    fn tag(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.0.push('<');
        self.0.push_str(name);
        for &(key, value) in attrs {
            self.0.push(' ');
            self.0.push_str(key);
            self.0.push_str("=\"");
            self.0.push_str(&Attribute::from((key, value)).value);
            self.0.push('"');
        }
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`.
    pub fn decl(&mut self) {
        self.0
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    }

    /// `<name a="v"/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.0.push_str("/>");
    }

    /// `<name a="v">`.
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.tag(name, attrs);
        self.0.push('>');
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) {
        self.0.push_str("</");
        self.0.push_str(name);
        self.0.push('>');
    }

    /// Escaped character data.
    pub fn chars(&mut self, text: &str) {
        self.0.push_str(&quick_xml::escape::escape(text));
    }

    /// `<name a="v">text</name>`.
    pub fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.chars(text);
        self.end(name);
    }

    /// The document written.
    pub fn finish(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_compact_escaped_xml() {
        let mut w = XmlWriter::new();
        w.decl();
        w.start("a", &[("x", "1 & \"2\"")]);
        w.text("b", &[], "<c>");
        w.empty("d", &[]);
        w.end("a");
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><a x=\"1 &amp; &quot;2&quot;\"><b>&lt;c&gt;</b><d/></a>"
        );
    }

    /// The same bytes as quick-xml's own writer, for values with every character either
    /// escapes (attribute values also escape tabs and line ends; character data keeps them,
    /// except a carriage return).
    #[test]
    fn writes_what_quick_xmls_writer_writes() {
        use quick_xml::Writer;
        use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
        let values = [
            "",
            "plain",
            "<a & b> 'q' \"qq\"",
            "tab\there\nline\r\nend ",
            "é€ &amp; ]]>",
        ];
        let mut ours = XmlWriter::new();
        let mut theirs = Writer::new(Vec::new());
        ours.decl();
        theirs
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .unwrap();
        for v in values {
            let attrs = [("k", v), ("xmlns:p", "urn:x")];
            ours.start("p:e", &attrs);
            ours.empty("f", &attrs[..1]);
            ours.text("g", &[], v);
            ours.end("p:e");
            let tag = |name| {
                let mut s = BytesStart::new(name);
                s.push_attribute(("k", v));
                s
            };
            let mut start = tag("p:e");
            start.push_attribute(("xmlns:p", "urn:x"));
            theirs.write_event(Event::Start(start)).unwrap();
            theirs.write_event(Event::Empty(tag("f"))).unwrap();
            theirs
                .write_event(Event::Start(BytesStart::new("g")))
                .unwrap();
            theirs.write_event(Event::Text(BytesText::new(v))).unwrap();
            theirs.write_event(Event::End(BytesEnd::new("g"))).unwrap();
            theirs
                .write_event(Event::End(BytesEnd::new("p:e")))
                .unwrap();
        }
        let theirs = String::from_utf8(theirs.into_inner()).unwrap();
        assert!(
            theirs.contains("&#9;") && theirs.contains("&#13;"),
            "{theirs}"
        );
        assert_eq!(ours.finish(), theirs);
    }
}
