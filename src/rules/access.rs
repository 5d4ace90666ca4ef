//! Class A at the connection: the client's organisation must be in the SOTE register and
//! active.

use crate::finding::RuleId;
use serde::Serialize;

use crate::identity::{Claimant, Organisation, SoteRegister};
use crate::message::query::RegisterScope;

/// Why an authenticated client may not use the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum AccessProblem {
    /// No OID in the certificate.
    #[error(
        "A-001: the client certificate {subject:?} names no organisation OID (looked in: {looked_in})"
    )]
    NoOrganisation {
        /// Certificate subject.
        subject: String,
        /// Where it was looked for.
        looked_in: String,
    },
    /// Not in the register.
    #[error(
        "A-002: organisation {oid} (from {source_field} of {subject:?}) is not in the SOTE organisation register"
    )]
    Unknown {
        /// The OID.
        oid: String,
        /// Where it was found.
        source_field: String,
        /// Certificate subject.
        subject: String,
    },
    /// Inactive.
    #[error(
        "A-003: organisation {oid} ({name}) is marked inactive in the SOTE organisation register"
    )]
    Inactive {
        /// The OID.
        oid: String,
        /// Its name.
        name: String,
    },
}

impl AccessProblem {
    /// The stable code.
    pub fn code(&self) -> RuleId {
        match self {
            Self::NoOrganisation { .. } => RuleId::A001,
            Self::Unknown { .. } => RuleId::A002,
            Self::Inactive { .. } => RuleId::A003,
        }
    }
}

/// The register entry of the client's organisation, or why there is none. `looked_in`
/// describes the configured extraction rule, for the message.
pub fn check_organisation<'r>(
    client: Claimant<'_>,
    register: &'r SoteRegister,
    looked_in: &str,
) -> Result<&'r Organisation, AccessProblem> {
    let subject = client.subject.to_owned();
    let org = client
        .organisation
        .ok_or_else(|| AccessProblem::NoOrganisation {
            subject: subject.clone(),
            looked_in: looked_in.to_owned(),
        })?;
    let entry = register
        .resolve(&org.oid)
        .ok_or_else(|| AccessProblem::Unknown {
            oid: org.oid.clone(),
            source_field: org.source.clone(),
            subject,
        })?;
    if !entry.active {
        return Err(AccessProblem::Inactive {
            oid: entry.oid.clone(),
            name: entry.name.clone(),
        });
    }
    Ok(entry)
}

/// The registers `caller` may read on `day` that a query's register scope asks for: its
/// own, and organisers' through a register use right in force.
pub fn readable_registers(
    scope: RegisterScope,
    caller: &str,
    register: &SoteRegister,
    day: time::Date,
) -> Vec<String> {
    register
        .readable_registers(caller, day)
        .into_iter()
        .filter(|r| match scope {
            RegisterScope::All => true,
            RegisterScope::Own => r == caller,
            RegisterScope::Organiser => r != caller,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::OrgIdentity;

    fn check<'r>(
        oid: Option<&str>,
        r: &'r SoteRegister,
    ) -> Result<&'r Organisation, AccessProblem> {
        let org = oid.map(|o| OrgIdentity {
            oid: o.into(),
            source: "subject.serialNumber".into(),
        });
        check_organisation(
            Claimant {
                subject: "",
                organisation: org.as_ref(),
            },
            r,
            "x",
        )
    }

    #[test]
    fn each_outcome_has_its_code() {
        let r = SoteRegister::bundled().unwrap();
        assert_eq!(
            check(Some("1.2.246.10.99900016.10.0"), &r).unwrap().name,
            "Testilän hyvinvointialue"
        );
        assert_eq!(check(None, &r).unwrap_err().code(), "A-001");
        let unknown = check(Some("1.2.246.10.99900059.10.0"), &r).unwrap_err();
        assert_eq!(unknown.code(), "A-002");
        assert!(unknown.to_string().contains("1.2.246.10.99900059.10.0"));
        assert_eq!(
            check(Some("1.2.246.10.99900040.10.0"), &r)
                .unwrap_err()
                .code(),
            "A-003"
        );
    }
}
