//! The flight-alert domain, free of AWS and I/O.
//!
//! Everything that can be decided without the network is decided here: what a valid
//! flight, passenger or flight event is, which text a passenger receives, how alerts are
//! keyed and paged, and how a delivery record moves from "in progress" to "completed".
//! Handlers parse the event, call into this crate, and do the I/O.

pub mod alert;
pub mod contact;
pub mod delivery;
pub mod flight;
pub mod flight_event;
pub mod idempotency_key;
pub mod pagination;
pub mod passenger;
pub mod sms_text;
pub mod validation;

pub use alert::{Alert, AlertId, AlertMessage};
pub use contact::{Email, PhoneNumber};
pub use flight::{AirportCode, Carrier, Flight, FlightId, FlightNumber, NewFlight};
pub use flight_event::{FlightEvent, FlightEventKind, NewFlightEvent};
pub use idempotency_key::IdempotencyKey;
pub use passenger::{NewPassenger, Passenger};
pub use validation::{FieldError, Invalid};
