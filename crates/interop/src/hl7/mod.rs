//! HL7 v2: messages (`message`), imaging orders in (`order`), acknowledgements and results
//! out (`reply`).

pub mod message;
pub mod order;
pub mod reply;

pub use message::{Delimiters, Hl7Error, Message, parse_timestamp};
pub use order::{Control, OrderMessage, read_order};
pub use reply::{AckCode, ResultContext, ack, oru, sends};
