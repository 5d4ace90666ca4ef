//! Kanta social-welfare documents (asiakirja): an HL7 CDA R2 `ClinicalDocument` with the
//! Finnish `hl7fi:localSocialHeader` metadata and a `nonXMLBody` holding the display and
//! structured forms. The typed model arrives with the archiving rules; for now this module
//! builds sample documents for the signature tools, tests and benchmarks.

pub mod sample;
