//! The hospital's standards, mapped to and from the domain's types: HL7 v2 messages
//! (`hl7`) and their MLLP framing (`mllp`), DICOM commands, attributes and file headers
//! (`dicom`) and the upper layer's data PDUs (`pdu`). Pure: bytes in, domain values or
//! bytes out; the server crate owns the sockets and the files.

pub mod dicom;
pub mod fhir;
pub mod hl7;
pub mod mllp;
pub mod multipart;
pub mod pdu;
pub mod sr;
pub mod sr_write;
