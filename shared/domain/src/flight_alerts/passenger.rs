//! Passengers of a flight and their contact details.

use serde::Deserialize;

use crate::contact::{Email, PhoneNumber};
use crate::validation::{Collector, text};

/// One passenger as sent in `POST /flights`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassengerRequest {
    pub name: Option<String>,
    pub email: Option<String>,
    pub mobile: Option<String>,
}

impl PassengerRequest {
    pub(crate) fn validate(self, at: &str, c: &mut Collector) -> Option<NewPassenger> {
        let name = c.required(&format!("{at}.name"), self.name, |s| text(s, 1, 100));
        let email = c.required(&format!("{at}.email"), self.email, |s| Email::parse(&s));
        let mobile = c.required(&format!("{at}.mobile"), self.mobile, |s| PhoneNumber::parse(&s));
        Some(NewPassenger { name: name?, email: email?, mobile: mobile? })
    }
}

/// A validated passenger, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPassenger {
    pub name: String,
    pub email: Email,
    pub mobile: PhoneNumber,
}

/// A stored passenger, with the id that makes "one SMS per passenger" checkable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passenger {
    /// Unique within the flight's registration; stable across retries.
    pub id: String,
    pub mobile: PhoneNumber,
}
