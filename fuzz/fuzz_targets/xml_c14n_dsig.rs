//! Parse + canonicalize (both methods, whole document and every ID'd subtree) + verify,
//! on arbitrary bytes. Nothing may panic, loop or blow the stack; canonical output must
//! re-parse and be stable. A text prepared with the body forms' and the signature's base64
//! taken out (`xml::Prepared`) must be refused exactly when the whole text is, canonicalize
//! to the same bytes and verify the same. `root_of` (which reads a plain document in a pass of its own) must
//! answer exactly as `parse` does.
#![no_main]

use kanta_sim::document::{CDA_LIFTED_TEXTS, KANTA_COVERAGE};
use kanta_sim::xml::{Lifted, Limits, NOTHING_LIFTED, Prepared, RootFacts, normalize_line_ends, parse, parse_bytes, root_of};
use kanta_sim::xmldsig::c14n::{C14nOptions, Reformatting, canonicalize, canonicalize_lifted};
use kanta_sim::xmldsig::{DEFAULT_ID_ATTRIBUTES, VerifyOptions, verify_parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_nodes: 100_000,
        ..Limits::default()
    };
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(
            root_of(text, &limits).map_err(|e| e.to_string()),
            parse(text, &limits).map(|d| RootFacts::of(&d)).map_err(|e| e.to_string()),
            "root_of answers otherwise than parse"
        );
        let normalized = normalize_line_ends(text);
        let whole = parse(&normalized, &limits).map_err(|e| e.to_string());
        let prepared = Prepared::lifting(text, &limits, CDA_LIFTED_TEXTS);
        let dom = prepared.as_ref().map_err(|e| e.to_string()).and_then(|p| p.parse(&limits).map_err(|e| e.to_string()));
        match (&whole, &dom, &prepared) {
            (Ok(w), Ok(d), Ok(p)) => {
                for opts in [C14nOptions::inclusive(), C14nOptions::exclusive()] {
                    assert_eq!(
                        canonicalize(w, None, None, &opts),
                        canonicalize_lifted(d, p.lifted(), None, None, &opts, Reformatting::None),
                        "a prepared DOM canonicalizes differently"
                    );
                }
                let verify = |doc, lifted| format!("{:?}", verify_parsed(doc, &options(limits, lifted)));
                assert_eq!(verify(w, &NOTHING_LIFTED), verify(d, p.lifted()), "a prepared DOM verifies differently");
            }
            (Err(a), Err(b), _) => assert_eq!(a, b, "a prepared text is refused differently"),
            _ => panic!("prepared {:?} / whole {:?}", dom.as_ref().err(), whole.as_ref().err()),
        }
    }
    let Ok(doc) = parse_bytes(data, &limits) else { return };
    for opts in [C14nOptions::inclusive(), C14nOptions::exclusive()] {
        let once = canonicalize(&doc, None, None, &opts);
        let text = String::from_utf8(once.clone()).expect("canonical form is UTF-8");
        let again = kanta_sim::xml::parse(&text, &Limits::default()).expect("canonical form re-parses");
        assert_eq!(once, canonicalize(&again, None, None, &opts), "canonicalization is not idempotent");
        for node in doc.descendants().filter(|n| n.attribute("ID").is_some()).take(8) {
            let _ = canonicalize(&doc, Some(node), None, &opts);
        }
    }
    let _ = verify_parsed(&doc, &options(limits, &NOTHING_LIFTED));
});

/// Verification under the Kanta coverage rule, without trust, at a fixed time.
fn options(limits: Limits, lifted: &Lifted) -> VerifyOptions<'_> {
    VerifyOptions {
        id_attributes: &DEFAULT_ID_ATTRIBUTES,
        trust: None,
        now: time::OffsetDateTime::UNIX_EPOCH,
        coverage: Some(&KANTA_COVERAGE),
        limits,
        keep_canonical: false,
        lifted,
    }
}
