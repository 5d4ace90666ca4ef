use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::Date;

use super::{OrgOid, YTunnus, YTunnusError, looks_like_org_oid, provider_oid};

/// The register bundled with the binary (`data/sote-register.toml`).
pub const BUNDLED_REGISTER: &str = include_str!("../../data/sote-register.toml");

/// Public or private sector: the public sector keeps its own register entries, private
/// providers' entries arrive from Valvira's register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrganisationKind {
    /// A wellbeing services county or other public organiser.
    Public,
    /// A private service producer.
    Private,
}

/// A palveluyksikkö (service unit) of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceUnit {
    /// `<business-id root>.10.<n>`: any organisation OID. A unit's OID need not be derived
    /// from its organisation's business id (a predecessor's id is common).
    pub oid: String,
    /// Name in Finnish.
    pub name: String,
}

/// A toimintayksikkö (service provider) in the SOTE organisation register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    /// `1.2.246.10.<business id>.10.<n>` (JHS 159: no hyphen, no leading zero; `n` is often
    /// 0 but need not be, e.g. a city's `.10.40`), or under the legacy root
    /// `1.2.246.537.10.<business id>`.
    pub oid: String,
    /// Business id, `NNNNNNN-C`.
    pub ytunnus: String,
    /// Name in Finnish (the long name of the national code service).
    pub name: String,
    /// Name in Swedish, where there is one.
    #[serde(default)]
    pub name_sv: Option<String>,
    /// Public or private sector.
    pub kind: OrganisationKind,
    /// Inactive organisations are known but refused.
    pub active: bool,
    /// Home municipality.
    #[serde(default)]
    pub municipality: Option<String>,
    /// Service units.
    #[serde(default, rename = "unit")]
    pub units: Vec<ServiceUnit>,
}

/// A rekisterinkäyttöoikeus (register use right): `producer` may write documents into the
/// register of `organiser`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseRight {
    /// The service organiser (palvelunjärjestäjä), the controller of the register.
    pub organiser: String,
    /// The service producer (palvelujen tuottaja).
    pub producer: String,
    /// First day the right is in force.
    #[serde(default)]
    pub from: Option<Date>,
    /// Last day the right is in force.
    #[serde(default)]
    pub to: Option<Date>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterFile {
    #[serde(default, rename = "organisation")]
    organisations: Vec<Organisation>,
    #[serde(default, rename = "use_right")]
    use_rights: Vec<UseRight>,
}

/// Why a register file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The file could not be read.
    #[error("cannot read register {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not valid TOML or not of the register's shape.
    #[error("register {origin} is not a valid register file: {source}")]
    Parse {
        /// Where the text came from.
        origin: String,
        /// What the parser said, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// An organisation's business id is wrong.
    #[error("register {origin}: organisation {oid}: {source}")]
    YTunnus {
        /// Where the text came from.
        origin: String,
        /// The organisation.
        oid: String,
        /// What is wrong with its business id.
        source: YTunnusError,
    },
    /// An OID does not fit its business id or the SOTE pattern.
    #[error("register {origin}: {what} has OID {seen}, expected {expected}")]
    OidMismatch {
        /// Where the text came from.
        origin: String,
        /// Which entry.
        what: String,
        /// The OID that was written.
        seen: String,
        /// What it should be.
        expected: String,
    },
    /// The same OID appears twice.
    #[error("register {origin}: OID {oid} appears more than once")]
    Duplicate {
        /// Where the text came from.
        origin: String,
        /// The repeated OID.
        oid: String,
    },
    /// A use right names an organisation that is not in the register.
    #[error("register {origin}: use right names {oid}, which is not in the register")]
    UnknownParty {
        /// Where the text came from.
        origin: String,
        /// The unknown OID.
        oid: String,
    },
}

/// The mock SOTE organisation register, validated once when it is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoteRegister {
    organisations: Vec<Organisation>,
    use_rights: Vec<UseRight>,
}

impl SoteRegister {
    /// The register bundled with the binary.
    pub fn bundled() -> Result<Self, RegisterError> {
        Self::parse(BUNDLED_REGISTER, "(bundled data/sote-register.toml)")
    }

    /// Reads and validates a register file.
    pub fn load(path: &Path) -> Result<Self, RegisterError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegisterError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates register text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, RegisterError> {
        let file: RegisterFile = toml::from_str(text).map_err(|e| RegisterError::Parse {
            origin: origin.to_owned(),
            source: e,
        })?;
        let mut seen = HashSet::new();
        let mut dup = |oid: &str| {
            if seen.insert(oid.to_owned()) {
                Ok(())
            } else {
                Err(RegisterError::Duplicate {
                    origin: origin.to_owned(),
                    oid: oid.to_owned(),
                })
            }
        };
        for org in &file.organisations {
            let y: YTunnus = org
                .ytunnus
                .parse()
                .map_err(|source| RegisterError::YTunnus {
                    origin: origin.to_owned(),
                    oid: org.oid.clone(),
                    source,
                })?;
            let fits = OrgOid::split(&org.oid)
                .filter(|o| looks_like_org_oid(&org.oid) && o.ytunnus().as_ref() == Some(&y));
            if fits.is_none() {
                return Err(RegisterError::OidMismatch {
                    origin: origin.to_owned(),
                    what: format!("organisation {:?} ({})", org.name, org.ytunnus),
                    seen: org.oid.clone(),
                    expected: format!(
                        "{} or another .10.<n> under 1.2.246.10.{arc} (or the legacy 1.2.246.537.10.{arc})",
                        provider_oid(&y),
                        arc = super::business_arc(&y)
                    ),
                });
            }
            dup(&org.oid)?;
            for unit in &org.units {
                if !looks_like_org_oid(&unit.oid) {
                    return Err(RegisterError::OidMismatch {
                        origin: origin.to_owned(),
                        what: format!("service unit {:?}", unit.name),
                        seen: unit.oid.clone(),
                        expected: "an organisation OID 1.2.246.10.<business id>.10.<n>".into(),
                    });
                }
                dup(&unit.oid)?;
            }
        }
        let register = Self {
            organisations: file.organisations,
            use_rights: file.use_rights,
        };
        for right in &register.use_rights {
            for party in [&right.organiser, &right.producer] {
                if register.organisation(party).is_none() {
                    return Err(RegisterError::UnknownParty {
                        origin: origin.to_owned(),
                        oid: party.clone(),
                    });
                }
            }
        }
        Ok(register)
    }

    /// All organisations, in file order.
    pub fn organisations(&self) -> &[Organisation] {
        &self.organisations
    }

    /// All register use rights.
    pub fn use_rights(&self) -> &[UseRight] {
        &self.use_rights
    }

    /// The organisation whose own OID is `oid`.
    pub fn organisation(&self, oid: &str) -> Option<&Organisation> {
        self.organisations.iter().find(|o| o.oid == oid)
    }

    /// The organisation that `oid` names, directly or through one of its service units.
    pub fn resolve(&self, oid: &str) -> Option<&Organisation> {
        self.organisation(oid).or_else(|| {
            self.organisations
                .iter()
                .find(|o| o.units.iter().any(|u| u.oid == oid))
        })
    }

    /// The registers `org` may read on `day`: its own, and the register of every organiser
    /// that has given it a register use right in force that day. Own register first.
    pub fn readable_registers(&self, org: &str, day: Date) -> Vec<String> {
        let mut out = vec![org.to_owned()];
        for r in &self.use_rights {
            if r.producer == org
                && r.from.is_none_or(|f| f <= day)
                && r.to.is_none_or(|t| day <= t)
                && !out.contains(&r.organiser)
            {
                out.push(r.organiser.clone());
            }
        }
        out
    }

    /// Whether `producer` may write into the register of `organiser` on `day`.
    pub fn may_write_into(&self, producer: &str, organiser: &str, day: Date) -> bool {
        producer == organiser
            || self.use_rights.iter().any(|r| {
                r.producer == producer
                    && r.organiser == organiser
                    && r.from.is_none_or(|f| f <= day)
                    && r.to.is_none_or(|t| day <= t)
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn bundled_register_is_valid_and_has_the_promised_parties() {
        let r = SoteRegister::bundled().unwrap();
        let public: Vec<_> = r
            .organisations()
            .iter()
            .filter(|o| o.kind == OrganisationKind::Public && o.active)
            .collect();
        assert!(public.len() >= 2);
        let private = r
            .organisations()
            .iter()
            .find(|o| o.kind == OrganisationKind::Private && o.active)
            .unwrap();
        assert!(r.may_write_into(&private.oid, &public[0].oid, date!(2026 - 01 - 01)));
        assert!(!r.may_write_into(&private.oid, &public[1].oid, date!(2026 - 01 - 01)));
        assert!(!r.may_write_into(&private.oid, &public[0].oid, date!(2024 - 12 - 31)));
    }

    #[test]
    fn unit_oid_resolves_to_its_organisation() {
        let r = SoteRegister::bundled().unwrap();
        assert_eq!(
            r.resolve("1.2.246.10.99900016.10.2").unwrap().oid,
            "1.2.246.10.99900016.10.0"
        );
        assert!(r.resolve("1.2.246.10.99900016.10.9").is_none());
    }

    #[test]
    fn inconsistent_entries_are_named() {
        let bad_oid = r#"
            [[organisation]]
            oid = "1.2.246.10.99900024.10.0"
            ytunnus = "9990001-6"
            name = "X"
            kind = "public"
            active = true
        "#;
        let err = SoteRegister::parse(bad_oid, "t").unwrap_err().to_string();
        assert!(err.contains("expected 1.2.246.10.99900016.10.0"), "{err}");

        let bad_check = bad_oid.replace("9990001-6", "9990001-5");
        let err = SoteRegister::parse(&bad_check, "t")
            .unwrap_err()
            .to_string();
        assert!(err.contains("check digit 5, expected 6"), "{err}");

        let unknown_key = format!("{bad_oid}\ncolour = \"red\"");
        assert!(matches!(
            SoteRegister::parse(&unknown_key, "t"),
            Err(RegisterError::Parse { .. })
        ));

        let orphan_right = r#"
            [[use_right]]
            organiser = "1.2.246.10.99900016.10.0"
            producer = "1.2.246.10.99900032.10.0"
        "#;
        assert!(matches!(
            SoteRegister::parse(orphan_right, "t"),
            Err(RegisterError::UnknownParty { .. })
        ));
    }
}
