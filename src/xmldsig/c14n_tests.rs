//! Canonicalization test vectors: the examples of the Canonical XML 1.0 and Exclusive XML
//! Canonicalization 1.0 recommendations that need no DTD (where an example uses its DTD
//! only for a default attribute, the attribute is left out of input and expected output),
//! and namespace edge cases.

use super::c14n::{C14nOptions, Method, canonicalize};
use crate::xml::{Limits, parse};

fn c14n(input: &str, opts: &C14nOptions, apex: Option<&str>) -> String {
    let doc = parse(input, &Limits::default()).unwrap();
    let node = apex.map(|name| {
        doc.descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .unwrap()
    });
    String::from_utf8(canonicalize(&doc, node, None, opts)).unwrap()
}

fn with_comments(method: Method) -> C14nOptions {
    C14nOptions {
        method,
        with_comments: true,
    }
}

const EX_3_1: &str = "<?xml version=\"1.0\"?>\n\n<?xml-stylesheet   href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n\n<doc>Hello, world!<!-- Comment 1 --></doc>\n\n<?pi-without-data     ?>\n\n<!-- Comment 2 -->\n\n<!-- Comment 3 -->\n";

#[test]
fn spec_3_1_pis_comments_and_outside_the_document_element() {
    assert_eq!(
        c14n(EX_3_1, &C14nOptions::inclusive(), None),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!</doc>\n<?pi-without-data?>"
    );
    assert_eq!(
        c14n(EX_3_1, &with_comments(Method::Inclusive), None),
        "<?xml-stylesheet href=\"doc.xsl\"\n   type=\"text/xsl\"   ?>\n<doc>Hello, world!<!-- Comment 1 --></doc>\n<?pi-without-data?>\n<!-- Comment 2 -->\n<!-- Comment 3 -->"
    );
}

#[test]
fn spec_3_2_whitespace_in_content_is_kept() {
    let input = "<doc>\n   <clean>   </clean>\n   <dirty>   A   B   </dirty>\n   <mixed>\n      A\n      <clean>   </clean>\n      B\n      <dirty>   A   B   </dirty>\n      C\n   </mixed>\n</doc>";
    assert_eq!(c14n(input, &C14nOptions::inclusive(), None), input);
}

#[test]
fn spec_3_3_start_and_end_tags() {
    let input = r#"<doc>
   <e1   />
   <e2   ></e2>
   <e3   name = "elem3"   id="elem3"   />
   <e4   name="elem4"   id="elem4"   ></e4>
   <e5 a:attr="out" b:attr="sorted" attr2="all" attr="I'm"
      xmlns:b="http://www.ietf.org"
      xmlns:a="http://www.w3.org"
      xmlns="http://example.org"/>
   <e6 xmlns="" xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="" xmlns:a="http://www.w3.org">
            <e9 xmlns="" xmlns:a="http://www.ietf.org"/>
         </e8>
      </e7>
   </e6>
</doc>"#;
    let expected = r#"<doc>
   <e1></e1>
   <e2></e2>
   <e3 id="elem3" name="elem3"></e3>
   <e4 id="elem4" name="elem4"></e4>
   <e5 xmlns="http://example.org" xmlns:a="http://www.w3.org" xmlns:b="http://www.ietf.org" attr="I'm" attr2="all" b:attr="sorted" a:attr="out"></e5>
   <e6 xmlns:a="http://www.w3.org">
      <e7 xmlns="http://www.ietf.org">
         <e8 xmlns="">
            <e9 xmlns:a="http://www.ietf.org"></e9>
         </e8>
      </e7>
   </e6>
</doc>"#;
    assert_eq!(c14n(input, &C14nOptions::inclusive(), None), expected);
}

#[test]
fn spec_3_4_character_modifications_and_references() {
    let input = "<doc>\n   <text>First line&#x0d;&#10;Second line</text>\n   <value>&#x32;</value>\n   <compute><![CDATA[value>\"0\" && value<\"10\" ?\"valid\":\"error\"]]></compute>\n   <compute expr='value>\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"'>valid</compute>\n   <norm attr=' &apos;   &#x20;&#13;&#xa;&#9;   &apos; '/>\n</doc>";
    let expected = "<doc>\n   <text>First line&#xD;\nSecond line</text>\n   <value>2</value>\n   <compute>value&gt;\"0\" &amp;&amp; value&lt;\"10\" ?\"valid\":\"error\"</compute>\n   <compute expr=\"value>&quot;0&quot; &amp;&amp; value&lt;&quot;10&quot; ?&quot;valid&quot;:&quot;error&quot;\">valid</compute>\n   <norm attr=\" '    &#xD;&#xA;&#x9;   ' \"></norm>\n</doc>";
    assert_eq!(c14n(input, &C14nOptions::inclusive(), None), expected);
}

#[test]
fn spec_3_6_utf8_output() {
    assert_eq!(
        c14n("<doc>&#169;</doc>", &C14nOptions::inclusive(), None),
        "<doc>\u{a9}</doc>"
    );
}

#[test]
fn line_endings_are_normalised() {
    assert_eq!(
        c14n("<a>x\r\ny\rz</a>", &C14nOptions::inclusive(), None),
        "<a>x\ny\nz</a>"
    );
}

const EXC_1: &str = "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\">\n  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n  </n1:elem2>\n</n0:local>";
const EXC_2: &str = "<n2:pdu xmlns:n1=\"http://example.com\" xmlns:n2=\"http://foo.example\" xml:lang=\"fr\" xml:space=\"retain\">\n  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n  </n1:elem2>\n</n2:pdu>";

#[test]
fn exc_spec_2_2_inclusive_subsets_carry_their_context() {
    assert_eq!(
        c14n(EXC_1, &C14nOptions::inclusive(), Some("elem2")),
        "<n1:elem2 xmlns:n0=\"foo:bar\" xmlns:n1=\"http://example.net\" xmlns:n3=\"ftp://example.org\" xml:lang=\"en\">\n    <n3:stuff></n3:stuff>\n  </n1:elem2>"
    );
    assert_eq!(
        c14n(EXC_2, &C14nOptions::inclusive(), Some("elem2")),
        "<n1:elem2 xmlns:n1=\"http://example.net\" xmlns:n2=\"http://foo.example\" xml:lang=\"en\" xml:space=\"retain\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff>\n  </n1:elem2>"
    );
}

#[test]
fn exc_spec_2_2_exclusive_subsets_do_not() {
    let expected = "<n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff>\n  </n1:elem2>";
    assert_eq!(
        c14n(EXC_1, &C14nOptions::exclusive(), Some("elem2")),
        expected
    );
    assert_eq!(
        c14n(EXC_2, &C14nOptions::exclusive(), Some("elem2")),
        expected
    );
}

#[test]
fn exclusive_prefix_list_is_rendered_inclusively() {
    let opts = C14nOptions {
        method: Method::Exclusive {
            inclusive_prefixes: vec!["n0".into(), "#default".into(), "absent".into()],
        },
        with_comments: false,
    };
    assert_eq!(
        c14n(EXC_1, &opts, Some("elem2")),
        "<n1:elem2 xmlns:n0=\"foo:bar\" xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"></n3:stuff>\n  </n1:elem2>"
    );
}

#[test]
fn default_namespace_is_undeclared_only_where_it_was_rendered() {
    let input = r#"<a xmlns="urn:a"><b xmlns=""><c/></b></a>"#;
    assert_eq!(
        c14n(input, &C14nOptions::inclusive(), None),
        r#"<a xmlns="urn:a"><b xmlns=""><c></c></b></a>"#
    );
    assert_eq!(
        c14n(input, &C14nOptions::exclusive(), None),
        r#"<a xmlns="urn:a"><b xmlns=""><c></c></b></a>"#
    );
    // The subset's apex has no rendered default above it: no xmlns="" there.
    assert_eq!(
        c14n(input, &C14nOptions::exclusive(), Some("b")),
        "<b><c></c></b>"
    );
    assert_eq!(
        c14n(input, &C14nOptions::inclusive(), Some("b")),
        "<b><c></c></b>"
    );
}

#[test]
fn superfluous_and_redeclared_namespaces() {
    // A declaration repeated with the same value is rendered once; a changed value again.
    let input = r#"<p:a xmlns:p="urn:1" xmlns:unused="urn:u"><p:b xmlns:p="urn:1"><p:c xmlns:p="urn:2"/></p:b></p:a>"#;
    assert_eq!(
        c14n(input, &C14nOptions::exclusive(), None),
        r#"<p:a xmlns:p="urn:1"><p:b><p:c xmlns:p="urn:2"></p:c></p:b></p:a>"#
    );
    assert_eq!(
        c14n(input, &C14nOptions::inclusive(), None),
        r#"<p:a xmlns:p="urn:1" xmlns:unused="urn:u"><p:b><p:c xmlns:p="urn:2"></p:c></p:b></p:a>"#
    );
}

#[test]
fn attribute_prefixes_are_visibly_utilised_and_sorting_is_by_namespace_uri() {
    let input = r#"<r xmlns:z="urn:a" xmlns:y="urn:b"><e y:k="1" z:k="2" b="3" a="4"/></r>"#;
    assert_eq!(
        c14n(input, &C14nOptions::exclusive(), Some("e")),
        r#"<e xmlns:y="urn:b" xmlns:z="urn:a" a="4" b="3" z:k="2" y:k="1"></e>"#
    );
}

#[test]
fn kanta_timestamp_shape() {
    // interface.md §4.2: the timestamp canonicalises with its inherited default namespace.
    let input = r#"<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:hl7fi="urn:hl7finland"><hl7fi:signature><signatureTimestamp xmlns="urn:hl7finland" ID="ts1">2026-07-17T10:06:56Z</signatureTimestamp></hl7fi:signature></ClinicalDocument>"#;
    assert_eq!(
        c14n(input, &C14nOptions::exclusive(), Some("signatureTimestamp")),
        r#"<signatureTimestamp xmlns="urn:hl7finland" ID="ts1">2026-07-17T10:06:56Z</signatureTimestamp>"#
    );
}

/// Escaping looks at the text 64 bytes at a time: characters to escape at either side of a
/// chunk's edge, several in one chunk and none at all come out as the recommendation
/// writes them (§2.3: `&amp;`, `&lt;`, `&gt;`, `&#xD;` in text; `&quot;`, `&#x9;`,
/// `&#xA;`, `&#xD;` too in attributes).
#[test]
fn escaping_is_the_same_at_every_position_of_the_text() {
    for at in [0usize, 1, 62, 63, 64, 65, 127, 128, 129, 190] {
        let pad = |n: usize| "x".repeat(n);
        let (text_in, text_out) = (
            format!("{}&amp;&lt;&gt;&#13;{}y", pad(at), pad(70)),
            format!("{}&amp;&lt;&gt;&#xD;{}y", pad(at), pad(70)),
        );
        let (attr_in, attr_out) = (
            format!("{}&quot;&#9;&#10;&#13;&lt;&amp;{}", pad(at), pad(3)),
            format!("{}&quot;&#x9;&#xA;&#xD;&lt;&amp;{}", pad(at), pad(3)),
        );
        let input = format!("<doc a=\"{attr_in}\">{text_in}</doc>");
        let expected = format!("<doc a=\"{attr_out}\">{text_out}</doc>");
        for method in [
            Method::Inclusive,
            Method::Exclusive {
                inclusive_prefixes: Vec::new(),
            },
        ] {
            let opts = C14nOptions {
                method,
                with_comments: false,
            };
            assert_eq!(c14n(&input, &opts, None), expected, "at {at}");
        }
    }
    let plain = "b".repeat(1000);
    let opts = with_comments(Method::Inclusive);
    assert_eq!(
        c14n(&format!("<doc>{plain}</doc>"), &opts, None),
        format!("<doc>{plain}</doc>")
    );
}

/// Canonical bytes of a DOM built from a prepared text (the display form's base64 taken out
/// first) equal those of the DOM of the whole text: the hand-written CDA templates (the
/// base64 after a comment, on its own indented line) and runs with references and line
/// ends, by every method, with and without comments, every reformatting, every subtree.
#[test]
fn a_prepared_dom_canonicalizes_as_the_whole_text() {
    use super::c14n::{Reformatting, canonicalize_lifted};
    use crate::xml::{NOTHING_LIFTED, Prepared};
    // As `document::CDA_LIFTED_TEXTS`: the display form, the structured form, and the
    // signature's certificate and value (`SIGNATURE_TEXTS`).
    const LIFTS: &[&[&str]] = &[
        &["nonXMLBody", "text"],
        &["nonXMLBody", "json"],
        super::SIGNATURE_TEXTS[0],
        super::SIGNATURE_TEXTS[1],
    ];
    let b64 =
        "PGRpdiBjbGFzcz0ic29jLWRvY3VtZW50IiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMTk5OS94aHRtbCI+"
            .repeat(40);
    // The display form's base64 long enough to be taken out; every other placeholder a
    // value that fits an attribute or a text.
    let fill = |t: &str| {
        let mut out = t
            .replace("{{DISPLAY_B64}}", &b64)
            .replace("{{JSON_B64}}", &b64)
            .replace("{{CASE_NULL_FLAVOR}}", "");
        while let Some(start) = out.find("{{") {
            let end = out[start..].find("}}").map_or(out.len(), |e| start + e + 2);
            out.replace_range(start..end, "x1");
        }
        out
    };
    let mut texts = vec![
        fill(include_str!("../../tests/conformance/cda-sp1.xml")),
        fill(include_str!("../../tests/conformance/cda-sp17.xml")),
    ];
    for run in [
        format!("{b64}&#13;\n{b64}&#13;\n"),
        format!("\r\n{b64}&amp;&lt;&gt;&quot;&apos;&#x41;&#9;\r\n  "),
        format!("{b64}<!-- between -->{b64}<?pi x?>{b64}"),
    ] {
        texts.push(format!(
            "<d xmlns=\"urn:hl7-org:v3\" xmlns:e=\"urn:e\"><component><nonXMLBody ID=\"b\"><text e:a=\"1\">{run}</text></nonXMLBody></component></d>"
        ));
    }
    // A signature as signers write it (the base64 wrapped, lines ended by `&#13;` or not),
    // alone and inside a document whose body is taken out too.
    let signature = format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo><ds:Reference URI=\"\"><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>\n{b64}&#13;\n{b64}\n</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>"
    );
    texts.push(signature.clone());
    texts.push(format!(
        "<d xmlns=\"urn:hl7-org:v3\"><component><nonXMLBody><text>{b64}</text></nonXMLBody></component>{signature}</d>"
    ));
    let limits = Limits::default();
    for text in &texts {
        let normalized = crate::xml::normalize_line_ends(text);
        let whole = parse(&normalized, &limits).unwrap();
        let prepared = Prepared::lifting(text, &limits, LIFTS).unwrap();
        assert!(!prepared.lifted().is_empty(), "nothing taken out of {text}");
        if text.contains("ClinicalDocument") {
            // Both forms of the templates.
            assert!(prepared.lifted().taken_bytes() >= 2 * b64.len(), "{text}");
        }
        if text.contains("X509Certificate") {
            // The signature's value and certificate.
            assert!(prepared.lifted().taken_bytes() >= 3 * b64.len(), "{text}");
        }
        let dom = prepared.parse(&limits).unwrap();
        let apexes: Vec<_> = std::iter::once((None, None))
            .chain(
                whole
                    .descendants()
                    .filter(|n| n.is_element())
                    .zip(dom.descendants().filter(|n| n.is_element()))
                    .map(|(a, b)| (Some(a), Some(b))),
            )
            .collect();
        let methods = [
            Method::Inclusive,
            Method::Exclusive {
                inclusive_prefixes: Vec::new(),
            },
        ];
        for method in methods {
            for with_comments in [false, true] {
                let opts = C14nOptions {
                    method: method.clone(),
                    with_comments,
                };
                for r in [
                    Reformatting::None,
                    Reformatting::DropIndentation,
                    Reformatting::DropIndentationAndTrim,
                    Reformatting::DropCarriageReturns,
                ] {
                    for (a, b) in &apexes {
                        let expected =
                            canonicalize_lifted(&whole, &NOTHING_LIFTED, *a, None, &opts, r);
                        let got = canonicalize_lifted(&dom, prepared.lifted(), *b, None, &opts, r);
                        assert!(
                            expected == got,
                            "{opts:?} {r:?} at {:?}",
                            a.map(|n| n.tag_name().name())
                        );
                    }
                }
            }
        }
    }
}
