//! Parse + canonicalize (both methods, whole document and every ID'd subtree) + verify,
//! on arbitrary bytes. Nothing may panic, loop or blow the stack; canonical output must
//! re-parse and be stable.
#![no_main]

use kanta_sim::xml::{Limits, parse_bytes};
use kanta_sim::xmldsig::c14n::{C14nOptions, canonicalize};
use kanta_sim::document::KANTA_COVERAGE;
use kanta_sim::xmldsig::{DEFAULT_ID_ATTRIBUTES, VerifyOptions, verify_parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_bytes: 1 << 20,
        max_nodes: 100_000,
        ..Limits::default()
    };
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
    let _ = verify_parsed(
        &doc,
        &VerifyOptions {
            id_attributes: &DEFAULT_ID_ATTRIBUTES,
            trust: None,
            now: time::OffsetDateTime::UNIX_EPOCH,
            coverage: Some(&KANTA_COVERAGE),
            limits,
            keep_canonical: false,
        },
    );
});
