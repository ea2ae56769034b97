//! Alerts as the API shows them.

use domain::flight_alerts::Alert;
use domain::flight_alerts::flight_event::FlightEventKind;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    pub alert_id: String,
    pub flight_id: String,
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    alert_id: String,
    flight_id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    minutes: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    new_departure: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<String>,
    message: String,
    issued_at: String,
}

impl From<&Alert> for AlertView {
    fn from(alert: &Alert) -> Self {
        let (minutes, new_departure, gate) = match &alert.event.kind {
            FlightEventKind::Delay { minutes, new_departure } => {
                (Some(*minutes), new_departure.format(&Rfc3339).ok(), None)
            }
            FlightEventKind::GateChange { gate } => (None, None, Some(gate.clone())),
            FlightEventKind::Cancellation => (None, None, None),
        };
        Self {
            alert_id: alert.id.to_string(),
            flight_id: alert.flight_id.to_string(),
            kind: alert.event.kind.label(),
            reason: alert.event.reason.clone(),
            minutes,
            new_departure,
            gate,
            message: alert.message.clone(),
            issued_at: alert.issued_at.format(&Rfc3339).unwrap_or_default(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertPageView {
    pub items: Vec<AlertView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}
