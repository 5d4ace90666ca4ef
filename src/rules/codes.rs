//! The code lists the rules check codes against (a snapshot of THL's code service,
//! koodistopalvelu.kanta.fi) and which document groups each archiving service request
//! carries. Bundled as `data/code-lists.toml`; `archive.code_lists_file` replaces it with the
//! full lists an organisation has.
//!
//! Every bundled list is partial (only codes seen in public Kanta material), so a code that
//! is missing is a warning by default (`archive.unknown_codes`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The snapshot bundled with the binary.
pub const BUNDLED_CODE_LISTS: &str = include_str!("../../data/code-lists.toml");

/// Code systems the wrapper and header rules look codes up in.
pub use crate::document::model::code_systems as systems;

/// One code list.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeList {
    /// The code system OID.
    pub oid: String,
    /// Its name in the code service.
    pub name: String,
    /// Code → display name.
    pub codes: BTreeMap<String, String>,
}

/// Which document groups an archiving service request carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archiving {
    /// The service request code (in [`systems::SERVICE_REQUEST`]).
    pub service_request: String,
    /// Document group codes (in [`systems::DOCUMENT_GROUP`]).
    pub document_groups: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeListFile {
    #[serde(rename = "list")]
    lists: Vec<CodeList>,
    #[serde(default)]
    archiving: Vec<Archiving>,
}

/// Why a code-list file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CodeListError {
    /// Unreadable.
    #[error("cannot read code lists {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not of the expected shape.
    #[error("code lists {origin}: {source}")]
    Parse {
        /// The file.
        origin: String,
        /// What the parser said, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// An `[[archiving]]` entry names a code that its list does not have.
    #[error(
        "code lists {origin}: [[archiving]] names {what} {code:?}, which the list {system} does not have"
    )]
    Dangling {
        /// The file.
        origin: String,
        /// Service request or document group.
        what: &'static str,
        /// The code.
        code: String,
        /// The list it should be in.
        system: &'static str,
    },
}

/// What a code list says about a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// In the list, with its display name.
    Known(&'a str),
    /// The list is known and does not have the code.
    Missing(&'a CodeList),
    /// No list for the code system.
    NoList,
}

/// The code lists in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLists {
    lists: Vec<CodeList>,
    archiving: Vec<Archiving>,
}

impl CodeLists {
    /// The bundled snapshot.
    pub fn bundled() -> Result<Self, CodeListError> {
        Self::parse(BUNDLED_CODE_LISTS, "(bundled data/code-lists.toml)")
    }

    /// The bundled snapshot, parsed once. A unit test proves it parses; should a broken
    /// checkout ever break it, the lists are empty and every code draws a warning.
    pub fn bundled_static() -> &'static Self {
        static LISTS: std::sync::OnceLock<CodeLists> = std::sync::OnceLock::new();
        LISTS.get_or_init(|| {
            Self::bundled().unwrap_or(Self {
                lists: Vec::new(),
                archiving: Vec::new(),
            })
        })
    }

    /// The lists a profile names (`archive.code_lists_file`), or the bundled snapshot.
    pub fn for_profile(cfg: &crate::config::ArchiveConfig) -> Result<Self, CodeListError> {
        match &cfg.code_lists_file {
            Some(path) => Self::load(path),
            None => Self::bundled(),
        }
    }

    /// Reads a code-list file.
    pub fn load(path: &Path) -> Result<Self, CodeListError> {
        let text = std::fs::read_to_string(path).map_err(|source| CodeListError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks code-list text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CodeListError> {
        let file: CodeListFile = toml::from_str(text).map_err(|e| CodeListError::Parse {
            origin: origin.to_owned(),
            source: e,
        })?;
        let lists = Self {
            lists: file.lists,
            archiving: Vec::new(),
        };
        for a in &file.archiving {
            let dangling = |what, code: &str, system| CodeListError::Dangling {
                origin: origin.to_owned(),
                what,
                code: code.to_owned(),
                system,
            };
            if !matches!(
                lists.lookup(systems::SERVICE_REQUEST, &a.service_request),
                Lookup::Known(_)
            ) {
                return Err(dangling(
                    "service request",
                    &a.service_request,
                    systems::SERVICE_REQUEST,
                ));
            }
            for g in &a.document_groups {
                if !matches!(lists.lookup(systems::DOCUMENT_GROUP, g), Lookup::Known(_)) {
                    return Err(dangling("document group", g, systems::DOCUMENT_GROUP));
                }
            }
        }
        Ok(Self {
            archiving: file.archiving,
            ..lists
        })
    }

    /// What the list of `system` says about `code`.
    pub fn lookup(&self, system: &str, code: &str) -> Lookup<'_> {
        match self.lists.iter().find(|l| l.oid == system) {
            None => Lookup::NoList,
            Some(l) => l
                .codes
                .get(code)
                .map_or(Lookup::Missing(l), |n| Lookup::Known(n.as_str())),
        }
    }

    /// The display name of `code` in `system`.
    pub fn display_name(&self, system: &str, code: &str) -> Option<&str> {
        match self.lookup(system, code) {
            Lookup::Known(n) => Some(n),
            _ => None,
        }
    }

    /// The document groups `service_request` archives, when it is an archiving request.
    pub fn groups_archived_by(&self, service_request: &str) -> Option<&[String]> {
        self.archiving
            .iter()
            .find(|a| a.service_request == service_request)
            .map(|a| a.document_groups.as_slice())
    }

    /// The archiving service requests, in file order.
    pub fn archiving_requests(&self) -> impl Iterator<Item = &str> {
        self.archiving.iter().map(|a| a.service_request.as_str())
    }

    /// How many lists there are.
    pub fn len(&self) -> usize {
        self.lists.len()
    }

    /// No lists at all.
    pub fn is_empty(&self) -> bool {
        self.lists.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_snapshot_parses_with_the_published_codes() {
        let c = CodeLists::bundled().unwrap();
        assert!(c.len() >= 8);
        assert_eq!(
            c.display_name(systems::SERVICE_REQUEST, "SP1"),
            Some("Asiakkuusasiakirjan arkistointi")
        );
        assert_eq!(c.groups_archived_by("SP1"), Some(&["1".to_owned()][..]));
        assert_eq!(c.groups_archived_by("SP17"), Some(&["5".to_owned()][..]));
        assert!(matches!(
            c.lookup(systems::DOCUMENT_GROUP, "9"),
            Lookup::Missing(_)
        ));
        assert_eq!(c.lookup("1.2.3", "x"), Lookup::NoList);
        assert_eq!(CodeLists::bundled_static(), &c);
    }

    #[test]
    fn an_archiving_entry_must_name_listed_codes() {
        let text = format!(
            "{BUNDLED_CODE_LISTS}\n[[archiving]]\nservice_request = \"SP99\"\ndocument_groups = [\"1\"]\n"
        );
        let e = CodeLists::parse(&text, "t").unwrap_err().to_string();
        assert!(
            e.contains("SP99") && e.contains(systems::SERVICE_REQUEST),
            "{e}"
        );
        assert!(matches!(
            CodeLists::parse("[[list]]\noid = 1", "t"),
            Err(CodeListError::Parse { .. })
        ));
    }
}
