//! The interface use cases (*rajapintakäyttötapaukset*, interface.md §1.5) and the
//! interaction id that carries each. Only archiving's id is public [V]; the profile's
//! `[archive.interactions]` table names the rest, so routing never hard-codes them.

use serde::Serialize;

use crate::config::Interactions;

/// What a query asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum QueryKind {
    /// Hae asiakkuus: the client's client relationships (asiakkuus).
    ClientRelationships,
    /// Hae asia: the client's cases (asia).
    Cases,
    /// Hae asiakirjan metatiedot: document metadata.
    Metadata,
    /// Hae asiakirja: documents exactly as archived.
    Document,
    /// Hae kooste: a summary of the client's documents.
    Summary,
}

impl QueryKind {
    /// Every kind, in the use-case order of the specification.
    pub const ALL: [Self; 5] = [
        Self::ClientRelationships,
        Self::Cases,
        Self::Metadata,
        Self::Document,
        Self::Summary,
    ];

    /// The Finnish use-case name.
    pub fn finnish(self) -> &'static str {
        match self {
            Self::ClientRelationships => "Hae asiakkuus",
            Self::Cases => "Hae asia",
            Self::Metadata => "Hae asiakirjan metatiedot",
            Self::Document => "Hae asiakirja",
            Self::Summary => "Hae kooste",
        }
    }

    /// The name used on the command line and in test cases.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientRelationships => "client-relationships",
            Self::Cases => "cases",
            Self::Metadata => "metadata",
            Self::Document => "document",
            Self::Summary => "summary",
        }
    }

    /// From [`Self::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One interface use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "use_case", content = "query")]
pub enum UseCase {
    /// Arkistoi asiakirja (first version).
    Archive,
    /// Arkistoi asiakirjasta uusi versio.
    NewVersion,
    /// Mitätöi asiakirja.
    Invalidate,
    /// One of the five queries.
    Query(QueryKind),
}

impl UseCase {
    /// Whether the message carries a CDA (and so has a service request and usage situation).
    pub fn carries_document(self) -> bool {
        matches!(self, Self::Archive | Self::NewVersion)
    }

    /// A short English name for logs and reports.
    pub fn describe(self) -> String {
        match self {
            Self::Archive => "archive".into(),
            Self::NewVersion => "new version".into(),
            Self::Invalidate => "invalidate".into(),
            Self::Query(k) => format!("query {}", k.as_str()),
        }
    }
}

impl Interactions {
    /// The use case that `interaction` carries in this profile.
    pub fn use_case(&self, interaction: &str) -> Option<UseCase> {
        self.all()
            .into_iter()
            .find(|(_, id)| *id == interaction)
            .map(|(u, _)| u)
    }

    /// The interaction id of `use_case`.
    pub fn id(&self, use_case: UseCase) -> &str {
        match use_case {
            UseCase::Archive => &self.archive,
            UseCase::NewVersion => &self.new_version,
            UseCase::Invalidate => &self.invalidate,
            UseCase::Query(QueryKind::ClientRelationships) => &self.query_client_relationships,
            UseCase::Query(QueryKind::Cases) => &self.query_cases,
            UseCase::Query(QueryKind::Metadata) => &self.query_metadata,
            UseCase::Query(QueryKind::Document) => &self.query_document,
            UseCase::Query(QueryKind::Summary) => &self.query_summary,
        }
    }

    /// Every use case with its interaction id.
    pub fn all(&self) -> Vec<(UseCase, &str)> {
        [UseCase::Archive, UseCase::NewVersion, UseCase::Invalidate]
            .into_iter()
            .chain(QueryKind::ALL.into_iter().map(UseCase::Query))
            .map(|u| (u, self.id(u)))
            .collect()
    }

    /// Two use cases sharing one id would make routing ambiguous.
    pub fn duplicate(&self) -> Option<&str> {
        let all = self.all();
        all.iter()
            .enumerate()
            .find(|(i, (_, id))| all[..*i].iter().any(|(_, other)| other == id))
            .map(|(_, (_, id))| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_use_case_round_trips_through_the_default_profile() {
        let i = crate::config::Config::builtin()
            .unwrap()
            .archive
            .interactions;
        assert_eq!(i.duplicate(), None);
        for (u, id) in i.all() {
            assert_eq!(i.use_case(id), Some(u));
        }
        assert_eq!(i.use_case("RCMR_IN200002FI01"), Some(UseCase::Archive));
        assert_eq!(i.use_case("RCMR_IN200016FI01"), Some(UseCase::NewVersion));
        assert_eq!(i.use_case("XYZ"), None);
        for k in QueryKind::ALL {
            assert_eq!(QueryKind::parse(k.as_str()), Some(k));
        }
    }
}
