//! Class L: the document lifecycle (interface.md §5.4). A new version must continue a set
//! the caller owns, one version at a time, pointing at the current version with
//! `relatedDocument RPLC`, with the same custodian and register; an invalidation must name
//! the current version of a set the caller owns that is not yet invalidated. Pure functions
//! over what the store knows of the set, called by the store inside its transaction so the
//! check and the write cannot race.

use crate::finding::RuleId;

use super::Finding;
use crate::document::ArchivedDocument;
use crate::document::DocStatus;
use crate::message::usecase::UseCase;

/// One stored version, as the lifecycle rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionState {
    /// Document OID.
    pub document_oid: String,
    /// Version number.
    pub version: u32,
    /// Status.
    pub status: DocStatus,
    /// Custodian OID as written.
    pub custodian: String,
    /// The organisation that archived it (the custodian's organisation).
    pub producer: String,
    /// Whose register holds it (the organiser, or the producer itself).
    pub register_owner: String,
    /// Register code.
    pub register: Option<String>,
}

/// Every stored version of one set, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    /// setId.
    pub set_id: String,
    /// Versions, oldest first (never empty).
    pub versions: Vec<VersionState>,
}

impl SetState {
    /// The newest version.
    pub fn current(&self) -> Option<&VersionState> {
        self.versions.last()
    }

    /// Whether `org` owns the set: it produced the current version or holds its register.
    pub fn owned_by(&self, org: &str) -> bool {
        self.current()
            .is_some_and(|c| c.producer == org || c.register_owner == org)
    }
}

const RPLC_AT: &str = "/ClinicalDocument/relatedDocument";

/// L-010: version 1 goes with the archiving interaction, later versions with the
/// new-version one. Needs no stored state, so offline validation reports it too.
pub fn version_fits_interaction(use_case: UseCase, version: u32) -> Option<Finding> {
    match (use_case, version) {
        (UseCase::Archive, v) if v > 1 => Some(Finding::new(
            RuleId::L010,
            "/ClinicalDocument/versionNumber",
            format!(
                "version {v} sent with the archiving interaction; a new version has its own interaction (archive.interactions.new_version)"
            ),
        )),
        (UseCase::NewVersion, 1) => Some(Finding::new(
            RuleId::L010,
            "/ClinicalDocument/versionNumber",
            "version 1 sent with the new-version interaction; archive the first version with the archiving interaction",
        )),
        _ => None,
    }
}

/// L-002…L-010: may `doc` (sent with `use_case` by `caller`) join the archive, given what
/// is stored of its set? `None`: the setId is unknown.
pub fn check_version(
    use_case: UseCase,
    set: Option<&SetState>,
    doc: &ArchivedDocument,
    caller: &str,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(f) = version_fits_interaction(use_case, doc.version) {
        return vec![f];
    }
    if use_case == UseCase::Archive {
        if set.is_some() {
            out.push(Finding::new(
                RuleId::L001,
                "/ClinicalDocument/setId",
                format!(
                    "setId {} is already archived; send a new version instead",
                    doc.set_id
                ),
            ));
        }
        return out;
    }
    let Some(set) = set else {
        return vec![Finding::new(
            RuleId::L002,
            "/ClinicalDocument/setId",
            format!(
                "no archived document has setId {}; archive version 1 first",
                doc.set_id
            ),
        )];
    };
    let Some(current) = set.current() else {
        return vec![Finding::new(
            RuleId::L002,
            "/ClinicalDocument/setId",
            format!("setId {} has no versions", doc.set_id),
        )];
    };
    if !set.owned_by(caller) {
        // Say no more than that: the set's details belong to another organisation.
        return vec![Finding::new(
            RuleId::L009,
            "/ClinicalDocument/setId",
            format!(
                "setId {} is not in a register that {caller} may write to",
                doc.set_id
            ),
        )];
    }
    if current.status == DocStatus::Invalidated {
        out.push(Finding::new(
            RuleId::L006,
            "/ClinicalDocument/setId",
            format!(
                "the document {} (version {}) has been invalidated; it cannot get new versions",
                current.document_oid, current.version
            ),
        ));
    }
    match &doc.replaces {
        None => out.push(Finding::new(
            RuleId::L004,
            RPLC_AT,
            format!("a new version needs relatedDocument typeCode=\"RPLC\" naming the current version {} (version {})", current.document_oid, current.version),
        )),
        Some(r) if r.type_code.as_deref() != Some("RPLC") => out.push(Finding::new(
            RuleId::L004,
            RPLC_AT,
            format!("relatedDocument/@typeCode is {:?}; a replacing version needs \"RPLC\"", r.type_code.as_deref().unwrap_or("")),
        )),
        Some(r) => {
            let named = set.versions.iter().find(|v| Some(&v.document_oid) == r.document_oid.as_ref());
            match named {
                Some(v) if v.document_oid == current.document_oid => {
                    if r.version.is_some_and(|n| n != v.version) {
                        out.push(Finding::new(RuleId::L005, RPLC_AT, format!("parentDocument names {} as version {:?}, but it is version {}", v.document_oid, r.version, v.version)));
                    }
                    if r.set_id.as_deref().is_some_and(|s| s != set.set_id) {
                        out.push(Finding::new(RuleId::L005, RPLC_AT, format!("parentDocument/setId {:?} is not the set's {}", r.set_id, set.set_id)));
                    }
                }
                Some(v) => out.push(Finding::new(
                    RuleId::L005,
                    RPLC_AT,
                    format!("parentDocument names version {} ({}), which is {}; the current version is {} ({})", v.version, v.document_oid, v.status.as_str(), current.version, current.document_oid),
                )),
                None => out.push(Finding::new(
                    RuleId::L005,
                    RPLC_AT,
                    format!("parentDocument id {:?} is not a version of setId {}; the current version is {}", r.document_oid.as_deref().unwrap_or(""), set.set_id, current.document_oid),
                )),
            }
        }
    }
    if doc.version != current.version + 1 {
        out.push(Finding::new(
            RuleId::L003,
            "/ClinicalDocument/versionNumber",
            format!(
                "versionNumber {} does not follow the current version {} (expected {})",
                doc.version,
                current.version,
                current.version + 1
            ),
        ));
    }
    if doc.custodian != current.custodian {
        out.push(Finding::new(
            RuleId::L007,
            "/ClinicalDocument/custodian",
            format!(
                "custodian {} differs from the earlier version's {}",
                doc.custodian, current.custodian
            ),
        ));
    }
    if doc.register_owner != current.register_owner || doc.register != current.register {
        out.push(Finding::new(
            RuleId::L008,
            "/ClinicalDocument/localSocialHeader",
            format!(
                "the new version goes to register {:?} of {}; the earlier version is in register {:?} of {}",
                doc.register.as_deref().unwrap_or(""),
                doc.register_owner,
                current.register.as_deref().unwrap_or(""),
                current.register_owner
            ),
        ));
    }
    out
}

/// Who asks for an invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor<'a> {
    /// A client system, by its certificate's organisation.
    Organisation(&'a str),
    /// The Kanta archivist (*arkistonhoitaja*) of an organisation, in the archivist's view.
    Archivist(&'a str),
}

impl Actor<'_> {
    /// The organisation acted for.
    pub fn org(&self) -> &str {
        match self {
            Self::Organisation(o) | Self::Archivist(o) => o,
        }
    }
}

/// L-020…L-024: may `actor` invalidate the version `document_oid` of `set`?
pub fn check_invalidation(
    set: Option<&SetState>,
    document_oid: &str,
    actor: Actor<'_>,
    reason: Option<&str>,
    reason_required: bool,
) -> Vec<Finding> {
    let at = "controlActProcess/subject/clinicalDocument/id";
    let target = set.and_then(|s| {
        s.versions
            .iter()
            .find(|v| v.document_oid == document_oid)
            .map(|v| (s, v))
    });
    let Some((set, version)) = target else {
        return vec![Finding::new(
            RuleId::L020,
            at,
            format!("no archived document {document_oid}"),
        )];
    };
    let may = match actor {
        Actor::Organisation(o) => set.owned_by(o),
        // The archivist acts for the controller of the register only.
        Actor::Archivist(o) => set.current().is_some_and(|c| c.register_owner == o),
    };
    if !may {
        // The same words as for an unknown document would leak less, but a supplier needs
        // to know which; the message names nothing of the document's content.
        return vec![Finding::new(
            RuleId::L021,
            at,
            format!(
                "document {document_oid} is not in a register that {} may change",
                actor.org()
            ),
        )];
    }
    let mut out = Vec::new();
    match version.status {
        DocStatus::Invalidated => out.push(Finding::new(
            RuleId::L022,
            at,
            format!(
                "document {document_oid} (version {}) is already invalidated",
                version.version
            ),
        )),
        DocStatus::Replaced => {
            let current = set.current().map_or(String::new(), |c| {
                format!("{} (version {})", c.document_oid, c.version)
            });
            out.push(Finding::new(RuleId::L024, at, format!("document {document_oid} is version {}, replaced by a newer one; invalidate the current version {current}", version.version)));
        }
        DocStatus::Active => {}
    }
    if reason_required && reason.is_none_or(|r| r.trim().is_empty()) {
        out.push(Finding::new(
            RuleId::L023,
            "controlActProcess/text",
            "an invalidation needs a reason (controlActProcess/text)",
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "1.2.246.10.99900016.10.0";

    fn version(oid: &str, v: u32, status: DocStatus) -> VersionState {
        VersionState {
            document_oid: oid.into(),
            version: v,
            status,
            custodian: ORG.into(),
            producer: ORG.into(),
            register_owner: ORG.into(),
            register: Some("1".into()),
        }
    }

    fn set() -> SetState {
        SetState {
            set_id: "1.1".into(),
            versions: vec![
                version("1.1", 1, DocStatus::Replaced),
                version("1.2", 2, DocStatus::Active),
            ],
        }
    }

    fn v3() -> ArchivedDocument {
        ArchivedDocument {
            set_id: "1.1".into(),
            version: 3,
            replaces: Some(crate::document::RelatedRef {
                type_code: Some("RPLC".into()),
                document_oid: Some("1.2".into()),
                set_id: Some("1.1".into()),
                version: Some(2),
            }),
            ..ArchivedDocument::minimal("1.3", ORG)
        }
    }

    fn codes(f: &[Finding]) -> Vec<&str> {
        f.iter().map(|f| f.code.as_str()).collect()
    }

    #[test]
    fn each_new_version_defect_has_its_own_rule() {
        let s = set();
        let check = |d: &ArchivedDocument| {
            codes(&check_version(UseCase::NewVersion, Some(&s), d, ORG)).join(" ")
        };
        assert_eq!(check(&v3()), "");
        assert_eq!(
            codes(&check_version(UseCase::NewVersion, None, &v3(), ORG)),
            ["L-002"]
        );
        let mut d = v3();
        d.version = 4;
        assert_eq!(check(&d), "L-003");
        d = v3();
        d.replaces = None;
        assert_eq!(check(&d), "L-004");
        d = v3();
        d.replaces.as_mut().unwrap().type_code = Some("APND".into());
        assert_eq!(check(&d), "L-004");
        d = v3();
        d.replaces.as_mut().unwrap().document_oid = Some("1.1".into());
        assert_eq!(check(&d), "L-005");
        d = v3();
        d.replaces.as_mut().unwrap().document_oid = Some("9.9".into());
        assert_eq!(check(&d), "L-005");
        d = v3();
        d.custodian = "1.2.246.10.99900016.10.1".into();
        assert_eq!(check(&d), "L-007");
        d = v3();
        d.register = Some("2".into());
        assert_eq!(check(&d), "L-008");
        assert_eq!(
            codes(&check_version(
                UseCase::NewVersion,
                Some(&s),
                &v3(),
                "1.2.246.10.99900024.10.0"
            )),
            ["L-009"]
        );
        assert_eq!(
            codes(&check_version(UseCase::Archive, Some(&s), &v3(), ORG)),
            ["L-010"]
        );
        let mut v1 = v3();
        v1.version = 1;
        assert_eq!(
            codes(&check_version(UseCase::Archive, Some(&s), &v1, ORG)),
            ["L-001"]
        );
        assert!(check_version(UseCase::Archive, None, &v1, ORG).is_empty());
        let mut dead = set();
        dead.versions[1].status = DocStatus::Invalidated;
        assert_eq!(
            codes(&check_version(UseCase::NewVersion, Some(&dead), &v3(), ORG)),
            ["L-006"]
        );
    }

    #[test]
    fn each_invalidation_defect_has_its_own_rule_and_the_archivist_acts_for_the_register() {
        let s = set();
        let inv = |oid: &str, actor: Actor<'_>, reason: Option<&str>| {
            codes(&check_invalidation(Some(&s), oid, actor, reason, true)).join(" ")
        };
        assert_eq!(inv("1.2", Actor::Organisation(ORG), Some("x")), "");
        assert_eq!(inv("1.2", Actor::Archivist(ORG), Some("x")), "");
        assert_eq!(inv("9.9", Actor::Organisation(ORG), Some("x")), "L-020");
        assert_eq!(
            inv(
                "1.2",
                Actor::Organisation("1.2.246.10.99900024.10.0"),
                Some("x")
            ),
            "L-021"
        );
        assert_eq!(
            inv(
                "1.2",
                Actor::Archivist("1.2.246.10.99900024.10.0"),
                Some("x")
            ),
            "L-021"
        );
        assert_eq!(inv("1.2", Actor::Organisation(ORG), None), "L-023");
        assert_eq!(inv("1.1", Actor::Organisation(ORG), Some("x")), "L-024");
        let mut dead = set();
        dead.versions[1].status = DocStatus::Invalidated;
        assert_eq!(
            codes(&check_invalidation(
                Some(&dead),
                "1.2",
                Actor::Organisation(ORG),
                Some("x"),
                true
            )),
            ["L-022"]
        );
        assert_eq!(
            codes(&check_invalidation(
                None,
                "1.2",
                Actor::Organisation(ORG),
                Some("x"),
                true
            )),
            ["L-020"]
        );
    }
}
