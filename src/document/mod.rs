//! Kanta social-welfare documents (asiakirja): an HL7 CDA R2 `ClinicalDocument` with the
//! Finnish `hl7fi:localSocialHeader` metadata and a `nonXMLBody` holding the display form
//! (base64 XHTML) and the structured form (base64 JSON). `model` is the typed metadata,
//! `build` writes a document from it; the parser and the H/B/P rules build on the same model.

pub mod archived;
pub mod build;
pub mod model;
pub mod parse;
pub mod sample;
pub mod signature;

pub use archived::{ArchivedDocument, DocStatus, RelatedRef};
pub use build::{Body, build_cda};
pub use model::{ClientId, Code, DocumentRef, Metadata, Profile};
pub use parse::{
    BODY_FORM_TEXTS, CDA_LIFTED_TEXTS, ParsedCda, parse_cda, parse_cda_lifted, parse_document,
};
pub use signature::{
    KANTA_COVERAGE, SignatureType, archived_body, clinical_document, kanta_verify_options,
    sign_kanta_document,
};

/// The HL7 V3 namespace: CDA documents and the HL7 messages that carry them.
pub const HL7_NS: &str = "urn:hl7-org:v3";
/// The Finnish CDA extensions namespace (`hl7fi:`).
pub const HL7FI_NS: &str = "urn:hl7finland";
