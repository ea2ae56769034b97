//! The SMS handler fed with the sample SQS event, against moto: every passenger gets
//! exactly one text per alert, whatever the queue does.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::handle;
use crate::deliver::Deliverer;
use adapters::flight_alerts::deliveries_table::DeliveriesTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::flight_alerts::publish::{SmsSender, SnsSms};
use aws_lambda_events::event::sqs::SqsBatchResponse;
use domain::PhoneNumber;
use domain::flight_alerts::flight::FlightRequest;
use domain::flight_alerts::{AlertId, AlertMessage, NewFlight};
use serde_json::json;
use time::OffsetDateTime;

const TEXT: &str = "QF1 SYD-LHR 01 Dec: cancelled. Reason: Storm";

/// Sends through SNS until its budget runs out, then fails every send: a function that
/// dies half way through a flight, as far as the outside world can tell.
struct FailingAfter {
    inner: SnsSms,
    budget: AtomicUsize,
}

impl SmsSender for FailingAfter {
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), adapters::Error> {
        let left = self.budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1));
        if left.is_err() {
            return Err(adapters::Error::Aws {
                service: "SNS",
                operation: "Publish",
                detail: "injected failure".into(),
            });
        }
        self.inner.send(to, text).await
    }
}

struct Flight {
    flights: FlightsTable,
    deliveries: DeliveriesTable,
    sns: aws_sdk_sns::Client,
    mobiles: Vec<String>,
    message: String,
}

/// A registered flight with `passengers` passengers and an alert message about it.
async fn flight(number: u16, passengers: usize) -> Flight {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let flights = FlightsTable::new(dynamo.clone(), &resources.get("FlightsTable").unwrap().reference);
    let mobiles: Vec<String> = (0..passengers).map(|_| testkit::unique_mobile()).collect();
    let req: FlightRequest = serde_json::from_value(json!({
        "carrier": "QF", "flightNumber": number.to_string(), "date": "2026-12-01", "origin": "SYD",
        "destination": "LHR", "scheduledDeparture": "2026-12-01T16:00:00+11:00",
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("P{i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    }))
    .unwrap();
    let new = NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap();
    flights.register(&new, "r", OffsetDateTime::now_utc()).await.unwrap();
    let message = AlertMessage {
        alert_id: AlertId::parse(&uuid::Uuid::now_v7().to_string()).unwrap(),
        flight_id: new.flight.id.to_string(),
        text: TEXT.into(),
        correlation_id: "corr-sms".into(),
    };
    Flight {
        flights,
        deliveries: DeliveriesTable::new(dynamo, &resources.get("SmsDeliveriesTable").unwrap().reference),
        sns: aws_sdk_sns::Client::new(&config),
        mobiles,
        message: serde_json::to_string(&message).unwrap(),
    }
}

impl Flight {
    fn deliverer<S: SmsSender>(&self, sender: S) -> Deliverer<S> {
        Deliverer { flights: self.flights.clone(), deliveries: self.deliveries.clone(), sender }
    }

    fn sns(&self) -> SnsSms {
        SnsSms::new(self.sns.clone())
    }

    /// How many texts each passenger has received.
    async fn texts_per_passenger(&self) -> Vec<usize> {
        let sent = testkit::texts_by_number(&testkit::moto_endpoint()).await;
        self.mobiles
            .iter()
            .map(|m| sent.get(m).map_or(0, |texts| texts.iter().filter(|t| *t == TEXT).count()))
            .collect()
    }
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
}

#[tokio::test]
async fn every_passenger_gets_one_text_even_when_the_message_comes_twice() {
    let f = flight(1, 3).await;
    let deliverer = f.deliverer(f.sns());
    let response = handle(&deliverer, testkit::sqs_event(&[("m1", f.message.clone())])).await.unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1]);

    let again = handle(&deliverer, testkit::sqs_event(&[("m1-redelivered", f.message.clone())])).await.unwrap();
    assert!(failed_ids(&again).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1]);
}

#[tokio::test]
async fn a_delivery_that_fails_half_way_is_retried_without_texting_anyone_twice() {
    let f = flight(2, 5).await;
    let crashing = f.deliverer(FailingAfter { inner: f.sns(), budget: AtomicUsize::new(2) });
    let response = handle(&crashing, testkit::sqs_event(&[("m1", f.message.clone())])).await.unwrap();
    assert_eq!(failed_ids(&response), ["m1"], "the message goes back to the queue");
    assert_eq!(f.texts_per_passenger().await.iter().sum::<usize>(), 2);

    let retry = handle(&f.deliverer(f.sns()), testkit::sqs_event(&[("m1", f.message.clone())])).await.unwrap();
    assert!(failed_ids(&retry).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn copies_processed_at_the_same_time_text_each_passenger_once() {
    let f = flight(3, 6).await;
    let deliverer = f.deliverer(f.sns());
    let copies: Vec<(&str, String)> = ["a", "b", "c"].iter().map(|id| (*id, f.message.clone())).collect();
    // Two functions at once, each with the same copies in its batch.
    let (one, two) =
        tokio::join!(handle(&deliverer, testkit::sqs_event(&copies)), handle(&deliverer, testkit::sqs_event(&copies)));
    let retried = !failed_ids(&one.unwrap()).is_empty() || !failed_ids(&two.unwrap()).is_empty();
    if retried {
        // A copy that found a passenger held by another copy asked to be retried; the retry
        // finds every text sent.
        let again = handle(&deliverer, testkit::sqs_event(&[("a", f.message.clone())])).await.unwrap();
        assert!(failed_ids(&again).is_empty());
    }
    assert_eq!(f.texts_per_passenger().await, [1; 6]);
}

#[tokio::test]
async fn an_unreadable_message_fails_alone() {
    let f = flight(4, 1).await;
    let deliverer = f.deliverer(f.sns());
    let event = testkit::sqs_event(&[("bad", "not json".into()), ("good", f.message.clone())]);
    let response = handle(&deliverer, event).await.unwrap();
    assert_eq!(failed_ids(&response), ["bad"]);
    assert_eq!(f.texts_per_passenger().await, [1]);
}

#[tokio::test]
async fn a_flight_with_thousands_of_passengers_is_texted_page_by_page() {
    let f = flight(5, 2_000).await;
    let response = handle(&f.deliverer(f.sns()), testkit::sqs_event(&[("big", f.message.clone())])).await.unwrap();
    assert!(failed_ids(&response).is_empty());
    let counts = f.texts_per_passenger().await;
    assert_eq!(counts.len(), 2_000);
    let missing = counts.iter().filter(|&&c| c == 0).count();
    let repeated = counts.iter().filter(|&&c| c > 1).count();
    assert_eq!(
        (missing, repeated),
        (0, 0),
        "every passenger exactly once: {missing} got none, {repeated} more than one"
    );
}
