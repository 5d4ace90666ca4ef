//! Organisation OIDs as they are written in the SOTE organisation register, in certificates
//! and in documents (JHS 159; THL's OID guide for social and health care):
//!
//! - the business-id root `1.2.246.10.<business id>`: the Y-tunnus without its hyphen and
//!   without leading zeros, so seven or eight digits (JHS 159's own example: 0204819-8 →
//!   `1.2.246.10.2048198`) [V];
//! - the legacy root `1.2.246.537.10.<business id>` of organisations registered under the old
//!   health-care arc (a published hospital-district message uses `1.2.246.537.10.15675350`) [V];
//! - an organisation or service unit: `<root>.10.<n>`, where `n` is any number the
//!   organisation chose (`.10.0`, a city's `.10.40`, a unit `.10.40006775`) [V];
//! - a temporary client identifier root: `<root>.22.<year>` or `<org OID>.22.<year>` [V].
//!
//! A service unit's OID need not be derived from its own organisation's business id (a
//! published wellbeing county's unit sits under a predecessor municipality's id), so only the
//! register can say whose unit an OID is.

use super::YTunnus;

/// The arc under which Finnish business ids become OIDs (JHS 159).
pub const YTUNNUS_OID_ARC: &str = "1.2.246.10";
/// The legacy arc of the health-care OID tree carried by older register entries.
pub const LEGACY_OID_ARC: &str = "1.2.246.537.10";

/// Which tree an organisation's arcs hang from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OidRoot {
    /// `1.2.246.10.<business id>`.
    BusinessId,
    /// `1.2.246.537.10.<business id>`.
    Legacy,
}

/// An organisation-level OID split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgOid<'a> {
    /// Which tree.
    pub root: OidRoot,
    /// The business-id arc as written (7 or 8 digits).
    pub business_arc: &'a str,
    /// The arcs after the business id (`10.0`, `10.40006775`, `22.2026`, …), possibly empty.
    pub rest: &'a str,
}

impl<'a> OrgOid<'a> {
    /// Splits `s` when it starts with a business-id root; `None` otherwise.
    pub fn split(s: &'a str) -> Option<Self> {
        let (root, tail) = if let Some(t) = s.strip_prefix("1.2.246.10.") {
            (OidRoot::BusinessId, t)
        } else if let Some(t) = s.strip_prefix("1.2.246.537.10.") {
            (OidRoot::Legacy, t)
        } else {
            return None;
        };
        let (business_arc, rest) = tail.split_once('.').unwrap_or((tail, ""));
        let digits_ok = (7..=8).contains(&business_arc.len())
            && business_arc.bytes().all(|b| b.is_ascii_digit())
            && !business_arc.starts_with('0');
        digits_ok.then_some(Self {
            root,
            business_arc,
            rest,
        })
    }

    /// The business id the arc encodes, when its check digit is right.
    pub fn ytunnus(&self) -> Option<YTunnus> {
        let padded = format!("{:0>8}", self.business_arc);
        format!("{}-{}", &padded[..7], &padded[7..]).parse().ok()
    }

    /// The root (`1.2.246.10.<arc>` or `1.2.246.537.10.<arc>`).
    pub fn root_oid(&self) -> String {
        let arc = match self.root {
            OidRoot::BusinessId => YTUNNUS_OID_ARC,
            OidRoot::Legacy => LEGACY_OID_ARC,
        };
        format!("{arc}.{}", self.business_arc)
    }
}

/// The business-id arc of an OID: the Y-tunnus digits without the hyphen and without
/// leading zeros (JHS 159).
pub fn business_arc(y: &YTunnus) -> String {
    let digits = y.digits();
    digits.trim_start_matches('0').to_owned()
}

/// The business-id root `1.2.246.10.<arc>`.
pub fn business_root(y: &YTunnus) -> String {
    format!("{YTUNNUS_OID_ARC}.{}", business_arc(y))
}

/// The OID of a toimintayksikkö (service provider) that uses the conventional `.10.0`:
/// `1.2.246.10.<arc>.10.0`.
pub fn provider_oid(ytunnus: &YTunnus) -> String {
    format!("{}.10.0", business_root(ytunnus))
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// True when `s` has the shape of a SOTE organisation or service-unit OID:
/// `<business-id root>.10.<n>`.
pub fn looks_like_org_oid(s: &str) -> bool {
    OrgOid::split(s).is_some_and(|o| {
        o.rest
            .strip_prefix("10.")
            .is_some_and(|n| !n.contains('.') && is_number(n))
    })
}

/// What a temporary client identifier's root (`…22.<year>`) is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemporaryRoot {
    /// `<business-id root>.22.<year>`, the recommended form.
    Organisation {
        /// The year.
        year: u16,
    },
    /// `<org or unit OID>.22.<year>`.
    Unit {
        /// The organisation or unit OID in front.
        unit: String,
        /// The year.
        year: u16,
    },
}

/// Why a root ending in `.22.<year>` is not a temporary-identifier root.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemporaryRootError {
    /// No `.22.` arc.
    #[error("{seen:?} has no .22.<year> arc of temporary identifiers")]
    NotTemporary {
        /// The root.
        seen: String,
    },
    /// The year is not four digits.
    #[error("the year arc of {seen:?} must be four digits")]
    Year {
        /// The root.
        seen: String,
    },
    /// What precedes `.22.` is not an organisation root or OID.
    #[error(
        "{seen:?}: {prefix:?} is neither 1.2.246.10.<business id> (or the legacy 1.2.246.537.10.<business id>) nor an organisation OID <root>.10.<n>"
    )]
    Prefix {
        /// The root.
        seen: String,
        /// What was in front of `.22.`.
        prefix: String,
    },
}

/// Reads a temporary client identifier root.
pub fn temporary_root(s: &str) -> Result<TemporaryRoot, TemporaryRootError> {
    let (prefix, year) = s
        .rsplit_once(".22.")
        .ok_or_else(|| TemporaryRootError::NotTemporary { seen: s.to_owned() })?;
    let year: u16 = (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()))
        .then(|| year.parse().ok())
        .flatten()
        .ok_or_else(|| TemporaryRootError::Year { seen: s.to_owned() })?;
    match OrgOid::split(prefix) {
        Some(o) if o.rest.is_empty() => Ok(TemporaryRoot::Organisation { year }),
        Some(_) if looks_like_org_oid(prefix) => Ok(TemporaryRoot::Unit {
            unit: prefix.to_owned(),
            year,
        }),
        _ => Err(TemporaryRootError::Prefix {
            seen: s.to_owned(),
            prefix: prefix.to_owned(),
        }),
    }
}

/// When `oid` writes a business id with its leading zero (`1.2.246.10.0…`), the corrected
/// OID; OID arcs never start with 0, and JHS 159 drops the zero.
pub fn zero_padded_business_arc(oid: &str) -> Option<String> {
    for arc in [YTUNNUS_OID_ARC, LEGACY_OID_ARC] {
        let Some(tail) = oid
            .strip_prefix(arc)
            .and_then(|t| t.strip_prefix('.'))
            .filter(|t| t.starts_with('0'))
        else {
            continue;
        };
        let (digits, rest) = tail.split_once('.').unwrap_or((tail, ""));
        if digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let fixed = digits.trim_start_matches('0');
            return Some(if rest.is_empty() {
                format!("{arc}.{fixed}")
            } else {
                format!("{arc}.{fixed}.{rest}")
            });
        }
    }
    None
}

/// Where the organisation OID may be found in a certificate subject, in the order tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OrgIdSource {
    /// Subject `serialNumber` (2.5.4.5): where DVV puts it [V].
    #[serde(rename = "subject.serialNumber")]
    SerialNumber,
    /// Subject `OU`.
    #[serde(rename = "subject.OU")]
    OrganisationalUnit,
    /// Subject `O`.
    #[serde(rename = "subject.O")]
    Organisation,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jhs159_drops_the_hyphen_and_the_leading_zero() {
        let turku: YTunnus = "0204819-8".parse().unwrap();
        assert_eq!(business_root(&turku), "1.2.246.10.2048198");
        assert_eq!(provider_oid(&turku), "1.2.246.10.2048198.10.0");
        let vantaa_kerava: YTunnus = "3221356-1".parse().unwrap();
        assert_eq!(provider_oid(&vantaa_kerava), "1.2.246.10.32213561.10.0");
    }

    #[test]
    fn organisation_oids_as_published() {
        for ok in [
            "1.2.246.10.32213561.10.0",
            "1.2.246.10.2012566.10.40",
            "1.2.246.10.2012566.10.40006775",
            "1.2.246.10.1246109.10.2001213",
            "1.2.246.537.10.15675350.10.0",
        ] {
            assert!(looks_like_org_oid(ok), "{ok}");
        }
        for bad in [
            "1.2.246.10.02048198.10.0",
            "1.2.246.10.204819.10.0",
            "1.2.246.10.32213561.22.2026",
            "1.2.246.10.32213561",
            "1.2.246.10.32213561.10.01",
            "1.2.246.10.32213561.10.0.5",
            "1.2.246.21",
        ] {
            assert!(!looks_like_org_oid(bad), "{bad}");
        }
        let o = OrgOid::split("1.2.246.10.2012566.10.40").unwrap();
        assert_eq!(o.ytunnus().unwrap().to_string(), "0201256-6");
        assert_eq!(o.root_oid(), "1.2.246.10.2012566");
        let legacy = OrgOid::split("1.2.246.537.10.15675350.22.2003").unwrap();
        assert_eq!(legacy.root, OidRoot::Legacy);
        assert_eq!(legacy.ytunnus().unwrap().to_string(), "1567535-0");
    }

    #[test]
    fn temporary_roots_as_published_and_refused() {
        assert_eq!(
            temporary_root("1.2.246.10.2012566.22.2026"),
            Ok(TemporaryRoot::Organisation { year: 2026 })
        );
        assert_eq!(
            temporary_root("1.2.246.537.10.15675350.22.2003"),
            Ok(TemporaryRoot::Organisation { year: 2003 })
        );
        assert_eq!(
            temporary_root("1.2.246.10.99900016.10.0.22.2026"),
            Ok(TemporaryRoot::Unit {
                unit: "1.2.246.10.99900016.10.0".into(),
                year: 2026
            })
        );
        assert!(matches!(
            temporary_root("1.2.246.10.99900016.10.0.22.26"),
            Err(TemporaryRootError::Year { .. })
        ));
        assert!(matches!(
            temporary_root("1.2.3.4.22.2026"),
            Err(TemporaryRootError::Prefix { .. })
        ));
        assert!(matches!(
            temporary_root("1.2.246.10.99900016.23.2026"),
            Err(TemporaryRootError::NotTemporary { .. })
        ));
    }

    #[test]
    fn a_zero_padded_business_id_is_named_with_its_fix() {
        assert_eq!(
            zero_padded_business_arc("1.2.246.10.02048198.10.0").as_deref(),
            Some("1.2.246.10.2048198.10.0")
        );
        assert_eq!(zero_padded_business_arc("1.2.246.10.2048198.10.0"), None);
    }
}
