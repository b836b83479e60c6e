//! HL7 v2: messages (`message`), imaging orders in (`order`), the RIS's final reports in
//! (`result`), acknowledgements and results out (`reply`).

pub mod message;
pub mod order;
pub mod reply;
pub mod result;

pub use message::{Delimiters, Hl7Error, Message, parse_timestamp};
pub use order::{Control, OrderMessage, read_order};
pub use reply::{AckCode, ResultContext, ack, oru, sends};
pub use result::read_result;
