//! The deployment test (*käyttöönottokoe*) as the archivist sees it: checklist (a), every
//! expected document reached the archive and the controller's register; checklist (b), the
//! archived data match what the client system says it recorded, field by field; and the
//! report to Kela with its due date (two working days after the test).

use serde::{Deserialize, Serialize};
use time::Date;

use crate::archive::{DocumentMeta, DocumentQuery, DocumentStore, StoreError};
use crate::calendar::{DueDate, due_date};
use crate::cases::{Action, TestCase};
use crate::document::DocStatus;

/// One expected document and what the archive holds of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedDocument {
    /// The step that archives it.
    pub step: String,
    /// Its title (English).
    pub title: String,
    /// Whose register it belongs in (the organiser's under a register use right).
    pub controller: String,
    /// The client.
    pub person: String,
    /// Document group code.
    pub document_group: String,
    /// What the archive holds for it (newest first).
    pub found: Vec<DocumentMeta>,
    /// Archived at all (any register).
    pub in_archive: bool,
    /// In the controller's register.
    pub in_register: bool,
}

/// Checklist (a).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecklistA {
    /// The controller (rekisterinpitäjä) whose register is checked.
    pub controller: String,
    /// One row per expected document.
    pub documents: Vec<ExpectedDocument>,
}

impl ChecklistA {
    /// Every expected document is in the archive and in the controller's register.
    pub fn passed(&self) -> bool {
        !self.documents.is_empty() && self.documents.iter().all(|d| d.in_archive && d.in_register)
    }
}

/// Computes checklist (a) for `case` and the controller `org`. `person` replaces the case's
/// persons (a real deployment test uses the codes the organisation was given);
/// `all_registers` are every register owner, for "reached the archive at all".
pub fn checklist_a(
    case: &TestCase,
    org: &str,
    person: Option<&str>,
    all_registers: &[String],
    store: &dyn DocumentStore,
) -> Result<ChecklistA, StoreError> {
    let mut documents = Vec::new();
    for step in case.steps.iter().filter(|s| s.action == Action::Archive) {
        let (Some(kind), Some(p)) = (step.document, person.or(step.person.as_deref())) else {
            continue;
        };
        let q = |registers: Vec<String>| DocumentQuery {
            registers,
            client_id: Some(p.to_owned()),
            document_group: Some(kind.group().to_owned()),
            statuses: vec![DocStatus::Active, DocStatus::Replaced],
            limit: 20,
            ..DocumentQuery::default()
        };
        // Under a register use right the document belongs in the organiser's register.
        let controller = step.organiser.as_deref().unwrap_or(org);
        let own = store.query(&q(vec![controller.to_owned()]))?;
        // "Reached the archive" at all, in whichever register: a document in the wrong
        // register is a different failure from one that never arrived.
        let anywhere = if own.total > 0 {
            own.total
        } else {
            store.query(&q(all_registers.to_vec()))?.total
        };
        documents.push(ExpectedDocument {
            step: step.id.clone(),
            title: step.title_en.clone(),
            controller: controller.to_owned(),
            person: p.to_owned(),
            document_group: kind.group().to_owned(),
            in_archive: anywhere > 0,
            in_register: own.total > 0,
            found: own.items,
        });
    }
    Ok(ChecklistA {
        controller: org.to_owned(),
        documents,
    })
}

/// What the client system says it recorded for one document (checklist (b) input).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedDocument {
    /// Document OID (how the row is matched).
    pub oid: String,
    /// Client id.
    #[serde(default)]
    pub client_id: Option<String>,
    /// effectiveTime.
    #[serde(default)]
    pub effective_time: Option<String>,
    /// Document group.
    #[serde(default)]
    pub document_group: Option<String>,
    /// Specific document type.
    #[serde(default)]
    pub document_type: Option<String>,
    /// Case id.
    #[serde(default)]
    pub case_id: Option<String>,
    /// Client relationship id.
    #[serde(default)]
    pub client_relationship: Option<String>,
    /// Custodian.
    #[serde(default)]
    pub custodian: Option<String>,
    /// Version.
    #[serde(default)]
    pub version: Option<u32>,
    /// Title (read from the archived CDA).
    #[serde(default)]
    pub title: Option<String>,
}

/// The client system's export: `[[document]]` tables in TOML.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// The documents.
    #[serde(default, rename = "document")]
    pub documents: Vec<RecordedDocument>,
}

/// One field compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldComparison {
    /// Document OID.
    pub oid: String,
    /// Field.
    pub field: String,
    /// What the client system recorded.
    pub recorded: String,
    /// What the archive holds.
    pub archived: String,
    /// Equal.
    pub matches: bool,
}

/// Checklist (b).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChecklistB {
    /// Every field compared.
    pub fields: Vec<FieldComparison>,
    /// Recorded documents the archive does not hold (in the controller's register).
    pub missing: Vec<String>,
}

impl ChecklistB {
    /// Every field matches and nothing is missing.
    pub fn passed(&self) -> bool {
        !self.fields.is_empty() && self.missing.is_empty() && self.fields.iter().all(|f| f.matches)
    }
}

/// Compares what the client system recorded with what `org`'s register holds, or (under a
/// register use right) what `org` produced into an organiser's register.
pub fn checklist_b(
    recorded: &Recorded,
    org: &str,
    store: &dyn DocumentStore,
) -> Result<ChecklistB, StoreError> {
    let mut fields = Vec::new();
    let mut missing = Vec::new();
    for r in &recorded.documents {
        let Some(m) = store
            .get(&r.oid)?
            .filter(|m| m.register_owner == org || m.producer == org)
        else {
            missing.push(r.oid.clone());
            continue;
        };
        let title = m.cda.as_deref().and_then(|c| {
            let text = std::str::from_utf8(c).ok()?;
            let doc = crate::xml::parse(text, &crate::xml::Limits::default()).ok()?;
            crate::document::parse_document(&doc)?
                .title
                .map(|t| t.value)
        });
        let mut cmp = |field: &str, rec: &Option<String>, arch: Option<String>| {
            if let Some(rec) = rec {
                let arch = arch.unwrap_or_default();
                fields.push(FieldComparison {
                    oid: r.oid.clone(),
                    field: field.into(),
                    matches: *rec == arch,
                    recorded: rec.clone(),
                    archived: arch,
                });
            }
        };
        cmp("client_id", &r.client_id, Some(m.client_id.clone()));
        cmp(
            "effective_time",
            &r.effective_time,
            m.effective_time.clone(),
        );
        cmp(
            "document_group",
            &r.document_group,
            m.document_group.clone(),
        );
        cmp("document_type", &r.document_type, m.document_type.clone());
        cmp("case_id", &r.case_id, m.case_id.clone());
        cmp(
            "client_relationship",
            &r.client_relationship,
            m.client_relationship.clone(),
        );
        cmp("custodian", &r.custodian, Some(m.custodian.clone()));
        cmp(
            "version",
            &r.version.map(|v| v.to_string()),
            Some(m.version.to_string()),
        );
        cmp("title", &r.title, title);
    }
    Ok(ChecklistB { fields, missing })
}

/// The export a correct client system would produce for `docs` (what the reference client
/// recorded): the starting point of checklist (b) in training.
pub fn recorded_from(docs: &[DocumentMeta]) -> Recorded {
    Recorded {
        documents: docs
            .iter()
            .map(|m| RecordedDocument {
                oid: m.document_oid.clone(),
                client_id: Some(m.client_id.clone()),
                effective_time: m.effective_time.clone(),
                document_group: m.document_group.clone(),
                document_type: m.document_type.clone(),
                case_id: m.case_id.clone(),
                client_relationship: m.client_relationship.clone(),
                custodian: Some(m.custodian.clone()),
                version: Some(m.version),
                title: None,
            })
            .collect(),
    }
}

/// The report to Kela's deadline: two working days after the test.
pub fn report_due(completed: Date, count_saturdays: bool) -> DueDate {
    due_date(completed, 2, count_saturdays)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::ArchiveStore;
    use crate::document::ArchivedDocument;
    use crate::message::usecase::UseCase;

    const ORG: &str = "1.2.246.10.99900016.10.0";

    fn all() -> Vec<String> {
        crate::identity::SoteRegister::bundled()
            .unwrap()
            .organisations()
            .iter()
            .map(|o| o.oid.clone())
            .collect()
    }

    fn doc(oid: &str, group: &str) -> ArchivedDocument {
        ArchivedDocument {
            client_id: "010190-950A".into(),
            document_group: Some(group.into()),
            cda: b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>Asiakkuusasiakirja</title></ClinicalDocument>".to_vec(),
            ..ArchivedDocument::minimal(oid, ORG)
        }
    }

    #[test]
    fn checklists_pass_and_fail_on_what_they_should() {
        let dir = tempfile::tempdir().unwrap();
        let store = ArchiveStore::open(dir.path()).unwrap();
        let case = crate::cases::embedded()
            .unwrap()
            .into_iter()
            .find(|c| c.id == "SIM-KOE-01")
            .unwrap();
        let a = checklist_a(&case, ORG, None, &all(), &store).unwrap();
        assert!(!a.passed());
        store
            .archive(
                UseCase::Archive,
                ("m", "1"),
                ORG,
                b"r",
                &doc("1.1", "1"),
                time::OffsetDateTime::now_utc(),
                None,
            )
            .unwrap();
        let a = checklist_a(&case, ORG, None, &all(), &store).unwrap();
        assert_eq!(
            a.documents
                .iter()
                .map(|d| d.in_register)
                .collect::<Vec<_>>(),
            [true, false],
            "the client document is missing"
        );
        store
            .archive(
                UseCase::Archive,
                ("m", "2"),
                ORG,
                b"r",
                &doc("1.2", "5"),
                time::OffsetDateTime::now_utc(),
                None,
            )
            .unwrap();
        assert!(
            checklist_a(&case, ORG, None, &all(), &store)
                .unwrap()
                .passed()
        );
        // Another controller's view: in the archive, not in its register.
        let other = checklist_a(&case, "1.2.246.10.99900024.10.0", None, &all(), &store).unwrap();
        assert!(
            other
                .documents
                .iter()
                .all(|d| d.in_archive && !d.in_register)
        );
        assert!(
            !checklist_a(&case, "1.2.246.10.99900024.10.0", None, &all(), &store)
                .unwrap()
                .passed()
        );

        let metas: Vec<DocumentMeta> = ["1.1", "1.2"]
            .iter()
            .map(|o| store.get(o).unwrap().unwrap())
            .collect();
        let mut rec = recorded_from(&metas);
        rec.documents[0].title = Some("Asiakkuusasiakirja".into());
        assert!(checklist_b(&rec, ORG, &store).unwrap().passed());
        rec.documents[1].effective_time = Some("20261123110000+0200".into());
        rec.documents.push(RecordedDocument {
            oid: "9.9".into(),
            ..RecordedDocument::default()
        });
        let b = checklist_b(&rec, ORG, &store).unwrap();
        assert!(!b.passed());
        let bad: Vec<(&str, &str)> = b
            .fields
            .iter()
            .filter(|f| !f.matches)
            .map(|f| (f.oid.as_str(), f.field.as_str()))
            .collect();
        assert_eq!(bad, [("1.2", "effective_time")]);
        assert_eq!(b.missing, ["9.9"]);
    }
}
