//! Alerts: the record that a flight event was announced, and the message that carries it
//! to the SMS function.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::flight_alerts::flight::{AirportCode, Carrier, Flight, FlightId};
use crate::flight_alerts::flight_event::FlightEvent;
use crate::flight_alerts::sms_text;

/// How long an alert stays queryable before DynamoDB's TTL removes it, unless the
/// deployment says otherwise.
pub const ALERT_RETENTION: Duration = Duration::days(30);

/// An alert's id: a UUIDv7, so ids sort in the order alerts were issued.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AlertId(String);

impl AlertId {
    /// Accepts the canonical lower-case hyphenated UUID form only.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = raw.len() == 36
            && raw.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_digit() || ('a'..='f').contains(&c),
            });
        if ok { Ok(Self(raw.to_owned())) } else { Err("must be an alert id (a UUID)".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An issued alert. Holds no passenger data: alerts are about flights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: AlertId,
    pub flight_id: FlightId,
    pub event: FlightEvent,
    /// The SMS text every passenger of the flight receives.
    pub message: String,
    pub issued_at: OffsetDateTime,
    /// Who flies the flight and where, so that alerts can be counted per carrier and
    /// route once archived. `None` for alerts stored before it was recorded.
    pub route: Option<Route>,
}

/// A flight's carrier and route, as an alert records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub carrier: Carrier,
    pub origin: AirportCode,
    pub destination: AirportCode,
}

impl Route {
    pub fn of(flight: &Flight) -> Self {
        Self { carrier: flight.carrier.clone(), origin: flight.origin.clone(), destination: flight.destination.clone() }
    }
}

impl Alert {
    pub fn issue(id: AlertId, flight: &Flight, event: FlightEvent, issued_at: OffsetDateTime) -> Self {
        let message = sms_text::compose(flight, &event);
        Self { id, flight_id: flight.id.clone(), event, message, issued_at, route: Some(Route::of(flight)) }
    }

    /// When the alert may be deleted: `retention` after it was issued.
    pub fn expires_at(&self, retention: Duration) -> OffsetDateTime {
        crate::flight_alerts::flight::later(self.issued_at, retention)
    }
}

/// What the alerts function publishes and the SMS function consumes: everything the SMS
/// function needs, so it never calls back. `correlationId` ties the log lines of the API
/// request, the publish and every SMS sent for it together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertMessage {
    pub alert_id: AlertId,
    pub flight_id: String,
    pub text: String,
    pub correlation_id: String,
    /// Where to carry on: set on the follow-up message an SMS invocation sends when its
    /// time runs out part way through a flight. Absent on the message an alert starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// How far through a flight's passengers (in the order they are stored) delivery got:
/// every passenger up to and including `after` is accounted for (texted, refused by the
/// SMS service, or sharing a number that was).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resume {
    /// The last passenger accounted for.
    pub after: String,
    /// How many passengers that is, to compare with the flight's passenger count.
    pub counted: u32,
}

impl AlertMessage {
    pub fn for_alert(alert: &Alert, correlation_id: &str) -> Self {
        Self {
            alert_id: alert.id.clone(),
            flight_id: alert.flight_id.as_str().to_owned(),
            text: alert.message.clone(),
            correlation_id: correlation_id.to_owned(),
            resume: None,
        }
    }

    /// The same alert, to carry on after `resume`.
    #[must_use]
    pub fn resumed(&self, resume: Resume) -> Self {
        Self { resume: Some(resume), ..self.clone() }
    }

    /// Reads a message body, checking the ids it carries.
    pub fn from_json(body: &str) -> Result<Self, String> {
        let message: Self = serde_json::from_str(body).map_err(|e| format!("not an alert message: {e}"))?;
        AlertId::parse(message.alert_id.as_str())?;
        FlightId::parse(&message.flight_id)?;
        if message.text.trim().is_empty() {
            return Err("alert message has no text".into());
        }
        Ok(message)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::flight_alerts::flight::{FlightRequest, NewFlight};
    use crate::flight_alerts::flight_event::FlightEventKind;

    pub(crate) fn flight() -> Flight {
        let req: FlightRequest = serde_json::from_value(serde_json::json!({
            "carrier": "UA", "flightNumber": "83", "date": "2026-12-01", "origin": "SFO",
            "destination": "JFK", "scheduledDeparture": "2026-12-01T08:30:00-08:00",
            "passengers": [{"name": "Ada", "email": "ada@example.com", "mobile": "+447911123456"}]
        }))
        .unwrap();
        NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap().flight
    }

    const ID: &str = "01936b2e-1c2a-7def-8abc-0123456789ab";

    #[test]
    fn an_alert_carries_its_text_and_route_and_expires_after_its_retention() {
        let issued = time::macros::datetime!(2026-12-01 15:00 UTC);
        let event = FlightEvent { kind: FlightEventKind::Cancellation, reason: "Storm".into() };
        let alert = Alert::issue(AlertId::parse(ID).unwrap(), &flight(), event, issued);
        assert_eq!(alert.message, "UA83 SFO-JFK 01 Dec: cancelled. Reason: Storm");
        let route = alert.route.as_ref().expect("an issued alert knows its route");
        assert_eq!((route.carrier.as_str(), route.origin.as_str(), route.destination.as_str()), ("UA", "SFO", "JFK"));
        assert_eq!(alert.expires_at(ALERT_RETENTION), issued + Duration::days(30));
        assert_eq!(alert.expires_at(Duration::days(3)), issued + Duration::days(3));
        assert_eq!(alert.expires_at(Duration::MAX), time::PrimitiveDateTime::MAX.assume_utc(), "saturates");
    }

    #[test]
    fn messages_round_trip_and_bad_ones_are_refused() {
        let event = FlightEvent { kind: FlightEventKind::Cancellation, reason: "Storm".into() };
        let alert = Alert::issue(AlertId::parse(ID).unwrap(), &flight(), event, OffsetDateTime::UNIX_EPOCH);
        let message = AlertMessage::for_alert(&alert, "req-1");
        let body = serde_json::to_string(&message).unwrap();
        assert!(body.contains("\"alertId\""));
        assert_eq!(AlertMessage::from_json(&body).unwrap(), message);
        assert!(AlertMessage::from_json("{}").is_err());
        assert!(AlertMessage::from_json(&body.replace(ID, "nope")).is_err());
        assert!(AlertMessage::from_json(&body.replace("UA83-2026-12-01", "x")).is_err());
        assert!(!body.contains("resume"), "a first message says nothing about resuming");

        let resumed = message.resumed(Resume { after: "r1#00099".into(), counted: 100 });
        let body = serde_json::to_string(&resumed).unwrap();
        assert!(body.contains(r#""resume":{"after":"r1#00099","counted":100}"#), "{body}");
        assert_eq!(AlertMessage::from_json(&body).unwrap(), resumed);
    }

    #[test]
    fn alert_ids_are_canonical_uuids() {
        assert!(AlertId::parse(ID).is_ok());
        assert!(AlertId::parse(&ID.to_uppercase()).is_err());
        assert!(AlertId::parse("01936b2e1c2a7def8abc0123456789ab").is_err());
    }
}
