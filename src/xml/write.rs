//! Compact XML writing on quick-xml, for everything the simulator emits (documents,
//! messages, acknowledgements, faults): no indentation, since whitespace inside signed
//! content is significant; escaping is quick-xml's.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

/// A writer into memory.
pub struct XmlWriter(Writer<Vec<u8>>);

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self(Writer::new(Vec::new()))
    }

    // Writing into a Vec cannot fail; quick-xml's io::Result is discarded deliberately.
    fn ev(&mut self, e: Event<'_>) {
        let _ = self.0.write_event(e);
    }

    fn tag<'a>(name: &'a str, attrs: &[(&str, &str)]) -> BytesStart<'a> {
        let mut s = BytesStart::new(name);
        for a in attrs {
            s.push_attribute(*a);
        }
        s
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>`.
    pub fn decl(&mut self) {
        self.ev(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    }

    /// `<name a="v"/>`.
    pub fn empty(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.ev(Event::Empty(Self::tag(name, attrs)));
    }

    /// `<name a="v">`.
    pub fn start(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.ev(Event::Start(Self::tag(name, attrs)));
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) {
        self.ev(Event::End(BytesEnd::new(name)));
    }

    /// Escaped character data.
    pub fn chars(&mut self, text: &str) {
        self.ev(Event::Text(BytesText::new(text)));
    }

    /// `<name a="v">text</name>`.
    pub fn text(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.start(name, attrs);
        self.chars(text);
        self.end(name);
    }

    /// The document written.
    pub fn finish(self) -> String {
        // Every event written was built from &str, so the bytes are UTF-8.
        String::from_utf8(self.0.into_inner()).unwrap_or_default()
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
}
