//! The alerts handler fed with the sample API Gateway REST event, against moto.

use super::{Deps, handle};
use adapters::flight_alerts::alerts_table::AlertsTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use domain::flight_alerts::flight::FlightRequest;
use domain::flight_alerts::{AlertMessage, NewFlight};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use testkit::{RestCall, rest_request};
use time::OffsetDateTime;

const FLIGHT: &str = "LH400-2026-12-01";

struct Setup {
    deps: Deps,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
}

/// The template's resources in moto, with flight LH400 registered.
async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let flights = FlightsTable::new(dynamo.clone(), &resources.get("FlightsTable").unwrap().reference);
    let req: FlightRequest = serde_json::from_value(json!({
        "carrier": "LH", "flightNumber": "400", "date": "2026-12-01", "origin": "FRA", "destination": "JFK",
        "scheduledDeparture": "2026-12-01T10:05:00+01:00",
        "passengers": [{"name": "Grace Hopper", "email": "grace@example.com", "mobile": testkit::unique_mobile()}]
    }))
    .unwrap();
    flights
        .register(
            &NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap(),
            "r1",
            OffsetDateTime::now_utc(),
            &adapters::deadline::Deadline::after(std::time::Duration::from_secs(30)),
        )
        .await
        .unwrap();
    Setup {
        deps: Deps {
            flights,
            alerts: AlertsTable::new(dynamo.clone(), &resources.get("AlertsTable").unwrap().reference),
        },
        dynamo,
        table: resources.get("AlertsTable").unwrap().reference.clone(),
        sqs: aws_sdk_sqs::Client::new(&config),
        queue: resources.get("SmsQueue").unwrap().reference.clone(),
    }
}

async fn post_event(deps: &Deps, flight: &str, body: Value, headers: &[(&str, &str)]) -> Response<Body> {
    let path = format!("/flights/{flight}/events");
    let req = rest_request(RestCall {
        method: "POST",
        resource: "/flights/{flightId}/events",
        path: &path,
        path_parameters: &[("flightId", flight)],
        headers,
        body: Some(body),
        ..Default::default()
    });
    handle(deps, req).await.unwrap()
}

async fn list(deps: &Deps, query: &[(&str, &str)]) -> Response<Body> {
    let req =
        rest_request(RestCall { method: "GET", resource: "/alerts", path: "/alerts", query, ..Default::default() });
    handle(deps, req).await.unwrap()
}

/// The alert messages waiting in the SMS queue.
async fn queued(setup: &Setup) -> Vec<AlertMessage> {
    let received = setup
        .sqs
        .receive_message()
        .queue_url(&setup.queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    received.messages.unwrap_or_default().iter().map(|m| AlertMessage::from_json(m.body().unwrap()).unwrap()).collect()
}

/// The correlation id stored with an alert, which its publication will carry.
async fn stored_correlation(setup: &Setup, alert_id: &str) -> Option<String> {
    let item = setup
        .dynamo
        .get_item()
        .table_name(&setup.table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("FLIGHT#{FLIGHT}")))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ALERT#{alert_id}")))
        .send()
        .await
        .unwrap()
        .item?;
    item.get("correlationId").and_then(|v| v.as_s().ok()).cloned()
}

#[tokio::test]
async fn a_delay_is_recorded_for_the_outbox_and_listed() {
    let s = setup().await;
    let delay = json!({"type": "delay", "minutes": 45, "reason": "Late inbound aircraft"});
    let accepted = post_event(&s.deps, FLIGHT, delay, &[("x-correlation-id", "trace-42")]).await;
    assert_eq!(accepted.status(), 202);
    let accepted = testkit::json_body(&accepted);
    assert_eq!(
        accepted["message"],
        "LH400 FRA-JFK 01 Dec: delayed 45 min, now departs 10:50. Reason: Late inbound aircraft"
    );

    // Recorded, not published: the table's stream is the outbox (alert-publisher).
    assert!(queued(&s).await.is_empty(), "the handler publishes nothing itself");
    let correlation = stored_correlation(&s, accepted["alertId"].as_str().unwrap()).await;
    assert_eq!(correlation.as_deref(), Some("trace-42"), "the correlation id is kept for the publication");

    let listed = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT)]).await);
    let alert = &listed["items"][0];
    assert_eq!(alert["alertId"], accepted["alertId"]);
    assert_eq!(alert["type"], "delay");
    assert_eq!(alert["minutes"], 45);
    assert_eq!(alert["newDeparture"], "2026-12-01T10:50:00+01:00");
    assert!(listed.get("nextCursor").is_none());
}

#[tokio::test]
async fn retrying_with_the_same_idempotency_key_returns_the_same_alert() {
    let s = setup().await;
    let cancel = json!({"type": "cancellation", "reason": "Crew shortage"});
    let first = testkit::json_body(&post_event(&s.deps, FLIGHT, cancel.clone(), &[("Idempotency-Key", "k-1")]).await);
    let again = post_event(&s.deps, FLIGHT, cancel, &[("Idempotency-Key", "k-1")]).await;
    assert_eq!(again.status(), 202);
    assert_eq!(testkit::json_body(&again)["alertId"], first["alertId"]);
    let listed = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT)]).await);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_idempotency_key_reused_for_another_event_is_refused_and_records_nothing() {
    let s = setup().await;
    let cancel = json!({"type": "cancellation", "reason": "Crew shortage"});
    assert_eq!(post_event(&s.deps, FLIGHT, cancel, &[("Idempotency-Key", "k-2")]).await.status(), 202);
    // The same request with other spacing is the same request.
    let same = json!({"reason": "  Crew shortage ", "type": "cancellation"});
    assert_eq!(post_event(&s.deps, FLIGHT, same, &[("Idempotency-Key", "k-2")]).await.status(), 202);
    let other = json!({"type": "delay", "minutes": 30, "reason": "Crew shortage"});
    let refused = post_event(&s.deps, FLIGHT, other, &[("Idempotency-Key", "k-2")]).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(testkit::json_body(&refused)["type"], "/problems/idempotency-key-reused");
    let listed = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT)]).await);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "only the first alert");
}

#[tokio::test]
async fn a_key_the_api_cannot_read_is_refused_not_ignored() {
    let s = setup().await;
    let cancel = json!({"type": "cancellation", "reason": "Snow"});
    for _ in 0..2 {
        let refused = post_event(&s.deps, FLIGHT, cancel.clone(), &[("Idempotency-Key", "clé-1")]).await;
        assert_eq!(refused.status(), 400);
        assert_eq!(testkit::json_body(&refused)["errors"][0]["field"], "Idempotency-Key");
    }
    let listed = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT)]).await);
    assert_eq!(listed["items"], json!([]), "nothing recorded, so nothing texted twice");
}

#[tokio::test]
async fn unknown_flights_and_invalid_events_change_nothing() {
    let s = setup().await;
    let unknown = post_event(&s.deps, "LH401-2026-12-01", json!({"type": "cancellation", "reason": "x"}), &[]).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(testkit::json_body(&unknown)["type"], "/problems/not-found");

    let invalid = post_event(&s.deps, FLIGHT, json!({"type": "delay", "reason": "x"}), &[]).await;
    assert_eq!(invalid.status(), 400);
    assert_eq!(testkit::json_body(&invalid)["errors"][0]["field"], "minutes");

    let bad_key =
        post_event(&s.deps, FLIGHT, json!({"type": "cancellation", "reason": "x"}), &[("Idempotency-Key", "a b")])
            .await;
    assert_eq!(testkit::json_body(&bad_key)["errors"][0]["field"], "Idempotency-Key");

    assert!(queued(&s).await.is_empty(), "nothing was published");
    let listed = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT)]).await);
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn alerts_page_with_a_cursor_bound_to_the_flight() {
    let s = setup().await;
    for minutes in [5, 10, 15] {
        let event = json!({"type": "delay", "minutes": minutes, "reason": "ATC"});
        assert_eq!(post_event(&s.deps, FLIGHT, event, &[]).await.status(), 202);
    }
    let first = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT), ("limit", "2")]).await);
    let minutes: Vec<&Value> = first["items"].as_array().unwrap().iter().map(|a| &a["minutes"]).collect();
    assert_eq!(minutes, [&json!(15), &json!(10)], "newest first");
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = testkit::json_body(&list(&s.deps, &[("flightId", FLIGHT), ("limit", "2"), ("cursor", cursor)]).await);
    assert_eq!(second["items"][0]["minutes"], 5);

    let other = list(&s.deps, &[("flightId", "LH401-2026-12-01"), ("cursor", cursor)]).await;
    assert_eq!(other.status(), 400);
    assert_eq!(testkit::json_body(&other)["errors"][0]["field"], "cursor");
    assert_eq!(list(&s.deps, &[]).await.status(), 400, "flightId is required");
    assert_eq!(list(&s.deps, &[("flightId", FLIGHT), ("limit", "0")]).await.status(), 400);
}
