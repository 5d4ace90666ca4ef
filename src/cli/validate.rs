//! `kanta-sim validate`: documents and messages offline, through the archive's pipeline.

use std::path::PathBuf;

use clap::Args;

use super::dsig::{load_trust, read};
use super::{Failure, exit};

/// `kanta-sim validate` arguments.
#[derive(Debug, Args)]
pub(super) struct ValidateArgs {
    /// Trust material (kit directory or anchor PEM files); default certs/generated when present.
    #[arg(long)]
    trust: Vec<PathBuf>,
    /// Configuration whose [archive] profile (code lists, strictness, register) applies.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Production profile: identity codes outside 900–999 allowed.
    #[arg(long)]
    production: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Files to validate.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `validate`.
pub(super) fn run(args: ValidateArgs) -> Result<u8, Failure> {
    let ValidateArgs {
        trust,
        config,
        production,
        json,
        files,
    } = args;
    let config = config.as_deref();
    let trust = load_trust(&trust)?;
    let cfg = crate::config::Config::load(config).map_err(Failure::usage)?;
    let register = match &cfg.register.file {
        Some(f) => crate::identity::SoteRegister::load(f),
        None => crate::identity::SoteRegister::bundled(),
    }
    .map_err(Failure::usage)?;
    let code_lists =
        crate::rules::codes::CodeLists::for_profile(&cfg.archive).map_err(Failure::usage)?;
    let mut profile = crate::pipeline::ArchiveProfile::new(&cfg, register, code_lists);
    profile.test_identities_only = !production;
    let mut all_passed = true;
    for file in &files {
        let text = read(file)?;
        let v = crate::pipeline::validate_text(
            &text,
            &profile.context(
                trust.as_ref().map(|(t, _)| t),
                None,
                time::OffsetDateTime::now_utc(),
            ),
        );
        all_passed &= v.passed();
        if json {
            let out = serde_json::json!({ "file": file, "passed": v.passed(), "validation": v });
            outln!(
                "{}",
                serde_json::to_string(&out).map_err(Failure::internal)?
            );
            continue;
        }
        outln!(
            "{}: {}{}",
            file.display(),
            if v.passed() { "PASSED" } else { "FAILED" },
            v.document_oid
                .as_deref()
                .map(|o| format!(" (document {o})"))
                .unwrap_or_default()
        );
        if trust.is_none() {
            outln!(
                "  note: no trust material; signer certificates were not checked (pass --trust KIT_DIR)"
            );
        }
        let mut class = ' ';
        for f in &v.findings {
            let c = f.code.class();
            if c != class {
                class = c;
                let name = match c {
                    'W' => "wrapper",
                    'M' => "MIME",
                    'H' => "header",
                    'B' => "body",
                    'P' => "persons",
                    'G' => "signatures",
                    _ => "other",
                };
                outln!("  {c}: {name}");
            }
            let sev = if f.is_error() { "error" } else { "warning" };
            outln!(
                "    {} {sev:<7} at {}\n            {}",
                f.code,
                f.location,
                f.message
            );
        }
    }
    Ok(if all_passed { exit::OK } else { exit::FAILED })
}
