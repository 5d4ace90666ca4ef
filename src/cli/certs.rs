//! `kanta-sim certs`: generate the test PKI, inspect a certificate, print the profile.

use std::path::PathBuf;

use clap::Subcommand;

use super::{Failure, exit};
use crate::identity::SoteRegister;
use crate::pki::{self, CertInfo, GenerateOptions, Index, KeyAlgorithm, Purpose, TrustStore};

#[derive(Debug, Subcommand)]
pub(super) enum CertsCommand {
    /// Generate the whole test PKI (CAs, server, organisations, professionals, negative kit).
    Init {
        /// Output directory.
        #[arg(long, default_value = "certs/generated")]
        out: PathBuf,
        /// Replace an existing kit in the directory.
        #[arg(long)]
        force: bool,
        /// Key algorithm.
        #[arg(long, value_enum, default_value_t = KeyAlgorithm::Rsa2048)]
        key: KeyAlgorithm,
        /// Organisation register to issue certificates for (default: the bundled one).
        #[arg(long)]
        register: Option<PathBuf>,
    },
    /// Explain a certificate: subject fields, organisation OID or registration number, key,
    /// validity, usages, SAN, and whether the archive would accept it.
    Show {
        /// PEM or DER certificate file (a chain file: leaf first).
        file: PathBuf,
        /// Kit whose root, intermediates and CRL are the trust material.
        #[arg(long, default_value = "certs/generated")]
        certs: PathBuf,
        /// Extra trust anchors (PEM).
        #[arg(long)]
        trust: Vec<PathBuf>,
        /// Extra CRLs.
        #[arg(long)]
        crl: Vec<PathBuf>,
        /// What to check the certificate for (default: signing if it has nonRepudiation,
        /// otherwise client authentication).
        #[arg(long, value_enum)]
        purpose: Option<PurposeArg>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the documented profile of what `init` generates (certs/PROFILE.md).
    Profile,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(super) enum PurposeArg {
    ClientAuth,
    ServerAuth,
    Signing,
}

pub(super) fn run(c: CertsCommand) -> Result<u8, Failure> {
    match c {
        CertsCommand::Init {
            out,
            force,
            key,
            register,
        } => {
            let register = match register {
                Some(p) => SoteRegister::load(&p),
                None => SoteRegister::bundled(),
            }
            .map_err(Failure::usage)?;
            let started = std::time::Instant::now();
            let index = pki::generate_kit(&GenerateOptions {
                out: out.clone(),
                force,
                key,
                now: time::OffsetDateTime::now_utc(),
                register,
            })
            .map_err(|e| match e {
                pki::GenerateError::Exists(_) | pki::GenerateError::NotAKit(_) => Failure::usage(e),
                other => Failure::internal(other),
            })?;
            outln!(
                "wrote {} artefacts ({} keys) to {} in {:.1} s; see {}/INDEX.md",
                index.artefacts.len(),
                key.name(),
                out.display(),
                started.elapsed().as_secs_f64(),
                out.display()
            );
            Ok(exit::OK)
        }
        CertsCommand::Profile => {
            out!("{}", pki::profile_markdown());
            Ok(exit::OK)
        }
        CertsCommand::Show {
            file,
            certs,
            trust,
            crl,
            purpose,
            json,
        } => show(&file, &certs, &trust, &crl, purpose, json),
    }
}

fn show(
    file: &std::path::Path,
    kit: &std::path::Path,
    trust: &[PathBuf],
    crls: &[PathBuf],
    purpose: Option<PurposeArg>,
    json: bool,
) -> Result<u8, Failure> {
    let chain = pki::read_pem_certs(file).map_err(|e| {
        // A key file is the usual mix-up (the kit keeps X.pem beside X.key.pem).
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if text.contains("PRIVATE KEY-----") {
            let cert = file
                .to_string_lossy()
                .strip_suffix(".key.pem")
                .map(|stem| format!("{stem}.pem"));
            Failure::usage(format!(
                "{} holds a private key, not a certificate{}; a private key is never shown",
                file.display(),
                cert.map(|c| format!(" (its certificate is {c})"))
                    .unwrap_or_default()
            ))
        } else {
            Failure::usage(e)
        }
    })?;
    let leaf = chain
        .first()
        .ok_or_else(|| Failure::usage(format!("{}: no certificate", file.display())))?;
    let info =
        CertInfo::from_der(leaf).map_err(|e| Failure::usage(format!("{}: {e}", file.display())))?;
    let purpose = match purpose {
        Some(PurposeArg::ClientAuth) => Purpose::ClientAuth,
        Some(PurposeArg::ServerAuth) => Purpose::ServerAuth,
        Some(PurposeArg::Signing) => Purpose::DocumentSigning,
        None if info.key_usage.iter().any(|k| k == "nonRepudiation") => Purpose::DocumentSigning,
        None => Purpose::ClientAuth,
    };
    let mut files = Index::load(kit)
        .map(|i| i.trust_files(kit))
        .unwrap_or_default();
    files.anchors.extend(trust.iter().cloned());
    files.crls.extend(crls.iter().cloned());
    let register = SoteRegister::bundled().map_err(Failure::internal)?;
    let org = info.organisation_oid(&[
        pki::OrgIdSource::SerialNumber,
        pki::OrgIdSource::OrganisationalUnit,
        pki::OrgIdSource::Organisation,
    ]);
    // The business id an organisation OID encodes (JHS 159: no hyphen, no leading zero).
    let business_id = org.as_ref().and_then(|(o, _)| {
        let parts = crate::identity::OrgOid::split(o)?;
        let legacy = parts.root == crate::identity::OidRoot::Legacy;
        Some(match parts.ytunnus() {
            Some(y) => format!(
                "{y} (OID arc {}{})",
                parts.business_arc,
                if legacy {
                    ", legacy root 1.2.246.537.10"
                } else {
                    ""
                }
            ),
            None => format!(
                "{} is not a valid business id (check digit)",
                parts.business_arc
            ),
        })
    });
    let problems = if files.anchors.is_empty() {
        None
    } else {
        let store = TrustStore::load(&files.anchors, &files.intermediates, &files.crls)
            .map_err(Failure::usage)?;
        // TLS clients must send their chain; a signature carries only the leaf.
        Some(store.assess(
            &chain,
            time::OffsetDateTime::now_utc(),
            purpose,
            purpose != Purpose::DocumentSigning,
        ))
    };
    let refused = problems
        .as_ref()
        .is_some_and(|p| p.iter().any(pki::CertProblem::is_fatal));
    if json {
        let v = serde_json::json!({
            "certificate": info,
            "organisation_oid": org.as_ref().map(|(o, _)| o),
            "business_id": business_id,
            "organisation_in_register": org.as_ref().map(|(o, _)| register.resolve(o).map(|e| (&e.name, e.active))),
            "registration_number": info.registration_number(),
            "checked_for": purpose,
            "chain_checked": problems.is_some(),
            "problems": problems.as_ref().map(|p| p.iter().map(|x| serde_json::json!({"code": x.code(), "message": x.to_string(), "detail": x})).collect::<Vec<_>>()),
            "would_be_accepted": problems.is_some() && !refused,
        });
        outln!("{v:#}");
    } else {
        out!("{}", info.describe());
        if chain.len() > 1 {
            outln!(
                "Chain in file:  {} certificates (leaf + {} CA)",
                chain.len(),
                chain.len() - 1
            );
        }
        match &org {
            Some((oid, _)) => match register.resolve(oid) {
                Some(e) if e.active => outln!(
                    "Organisation:   {oid} = {} (in the bundled SOTE register)",
                    e.name
                ),
                Some(e) => outln!(
                    "Organisation:   {oid} = {} (INACTIVE in the bundled SOTE register)",
                    e.name
                ),
                None => outln!("Organisation:   {oid} (NOT in the bundled SOTE register)"),
            },
            None => match info.registration_number() {
                Some(n) => {
                    outln!("Registration:   {n} (professional; Valvira-style registration number)")
                }
                None => {
                    outln!("Organisation:   (no organisation OID found in serialNumber, OU or O)")
                }
            },
        }
        if let Some(b) = &business_id {
            outln!("Business id:    {b}");
        }
        let what = match purpose {
            Purpose::ClientAuth => "TLS client authentication",
            Purpose::ServerAuth => "TLS server authentication",
            Purpose::DocumentSigning => "document signing",
        };
        match &problems {
            None => outln!(
                "Chain status:   not checked: no trust anchors (pass --certs DIR with a kit, or --trust FILE)"
            ),
            Some(p) if p.is_empty() => outln!(
                "Chain status:   OK for {what} against {} anchor(s)",
                files.anchors.len()
            ),
            Some(p) => {
                outln!(
                    "Chain status:   {} for {what}:",
                    if refused { "REFUSED" } else { "warnings" }
                );
                for x in p {
                    outln!("  {}  {x}", x.code());
                }
            }
        }
    }
    Ok(if refused { exit::FAILED } else { exit::OK })
}
