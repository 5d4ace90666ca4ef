//! `kanta-sim sample-document`: a Kanta-shaped CDA with fictional data.

use clap::Args;

use super::{Failure, exit};

/// `kanta-sim sample-document` arguments.
#[derive(Debug, Args)]
pub(super) struct SampleDocumentArgs {
    /// Approximate size of the display form in bytes.
    #[arg(long, default_value_t = 4096)]
    body_bytes: usize,
    /// A phase-II client document (SP17, professional author) instead of a
    /// client-relationship document (SP1).
    #[arg(long)]
    client_document: bool,
}

/// Runs `sample-document`.
pub(super) fn run(args: SampleDocumentArgs) -> Result<u8, Failure> {
    let profile = if args.client_document {
        crate::document::Profile::ClientDocument
    } else {
        crate::document::Profile::ClientRelationship
    };
    out!(
        "{}",
        crate::document::sample::SampleDocument {
            body_bytes: args.body_bytes,
            profile,
            ..Default::default()
        }
        .to_xml()
    );
    Ok(exit::OK)
}
