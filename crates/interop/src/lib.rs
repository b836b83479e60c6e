//! The hospital's standards, mapped to and from the domain's types: HL7 v2 messages
//! (`hl7`) and their MLLP framing (`mllp`). Pure: bytes in, domain values or bytes out;
//! the server crate owns the sockets.

pub mod hl7;
pub mod mllp;
