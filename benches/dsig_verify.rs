//! Verifying realistic signed Kanta documents of about 20 KB and 1 MB, in process: parse +
//! Kanta coverage + both digests + RSA-SHA256 + signer chain at signing time and receipt.
//! `scripts/bench-dsig.py` runs the same corpus through `xmlsec1 --verify` for the ratio.
//!
//!   cargo bench --bench dsig_verify [-- --write-corpus DIR]

use std::path::PathBuf;
use std::time::Instant;

use kanta_sim::document::sample::SampleDocument;
use kanta_sim::document::{SignatureType, kanta_verify_options, sign_kanta_document};
use kanta_sim::pki::{GenerateOptions, TrustStore, generate_kit};
use kanta_sim::xml::{Limits, parse};
use kanta_sim::xmldsig::c14n::{C14nOptions, canonicalize};
use kanta_sim::xmldsig::{Signer, verify_document};
use time::OffsetDateTime;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let corpus_dir = args
        .iter()
        .position(|a| a == "--write-corpus")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let kit = corpus_dir
        .clone()
        .map(|d| d.join("kit"))
        .unwrap_or_else(|| tmp.path().join("kit"));
    generate_kit(&GenerateOptions {
        force: true,
        ..GenerateOptions::new(kit.clone()).unwrap()
    })
    .unwrap();
    let signer = Signer::from_kit(&kit, "system-signature:1.2.246.10.99900016.10.0").unwrap();
    let trust = TrustStore::from_kit(&kit).unwrap();

    println!("kanta-sim dsig verify, in process (median of N runs)");
    for (label, body_bytes, runs) in [("20 KB", 12_500, 300), ("1 MB", 747_000, 30)] {
        let doc = SampleDocument {
            body_bytes,
            ..SampleDocument::default()
        }
        .to_xml();
        let signed = sign_kanta_document(
            &doc,
            &signer,
            SignatureType::System,
            OffsetDateTime::now_utc(),
            "sig_bench",
        )
        .unwrap();
        if let Some(dir) = &corpus_dir {
            std::fs::write(
                dir.join(format!("signed-{}.xml", label.replace(' ', ""))),
                &signed,
            )
            .unwrap();
        }
        let opts = kanta_verify_options(Some(&trust));
        let mut verify = Vec::with_capacity(runs);
        let mut c14n = Vec::with_capacity(runs);
        for _ in 0..runs {
            let t = Instant::now();
            let r = verify_document(&signed, &opts).unwrap();
            verify.push(t.elapsed().as_secs_f64());
            assert!(r.is_valid());
            let d = parse(&signed, &Limits::default()).unwrap();
            let t = Instant::now();
            std::hint::black_box(canonicalize(&d, None, None, &C14nOptions::exclusive()));
            c14n.push(t.elapsed().as_secs_f64());
        }
        let v = median(verify);
        let c = median(c14n);
        let mb = signed.len() as f64 / 1e6;
        println!(
            "  {label:>5} ({} bytes): verify {:8.3} ms ({:6.1} MB/s); exc-c14n of the whole document {:8.3} ms ({:6.1} MB/s)",
            signed.len(),
            v * 1e3,
            mb / v,
            c * 1e3,
            mb / c
        );
    }
}
