//! Flight events: what an operator reports about a flight (a delay, a cancellation, a
//! gate change) and what it means for the flight's schedule.

use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use crate::flight_alerts::flight::{Flight, later};
use crate::validation::{Collector, Invalid, text};

/// Longest delay accepted, in minutes (two days); longer is a cancellation in practice.
pub const MAX_DELAY_MINUTES: u16 = 2_880;

/// The body of `POST /flights/{flightId}/events` as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlightEventRequest {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub reason: Option<String>,
    /// For a delay: minutes after the *scheduled* departure, i.e. the total delay.
    pub minutes: Option<i64>,
    /// For a gate change: the new gate.
    pub gate: Option<String>,
}

/// What happened to the flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlightEventKind {
    Delay { minutes: u16, new_departure: OffsetDateTime },
    Cancellation,
    GateChange { gate: String },
}

impl FlightEventKind {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Delay { .. } => "delay",
            Self::Cancellation => "cancellation",
            Self::GateChange { .. } => "gateChange",
        }
    }
}

/// A validated event about one flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlightEvent {
    pub kind: FlightEventKind,
    pub reason: String,
}

/// The request checked on its own, before the flight is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlightEvent {
    kind: RequestedKind,
    reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RequestedKind {
    Delay(u16),
    Cancellation,
    GateChange(String),
}

impl TryFrom<FlightEventRequest> for NewFlightEvent {
    type Error = Invalid;

    fn try_from(req: FlightEventRequest) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let reason = c.required("reason", req.reason, |s| text(s, 1, 200));
        let kind_name = req.kind.as_deref();
        if req.minutes.is_some() && kind_name != Some("delay") {
            c.push("minutes", "is only allowed for a delay");
        }
        if req.gate.is_some() && kind_name != Some("gateChange") {
            c.push("gate", "is only allowed for a gate change");
        }
        let kind = match req.kind.as_deref() {
            None => {
                c.push("type", "is required");
                None
            }
            Some("delay") => {
                let minutes = c.required("minutes", req.minutes, |m| match u16::try_from(m) {
                    Ok(m) if (1..=MAX_DELAY_MINUTES).contains(&m) => Ok(m),
                    _ => Err(format!("must be a whole number of minutes from 1 to {MAX_DELAY_MINUTES}")),
                });
                minutes.map(RequestedKind::Delay)
            }
            Some("cancellation") => Some(RequestedKind::Cancellation),
            Some("gateChange") => {
                let gate = c.required("gate", req.gate, |g| {
                    let g = g.trim().to_ascii_uppercase();
                    if (1..=6).contains(&g.len()) && g.chars().all(|ch| ch.is_ascii_alphanumeric()) {
                        Ok(g)
                    } else {
                        Err("must be 1 to 6 letters or digits, such as B22".to_owned())
                    }
                });
                gate.map(RequestedKind::GateChange)
            }
            Some(_) => {
                c.push("type", "must be one of delay, cancellation, gateChange");
                None
            }
        };
        c.finish(|| Some(NewFlightEvent { kind: kind?, reason: reason? }))
    }
}

impl NewFlightEvent {
    /// What the request asked for, in one canonical line: two requests that ask for the
    /// same thing (whatever their spacing or field order) give the same line. An
    /// idempotency key is bound to it, so the key cannot be reused for something else.
    pub fn canonical(&self) -> String {
        let kind = match &self.kind {
            RequestedKind::Delay(minutes) => format!("delay:{minutes}"),
            RequestedKind::Cancellation => "cancellation".to_owned(),
            RequestedKind::GateChange(gate) => format!("gateChange:{gate}"),
        };
        format!("{kind}|{}", self.reason)
    }

    /// Applies the event to the flight it is about: a delay's new departure time is
    /// counted from the scheduled one.
    pub fn for_flight(self, flight: &Flight) -> FlightEvent {
        let kind = match self.kind {
            RequestedKind::Delay(minutes) => FlightEventKind::Delay {
                minutes,
                new_departure: later(flight.scheduled_departure, Duration::minutes(i64::from(minutes))),
            },
            RequestedKind::Cancellation => FlightEventKind::Cancellation,
            RequestedKind::GateChange(gate) => FlightEventKind::GateChange { gate },
        };
        FlightEvent { kind, reason: self.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<NewFlightEvent, Invalid> {
        NewFlightEvent::try_from(serde_json::from_value::<FlightEventRequest>(json).unwrap())
    }

    fn fields(err: Invalid) -> Vec<String> {
        err.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_delay_moves_the_departure_from_the_schedule() {
        let flight = crate::flight_alerts::alert::tests::flight();
        let event = parse(serde_json::json!({"type": "delay", "minutes": 45, "reason": "Late inbound aircraft"}))
            .unwrap()
            .for_flight(&flight);
        let FlightEventKind::Delay { minutes, new_departure } = event.kind else { panic!("not a delay") };
        assert_eq!(minutes, 45);
        assert_eq!(new_departure - flight.scheduled_departure, Duration::minutes(45));
    }

    #[test]
    fn invalid_events_name_their_fields() {
        assert_eq!(fields(parse(serde_json::json!({})).unwrap_err()), ["reason", "type"]);
        assert_eq!(fields(parse(serde_json::json!({"type": "delay", "reason": "x"})).unwrap_err()), ["minutes"]);
        assert_eq!(
            fields(parse(serde_json::json!({"type": "delay", "minutes": 0, "reason": "x"})).unwrap_err()),
            ["minutes"]
        );
        assert_eq!(
            fields(parse(serde_json::json!({"type": "delay", "minutes": 99999, "reason": "x"})).unwrap_err()),
            ["minutes"]
        );
        assert_eq!(
            fields(parse(serde_json::json!({"type": "cancellation", "reason": "x", "gate": "A1"})).unwrap_err()),
            ["gate"]
        );
        assert_eq!(
            fields(parse(serde_json::json!({"type": "gateChange", "reason": "x", "gate": "A-1"})).unwrap_err()),
            ["gate"]
        );
        assert_eq!(
            fields(parse(serde_json::json!({"type": "diverted", "reason": " "})).unwrap_err()),
            ["reason", "type"]
        );
    }

    #[test]
    fn cancellations_and_gate_changes_are_accepted() {
        assert!(parse(serde_json::json!({"type": "cancellation", "reason": "Crew shortage"})).is_ok());
        let gate = parse(serde_json::json!({"type": "gateChange", "gate": "b22", "reason": "Stand swap"}))
            .unwrap()
            .for_flight(&crate::flight_alerts::alert::tests::flight());
        assert_eq!(gate.kind, FlightEventKind::GateChange { gate: "B22".into() });
    }
}
