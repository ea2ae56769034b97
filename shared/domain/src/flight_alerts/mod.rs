//! Flight alerts (seed 004): what a valid flight, passenger or flight event is, which
//! text a passenger receives, how alerts are keyed, and how a delivery record moves from
//! "in progress" to "completed".

pub mod alert;
pub mod delivery;
pub mod flight;
pub mod flight_event;
pub mod passenger;
pub mod sms_text;

pub use alert::{Alert, AlertId, AlertMessage, Resume, Route};
pub use flight::{AirportCode, Carrier, Flight, FlightId, FlightNumber, NewFlight};
pub use flight_event::{FlightEvent, FlightEventKind, NewFlightEvent};
pub use passenger::{NewPassenger, Passenger};
