//! `INDEX.json` / `INDEX.md`: how users' scripts and our own commands find the files of a
//! generated kit. Roles are stable strings.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// File name of the machine-readable index.
pub const INDEX_JSON: &str = "INDEX.json";
/// File name of the readable index.
pub const INDEX_MD: &str = "INDEX.md";

/// One generated file (a certificate with its key, or a CRL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artefact {
    /// Stable role: `root-ca`, `server`, `crl`, `client:<org OID>`, `bad:expired`, …
    pub role: String,
    /// Certificate (or CRL) file, relative to the index.
    pub cert: String,
    /// Private key file, relative to the index, where there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub key: Option<String>,
    /// Subject DN (absent for a CRL).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<String>,
    /// Issuer DN.
    pub issuer: String,
    /// Start of validity (for a CRL: thisUpdate).
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity (for a CRL: nextUpdate).
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 of the DER, colon-separated hex.
    pub sha256: String,
    /// Serial number, colon-separated hex (absent for a CRL).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub serial: Option<String>,
    /// Organisation OID the certificate names, where it names one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub organisation: Option<String>,
    /// What the artefact is for, or for `bad:*` what is wrong with it.
    pub description: String,
}

/// Trust material files of a kit (see [`Index::trust_files`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KitTrustFiles {
    /// Trust anchors.
    pub anchors: Vec<PathBuf>,
    /// Intermediate CAs.
    pub intermediates: Vec<PathBuf>,
    /// CRLs.
    pub crls: Vec<PathBuf>,
}

/// The whole index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// `kanta-sim <version>`.
    pub generator: String,
    /// When the kit was generated.
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    /// Key algorithm of the kit's keys.
    pub key_algorithm: String,
    /// Every file, in generation order.
    pub artefacts: Vec<Artefact>,
}

/// Why an index cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// No index where one was expected.
    #[error("{path} not found: is this a directory written by `kanta-sim certs init`? ({source})")]
    Read {
        /// The index file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not an index.
    #[error("{path} is not a valid kanta-sim certificate index: {source}")]
    Parse {
        /// The index file.
        path: PathBuf,
        /// What the parser said, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A role the caller needs is not listed.
    #[error("{path} lists no artefact with role {role:?}")]
    MissingRole {
        /// The index file.
        path: PathBuf,
        /// The role.
        role: String,
    },
}

impl Index {
    /// Reads `dir/INDEX.json`.
    pub fn load(dir: &Path) -> Result<Self, IndexError> {
        let path = dir.join(INDEX_JSON);
        let text = std::fs::read_to_string(&path).map_err(|source| IndexError::Read {
            path: path.clone(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|e| IndexError::Parse { path, source: e })
    }

    /// The artefact with `role`.
    pub fn get(&self, role: &str) -> Option<&Artefact> {
        self.artefacts.iter().find(|a| a.role == role)
    }

    /// The artefact with `role`, or an error naming the index and the role.
    pub fn require(&self, dir: &Path, role: &str) -> Result<&Artefact, IndexError> {
        self.get(role).ok_or_else(|| IndexError::MissingRole {
            path: dir.join(INDEX_JSON),
            role: role.to_owned(),
        })
    }

    /// Artefacts whose role starts with `prefix` (e.g. `client:`).
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a Artefact> + 'a {
        self.artefacts
            .iter()
            .filter(move |a| a.role.starts_with(prefix))
    }

    /// The kit's trust material: its root as the anchor, its issuing CAs as intermediates,
    /// its CRL.
    pub fn trust_files(&self, dir: &Path) -> KitTrustFiles {
        let files = |roles: &[&str]| -> Vec<PathBuf> {
            roles
                .iter()
                .filter_map(|r| self.get(r))
                .map(|a| dir.join(&a.cert))
                .collect()
        };
        KitTrustFiles {
            anchors: files(&["root-ca"]),
            intermediates: files(&["service-ca", "professional-ca"]),
            crls: files(&["crl"]),
        }
    }

    /// The readable form.
    pub fn to_markdown(&self) -> String {
        let fmt = |t: &OffsetDateTime| {
            t.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| t.to_string())
        };
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# kanta-sim test PKI\n\nGenerated by {} at {}, keys {}. Find files by role in `INDEX.json`; \
             the profile is described in the repository's `certs/PROFILE.md`.\n\n\
             FOR TESTING ONLY: these certificates are fictional and trusted by nothing but kanta-sim.\n",
            self.generator,
            fmt(&self.generated_at),
            self.key_algorithm
        );
        let _ = writeln!(
            s,
            "| role | certificate | key | subject | valid | SHA-256 | what |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|");
        for a in &self.artefacts {
            let _ = writeln!(
                s,
                "| `{}` | `{}` | {} | {} | {} → {} | `{}…` | {} |",
                a.role,
                a.cert,
                a.key
                    .as_deref()
                    .map(|k| format!("`{k}`"))
                    .unwrap_or_default(),
                a.subject.as_deref().unwrap_or("(CRL)"),
                fmt(&a.not_before),
                fmt(&a.not_after),
                a.sha256.get(..23).unwrap_or(&a.sha256),
                a.description
            );
        }
        s
    }
}
