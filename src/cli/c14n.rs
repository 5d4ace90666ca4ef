//! `kanta-sim c14n`: canonicalize a file, as a signature would.

use std::path::PathBuf;

use clap::Args;

use super::dsig::read;
use super::{Failure, exit};
use crate::xml::{Limits, parse};
use crate::xmldsig::c14n::{C14nOptions, Method, canonicalize};
use crate::xmldsig::{DEFAULT_ID_ATTRIBUTES, IdIndex};

/// `kanta-sim c14n`.
#[derive(Debug, Args)]
pub(super) struct C14nArgs {
    /// Exclusive XML Canonicalization 1.0 (the default; what Kanta uses).
    #[arg(long, conflicts_with = "inclusive")]
    exclusive: bool,
    /// Canonical XML 1.0 (inclusive).
    #[arg(long)]
    inclusive: bool,
    /// Keep comments.
    #[arg(long)]
    with_comments: bool,
    /// InclusiveNamespaces PrefixList for exclusive mode, e.g. "a b #default".
    #[arg(long, requires = "exclusive")]
    prefixes: Option<String>,
    /// Canonicalize only the element with this ID (as a `#ID` reference selects it).
    #[arg(long)]
    id: Option<String>,
    /// Attribute names that carry IDs.
    #[arg(long = "id-attr", default_values_t = DEFAULT_ID_ATTRIBUTES.map(String::from))]
    id_attributes: Vec<String>,
    /// The XML file.
    file: PathBuf,
}

/// Runs `c14n`.
pub(super) fn run(args: C14nArgs) -> Result<u8, Failure> {
    let text = read(&args.file)?;
    let doc = parse(&text, &Limits::default())
        .map_err(|e| Failure::usage(format!("{}: {e}", args.file.display())))?;
    let method = if args.inclusive {
        Method::Inclusive
    } else {
        Method::Exclusive {
            inclusive_prefixes: args
                .prefixes
                .as_deref()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        }
    };
    let apex = match &args.id {
        Some(id) => {
            let names: Vec<&str> = args.id_attributes.iter().map(String::as_str).collect();
            let index = IdIndex::new(&doc, &names);
            Some(index.resolve(id, 0, &format!("#{id}")).map_err(|p| {
                Failure::failed(format!("{}: {} {p}", args.file.display(), p.code()))
            })?)
        }
        None => None,
    };
    let out = canonicalize(
        &doc,
        apex,
        None,
        &C14nOptions {
            method,
            with_comments: args.with_comments,
        },
    );
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&out)
        .map_err(Failure::internal)?;
    Ok(exit::OK)
}
