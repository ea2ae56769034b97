//! The flights handler fed with the sample API Gateway REST event, against moto.

use super::handle;
use adapters::flight_alerts::flights_table::FlightsTable;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use testkit::{RestCall, rest_request};

async fn flights() -> FlightsTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    FlightsTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("FlightsTable").unwrap().reference)
}

fn registration(mobile: &str, email: &str) -> Value {
    json!({
        "carrier": "UA", "flightNumber": "83", "date": testkit::departure_date(), "origin": "SFO", "destination": "JFK",
        "scheduledDeparture": format!("{}T08:30:00-08:00", testkit::departure_date()),
        "passengers": [{"name": "Ada Lovelace", "email": email, "mobile": mobile}]
    })
}

async fn post(flights: &FlightsTable, body: Value) -> Response<Body> {
    let req = rest_request(RestCall {
        method: "POST",
        resource: "/flights",
        path: "/flights",
        body: Some(body),
        ..Default::default()
    });
    handle(flights, req).await.unwrap()
}

async fn get(flights: &FlightsTable, id: &str) -> Response<Body> {
    let path = format!("/flights/{id}");
    let req = rest_request(RestCall {
        method: "GET",
        resource: "/flights/{flightId}",
        path: &path,
        path_parameters: &[("flightId", id)],
        ..Default::default()
    });
    handle(flights, req).await.unwrap()
}

#[tokio::test]
async fn registering_a_flight_answers_201_and_the_flight_reads_back_without_contact_details() {
    let flights = flights().await;
    let mobile = testkit::unique_mobile();
    let created = post(&flights, registration(&mobile, "ada@example.com")).await;
    assert_eq!(created.status(), 201);
    let id = format!("UA83-{}", testkit::departure_date());
    assert_eq!(created.headers()["location"], format!("/flights/{id}").as_str());
    assert_eq!(testkit::json_body(&created), json!({"flightId": id, "passengerCount": 1}));

    let read = get(&flights, &id).await;
    assert_eq!(read.status(), 200);
    let flight = testkit::json_body(&read);
    assert_eq!(flight["passengerCount"], 1);
    assert_eq!(flight["origin"], "SFO");
    let text = flight.to_string();
    assert!(!text.contains(&mobile[2..]) && !text.contains("ada@"), "no contact details in {text}");
}

#[tokio::test]
async fn a_registration_retried_after_a_lost_answer_succeeds_again_and_changes_nothing() {
    let flights = flights().await;
    let body = registration(&testkit::unique_mobile(), "a@example.com");
    let first = post(&flights, body.clone()).await;
    assert_eq!(first.status(), 201);
    let again = post(&flights, body).await;
    assert_eq!(again.status(), 201);
    assert_eq!(testkit::json_body(&again), testkit::json_body(&first));
}

#[tokio::test]
async fn two_registrations_of_one_flight_racing_end_with_one_winner() {
    let flights = flights().await;
    let (one, two) = tokio::join!(
        post(&flights, registration(&testkit::unique_mobile(), "a@example.com")),
        post(&flights, registration(&testkit::unique_mobile(), "b@example.com"))
    );
    let mut statuses = [one.status().as_u16(), two.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    // Identical ones racing both succeed: they are the same registration.
    let flights = self::flights().await;
    let body = registration(&testkit::unique_mobile(), "c@example.com");
    let (one, two) = tokio::join!(post(&flights, body.clone()), post(&flights, body));
    assert_eq!((one.status().as_u16(), two.status().as_u16()), (201, 201));
}

#[tokio::test]
async fn registering_the_same_flight_twice_is_a_conflict() {
    let flights = flights().await;
    assert_eq!(post(&flights, registration(&testkit::unique_mobile(), "a@example.com")).await.status(), 201);
    let again = post(&flights, registration(&testkit::unique_mobile(), "b@example.com")).await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers()["content-type"], "application/problem+json");
    assert_eq!(testkit::json_body(&again)["type"], "/problems/conflict");
}

#[tokio::test]
async fn an_invalid_registration_names_each_field_and_writes_nothing() {
    let flights = flights().await;
    let mut body = registration("07700 900123", "not-an-email");
    body["origin"] = json!("JFK");
    let rejected = post(&flights, body).await;
    assert_eq!(rejected.status(), 400);
    assert_eq!(rejected.headers()["content-type"], "application/problem+json");
    let problem = testkit::json_body(&rejected);
    let fields: Vec<&str> =
        problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["destination", "passengers[0].email", "passengers[0].mobile"]);
    assert!(!problem.to_string().contains("07700"), "the rejected number is not echoed back");
    let id = format!("UA83-{}", testkit::departure_date());
    assert_eq!(get(&flights, &id).await.status(), 404, "nothing was written");
}

#[tokio::test]
async fn malformed_bodies_and_ids_are_problems() {
    let flights = flights().await;
    let wrong_type = post(&flights, json!({"carrier": 12})).await;
    assert_eq!(wrong_type.status(), 400);
    assert!(testkit::json_body(&wrong_type)["detail"].as_str().unwrap().contains("carrier"));
    let unknown_field = post(&flights, json!({"carier": "UA"})).await;
    assert_eq!(unknown_field.status(), 400);
    assert!(testkit::json_body(&unknown_field)["detail"].as_str().unwrap().contains("carier"));
    assert_eq!(get(&flights, "not-a-flight").await.status(), 400);
    assert_eq!(get(&flights, "UA1-2030-01-01").await.status(), 404);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_unsupported() {
    let flights = flights().await;
    let req = rest_request(RestCall {
        method: "POST",
        resource: "/flights",
        path: "/flights",
        headers: &[("Content-Type", "text/plain")],
        body: Some(json!("hello")),
        ..Default::default()
    });
    let response = handle(&flights, req).await.unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn dates_outside_the_window_and_invisible_names_are_refused_not_crashed_on() {
    let flights = flights().await;
    for date in ["9999-12-31", "0000-01-01", "2001-01-01"] {
        let mut body = registration(&testkit::unique_mobile(), "a@example.com");
        body["date"] = json!(date);
        body["scheduledDeparture"] = json!(format!("{date}T08:30:00-08:00"));
        let refused = post(&flights, body).await;
        assert_eq!(refused.status(), 400, "{date}");
        let problem = testkit::json_body(&refused);
        assert_eq!(problem["errors"][0]["field"], "date", "{date}: {problem}");
        assert!(problem["errors"][0]["detail"].as_str().unwrap().contains("days ahead"), "{problem}");
    }
    let mut body = registration(&testkit::unique_mobile(), "a@example.com");
    body["passengers"][0]["name"] = json!("\u{200B}\u{200B}\u{200B}");
    let refused = post(&flights, body).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(testkit::json_body(&refused)["errors"][0]["field"], "passengers[0].name");
}
