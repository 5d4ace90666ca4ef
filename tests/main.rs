//! Every integration test in one binary: one link and one copy of the generic code
//! instead of one per file, which roughly halves the release test build (the README's
//! test command). Each file below is a module; `common` holds what they share.

mod common;

mod architecture;
mod archive_endpoint;
mod archivist;
mod cli;
mod conformance;
mod crash;
mod dsig_cli;
mod faults;
mod hostile;
mod lifecycle;
mod newcomer;
mod onboarding;
mod resilience;
mod testcases;
mod tls_endpoint;
mod xml_properties;
mod xmlsec_interop;
