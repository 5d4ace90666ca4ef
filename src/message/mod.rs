//! Messages on the wire: SOAP envelopes (1.1 and 1.2) around HL7 V3 interactions, and the
//! faults and acknowledgements the archive answers with.

pub mod soap;
