//! The alerts table against moto: recording, idempotency keys, newest-first paging,
//! retention and expiry.

use adapters::flight_alerts::alerts_table::{AlertsTable, Idempotency, Recorded};
use aws_sdk_dynamodb::types::AttributeValue;
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
    Raw::new().await.alerts()
}

/// The table's SDK client and name, to look at (and age) items behind the adapter's back.
struct Raw {
    dynamo: aws_sdk_dynamodb::Client,
    name: String,
}

impl Raw {
    async fn new() -> Self {
        let config = testkit::moto().await;
        let resources = testkit::provision(&config).await;
        Self {
            dynamo: aws_sdk_dynamodb::Client::new(&config),
            name: resources.get("AlertsTable").unwrap().reference.clone(),
        }
    }

    fn alerts(&self) -> AlertsTable {
        AlertsTable::new(self.dynamo.clone(), &self.name)
    }

    async fn item(&self, pk: String, sk: String) -> std::collections::HashMap<String, AttributeValue> {
        let out = self.dynamo.get_item().table_name(&self.name).key("pk", s(pk)).key("sk", s(sk)).send().await;
        out.unwrap().item.expect("the item is stored")
    }

    /// Sets an item's TTL to a second ago: expired, but not deleted (as DynamoDB leaves
    /// items for a while after their TTL).
    async fn expire(&self, pk: String, sk: String) {
        let past = OffsetDateTime::now_utc().unix_timestamp() - 1;
        self.dynamo
            .update_item()
            .table_name(&self.name)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .update_expression("SET expiresAt = :past")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":past", AttributeValue::N(past.to_string()))
            .send()
            .await
            .unwrap();
    }
}

fn s(value: String) -> AttributeValue {
    AttributeValue::S(value)
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap()
}

fn text<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or_default()
}

/// `seconds` after midnight today (UTC): recent, so well inside any retention.
fn at(seconds: i64) -> OffsetDateTime {
    let midnight = OffsetDateTime::now_utc().replace_time(time::Time::MIDNIGHT);
    midnight + Duration::seconds(seconds)
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

#[tokio::test]
async fn an_alert_records_its_route_and_expires_after_the_configured_retention() {
    let raw = Raw::new().await;
    let alerts = raw.alerts().with_retention(Duration::days(3));
    let flight = flight();
    let key = IdempotencyKey::parse("retention-1").unwrap();
    let issued = at(5);
    let Recorded::New(recorded) =
        alerts.record(alert(&flight, 5, issued), Some(Idempotency { key: &key, request: "r" }), "corr").await.unwrap()
    else {
        panic!("a new alert")
    };
    let pk = format!("FLIGHT#{}", flight.id);
    let item = raw.item(pk.clone(), format!("ALERT#{}", recorded.id)).await;
    assert_eq!((text(&item, "carrier"), text(&item, "origin"), text(&item, "destination")), ("AF", "CDG", "JFK"));
    let expected = (issued + Duration::days(3)).unix_timestamp();
    assert_eq!(number(&item, "expiresAt"), expected);
    assert_eq!(number(&raw.item(pk.clone(), "KEY#retention-1".into()).await, "expiresAt"), expected);

    let read = alerts.get(&flight.id, &recorded.id).await.unwrap().expect("kept");
    let route = read.route.as_ref().expect("read back with its route");
    assert_eq!((route.carrier.as_str(), route.origin.as_str(), route.destination.as_str()), ("AF", "CDG", "JFK"));
    assert_eq!(read, recorded);

    // An alert stored before routes were recorded still reads, without one.
    raw.dynamo
        .update_item()
        .table_name(&raw.name)
        .key("pk", s(pk))
        .key("sk", s(format!("ALERT#{}", recorded.id)))
        .update_expression("REMOVE carrier, origin, destination")
        .send()
        .await
        .unwrap();
    assert_eq!(alerts.get(&flight.id, &recorded.id).await.unwrap().expect("kept").route, None);
}

#[tokio::test]
async fn an_expired_alert_is_neither_read_nor_listed_and_paging_goes_past_it() {
    let raw = Raw::new().await;
    let alerts = raw.alerts();
    let flight = flight();
    let mut ids = Vec::new();
    for minutes in [10, 20, 30] {
        let Recorded::New(a) = alerts.record(alert(&flight, minutes, at(minutes.into())), None, "c").await.unwrap()
        else {
            panic!("new")
        };
        ids.push(a.id);
    }
    // The newest alert (listed first) is past its TTL but not deleted yet.
    raw.expire(format!("FLIGHT#{}", flight.id), format!("ALERT#{}", ids[2])).await;

    assert_eq!(alerts.get(&flight.id, &ids[2]).await.unwrap(), None);
    assert!(alerts.get(&flight.id, &ids[1]).await.unwrap().is_some(), "others are kept");
    let listed: Vec<_> = alerts.list(&flight.id, 10, None).await.unwrap().alerts.into_iter().map(|a| a.id).collect();
    assert_eq!(listed, [ids[1].clone(), ids[0].clone()]);

    // One at a time: the first page holds only the expired alert, so it comes back empty,
    // with a cursor that carries on to the rest.
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = alerts.list(&flight.id, 1, cursor).await.unwrap();
        pages += 1;
        seen.extend(page.alerts.into_iter().map(|a| a.id));
        match page.next {
            Some(next) => cursor = Some(Cursor::decode(&next.encode(), flight.id.as_str()).unwrap()),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(seen, [ids[1].clone(), ids[0].clone()]);
}

#[tokio::test]
async fn an_expired_idempotency_key_is_free_to_use_again() {
    let raw = Raw::new().await;
    let alerts = raw.alerts();
    let flight = flight();
    let key = IdempotencyKey::parse("reused-after-expiry").unwrap();
    let Recorded::New(first) =
        alerts.record(alert(&flight, 15, at(1)), Some(Idempotency { key: &key, request: "first" }), "c").await.unwrap()
    else {
        panic!("new")
    };
    // While it is kept, the key belongs to its first request.
    let reused = alerts.record(alert(&flight, 20, at(2)), Some(Idempotency { key: &key, request: "other" }), "c");
    assert_eq!(reused.await.unwrap(), Recorded::KeyReused);

    let pk = format!("FLIGHT#{}", flight.id);
    raw.expire(pk.clone(), format!("KEY#{}", key.as_str())).await;
    raw.expire(pk, format!("ALERT#{}", first.id)).await;
    let Recorded::New(second) =
        alerts.record(alert(&flight, 20, at(3)), Some(Idempotency { key: &key, request: "other" }), "c").await.unwrap()
    else {
        panic!("an expired key is reserved afresh")
    };
    assert_ne!(second.id, first.id);
    // And the fresh reservation holds: a retry of the new request finds the new alert.
    let retried =
        alerts.record(alert(&flight, 20, at(4)), Some(Idempotency { key: &key, request: "other" }), "c").await.unwrap();
    assert_eq!(retried, Recorded::Existing(second));
}
