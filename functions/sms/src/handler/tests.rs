//! The SMS handler fed with the sample SQS event, against moto: every number gets exactly
//! one text per alert, whatever the queue, the clock or SNS do.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::handle;
use crate::deliver::{self, Budget, Clock, Delivered, Deliverer, DeliveryError};
use adapters::deadline::Deadline;
use adapters::error::AwsFailure;
use adapters::flight_alerts::deliveries_table::DeliveriesTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::flight_alerts::publish::{SmsQueue, SmsSender, SnsSms};
use adapters::metrics::Metrics;
use adapters::rate_limit::TokenBucket;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use domain::PhoneNumber;
use domain::flight_alerts::delivery::{DeliveryState, delivery_id};
use domain::flight_alerts::flight::FlightRequest;
use domain::flight_alerts::{AlertId, AlertMessage, NewFlight};
use serde_json::json;
use time::OffsetDateTime;

const TEXT: &str = "QF1 SYD-LHR 01 Dec: cancelled. Reason: Storm";

/// A rate no test waits on.
const FAST: f64 = 10_000.0;

/// Sends through SNS until its budget runs out, then fails every send as SNS does when
/// it is unavailable: a delivery that fails half way.
struct FailingAfter {
    inner: SnsSms,
    budget: AtomicUsize,
}

fn sns_error(code: &str, status: u16, transient: bool) -> adapters::Error {
    adapters::Error::Aws(AwsFailure {
        service: "SNS",
        operation: "Publish",
        code: code.into(),
        status: Some(status),
        request_id: None,
        transient,
    })
}

impl SmsSender for FailingAfter {
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), adapters::Error> {
        let left = self.budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1));
        if left.is_err() {
            return Err(sns_error("InternalError", 500, true));
        }
        self.inner.send(to, text).await
    }
}

/// Sends through SNS until its budget runs out, then never answers: a function that
/// crashes (or is cut off) with sends in flight, leaving their claims in progress.
struct HangingAfter {
    inner: SnsSms,
    budget: AtomicUsize,
    hanging: AtomicUsize,
}

impl SmsSender for HangingAfter {
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), adapters::Error> {
        if self.budget.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| b.checked_sub(1)).is_err() {
            self.hanging.fetch_add(1, Ordering::SeqCst);
            return std::future::pending().await;
        }
        self.inner.send(to, text).await
    }
}

/// SNS that refuses one number, as it refuses an invalid one.
struct Refusing {
    inner: SnsSms,
    number: String,
}

impl SmsSender for Refusing {
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), adapters::Error> {
        if to.e164() == self.number {
            return Err(sns_error("InvalidParameter", 400, false));
        }
        self.inner.send(to, text).await
    }
}

struct Flight {
    config: aws_config::SdkConfig,
    flights: FlightsTable,
    deliveries: DeliveriesTable,
    queue: String,
    mobiles: Vec<String>,
    new: NewFlight,
    message: AlertMessage,
}

/// A registered flight whose passengers have `mobiles`, and an alert message about it.
async fn flight_with(number: u16, mobiles: Vec<String>) -> Flight {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let flights = FlightsTable::new(dynamo.clone(), &resources.get("FlightsTable").unwrap().reference);
    let req: FlightRequest = serde_json::from_value(json!({
        "carrier": "QF", "flightNumber": number.to_string(), "date": "2026-12-01", "origin": "SYD",
        "destination": "LHR", "scheduledDeparture": "2026-12-01T16:00:00+11:00",
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("P{i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    }))
    .unwrap();
    let new = NewFlight::validate(req, time::macros::date!(2026 - 12 - 01)).unwrap();
    flights.register(&new, "r", OffsetDateTime::now_utc(), &Deadline::after(Duration::from_secs(60))).await.unwrap();
    let message = AlertMessage {
        alert_id: AlertId::parse(&uuid::Uuid::now_v7().to_string()).unwrap(),
        flight_id: new.flight.id.to_string(),
        text: TEXT.into(),
        correlation_id: "corr-sms".into(),
        resume: None,
    };
    Flight {
        flights,
        deliveries: DeliveriesTable::new(dynamo, &resources.get("SmsDeliveriesTable").unwrap().reference),
        queue: resources.get("SmsQueue").unwrap().reference.clone(),
        config,
        mobiles,
        new,
        message,
    }
}

async fn flight(number: u16, passengers: usize) -> Flight {
    // moto first: it hands this process its block of numbers.
    testkit::moto().await;
    flight_with(number, (0..passengers).map(|_| testkit::unique_mobile()).collect()).await
}

impl Flight {
    fn deliverer<S: SmsSender>(&self, sender: S) -> Deliverer<S> {
        self.deliverer_at(sender, FAST, Clock::default())
    }

    fn deliverer_at<S: SmsSender>(&self, sender: S, per_second: f64, clock: Clock) -> Deliverer<S> {
        Deliverer {
            flights: self.flights.clone(),
            deliveries: self.deliveries.clone(),
            sender,
            follow_ups: SmsQueue::new(aws_sdk_sqs::Client::new(&self.config), &self.queue),
            rate: TokenBucket::new(per_second, per_second),
            metrics: Metrics::in_memory(deliver::METRICS),
            clock,
        }
    }

    fn sns(&self) -> SnsSms {
        SnsSms::new(&self.config)
    }

    fn body(&self) -> String {
        serde_json::to_string(&self.message).unwrap()
    }

    /// How many texts each passenger's number has received.
    async fn texts_per_passenger(&self) -> Vec<usize> {
        let sent = testkit::texts_by_number(&testkit::moto_endpoint()).await;
        self.mobiles
            .iter()
            .map(|m| sent.get(m).map_or(0, |texts| texts.iter().filter(|t| *t == TEXT).count()))
            .collect()
    }

    /// The follow-up messages waiting in the SMS queue (received and deleted).
    async fn follow_ups(&self) -> Vec<AlertMessage> {
        let sqs = aws_sdk_sqs::Client::new(&self.config);
        let mut found = Vec::new();
        loop {
            let received =
                sqs.receive_message().queue_url(&self.queue).max_number_of_messages(10).send().await.unwrap();
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                return found;
            }
            for message in messages {
                found.push(AlertMessage::from_json(message.body.as_deref().unwrap_or_default()).unwrap());
                let handle = message.receipt_handle.unwrap_or_default();
                sqs.delete_message().queue_url(&self.queue).receipt_handle(handle).send().await.unwrap();
            }
        }
    }
}

fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
}

fn minute() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

#[tokio::test]
async fn every_passenger_gets_one_text_even_when_the_message_comes_twice() {
    let f = flight(1, 3).await;
    let deliverer = f.deliverer(f.sns());
    let response = handle(&deliverer, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1]);

    let again = handle(&deliverer, testkit::sqs_event(&[("m1-redelivered", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&again).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1]);
    let metrics = &deliverer.metrics;
    assert_eq!((metrics.flushed_total("TextsSent"), metrics.flushed_total("DuplicatesSuppressed")), (3, 3));
}

#[tokio::test]
async fn a_delivery_that_fails_half_way_is_retried_without_texting_anyone_twice() {
    let f = flight(2, 5).await;
    let failing = f.deliverer(FailingAfter { inner: f.sns(), budget: AtomicUsize::new(2) });
    // SNS keeps failing until the deadline: the delivery gives up then, not before.
    let outcome = failing.deliver(&f.message, &Budget::new(Deadline::after(Duration::from_secs(3)))).await;
    assert_eq!(f.texts_per_passenger().await.iter().sum::<usize>(), 2);
    // Whatever was texted in order is progress a follow-up carries on from; without
    // progress, the message itself comes back.
    let retry = match outcome {
        Ok(Delivered::Continue { resume, .. }) => f.message.resumed(resume),
        Err(DeliveryError::NoProgress(report)) => {
            assert_eq!((report.sent, report.failed), (2, 3), "{report}");
            f.message.clone()
        }
        other => panic!("{other:?}"),
    };
    let healthy = f.deliverer(f.sns());
    let response = handle(&healthy, testkit::sqs_event(&[("m1", serde_json::to_string(&retry).unwrap())]), minute())
        .await
        .unwrap();
    assert!(failed_ids(&response).is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 1, 1, 1]);
}

#[tokio::test]
async fn a_crash_with_texts_in_flight_leaves_claims_that_are_taken_over_once_they_lapse() {
    let f = flight(6, 30).await;
    let crashing =
        f.deliverer(HangingAfter { inner: f.sns(), budget: AtomicUsize::new(10), hanging: AtomicUsize::new(0) });
    let states = || async {
        let mut states = Vec::new();
        for mobile in &f.mobiles {
            let id = delivery_id(&f.message.alert_id, &PhoneNumber::from_e164(mobile).unwrap());
            states.push(f.deliveries.state(&id).await.unwrap());
        }
        states
    };
    // The invocation dies mid-batch, once ten texts are sent and recorded and more are in
    // flight: its future is dropped with those sends outstanding.
    tokio::select! {
        _ = handle(&crashing, testkit::sqs_event(&[("m1", f.body())]), minute()) => panic!("the delivery should hang"),
        _ = testkit::eventually(Duration::from_secs(60), "ten texts recorded and sends hanging", || async {
            let sent = states().await.iter().filter(|s| **s == Some(DeliveryState::Sent)).count();
            (sent == 10 && crashing.sender.hanging.load(Ordering::SeqCst) > 0).then_some(())
        }) => {}
    }
    assert_eq!(f.texts_per_passenger().await.iter().sum::<usize>(), 10);
    let in_progress =
        states().await.iter().filter(|s| matches!(s, Some(DeliveryState::InProgress { .. }))).count() as u64;
    assert!(in_progress > 0, "the crash left claims in progress");

    // Redelivered while those claims live: nobody is texted twice, and the message is not
    // acknowledged while passengers remain.
    let early = f.deliverer(f.sns());
    let outcome = early.deliver(&f.message, &Budget::new(minute())).await;
    match outcome {
        Ok(Delivered::Continue { delay, report, .. }) => {
            assert!(delay > Duration::ZERO, "the follow-up waits for the claims to lapse");
            assert_eq!(report.held as u64, in_progress, "{report}");
        }
        Err(DeliveryError::NoProgress(report)) => assert_eq!(report.held as u64, in_progress, "{report}"),
        other => panic!("{other:?}"),
    }
    assert!(f.texts_per_passenger().await.iter().all(|&n| n <= 1));
    assert!(f.texts_per_passenger().await.contains(&0), "the held passengers wait");

    // Later (by the clock, moved past the claims' lapse): taken over, texted, once each.
    let later = f.deliverer_at(f.sns(), FAST, Clock::ahead(time::Duration::minutes(5)));
    let response = handle(&later, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "{response:?}");
    assert_eq!(f.texts_per_passenger().await, vec![1; 30]);
    assert_eq!(later.metrics.flushed_total("ClaimTakeovers"), in_progress);
}

#[tokio::test]
async fn a_number_the_service_refuses_is_recorded_failed_and_everyone_else_is_texted() {
    let f = flight(7, 6).await;
    let refused = f.mobiles[2].clone();
    let deliverer = f.deliverer(Refusing { inner: f.sns(), number: refused.clone() });
    let response = handle(&deliverer, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&response).is_empty(), "the alert is finished: every number sent or failed");
    assert!(f.follow_ups().await.is_empty());
    assert_eq!(f.texts_per_passenger().await, [1, 1, 0, 1, 1, 1]);
    let id = delivery_id(&f.message.alert_id, &PhoneNumber::from_e164(&refused).unwrap());
    assert_eq!(
        f.deliveries.state(&id).await.unwrap(),
        Some(DeliveryState::Failed { reason: "InvalidParameter".into() })
    );
    let metrics = &deliverer.metrics;
    assert_eq!((metrics.flushed_total("TextsSent"), metrics.flushed_total("TextsFailed")), (5, 1));

    // Redelivered: the refused number is not tried again.
    let again = f.deliverer(f.sns());
    handle(&again, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert_eq!(f.texts_per_passenger().await, [1, 1, 0, 1, 1, 1]);
}

#[tokio::test]
async fn passengers_sharing_a_phone_share_its_one_text() {
    testkit::moto().await;
    let family = testkit::unique_mobile();
    let mut mobiles = vec![family.clone(); 3];
    mobiles.push(testkit::unique_mobile());
    mobiles.push(family.clone());
    let f = flight_with(8, mobiles).await;
    let deliverer = f.deliverer(f.sns());
    let response = handle(&deliverer, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&response).is_empty());
    let sent = testkit::texts_by_number(&testkit::moto_endpoint()).await;
    assert_eq!(sent[&family], [TEXT], "one text for the family's phone");
    assert_eq!(sent[&f.mobiles[3]], [TEXT]);
    let metrics = &deliverer.metrics;
    assert_eq!((metrics.flushed_total("TextsSent"), metrics.flushed_total("DuplicatesSuppressed")), (2, 3));
}

#[tokio::test]
async fn a_flight_bigger_than_one_invocation_continues_in_follow_up_messages() {
    let f = flight(9, 120).await;
    // 10 texts a second and ten seconds per invocation: each can text about 80.
    let (mut message, mut invocations, mut follow_ups_sent) = (f.body(), 0, 0);
    loop {
        invocations += 1;
        assert!(invocations <= 20, "the flight should be done in a few invocations");
        let deliverer = f.deliverer_at(f.sns(), 10.0, Clock::default());
        let event = testkit::sqs_event(&[("m", message.clone())]);
        let response = handle(&deliverer, event, Deadline::after(Duration::from_secs(10))).await.unwrap();
        let follow_ups = f.follow_ups().await;
        match (failed_ids(&response).as_slice(), follow_ups.as_slice()) {
            // Done.
            ([], []) => break,
            // Progress: acknowledged, and the rest follows in a new message.
            ([], [next]) => {
                let resume = next.resume.as_ref().expect("a follow-up says where to resume");
                assert!(resume.counted > 0 && resume.counted < 120, "{resume:?}");
                assert_eq!((&next.alert_id, &next.text), (&f.message.alert_id, &f.message.text));
                message = serde_json::to_string(next).unwrap();
                follow_ups_sent += 1;
            }
            // No progress at all (a slow moto under a loaded test run): the message
            // comes back as it was, as SQS would return it.
            (["m"], []) => {}
            other => panic!("one outcome per invocation: {other:?}"),
        }
    }
    assert!(follow_ups_sent >= 1, "more than one invocation was needed");
    assert_eq!(f.texts_per_passenger().await, vec![1; 120]);
}

#[tokio::test]
async fn passengers_missing_from_the_read_are_never_acknowledged() {
    let f = flight(10, 4).await;
    // One passenger item disappears behind the flight's back: the count no longer matches.
    let dynamo = aws_sdk_dynamodb::Client::new(&f.config);
    let stored = f.flights.get(&f.new.flight.id).await.unwrap().unwrap();
    let page = f.flights.passengers(&stored, None, 10).await.unwrap();
    let table = f.flights.name().to_owned();
    dynamo
        .delete_item()
        .table_name(&table)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("FLIGHT#{}", f.new.flight.id)))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("PAX#{}", page.passengers[1].id)))
        .send()
        .await
        .unwrap();
    let deliverer = f.deliverer(f.sns());
    let outcome = deliverer.deliver(&f.message, &Budget::new(minute())).await;
    assert!(matches!(outcome, Err(DeliveryError::Miscounted { counted: 3, expected: 4 })), "{outcome:?}");
    let response = handle(&deliverer, testkit::sqs_event(&[("m1", f.body())]), minute()).await.unwrap();
    assert_eq!(failed_ids(&response), ["m1"]);
}

#[tokio::test]
async fn copies_processed_at_the_same_time_text_each_passenger_once() {
    let f = flight(3, 6).await;
    let deliverer = f.deliverer(f.sns());
    let copies: Vec<(&str, String)> = ["a", "b", "c"].iter().map(|id| (*id, f.body())).collect();
    // Two functions at once, each with the same copies in its batch.
    let (one, two) = tokio::join!(
        handle(&deliverer, testkit::sqs_event(&copies), minute()),
        handle(&deliverer, testkit::sqs_event(&copies), minute())
    );
    let (one, two) = (one.unwrap(), two.unwrap());
    // A copy that found a number held by another asked to come back (a failure or a
    // delayed follow-up); when it does, it finds every text sent.
    let again = handle(&deliverer, testkit::sqs_event(&[("a", f.body())]), minute()).await.unwrap();
    assert!(failed_ids(&again).is_empty(), "{one:?} {two:?} {again:?}");
    assert_eq!(f.texts_per_passenger().await, [1; 6]);
}

#[tokio::test]
async fn an_unreadable_message_fails_alone() {
    let f = flight(4, 1).await;
    let deliverer = f.deliverer(f.sns());
    let event = testkit::sqs_event(&[("bad", "not json".into()), ("good", f.body())]);
    let response = handle(&deliverer, event, minute()).await.unwrap();
    assert_eq!(failed_ids(&response), ["bad"]);
    assert_eq!(f.texts_per_passenger().await, [1]);
    assert_eq!(deliverer.metrics.flushed_total("BatchItemFailures"), 1);
}

#[tokio::test]
async fn a_message_that_arrives_with_no_time_left_is_handed_back_untouched() {
    let f = flight(11, 2).await;
    let deliverer = f.deliverer(f.sns());
    let response =
        handle(&deliverer, testkit::sqs_event(&[("late", f.body())]), Deadline::after(Duration::ZERO)).await.unwrap();
    assert_eq!(failed_ids(&response), ["late"]);
    assert_eq!(f.texts_per_passenger().await, [0, 0]);
}

#[tokio::test]
async fn a_flight_with_thousands_of_passengers_is_texted_page_by_page() {
    let f = flight(5, 2_000).await;
    let deliverer = f.deliverer(f.sns());
    let outcome = deliverer.deliver(&f.message, &Budget::new(Deadline::after(Duration::from_secs(600)))).await;
    assert!(matches!(outcome, Ok(Delivered::Finished(report)) if report.sent == 2_000), "{outcome:?}");
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
