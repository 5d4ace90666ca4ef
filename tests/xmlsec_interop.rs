//! Interoperability with the C reference (libxml2's xmllint for canonicalization, xmlsec1
//! for signatures), both ways. CI installs xmlsec1 and libxml2-utils; elsewhere the tests
//! skip with a note when the tools are missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kanta_sim::document::sample::SampleDocument;
use kanta_sim::document::{CDA_LIFTED_TEXTS, KANTA_COVERAGE, SignatureType, sign_kanta_document};
use kanta_sim::pki::{GenerateOptions, Index, TrustStore, generate_kit};
use kanta_sim::xml::{Limits, Prepared, parse};
use kanta_sim::xmldsig::c14n::{C14nOptions, Method, canonicalize};
use kanta_sim::xmldsig::{
    CoveragePolicy, Signer, VerifyOptions, VerifyReport, verify_document, verify_parsed,
};
use time::OffsetDateTime;

struct Kit {
    dir: PathBuf,
    index: Index,
}

fn kit() -> &'static Kit {
    static KIT: OnceLock<Kit> = OnceLock::new();
    KIT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("kit-xmlsec-{}", std::process::id()));
        let index = generate_kit(&GenerateOptions {
            force: true,
            ..GenerateOptions::new(dir.clone()).unwrap()
        })
        .unwrap();
        Kit { dir, index }
    })
}

fn file(role: &str) -> PathBuf {
    kit().dir.join(&kit().index.get(role).unwrap().cert)
}

fn key(role: &str) -> PathBuf {
    kit()
        .dir
        .join(kit().index.get(role).unwrap().key.as_ref().unwrap())
}

const SYSTEM: &str = "system-signature:1.2.246.10.99900016.10.0";

/// Runs a tool; `None` (skip) when it is not installed outside CI.
fn tool(name: &str, args: &[&str]) -> Option<Output> {
    match Command::new(name).args(args).output() {
        Ok(o) => Some(o),
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{name} is required in CI: {e}"
            );
            eprintln!("skipping: {name} not available ({e})");
            None
        }
    }
}

fn tmp_file(name: &str, contents: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("xmlsec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

fn ours(input: &str, method: Method) -> String {
    let doc = parse(input, &Limits::default()).unwrap();
    String::from_utf8(canonicalize(
        &doc,
        None,
        None,
        &C14nOptions {
            method,
            with_comments: true,
        },
    ))
    .unwrap()
}

const NAMESPACE_HEAVY: [&str; 5] = [
    "<n0:local xmlns:n0=\"foo:bar\" xmlns:n3=\"ftp://example.org\"><!-- c -->\n  <n1:elem2 xmlns:n1=\"http://example.net\" xml:lang=\"en\">\n    <n3:stuff xmlns:n3=\"ftp://example.org\"/>\n  </n1:elem2>\n</n0:local>",
    "<a xmlns=\"urn:a\" xmlns:b=\"urn:b\" b:z=\"1\" y=\"2\"><b:c xmlns=\"\"><d xmlns:e=\"urn:e\" e:f=\"&amp;&lt;&quot;&#9;\">t&gt;&#13;</d></b:c><g xmlns=\"urn:a\"/></a>",
    "<?pi data?><r xmlns:p=\"urn:1\" xmlns:q=\"urn:1\"><p:x q:a=\"1\" p:b=\"2\"/><q:x xmlns:p=\"urn:2\"><p:y/></q:x></r><!-- after -->",
    "<e5 a:attr=\"out\" b:attr=\"sorted\" attr2=\"all\" attr=\"I'm\" xmlns:b=\"http://www.ietf.org\" xmlns:a=\"http://www.w3.org\" xmlns=\"http://example.org\"><e6 xmlns=\"\" xmlns:a=\"http://www.w3.org\"><e7 xmlns=\"http://www.ietf.org\"/></e6></e5>",
    "<doc xml:lang=\"fi\" xml:space=\"preserve\"><x xml:lang=\"sv\">å ä ö € 𝄞</x><![CDATA[<raw> & ]]></doc>",
];

#[test]
fn canonical_forms_equal_libxml2() {
    let mut inputs: Vec<String> = NAMESPACE_HEAVY.iter().map(|s| (*s).to_owned()).collect();
    let signed = sign_kanta_document(
        &SampleDocument::default().to_xml(),
        &Signer::from_pem_files(&file(SYSTEM), &key(SYSTEM)).unwrap(),
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_1",
    )
    .unwrap();
    inputs.push(signed);
    for (i, input) in inputs.iter().enumerate() {
        let path = tmp_file(&format!("c14n-{i}.xml"), input);
        let Some(inc) = tool("xmllint", &["--c14n", path.to_str().unwrap()]) else {
            return;
        };
        assert!(
            inc.status.success(),
            "{}",
            String::from_utf8_lossy(&inc.stderr)
        );
        assert_eq!(
            ours(input, Method::Inclusive),
            String::from_utf8(inc.stdout).unwrap(),
            "inclusive, input {i}"
        );
        let exc = tool("xmllint", &["--exc-c14n", path.to_str().unwrap()]).unwrap();
        assert_eq!(
            ours(
                input,
                Method::Exclusive {
                    inclusive_prefixes: vec![]
                }
            ),
            String::from_utf8(exc.stdout).unwrap(),
            "exclusive, input {i}"
        );
    }
}

fn xmlsec_verify(path: &Path) -> Option<Output> {
    tool(
        "xmlsec1",
        &[
            "--verify",
            "--trusted-pem",
            file("root-ca").to_str().unwrap(),
            "--untrusted-pem",
            file("service-ca").to_str().unwrap(),
            "--id-attr:ID",
            "urn:hl7finland:signatureTimestamp",
            "--id-attr:ID",
            "urn:hl7-org:v3:nonXMLBody",
            path.to_str().unwrap(),
        ],
    )
}

fn verify_here(xml: &str, kanta: bool) -> VerifyReport {
    let trust = TrustStore::from_kit(&kit().dir).unwrap();
    verify_document(
        xml,
        &VerifyOptions {
            coverage: kanta.then_some(&KANTA_COVERAGE as &dyn CoveragePolicy),
            ..VerifyOptions::new(Some(&trust))
        },
    )
    .unwrap()
}

/// [`verify_here`] over a DOM built as the archive builds it: the body forms' and the
/// signature's base64 taken out of the text first. Also returns how many bytes were taken.
fn verify_prepared(xml: &str, kanta: bool) -> (VerifyReport, usize) {
    let trust = TrustStore::from_kit(&kit().dir).unwrap();
    let limits = Limits::default();
    let prepared = Prepared::lifting(xml, &limits, CDA_LIFTED_TEXTS).unwrap();
    let doc = prepared.parse(&limits).unwrap();
    let report = verify_parsed(
        &doc,
        &VerifyOptions {
            coverage: kanta.then_some(&KANTA_COVERAGE as &dyn CoveragePolicy),
            lifted: prepared.lifted(),
            ..VerifyOptions::new(Some(&trust))
        },
    );
    (report, prepared.lifted().taken_bytes())
}

/// The text of the first `<ds:{element}>` in `xml`, with one base64 character in its middle
/// changed.
fn flip_in(xml: &str, element: &str) -> String {
    let open = format!("<ds:{element}>");
    let a = xml.find(&open).unwrap() + open.len();
    let len = xml[a..].find('<').unwrap();
    let i = (a..a + len)
        .skip(len / 2)
        .find(|&i| xml.as_bytes()[i].is_ascii_alphabetic())
        .unwrap();
    let mut b = xml.as_bytes().to_vec();
    b[i] = if b[i] == b'B' { b'C' } else { b'B' };
    String::from_utf8(b).unwrap()
}

fn flip_body_byte(xml: &str) -> String {
    let i = xml.find("representation=\"B64\">").unwrap() + 40;
    let mut b = xml.as_bytes().to_vec();
    b[i] = if b[i] == b'B' { b'C' } else { b'B' };
    String::from_utf8(b).unwrap()
}

#[test]
fn signed_here_verifies_in_xmlsec1_and_a_changed_byte_fails_in_both() {
    let signer = Signer::from_pem_files(&file(SYSTEM), &key(SYSTEM)).unwrap();
    let signed = sign_kanta_document(
        &SampleDocument::default().to_xml(),
        &signer,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_1",
    )
    .unwrap();
    let path = tmp_file("ours.xml", &signed);
    let Some(o) = xmlsec_verify(&path) else {
        return;
    };
    assert!(
        o.status.success(),
        "xmlsec1 refused our signature:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );

    let tampered = flip_body_byte(&signed);
    let path = tmp_file("ours-tampered.xml", &tampered);
    assert!(
        !xmlsec_verify(&path).unwrap().status.success(),
        "xmlsec1 accepted a tampered document"
    );
    let r = verify_here(&tampered, true);
    assert_eq!(r.codes(), vec!["G-008"]);
}

/// A template: our signature with the values emptied and X509Data left for xmlsec1 to fill.
fn template(uri_body: &str, transforms: &str) -> String {
    let signer = Signer::from_pem_files(&file(SYSTEM), &key(SYSTEM)).unwrap();
    let signed = sign_kanta_document(
        &SampleDocument::default().to_xml(),
        &signer,
        SignatureType::System,
        OffsetDateTime::now_utc(),
        "sig_t",
    )
    .unwrap();
    let cut = |s: &str, open: &str, close: &str, with: &str| {
        let a = s.find(open).unwrap() + open.len();
        let b = a + s[a..].find(close).unwrap();
        format!("{}{with}{}", &s[..a], &s[b..])
    };
    let mut t = signed;
    for _ in 0..2 {
        t = t.replacen("<ds:DigestValue>", "<ds:DigestValue/>\u{0}", 1);
        let a = t.find('\u{0}').unwrap();
        let b = a + t[a..].find("</ds:DigestValue>").unwrap() + "</ds:DigestValue>".len();
        t = format!("{}{}", &t[..a], &t[b..]);
    }
    t = cut(&t, "<ds:SignatureValue>", "</ds:SignatureValue>", "");
    t = cut(&t, "<ds:KeyInfo>", "</ds:KeyInfo>", "<ds:X509Data/>");
    t = t.replacen(
        "URI=\"#OID1.2.246.10.99900016.10.0.20260001\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>",
        &format!("URI=\"{uri_body}\"><ds:Transforms>{transforms}</ds:Transforms>"),
        1,
    );
    t
}

fn xmlsec_sign(tmpl: &str, name: &str) -> Option<String> {
    let path = tmp_file(name, tmpl);
    let out = path.with_extension("signed.xml");
    let keyspec = format!("{},{}", key(SYSTEM).display(), file(SYSTEM).display());
    let o = tool(
        "xmlsec1",
        &[
            "--sign",
            "--privkey-pem",
            &keyspec,
            "--id-attr:ID",
            "urn:hl7finland:signatureTimestamp",
            "--id-attr:ID",
            "urn:hl7-org:v3:nonXMLBody",
            "--output",
            out.to_str().unwrap(),
            path.to_str().unwrap(),
        ],
    )?;
    assert!(
        o.status.success(),
        "xmlsec1 --sign failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(std::fs::read_to_string(out).unwrap())
}

#[test]
fn signed_by_xmlsec1_verifies_here() {
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    let tmpl = template("#OID1.2.246.10.99900016.10.0.20260001", exc);
    let Some(signed) = xmlsec_sign(&tmpl, "tmpl-kanta.xml") else {
        return;
    };
    let r = verify_here(&signed, true);
    assert!(r.is_valid(), "{:?}\n{signed}", r.codes());
    let tampered = flip_body_byte(&signed);
    assert_eq!(verify_here(&tampered, true).codes(), vec!["G-008"]);

    // As the archive reads it, with the base64 xmlsec1 wrote (the body forms, the signature
    // value and the certificate, in its line lengths) taken out before the DOM: the same
    // verdicts, and a changed value or certificate is refused as in the whole DOM.
    let certificate = {
        let a = signed.find("<ds:X509Certificate>").unwrap();
        signed[a..].find("</ds:X509Certificate>").unwrap()
    };
    let (prepared, taken) = verify_prepared(&signed, true);
    assert!(prepared.is_valid(), "{:?}", prepared.codes());
    assert_eq!(format!("{prepared:?}"), format!("{r:?}"));
    let body_only = Prepared::lifting(
        &signed,
        &Limits::default(),
        kanta_sim::document::BODY_FORM_TEXTS,
    )
    .unwrap()
    .lifted()
    .taken_bytes();
    assert!(
        taken > body_only + certificate / 2,
        "{taken} vs {body_only}: the certificate was not taken out"
    );
    assert_eq!(verify_prepared(&tampered, true).0.codes(), vec!["G-008"]);
    for element in ["SignatureValue", "X509Certificate"] {
        let changed = flip_in(&signed, element);
        let whole = verify_here(&changed, true);
        assert!(!whole.is_valid(), "{element}");
        assert_eq!(
            verify_prepared(&changed, true).0.codes(),
            whole.codes(),
            "{element}"
        );
    }
    assert_eq!(
        verify_here(&flip_in(&signed, "SignatureValue"), true).codes(),
        vec!["G-009"]
    );

    // The same through the command line, and xmlsec1 itself agrees about the tampered copy.
    let good = tmp_file("xmlsec-signed.xml", &signed);
    let bad = tmp_file("xmlsec-signed-tampered.xml", &tampered);
    let cli = |f: &Path| {
        Command::new(env!("CARGO_BIN_EXE_kanta-sim"))
            .args([
                "dsig",
                "verify",
                "--trust",
                kit().dir.to_str().unwrap(),
                f.to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let o = cli(&good);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = cli(&bad);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(
        text.contains("G-008") && text.contains("stated") && text.contains("computed"),
        "{text}"
    );
    assert!(xmlsec_verify(&good).unwrap().status.success());
    assert!(
        !xmlsec_verify(&bad).unwrap().status.success(),
        "xmlsec1 accepted its own signature after tampering"
    );
}

#[test]
fn xmlsec1_enveloped_whole_document_signature_verifies_here() {
    // URI="" with enveloped-signature + exc-c14n and an InclusiveNamespaces prefix list:
    // the general XMLDSig paths, outside the Kanta coverage rule.
    let transforms = "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
        <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"><ec:InclusiveNamespaces xmlns:ec=\"http://www.w3.org/2001/10/xml-exc-c14n#\" PrefixList=\"hl7fi xsi\"/></ds:Transform>";
    let tmpl = template("", transforms);
    let Some(signed) = xmlsec_sign(&tmpl, "tmpl-enveloped.xml") else {
        return;
    };
    let r = verify_here(&signed, false);
    assert!(r.is_valid(), "{:?}", r.codes());
    let changed = signed.replacen(
        "<title>Asiakkuusasiakirja</title>",
        "<title>Asiakkuusasiakirja!</title>",
        1,
    );
    assert_eq!(verify_here(&changed, false).codes(), vec!["G-008"]);
    // Under the Kanta rule a whole-document reference is not what a Kanta signature covers.
    assert!(!verify_here(&signed, true).is_valid());
}
