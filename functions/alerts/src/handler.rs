//! Routing and the two operations.

use adapters::flight_alerts::alerts_table::{AlertsTable, Idempotency, Recorded};
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::http::{dependency_failed, json, json_body, no_such_operation, path_parameter, query_parameter, serve};
use adapters::problem::Problem;
use domain::flight_alerts::flight_event::FlightEventRequest;
use domain::flight_alerts::{Alert, AlertId, FlightId, NewFlightEvent};
use domain::pagination::{Cursor, page_size};
use domain::{IdempotencyKey, Invalid};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use time::OffsetDateTime;

use crate::view::{Accepted, AlertPageView, AlertView};

pub struct Deps {
    /// Read only: the flights function owns this table.
    pub flights: FlightsTable,
    pub alerts: AlertsTable,
}

pub async fn handle(deps: &Deps, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    serve(req, |req, op| async move {
        match (op.method.as_str(), op.resource.as_str()) {
            ("POST", "/flights/{flightId}/events") => post_event(deps, &req, &op.correlation_id).await,
            ("GET", "/alerts") => list(deps, &req, &op.correlation_id).await,
            _ => Err(no_such_operation(&op)),
        }
    })
    .await
}

/// A flight id from the request: `None` for one written correctly that no flight can have
/// (February 30th), which has no alerts and can get none.
fn flight_id(raw: Option<String>, field: &str) -> Result<Option<FlightId>, Problem> {
    match raw {
        None => Err(Problem::invalid(Invalid::one(field, "is required"))),
        Some(raw) => FlightId::lookup(&raw).map_err(|e| Problem::invalid(Invalid::one(field, e))),
    }
}

/// `Idempotency-Key`, if sent. A key the API cannot read (bytes outside printable ASCII)
/// is refused rather than ignored: ignored, a retry would record a second alert.
fn idempotency_key(req: &Request) -> Result<Option<IdempotencyKey>, Problem> {
    let Some(raw) = req.headers().get("idempotency-key") else { return Ok(None) };
    let invalid = |detail: String| Problem::invalid(Invalid::one("Idempotency-Key", detail));
    let text = raw.to_str().map_err(|_| invalid("must be printable ASCII: 1 to 128 of A-Z a-z 0-9 . _ : -".into()))?;
    IdempotencyKey::parse(text).map(Some).map_err(invalid)
}

async fn post_event(deps: &Deps, req: &Request, correlation: &str) -> Result<Response<Body>, Problem> {
    let raw = path_parameter(req, "flightId");
    let id = flight_id(raw.clone(), "flightId")?;
    let key = idempotency_key(req)?;
    let body: FlightEventRequest = json_body(req)?;
    let event = NewFlightEvent::try_from(body).map_err(Problem::invalid)?;
    let Some(id) = id else {
        return Err(Problem::not_found(format!("flight {} is not registered", raw.unwrap_or_default())));
    };
    let stored = deps.flights.get(&id).await.map_err(dependency_failed(correlation))?;
    let Some(stored) = stored else {
        return Err(Problem::not_found(format!("flight {id} is not registered")));
    };
    // Millisecond precision, as every AWS timestamp.
    let now = OffsetDateTime::now_utc();
    let now = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    let alert_id = AlertId::parse(&uuid::Uuid::now_v7().to_string()).map_err(|_| Problem::internal(correlation))?;
    let request = event.canonical();
    let alert = Alert::issue(alert_id, &stored.flight, event.for_flight(&stored.flight), now);
    let idempotency = key.as_ref().map(|key| Idempotency { key, request: &request });
    // Recording is all this function does: the table's stream publishes what was recorded.
    let recorded = deps.alerts.record(alert, idempotency, correlation).await.map_err(dependency_failed(correlation))?;
    let (alert, replayed) = match recorded {
        Recorded::New(alert) => (alert, false),
        Recorded::Existing(alert) => (alert, true),
        Recorded::KeyReused => {
            return Err(Problem::unprocessable(
                "/problems/idempotency-key-reused",
                "Idempotency key reused",
                "this Idempotency-Key was used for a different event on this flight; send a new key",
            ));
        }
    };
    tracing::info!(alert_id = %alert.id, flight_id = %id, kind = alert.event.kind.label(), replayed, "alert recorded");
    Ok(json(
        StatusCode::ACCEPTED,
        &Accepted { alert_id: alert.id.to_string(), flight_id: id.to_string(), message: alert.message },
    ))
}

async fn list(deps: &Deps, req: &Request, correlation: &str) -> Result<Response<Body>, Problem> {
    let raw = query_parameter(req, "flightId").unwrap_or_default();
    let id = flight_id(query_parameter(req, "flightId"), "flightId")?;
    let limit =
        page_size(query_parameter(req, "limit").as_deref()).map_err(|e| Problem::invalid(Invalid::one("limit", e)))?;
    let cursor = query_parameter(req, "cursor")
        .map(|c| Cursor::decode(&c, &raw).map_err(|e| Problem::invalid(Invalid::one("cursor", e))))
        .transpose()?;
    // A flight that cannot exist has no alerts.
    let Some(id) = id else { return Ok(json(StatusCode::OK, &AlertPageView { items: Vec::new(), next_cursor: None })) };
    let page = deps.alerts.list(&id, limit, cursor).await.map_err(dependency_failed(correlation))?;
    let view = AlertPageView {
        items: page.alerts.iter().map(AlertView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    };
    Ok(json(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests;
