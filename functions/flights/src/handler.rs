//! Routing and the two operations. Validation and identity rules live in the domain crate.

use adapters::flight_alerts::flights_table::{FlightsTable, Registered};
use adapters::http::{Operation, dependency_failed, json, json_body, no_such_operation, path_parameter, serve};
use adapters::problem::Problem;
use domain::Invalid;
use domain::flight_alerts::flight::{FlightRequest, format_date};
use domain::flight_alerts::{FlightId, NewFlight};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Created {
    flight_id: String,
    passenger_count: u32,
}

/// A flight as the API shows it: no passenger details, only their count.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FlightView {
    flight_id: String,
    carrier: String,
    flight_number: String,
    date: String,
    origin: String,
    destination: String,
    scheduled_departure: String,
    passenger_count: u32,
}

pub async fn handle(flights: &FlightsTable, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    serve(req, |req, op| async move {
        match (op.method.as_str(), op.resource.as_str()) {
            ("POST", "/flights") => register(flights, &req, &op).await,
            ("GET", "/flights/{flightId}") => get(flights, &req, &op).await,
            _ => Err(no_such_operation(&op)),
        }
    })
    .await
}

async fn register(flights: &FlightsTable, req: &Request, op: &Operation) -> Result<Response<Body>, Problem> {
    let body: FlightRequest = json_body(req)?;
    let new = NewFlight::validate(body, OffsetDateTime::now_utc().date()).map_err(Problem::invalid)?;
    let registration = uuid::Uuid::new_v4().simple().to_string();
    let outcome = flights
        .register(&new, &registration, OffsetDateTime::now_utc(), &op.deadline)
        .await
        .map_err(dependency_failed(&op.correlation_id))?;
    let id = new.flight.id.as_str();
    match outcome {
        Registered::Conflict => {
            Err(Problem::conflict(format!("flight {id} is already registered, with other details or passengers")))
        }
        // The same registration again (a client retrying after a lost answer): the same answer.
        Registered::Created | Registered::AlreadyRegistered => {
            let retried = outcome == Registered::AlreadyRegistered;
            tracing::info!(flight_id = id, passengers = new.flight.passenger_count, retried, "flight registered");
            let created = Created { flight_id: id.to_owned(), passenger_count: new.flight.passenger_count };
            let mut response = json(StatusCode::CREATED, &created);
            if let Ok(location) = format!("/flights/{id}").parse() {
                response.headers_mut().insert("location", location);
            }
            Ok(response)
        }
    }
}

async fn get(flights: &FlightsTable, req: &Request, op: &Operation) -> Result<Response<Body>, Problem> {
    let raw = path_parameter(req, "flightId").unwrap_or_default();
    let id = FlightId::lookup(&raw).map_err(|e| Problem::invalid(Invalid::one("flightId", e)))?;
    // A well-formed id no flight can have (February 30th) is simply not registered.
    let Some(id) = id else {
        return Err(Problem::not_found(format!("flight {raw} is not registered")));
    };
    let stored = flights.get(&id).await.map_err(dependency_failed(&op.correlation_id))?;
    let Some(stored) = stored else {
        return Err(Problem::not_found(format!("flight {id} is not registered")));
    };
    let f = stored.flight;
    let view = FlightView {
        flight_id: f.id.to_string(),
        carrier: f.carrier.as_str().to_owned(),
        flight_number: f.number.value().to_string(),
        date: format_date(f.date),
        origin: f.origin.as_str().to_owned(),
        destination: f.destination.as_str().to_owned(),
        scheduled_departure: f.scheduled_departure.format(&Rfc3339).unwrap_or_default(),
        passenger_count: f.passenger_count,
    };
    Ok(json(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests;
