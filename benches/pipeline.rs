//! The archive's work on one message, in process and without the transport or the store:
//! `process_message` over pre-signed ~35 KB archive messages carrying ~20 KB signed SP1
//! documents (the load generator's corpus), and its phases one by one, so a change to the
//! parser, the MIME reader or the signature check shows where it moved the cost. Each figure
//! is the median over the corpus; the whole-message figure is the baseline of the shares.
//!
//!   cargo bench --bench pipeline [-- --messages 200 --rounds 5]

use std::time::Instant;

use kanta_sim::config::Config;
use kanta_sim::document::CDA_LIFTED_TEXTS;
use kanta_sim::identity::SoteRegister;
use kanta_sim::message::build::signed_sp1_message;
use kanta_sim::message::mime::MimeLimits;
use kanta_sim::message::{CARRIED_TEXT, carried_cda};
use kanta_sim::pipeline::{ArchiveProfile, process_message};
use kanta_sim::pki::{GenerateOptions, TrustStore, generate_kit};
use kanta_sim::rules::codes::CodeLists;
use kanta_sim::xml::{Lifted, Prepared, decode_base64, normalize_line_ends, parse, root_of};
use kanta_sim::xmldsig::{VerifyOptions, verify_parsed};
use time::OffsetDateTime;

const ORG: &str = "1.2.246.10.99900016.10.0";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median seconds of `f` over every message, `rounds` times each.
fn time_each(messages: &[String], rounds: usize, mut f: impl FnMut(&str)) -> f64 {
    let mut v = Vec::with_capacity(messages.len() * rounds);
    for _ in 0..rounds {
        for m in messages {
            let t = Instant::now();
            f(m);
            v.push(t.elapsed().as_secs_f64());
        }
    }
    median(v)
}

fn main() {
    let n = arg("--messages", 200);
    let rounds = arg("--rounds", 5);
    let tmp = tempfile::tempdir().unwrap();
    let kit = tmp.path().join("kit");
    generate_kit(&GenerateOptions::new(kit.clone()).unwrap()).unwrap();
    let signer =
        kanta_sim::xmldsig::Signer::from_kit(&kit, &format!("system-signature:{ORG}")).unwrap();
    let trust = TrustStore::from_kit(&kit).unwrap();
    // The load generator's corpus (`kanta-sim load`'s default body size).
    let messages: Vec<String> = (0..n)
        .map(|i| {
            signed_sp1_message(
                &signer,
                ORG,
                &format!("{ORG}.2026.7.{i}"),
                &format!("7{i:06}"),
                12_500,
                &format!("sig_{i}"),
            )
            .unwrap()
        })
        .collect();
    let profile = ArchiveProfile::new(
        &Config::builtin().unwrap(),
        SoteRegister::bundled().unwrap(),
        CodeLists::bundled().unwrap(),
    );
    let now = OffsetDateTime::now_utc();
    let ctx = profile.context(Some(&trust), Some(ORG), now);
    let limits = ctx.validate.limits;
    let cdas: Vec<String> = messages
        .iter()
        .map(|m| {
            let norm = normalize_line_ends(m);
            let doc = parse(&norm, &limits).unwrap();
            String::from_utf8(
                carried_cda(&doc, &Lifted::default(), &MimeLimits::default())
                    .unwrap()
                    .unwrap()
                    .bytes,
            )
            .unwrap()
        })
        .collect();

    let whole = time_each(&messages, rounds, |m| {
        let o = process_message(m.as_bytes(), &ctx).unwrap();
        assert!(o.document.is_some(), "{:?}", o.findings);
    });
    let envelope = time_each(&messages, rounds, |m| {
        let p = Prepared::new(m, &limits, CARRIED_TEXT).unwrap();
        std::hint::black_box(p.parse(&limits).unwrap());
    });
    let envelope_whole_dom = time_each(&messages, rounds, |m| {
        let norm = normalize_line_ends(m);
        std::hint::black_box(parse(&norm, &limits).unwrap());
    });
    let mime = {
        let prepared: Vec<_> = messages
            .iter()
            .map(|m| Prepared::new(m, &limits, CARRIED_TEXT).unwrap())
            .collect();
        let parsed: Vec<_> = prepared.iter().map(|p| p.parse(&limits).unwrap()).collect();
        let mut v = Vec::new();
        for _ in 0..rounds {
            for (d, p) in parsed.iter().zip(&prepared) {
                let t = Instant::now();
                std::hint::black_box(carried_cda(d, p.lifted(), &MimeLimits::default()).unwrap());
                v.push(t.elapsed().as_secs_f64());
            }
        }
        median(v)
    };
    let cda_parse = time_each(&cdas, rounds, |c| {
        let p = Prepared::lifting(c, &limits, CDA_LIFTED_TEXTS).unwrap();
        std::hint::black_box(p.parse(&limits).unwrap());
    });
    let verify = {
        let prepared: Vec<_> = cdas
            .iter()
            .map(|c| Prepared::lifting(c, &limits, CDA_LIFTED_TEXTS).unwrap())
            .collect();
        let parsed: Vec<_> = prepared.iter().map(|p| p.parse(&limits).unwrap()).collect();
        let mut v = Vec::new();
        for _ in 0..rounds {
            for (d, p) in parsed.iter().zip(&prepared) {
                let opts = VerifyOptions {
                    now,
                    limits,
                    lifted: p.lifted(),
                    ..kanta_sim::document::kanta_verify_options(Some(&trust))
                };
                let t = Instant::now();
                let r = verify_parsed(d, &opts);
                v.push(t.elapsed().as_secs_f64());
                assert!(r.is_valid());
            }
        }
        median(v)
    };
    // Inside "the rest": the display form's check (base64, then its well-formedness and
    // root, vouched for without a DOM), measured on its own.
    let xhtmls: Vec<String> = cdas
        .iter()
        .map(|c| {
            let doc = parse(c, &limits).unwrap();
            let text = doc
                .descendants()
                .find(|n| n.has_tag_name((kanta_sim::document::HL7_NS, "text")))
                .and_then(|n| n.text())
                .unwrap();
            String::from_utf8(decode_base64(std::iter::once(text)).unwrap()).unwrap()
        })
        .collect();
    let display = time_each(&xhtmls, rounds, |x| {
        std::hint::black_box(root_of(x, &limits).unwrap());
    });
    let us = |s: f64| s * 1e6;
    println!(
        "kanta-sim pipeline, in process: {n} messages of {} bytes carrying {} byte documents, median of {rounds} rounds",
        messages[0].len(),
        cdas[0].len()
    );
    println!("{:44}{:>10}{:>10}", "", "µs", "share");
    for (label, s) in [
        ("process_message (whole, the baseline)", whole),
        ("  envelope: prepared (MIME text lifted) + DOM", envelope),
        ("  MIME entity + base64 to the CDA", mime),
        ("  CDA: prepared (base64 texts lifted) + DOM", cda_parse),
        ("  signature: C14N, digests, RSA, chain", verify),
        (
            "  the rest (rules, scans, outcome)",
            whole - envelope - mime - cda_parse - verify,
        ),
    ] {
        println!("{label:44}{:>10.1}{:>9.0}%", us(s), s / whole * 100.0);
    }
    println!(
        "{:44}{:>10.1}   ({} bytes of XHTML)",
        "  of the rest: display form well-formed (root_of)",
        us(display),
        xhtmls[0].len()
    );
    println!(
        "{:44}{:>10.1}   ({:.2}x the prepared envelope)",
        "envelope as one DOM (without lifting)",
        us(envelope_whole_dom),
        envelope_whole_dom / envelope
    );
}
