//! The flights table against moto, with the table provisioned from the template.

use std::time::Duration;

use adapters::deadline::Deadline;
use adapters::flight_alerts::flights_table::{FlightsTable, Registered};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::flight_alerts::flight::FlightRequest;
use domain::flight_alerts::{FlightId, NewFlight};
use time::OffsetDateTime;

fn registration(flight_number: u16, passengers: usize) -> NewFlight {
    let passengers: Vec<_> = (0..passengers)
        .map(|i| serde_json::json!({"name": format!("P{i}"), "email": format!("p{i}@example.com"), "mobile": testkit::unique_mobile()}))
        .collect();
    let req: FlightRequest = serde_json::from_value(serde_json::json!({
        "carrier": "BA", "flightNumber": flight_number.to_string(), "date": "2026-12-01", "origin": "LHR",
        "destination": "JFK", "scheduledDeparture": "2026-12-01T10:00:00Z", "passengers": passengers
    }))
    .unwrap();
    NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap()
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

async fn table() -> FlightsTable {
    let (dynamo, name) = raw().await;
    FlightsTable::new(dynamo, name)
}

/// The table's SDK client and name, to look at (and age) items behind the adapter's back.
async fn raw() -> (aws_sdk_dynamodb::Client, String) {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    (aws_sdk_dynamodb::Client::new(&config), resources.get("FlightsTable").unwrap().reference.clone())
}

type Item = std::collections::HashMap<String, AttributeValue>;

async fn items(dynamo: &aws_sdk_dynamodb::Client, table: &str, id: &FlightId) -> Vec<Item> {
    let out = dynamo
        .query()
        .table_name(table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("FLIGHT#{id}")))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default()
}

fn expires_at(item: &Item) -> i64 {
    item.get("expiresAt").and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap()
}

#[tokio::test]
async fn a_registered_flight_reads_back_and_cannot_be_registered_twice() {
    let flights = table().await;
    let new = registration(117, 3);
    let now = OffsetDateTime::now_utc();
    assert_eq!(flights.register(&new, "reg1", now, &deadline()).await.unwrap(), Registered::Created);
    let stored = flights.get(&new.flight.id).await.unwrap().expect("stored");
    assert_eq!(stored.flight, new.flight);
    assert_eq!(stored.registration, "reg1");

    assert_eq!(
        flights.register(&new, "reg2", now, &deadline()).await.unwrap(),
        Registered::AlreadyRegistered,
        "a retry"
    );
    let mut different = new.clone();
    different.passengers.pop();
    assert_eq!(flights.register(&different, "reg3", now, &deadline()).await.unwrap(), Registered::Conflict);
    let page = flights.passengers(&stored, None, 100).await.unwrap();
    let numbers: Vec<&str> = page.passengers.iter().map(|p| p.mobile.e164()).collect();
    let expected: Vec<&str> = new.passengers.iter().map(|p| p.mobile.e164()).collect();
    assert_eq!(numbers, expected, "the first registration's passengers, and only those");
}

#[tokio::test]
async fn an_unknown_flight_is_none() {
    let flights = table().await;
    assert!(flights.get(&FlightId::parse("BA1-2026-12-01").unwrap()).await.unwrap().is_none());
}

#[tokio::test]
async fn a_large_flight_is_read_page_by_page() {
    let flights = table().await;
    let new = registration(9, 260);
    flights.register(&new, "big", OffsetDateTime::now_utc(), &deadline()).await.unwrap();
    let stored = flights.get(&new.flight.id).await.unwrap().unwrap();
    assert_eq!(stored.flight.passenger_count, 260);

    let (mut ids, mut pages, mut next) = (Vec::new(), 0, None);
    loop {
        let page = flights.passengers(&stored, next, 100).await.unwrap();
        assert!(page.passengers.len() <= 100);
        pages += 1;
        ids.extend(page.passengers.into_iter().map(|p| p.id));
        next = page.next;
        if next.is_none() {
            break;
        }
    }
    assert!(pages >= 3, "read in {pages} pages");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 260, "every passenger once");
    assert!(ids.iter().all(|id| id.starts_with("big#")));
}

#[tokio::test]
async fn two_registrations_racing_for_one_flight_commit_one_of_them() {
    let flights = table().await;
    let first = registration(31, 40);
    let mut second = first.clone();
    second.passengers.truncate(39);
    second.flight.passenger_count = 39;
    let (now, deadline) = (OffsetDateTime::now_utc(), deadline());
    let (a, b) = tokio::join!(
        flights.register(&first, "race-a", now, &deadline),
        flights.register(&second, "race-b", now, &deadline)
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Registered::Conflict, Registered::Created]);

    // Whoever won, its passengers and only its passengers are visible.
    let stored = flights.get(&first.flight.id).await.unwrap().unwrap();
    let winner = if stored.registration == "race-a" { &first } else { &second };
    assert_eq!(stored.flight, winner.flight);
    let page = flights.passengers(&stored, None, 100).await.unwrap();
    assert_eq!(page.passengers.len(), winner.passengers.len());

    // The same registration racing itself (a client retrying before the first answer came).
    let same = registration(32, 5);
    let (a, b) = tokio::join!(
        flights.register(&same, "same-a", now, &deadline),
        flights.register(&same, "same-b", now, &deadline)
    );
    let mut outcomes = [a.unwrap(), b.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Registered::AlreadyRegistered, Registered::Created]);
}

#[tokio::test]
async fn the_configured_retention_sets_when_a_flight_expires() {
    let (dynamo, name) = raw().await;
    let flights = FlightsTable::new(dynamo.clone(), &name).with_retention(time::Duration::days(2));
    let new = registration(41, 3);
    // Registered before departure: kept two days after it, passengers as long as the flight.
    let now = new.flight.scheduled_departure - time::Duration::days(1);
    assert_eq!(flights.register(&new, "reg", now, &deadline()).await.unwrap(), Registered::Created);
    let stored = items(&dynamo, &name, &new.flight.id).await;
    assert_eq!(stored.len(), 4, "the flight and its passengers");
    let expected = (new.flight.scheduled_departure + time::Duration::days(2)).unix_timestamp();
    assert!(stored.iter().all(|item| expires_at(item) == expected), "{stored:?}");
}

#[tokio::test]
async fn an_expired_flight_reads_as_absent_and_may_be_registered_again() {
    let (dynamo, name) = raw().await;
    let flights = FlightsTable::new(dynamo.clone(), &name);
    let new = registration(42, 2);
    let now = OffsetDateTime::now_utc();
    assert_eq!(flights.register(&new, "old", now, &deadline()).await.unwrap(), Registered::Created);
    // Past its TTL, not yet deleted by DynamoDB.
    dynamo
        .update_item()
        .table_name(&name)
        .key("pk", AttributeValue::S(format!("FLIGHT#{}", new.flight.id)))
        .key("sk", AttributeValue::S("FLIGHT".into()))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::N((now.unix_timestamp() - 1).to_string()))
        .send()
        .await
        .unwrap();
    assert_eq!(flights.get(&new.flight.id).await.unwrap(), None);

    let mut again = new.clone();
    again.passengers.pop();
    again.flight.passenger_count = 1;
    assert_eq!(flights.register(&again, "new", now, &deadline()).await.unwrap(), Registered::Created);
    let stored = flights.get(&new.flight.id).await.unwrap().expect("registered afresh");
    assert_eq!((stored.registration.as_str(), stored.flight.passenger_count), ("new", 1));
    let page = flights.passengers(&stored, None, 100).await.unwrap();
    assert_eq!(page.passengers.len(), 1, "only the new registration's passengers");
}
