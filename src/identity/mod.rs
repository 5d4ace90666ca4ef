//! Identities of the parties: personal identity codes (HETU), Finnish business ids
//! (Y-tunnus), organisation OIDs and the
//! mock THL SOTE organisation register (SOTE-organisaatiorekisteri).

mod claimant;
mod hetu;
mod oid;
mod register;
mod ytunnus;

pub use claimant::{Claimant, OrgIdentity};
pub use hetu::{
    HETU_OID, Hetu, HetuCandidate, HetuError, Pool, scan as scan_hetus,
    scan_outside as scan_hetus_outside,
};
pub use oid::{
    LEGACY_OID_ARC, OidRoot, OrgIdSource, OrgOid, TemporaryRoot, TemporaryRootError,
    YTUNNUS_OID_ARC, business_arc, business_root, looks_like_org_oid, provider_oid, temporary_root,
    zero_padded_business_arc,
};
pub use register::{
    Organisation, OrganisationKind, RegisterError, ServiceUnit, SoteRegister, UseRight,
};
pub use ytunnus::{YTunnus, YTunnusError};
