//! `kanta-sim dsig verify|sign`: the tools suppliers lack when a digest does not match.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::{Failure, exit};
use crate::document::{KANTA_COVERAGE, SignatureType, clinical_document, sign_kanta_document};
use crate::pki::{Index, TrustStore};
use crate::xml::{Limits, NOTHING_LIFTED, parse};
use crate::xmldsig::c14n::{C14nOptions, canonicalize};
use crate::xmldsig::{
    CoveragePolicy, DEFAULT_ID_ATTRIBUTES, Signer, VerifyOptions, VerifyReport, new_signature_id,
    verify_parsed,
};

/// `kanta-sim dsig …`.
#[derive(Debug, Subcommand)]
pub(super) enum DsigCommand {
    /// Verify every signature, printing for each reference the canonical form's length and
    /// hash, the stated and computed digests, and the verdict (exit 0 only when all verify).
    Verify(VerifyArgs),
    /// Add a Kanta-shaped signature to a CDA (the reference client's signing).
    Sign(SignArgs),
}

/// `kanta-sim dsig verify`.
#[derive(Debug, Args)]
pub(super) struct VerifyArgs {
    /// Trust material: a kit directory (INDEX.json) or PEM files of trust anchors. Without
    /// it, `certs/generated` is used when present; otherwise certificates are not checked.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Attribute names that carry IDs.
    #[arg(long = "id-attr", default_values_t = DEFAULT_ID_ATTRIBUTES.map(String::from))]
    id_attributes: Vec<String>,
    /// Do not apply the Kanta coverage rule even when the document is a CDA.
    #[arg(long)]
    no_kanta_rule: bool,
    /// Write the canonical bytes of every SignedInfo and Reference into this directory.
    #[arg(long)]
    dump: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The signed file.
    file: PathBuf,
}

/// `kanta-sim dsig sign`.
#[derive(Debug, Args)]
pub(super) struct SignArgs {
    /// Kit directory to take the signer from (with --role).
    #[arg(long, default_value = "certs/generated")]
    certs: PathBuf,
    /// Kit role of the signer, e.g. `system-signature:1.2.246.10.99900016.10.0` or
    /// `professional:99900000011`.
    #[arg(long, conflicts_with_all = ["cert", "key"])]
    role: Option<String>,
    /// Signer certificate (PEM), instead of a kit role.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Signer private key (PKCS#8 PEM).
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Signature type (signatureDescription).
    #[arg(long = "type", value_enum, default_value_t = SignatureType::System)]
    kind: SignatureType,
    /// Output file (default: standard output).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The CDA to sign.
    file: PathBuf,
}

pub(super) fn read(file: &Path) -> Result<String, Failure> {
    let bytes = std::fs::read(file)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", file.display())))?;
    String::from_utf8(bytes).map_err(|e| {
        Failure::usage(format!(
            "{} is not UTF-8 (byte {})",
            file.display(),
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Trust material from `--trust` arguments (kit directories or PEM anchor files).
pub(super) fn load_trust(args: &[PathBuf]) -> Result<Option<(TrustStore, String)>, Failure> {
    let default = PathBuf::from("certs/generated");
    let given: Vec<PathBuf> = if args.is_empty() && default.join("INDEX.json").is_file() {
        vec![default]
    } else {
        args.to_vec()
    };
    if given.is_empty() {
        return Ok(None);
    }
    let mut files = crate::pki::KitTrustFiles::default();
    for p in &given {
        if p.is_dir() {
            let kit = Index::load(p).map_err(Failure::usage)?.trust_files(p);
            files.anchors.extend(kit.anchors);
            files.intermediates.extend(kit.intermediates);
            files.crls.extend(kit.crls);
        } else {
            files.anchors.push(p.clone());
        }
    }
    if files.anchors.is_empty() {
        return Err(Failure::usage("the trust material names no root-ca"));
    }
    let store = TrustStore::load(&files.anchors, &files.intermediates, &files.crls)
        .map_err(Failure::usage)?;
    let described = given
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    Ok(Some((store, described)))
}

/// A short name for an algorithm URI, for the readable report.
fn short_alg(uri: &str) -> &str {
    use crate::xmldsig::algorithms as a;
    match uri {
        a::EXC_C14N => "exc-c14n",
        a::EXC_C14N_WITH_COMMENTS => "exc-c14n#WithComments",
        a::C14N => "c14n",
        a::C14N_WITH_COMMENTS => "c14n#WithComments",
        a::ENVELOPED => "enveloped-signature",
        "" => "(missing)",
        other => other
            .rsplit(['#', '/'])
            .find(|s| !s.is_empty())
            .unwrap_or(other),
    }
}

fn describe(report: &VerifyReport, trust: Option<&str>) -> String {
    let mut s = String::new();
    if report.coverage.is_some() {
        let _ = writeln!(
            s,
            "Kanta CDA: the coverage rule applies (each signature must cover the archived nonXMLBody and its own signatureTimestamp)"
        );
    }
    match trust {
        Some(t) => {
            let _ = writeln!(s, "Trust: {t}");
        }
        None => {
            let _ = writeln!(
                s,
                "Trust: none given (pass --trust KIT_DIR or anchors); signer certificates are NOT checked"
            );
        }
    }
    for p in &report.problems {
        let _ = writeln!(s, "{}  {p}", p.code());
    }
    for sig in &report.signatures {
        let _ = writeln!(
            s,
            "\nSignature {} at {}{}",
            sig.number,
            sig.path,
            sig.id
                .as_deref()
                .map(|i| format!(" (Id {i})"))
                .unwrap_or_default()
        );
        if let Some(t) = &sig.signature_type {
            let name = match t.as_str() {
                "1" => "professional signature",
                "3" => "system signature",
                _ => "unknown type",
            };
            let _ = writeln!(s, "  type:          {t} ({name})");
        }
        if let Some(c) = &sig.signer {
            let _ = writeln!(s, "  signer:        {} [{}]", c.subject, c.key);
        }
        if let Some(t) = &sig.signing_time {
            let _ = writeln!(s, "  signed at:     {t}");
        }
        let _ = writeln!(
            s,
            "  SignedInfo:    {} → {} bytes, SHA-256 {}",
            short_alg(&sig.canonicalization),
            sig.signed_info_len,
            sig.signed_info_sha256
        );
        for r in &sig.references {
            let _ = writeln!(
                s,
                "  Reference {:?} → {}",
                r.uri,
                r.target.as_deref().unwrap_or("(unresolved)")
            );
            let _ = writeln!(
                s,
                "    transforms:  {}",
                if r.transforms.is_empty() {
                    "(none: inclusive C14N)".into()
                } else {
                    r.transforms
                        .iter()
                        .map(|t| short_alg(t))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            let _ = writeln!(
                s,
                "    canonical:   {} bytes, SHA-256 {}",
                r.canonical_len, r.canonical_sha256
            );
            let _ = writeln!(
                s,
                "    digest:      {} stated   {}",
                short_alg(&r.digest_method),
                r.stated_digest
            );
            let _ = writeln!(
                s,
                "                 computed {}  {}",
                r.computed_digest.as_deref().unwrap_or("(not computed)"),
                if r.digest_ok { "OK" } else { "MISMATCH" }
            );
            if let Some(cause) = &r.cause {
                let _ = writeln!(s, "    why:         {cause}");
            }
        }
        let _ = writeln!(
            s,
            "  SignatureValue: {} ({})",
            if sig.signature_value_ok {
                "OK"
            } else {
                "does NOT verify"
            },
            short_alg(&sig.signature_method)
        );
        for p in &sig.problems {
            let _ = writeln!(s, "  {}  {p}", p.code());
        }
        let _ = writeln!(
            s,
            "  verdict:       {}",
            if sig.is_valid() { "VALID" } else { "INVALID" }
        );
    }
    let _ = writeln!(
        s,
        "\n{}",
        if report.is_valid() {
            "All signatures verify."
        } else {
            "Verification FAILED."
        }
    );
    s
}

/// Runs `dsig verify`.
pub(super) fn verify(args: VerifyArgs) -> Result<u8, Failure> {
    let text = read(&args.file)?;
    let trust = load_trust(&args.trust)?;
    let failed = |e: crate::xml::XmlError| Failure::failed(format!("{}: {e}", args.file.display()));
    let prepared =
        crate::xml::Prepared::new(&text, &Limits::default(), crate::message::CARRIED_TEXT)
            .map_err(failed)?;
    let outer = prepared.parse(&Limits::default()).map_err(failed)?;
    // A message carrying a CDA in its MIME entity: verify the CDA as it will be archived.
    let carried = if clinical_document(&outer).is_none() {
        crate::message::carried_cda(
            &outer,
            prepared.lifted(),
            &crate::message::mime::MimeLimits::default(),
        )
        .map_err(|e| Failure::failed(format!("{}: {e}", args.file.display())))?
    } else {
        None
    };
    let carried_text = match carried {
        Some(crate::message::CarriedCda {
            bytes,
            content_id: cid,
            ..
        }) => {
            if !args.json {
                outln!(
                    "CDA taken from the message's clinicalDocument/text MIME part (Content-ID {})",
                    cid.as_deref().unwrap_or("absent")
                );
            }
            Some(String::from_utf8(bytes).map_err(|e| {
                Failure::failed(format!(
                    "the carried CDA is not UTF-8 (byte {})",
                    e.utf8_error().valid_up_to()
                ))
            })?)
        }
        None => None,
    };
    let doc = match &carried_text {
        Some(t) => parse(t, &Limits::default())
            .map_err(|e| Failure::failed(format!("carried CDA: {e}")))?,
        None => outer,
    };
    let names: Vec<&str> = args.id_attributes.iter().map(String::as_str).collect();
    let report = verify_parsed(
        &doc,
        &VerifyOptions {
            id_attributes: &names,
            trust: trust.as_ref().map(|(t, _)| t),
            now: time::OffsetDateTime::now_utc(),
            coverage: (!args.no_kanta_rule).then_some(&KANTA_COVERAGE as &dyn CoveragePolicy),
            limits: Limits::default(),
            keep_canonical: args.dump.is_some(),
            lifted: &NOTHING_LIFTED,
        },
    );
    if let Some(dir) = &args.dump {
        dump(&doc, &report, dir)?;
    }
    if args.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(Failure::internal)?
        );
    } else {
        out!(
            "{}",
            describe(&report, trust.as_ref().map(|(_, d)| d.as_str()))
        );
    }
    Ok(if report.is_valid() {
        exit::OK
    } else {
        exit::FAILED
    })
}

fn dump(doc: &roxmltree::Document<'_>, report: &VerifyReport, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::usage(format!("{}: {e}", dir.display())))?;
    let write = |name: String, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| Failure::usage(format!("{}: {e}", p.display())))
    };
    let signed_infos: Vec<_> = doc
        .descendants()
        .filter(|n| {
            n.tag_name().namespace() == Some(crate::xmldsig::algorithms::DSIG_NS)
                && n.tag_name().name() == "SignedInfo"
        })
        .collect();
    for sig in &report.signatures {
        for (i, r) in sig.references.iter().enumerate() {
            write(
                format!("signature-{}-reference-{}.c14n", sig.number, i + 1),
                &r.canonical,
            )?;
        }
        if let Some(si) = signed_infos.get(sig.number - 1) {
            let method = if sig
                .canonicalization
                .starts_with(crate::xmldsig::algorithms::EXC_C14N)
            {
                C14nOptions::exclusive()
            } else {
                C14nOptions::inclusive()
            };
            write(
                format!("signature-{}-signedinfo.c14n", sig.number),
                &canonicalize(doc, Some(*si), None, &method),
            )?;
        }
    }
    eprintln!("canonical forms written to {}", dir.display());
    Ok(())
}

/// Runs `dsig sign`.
pub(super) fn sign(args: SignArgs) -> Result<u8, Failure> {
    let text = read(&args.file)?;
    let signer = match (&args.role, &args.cert, &args.key) {
        (Some(role), _, _) => Signer::from_kit(&args.certs, role),
        (None, Some(c), Some(k)) => Signer::from_pem_files(c, k),
        _ => {
            return Err(Failure::usage(
                "give --role ROLE (with --certs DIR) or --cert FILE --key FILE",
            ));
        }
    }
    .map_err(Failure::usage)?;
    let signed = sign_kanta_document(
        &text,
        &signer,
        args.kind,
        time::OffsetDateTime::now_utc(),
        &new_signature_id(),
    )
    .map_err(|e| Failure::failed(format!("{}: {e}", args.file.display())))?;
    match &args.out {
        Some(p) => std::fs::write(p, signed)
            .map_err(|e| Failure::usage(format!("{}: {e}", p.display())))?,
        None => out!("{signed}"),
    }
    Ok(exit::OK)
}
