//! Identities of the parties: personal identity codes (HETU), Finnish business ids
//! (Y-tunnus), organisation OIDs and the
//! mock THL SOTE organisation register (SOTE-organisaatiorekisteri).

mod hetu;
mod register;
mod ytunnus;

pub use hetu::{HETU_OID, Hetu, HetuCandidate, HetuError, scan as scan_hetus};
pub use register::{
    Organisation, OrganisationKind, RegisterError, ServiceUnit, SoteRegister, UseRight,
};
pub use ytunnus::{YTunnus, YTunnusError};

/// The OID arc under which Finnish business ids become organisation OIDs (JHS 159).
pub const YTUNNUS_OID_ARC: &str = "1.2.246.10";

/// The OID of a toimintayksikkö (service provider) in the SOTE register:
/// `1.2.246.10.<Y-tunnus digits>.10.0`.
pub fn provider_oid(ytunnus: &YTunnus) -> String {
    format!("{YTUNNUS_OID_ARC}.{}.10.0", ytunnus.digits())
}

/// True when `s` has the shape of a SOTE organisation OID:
/// `1.2.246.10.<8 digits>.10.<n>`.
pub fn looks_like_org_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("1.2.246.10.") else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() == 3
        && parts[0].len() == 8
        && parts[0].bytes().all(|b| b.is_ascii_digit())
        && parts[1] == "10"
        && !parts[2].is_empty()
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_oid_drops_the_hyphen() {
        let y: YTunnus = "0204819-8".parse().unwrap();
        assert_eq!(provider_oid(&y), "1.2.246.10.02048198.10.0");
        assert!(looks_like_org_oid("1.2.246.10.32213561.10.0"));
        assert!(looks_like_org_oid("1.2.246.10.32213561.10.12"));
        assert!(!looks_like_org_oid("1.2.246.10.3221356.10.0"));
        assert!(!looks_like_org_oid("1.2.246.537.10.15675350.10.0"));
        assert!(!looks_like_org_oid("1.2.246.10.32213561.22.2026"));
    }
}
