//! The domain, free of AWS and I/O: one module per system, and at the root what every
//! system shares (validation problems, paging cursors, idempotency keys, contact details,
//! the SMS alphabet).
//!
//! Everything that can be decided without the network is decided here. Handlers parse
//! the event, call into this crate, and do the I/O.

pub mod analytics;
pub mod archive;
pub mod contact;
pub mod flight_alerts;
pub mod gsm7;
pub mod idempotency_key;
pub mod pagination;
pub mod recommendations;
pub mod validation;

pub use contact::{Email, PhoneNumber};
pub use idempotency_key::IdempotencyKey;
pub use validation::{FieldError, Invalid};
