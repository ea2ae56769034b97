//! The alerts table against moto: recording, idempotency keys, newest-first paging.

use adapters::flight_alerts::alerts_table::{AlertsTable, Idempotency, Recorded};
use domain::IdempotencyKey;
use domain::flight_alerts::flight::FlightRequest;
use domain::flight_alerts::flight_event::{FlightEvent, FlightEventKind};
use domain::flight_alerts::{Alert, AlertId, Flight, NewFlight};
use domain::pagination::Cursor;
use time::{Duration, OffsetDateTime};

fn flight() -> Flight {
    let req: FlightRequest = serde_json::from_value(serde_json::json!({
        "carrier": "AF", "flightNumber": "6", "date": "2026-12-01", "origin": "CDG", "destination": "JFK",
        "scheduledDeparture": "2026-12-01T10:00:00+01:00",
        "passengers": [{"name": "A", "email": "a@example.com", "mobile": "+33612345678"}]
    }))
    .unwrap();
    NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap().flight
}

fn alert(flight: &Flight, minutes: u16, at: OffsetDateTime) -> Alert {
    let id = AlertId::parse(&uuid::Uuid::now_v7().to_string()).unwrap();
    let kind = FlightEventKind::Delay {
        minutes,
        new_departure: flight.scheduled_departure + Duration::minutes(minutes.into()),
    };
    Alert::issue(id, flight, FlightEvent { kind, reason: "Weather".into() }, at)
}

async fn table() -> AlertsTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    AlertsTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("AlertsTable").unwrap().reference)
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_790_000_000 + seconds).unwrap()
}

#[tokio::test]
async fn alerts_list_newest_first_across_pages() {
    let alerts = table().await;
    let flight = flight();
    let mut issued = Vec::new();
    for minutes in [10, 20, 30] {
        let a = alert(&flight, minutes, at(minutes.into()));
        issued.push(a.id.clone());
        assert!(matches!(alerts.record(a, None, "corr").await.unwrap(), Recorded::New(_)));
    }
    let first = alerts.list(&flight.id, 2, None).await.unwrap();
    let ids: Vec<_> = first.alerts.iter().map(|a| a.id.clone()).collect();
    assert_eq!(ids, [issued[2].clone(), issued[1].clone()]);
    let cursor = first.next.expect("more to come");
    let cursor = Cursor::decode(&cursor.encode(), flight.id.as_str()).unwrap();
    let second = alerts.list(&flight.id, 2, Some(cursor)).await.unwrap();
    assert_eq!(second.alerts.len(), 1);
    assert_eq!(second.alerts[0].id, issued[0]);
    assert_eq!(second.alerts[0], {
        let mut a = alert(&flight, 10, at(10));
        a.id = issued[0].clone();
        a
    });
}

#[tokio::test]
async fn a_repeated_idempotency_key_yields_the_first_alert() {
    let alerts = table().await;
    let flight = flight();
    let key = IdempotencyKey::parse("client-retry-1").unwrap();
    let Recorded::New(first) = alerts
        .record(alert(&flight, 15, at(1)), Some(Idempotency { key: &key, request: "delay:15|x" }), "corr")
        .await
        .unwrap()
    else {
        panic!("first use of the key records a new alert")
    };
    let Recorded::Existing(again) = alerts
        .record(alert(&flight, 99, at(2)), Some(Idempotency { key: &key, request: "delay:15|x" }), "corr")
        .await
        .unwrap()
    else {
        panic!("the key was used before")
    };
    assert_eq!(again, first);
    assert_eq!(alerts.list(&flight.id, 10, None).await.unwrap().alerts.len(), 1, "nothing new was stored");
}
