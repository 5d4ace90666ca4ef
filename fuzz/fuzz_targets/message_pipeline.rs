//! The whole archive pipeline (`process_message`: SOAP → HL7 wrapper → frame → MIME → CDA →
//! every rule class and the signature check) on arbitrary bytes, with the built-in profile,
//! the bundled register and code lists, no trust anchors, and a generous time budget.
//! Nothing may panic; every refusal must carry at least one finding.
#![no_main]

use kanta_sim::identity::SoteRegister;
use kanta_sim::rules::codes::CodeLists;
use kanta_sim::pipeline::{ArchiveProfile, process_message};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn profile() -> &'static ArchiveProfile {
    static P: OnceLock<ArchiveProfile> = OnceLock::new();
    P.get_or_init(|| {
        let mut cfg = kanta_sim::config::Config::builtin().expect("built-in config");
        cfg.server.max_body_bytes = 1 << 20;
        ArchiveProfile::new(
            &cfg,
            SoteRegister::bundled().expect("bundled register"),
            CodeLists::bundled().expect("bundled code lists"),
        )
    })
}

fuzz_target!(|data: &[u8]| {
    let ctx = profile().context(
        None,
        Some("1.2.246.10.99900016.10.0"),
        time::OffsetDateTime::UNIX_EPOCH,
    );
    // An envelope refusal carries its finding by construction; an acknowledgement other
    // than AA must carry at least one.
    if let Ok(out) = process_message(data, &ctx)
        && out.ack != kanta_sim::message::ack::AckCode::AA
    {
        assert!(!out.findings.is_empty(), "a refusal without a finding");
    }
});
