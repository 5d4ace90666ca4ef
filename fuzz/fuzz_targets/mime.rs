//! The MIME multipart/related reader on arbitrary text: nothing may panic, the limits hold
//! (no more parts than allowed), and a refusal names its M rule.
#![no_main]

use kanta_sim::message::mime::{MimeLimits, parse_related};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = MimeLimits::default();
    match parse_related(text, &limits) {
        Ok(entity) => assert!(entity.parts.len() <= limits.max_parts),
        Err(e) => assert_eq!(e.code().class(), 'M'),
    }
});
