//! The alerts table, owned by the alerts function.
//!
//! | pk                  | sk                  | what                                   |
//! |---------------------|---------------------|----------------------------------------|
//! | `FLIGHT#<flightId>` | `ALERT#<alertId>`   | an alert; UUIDv7 ids sort by issue time |
//! | `FLIGHT#<flightId>` | `KEY#<idempotencyKey>` | which alert a client's key produced, for which request |
//!
//! Listing a flight's alerts newest first is one query on the partition, backwards.
//!
//! Both kinds of item expire by TTL `retention` after the alert was issued (the
//! `ALERTS_RETENTION_DAYS` setting). DynamoDB deletes expired items only eventually, so
//! reads skip them and an expired idempotency key counts as unused.
//!
//! The table's stream is the alerts' outbox: a recorded alert (an INSERT of an `ALERT#`
//! item) is published from it by the alert-publisher function, so an alert is published
//! if and only if it was recorded ([`OutboxAlert`]).

use aws_sdk_dynamodb::Client;
use domain::IdempotencyKey;
use domain::flight_alerts::alert::{ALERT_RETENTION, Route};
use domain::flight_alerts::flight::{AirportCode, Carrier};
use domain::flight_alerts::flight_event::{FlightEvent, FlightEventKind};
use domain::flight_alerts::{Alert, AlertId, AlertMessage, FlightId};
use domain::pagination::Cursor;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::dynamo::{
    Item, TTL_ATTRIBUTE, UNEXPIRED, epoch, get_opt_n, get_opt_s, get_s, image_s, is_expired, n, parse_s, s,
};

#[derive(Debug, Clone)]
pub struct AlertsTable {
    client: Client,
    name: String,
    /// How long alerts (and their idempotency keys) are kept after issue.
    retention: Duration,
}

/// The outcome of recording an alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored now.
    New(Alert),
    /// The idempotency key was used before, for the same request: this is the alert it produced.
    Existing(Alert),
    /// The idempotency key was used before for a different request; nothing was stored.
    KeyReused,
}

/// An idempotency key and the canonical request it is sent with.
#[derive(Debug, Clone, Copy)]
pub struct Idempotency<'a> {
    pub key: &'a IdempotencyKey,
    pub request: &'a str,
}

/// A page of alerts, newest first.
#[derive(Debug)]
pub struct AlertPage {
    pub alerts: Vec<Alert>,
    pub next: Option<Cursor>,
}

fn partition(id: &FlightId) -> String {
    format!("FLIGHT#{id}")
}

fn alert_sort_key(id: &AlertId) -> String {
    format!("ALERT#{id}")
}

fn rfc3339(at: OffsetDateTime) -> Result<String, Error> {
    at.format(&Rfc3339).map_err(|e| Error::Malformed(e.to_string()))
}

impl AlertsTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), retention: ALERT_RETENTION }
    }

    /// Keeps alerts recorded from now on for `retention` after issue.
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    /// Stores an alert, with the correlation id its publication will carry. With an
    /// idempotency key, the key is reserved for this alert's id and request first; a key
    /// seen before for the same request yields the alert it produced (stored now if an
    /// earlier attempt died between reserving the key and writing the alert), and for
    /// another request, [`Recorded::KeyReused`].
    pub async fn record(
        &self,
        alert: Alert,
        idempotency: Option<Idempotency<'_>>,
        correlation_id: &str,
    ) -> Result<Recorded, Error> {
        let mut alert = alert;
        let mut replay = false;
        if let Some(idempotency) = idempotency {
            let (reserved, request) = self.reserve_key(&alert, idempotency).await?;
            if request != idempotency.request {
                return Ok(Recorded::KeyReused);
            }
            if reserved != alert.id {
                if let Some(existing) = self.get(&alert.flight_id, &reserved).await? {
                    return Ok(Recorded::Existing(existing));
                }
                alert.id = reserved;
                replay = true;
            }
        }
        self.put(&alert, correlation_id).await?;
        Ok(if replay { Recorded::Existing(alert) } else { Recorded::New(alert) })
    }

    /// Reserves the key for `alert`, or returns the alert id and request it was reserved for before.
    async fn reserve_key(&self, alert: &Alert, idempotency: Idempotency<'_>) -> Result<(AlertId, String), Error> {
        let pk = s(partition(&alert.flight_id));
        let sk = s(format!("KEY#{}", idempotency.key.as_str()));
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", pk.clone())
            .item("sk", sk.clone())
            .item("alertId", s(alert.id.as_str()))
            .item("request", s(idempotency.request))
            .item(TTL_ATTRIBUTE, epoch(alert.expires_at(self.retention)))
            // An expired key is one DynamoDB has not got round to deleting: unused.
            .condition_expression("attribute_not_exists(pk) OR #expires <= :now")
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", epoch(OffsetDateTime::now_utc()))
            .send()
            .await;
        match put {
            Ok(_) => Ok((alert.id.clone(), idempotency.request.to_owned())),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                let out = self
                    .client
                    .get_item()
                    .table_name(&self.name)
                    .key("pk", pk)
                    .key("sk", sk)
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(|e| Error::dynamo("GetItem", e))?;
                let item = out.item.ok_or_else(|| Error::Malformed("idempotency key vanished".into()))?;
                let request = get_opt_s(&item, "request").unwrap_or_default().to_owned();
                Ok((parse_s(&item, "alertId", AlertId::parse)?, request))
            }
            Err(err) => Err(Error::dynamo("PutItem", err)),
        }
    }

    async fn put(&self, alert: &Alert, correlation_id: &str) -> Result<(), Error> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", s(partition(&alert.flight_id)))
            .item("sk", s(alert_sort_key(&alert.id)))
            .item("alertId", s(alert.id.as_str()))
            .item("flightId", s(alert.flight_id.as_str()))
            .item("type", s(alert.event.kind.label()))
            .item("reason", s(&alert.event.reason))
            .item("message", s(&alert.message))
            .item("issuedAt", s(rfc3339(alert.issued_at)?))
            .item("correlationId", s(correlation_id))
            .item(TTL_ATTRIBUTE, epoch(alert.expires_at(self.retention)));
        if let Some(route) = &alert.route {
            put = put
                .item("carrier", s(route.carrier.as_str()))
                .item("origin", s(route.origin.as_str()))
                .item("destination", s(route.destination.as_str()));
        }
        match &alert.event.kind {
            FlightEventKind::Delay { minutes, new_departure } => {
                put = put.item("minutes", n(minutes)).item("newDeparture", s(rfc3339(*new_departure)?));
            }
            FlightEventKind::GateChange { gate } => put = put.item("gate", s(gate)),
            FlightEventKind::Cancellation => {}
        }
        put.send().await.map_err(|e| Error::dynamo("PutItem", e))?;
        Ok(())
    }

    /// An alert; `None` if it was never recorded or has expired.
    pub async fn get(&self, flight: &FlightId, id: &AlertId) -> Result<Option<Alert>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", s(partition(flight)))
            .key("sk", s(alert_sort_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        let now = OffsetDateTime::now_utc();
        out.item.as_ref().filter(|item| !is_expired(item, now)).map(read_alert).transpose()
    }

    /// A flight's alerts, newest first, `limit` at a time, continuing after `cursor`.
    /// Expired alerts are left out after the page is read (`Limit` counts them), so a
    /// page may hold fewer than `limit` even when more follow: `next` says whether they do.
    pub async fn list(&self, flight: &FlightId, limit: u16, cursor: Option<Cursor>) -> Result<AlertPage, Error> {
        let pk = partition(flight);
        let start = cursor.map(|c| [("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(c.position))].into());
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s("ALERT#"))
            .filter_expression(UNEXPIRED)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", epoch(OffsetDateTime::now_utc()))
            .scan_index_forward(false)
            .set_exclusive_start_key(start)
            .limit(i32::from(limit))
            .send()
            .await
            .map_err(|e| Error::dynamo("Query", e))?;
        let alerts = out.items.unwrap_or_default().iter().map(read_alert).collect::<Result<_, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) => Some(Cursor { scope: flight.to_string(), position: get_s(&key, "sk")?.to_owned() }),
            None => None,
        };
        Ok(AlertPage { alerts, next })
    }
}

/// A recorded alert as the table's stream carries it: what the outbox publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxAlert {
    /// A new alert, to publish.
    Publish(AlertMessage),
    /// Another change (an idempotency key, a removal): nothing to publish.
    Ignore,
}

impl OutboxAlert {
    /// Reads a stream record's event name and new image (DynamoDB JSON, `{"S": ...}`).
    pub fn from_change(event_name: &str, new_image: &serde_json::Value) -> Result<Self, Error> {
        let text = |name: &str| image_s(new_image, name);
        if event_name != "INSERT" || !text("sk").is_some_and(|sk| sk.starts_with("ALERT#")) {
            return Ok(Self::Ignore);
        }
        let field = |name: &str| text(name).ok_or_else(|| Error::Malformed(format!("alert image without {name}")));
        let message = AlertMessage {
            alert_id: AlertId::parse(field("alertId")?).map_err(Error::Malformed)?,
            flight_id: FlightId::parse(field("flightId")?).map_err(Error::Malformed)?.to_string(),
            text: field("message")?.to_owned(),
            // An alert recorded without a correlation id is traced by its own id.
            correlation_id: text("correlationId").or(text("alertId")).unwrap_or_default().to_owned(),
            resume: None,
        };
        Ok(Self::Publish(message))
    }
}

fn read_alert(item: &Item) -> Result<Alert, Error> {
    let time = |name: &str| parse_s(item, name, |v| OffsetDateTime::parse(v, &Rfc3339).map_err(|e| e.to_string()));
    let kind = match get_s(item, "type")? {
        "delay" => FlightEventKind::Delay {
            minutes: get_opt_n(item, "minutes")?.ok_or_else(|| Error::Malformed("delay without minutes".into()))?,
            new_departure: time("newDeparture")?,
        },
        "cancellation" => FlightEventKind::Cancellation,
        "gateChange" => FlightEventKind::GateChange {
            gate: get_opt_s(item, "gate")
                .ok_or_else(|| Error::Malformed("gate change without gate".into()))?
                .to_owned(),
        },
        other => return Err(Error::Malformed(format!("unknown alert type {other}"))),
    };
    Ok(Alert {
        id: parse_s(item, "alertId", AlertId::parse)?,
        flight_id: parse_s(item, "flightId", FlightId::parse)?,
        event: FlightEvent { kind, reason: get_s(item, "reason")?.to_owned() },
        message: get_s(item, "message")?.to_owned(),
        issued_at: time("issuedAt")?,
        route: read_route(item)?,
    })
}

/// The route an alert was recorded with; alerts recorded before routes were have none.
fn read_route(item: &Item) -> Result<Option<Route>, Error> {
    if !item.contains_key("carrier") {
        return Ok(None);
    }
    Ok(Some(Route {
        carrier: parse_s(item, "carrier", Carrier::parse)?,
        origin: parse_s(item, "origin", AirportCode::parse)?,
        destination: parse_s(item, "destination", AirportCode::parse)?,
    }))
}
