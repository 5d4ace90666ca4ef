//! A Kanta-shaped sample CDA with fictional data (900-series identity codes only, the
//! bundled register's organisations), built with [`super::build_cda`]. Used by
//! `kanta-sim sample-document`, the signature tests and the benchmarks.

use super::build::{Body, build_cda};
use super::model::{Metadata, Profile};

/// Parameters of a sample document.
#[derive(Debug, Clone)]
pub struct SampleDocument {
    /// Client-relationship (SP1) or client document (SP17).
    pub profile: Profile,
    /// Document OID (also the `nonXMLBody` ID as `OID<oid>`).
    pub document_oid: String,
    /// Custodian (controller) organisation OID.
    pub custodian: String,
    /// Client's identity code (900-series).
    pub client_hetu: String,
    /// Author's registration number (client documents only).
    pub author: String,
    /// Approximate size of the display form, in bytes (it is padded to reach it).
    pub body_bytes: usize,
}

impl Default for SampleDocument {
    fn default() -> Self {
        Self {
            profile: Profile::ClientRelationship,
            document_oid: "1.2.246.10.99900016.10.0.20260001".into(),
            custodian: "1.2.246.10.99900016.10.0".into(),
            client_hetu: "010190-902S".into(),
            author: "99900000011".into(),
            body_bytes: 4096,
        }
    }
}

impl SampleDocument {
    /// The metadata it stands for.
    pub fn metadata(&self) -> Metadata {
        let mut meta = match self.profile {
            Profile::ClientRelationship => {
                Metadata::client_relationship_example(&self.document_oid, &self.client_hetu)
            }
            Profile::ClientDocument => Metadata::client_document_example(
                &self.document_oid,
                &self.client_hetu,
                &self.author,
            ),
        };
        meta.custodian.clone_from(&self.custodian);
        meta
    }

    /// The document as compact XML.
    pub fn to_xml(&self) -> String {
        let meta = self.metadata();
        build_cda(&meta, &Body::example(&meta, self.body_bytes))
    }
}
