//! The publisher fed with the official sample DynamoDB stream event, shaped as the alerts
//! table's records, against moto: published in order, others ignored, unreadable ones
//! dead-lettered, a failed publish reported so the stream retries from it.

use super::{Outbox, handle};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::flight_alerts::publish::AlertPublisher;
use aws_lambda_events::event::dynamodb::Event;
use domain::flight_alerts::AlertMessage;
use serde_json::{Value, json};

struct Setup {
    outbox: Outbox,
    sqs: aws_sdk_sqs::Client,
    sms_queue: String,
    dead_letters: String,
}

async fn setup(topic: Option<&str>) -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = topic.map(str::to_owned).unwrap_or_else(|| resources.get("AlertsTopic").unwrap().reference.clone());
    let dead_letters = resources.get("AlertPublishDeadLetterQueue").unwrap().reference.clone();
    Setup {
        outbox: Outbox {
            publisher: AlertPublisher::new(aws_sdk_sns::Client::new(&config), topic),
            dead_letters: DeadLetterQueue::new(sqs.clone(), dead_letters.clone()),
            metrics: adapters::metrics::Metrics::new(super::METRICS),
        },
        sqs,
        sms_queue: resources.get("SmsQueue").unwrap().reference.clone(),
        dead_letters,
    }
}

/// An alert item as the alerts table's stream carries it.
fn alert_image(alert_id: &str, text: &str) -> Value {
    json!({
        "pk": {"S": "FLIGHT#LH400-2026-12-01"}, "sk": {"S": format!("ALERT#{alert_id}")},
        "alertId": {"S": alert_id}, "flightId": {"S": "LH400-2026-12-01"}, "message": {"S": text},
        "correlationId": {"S": "trace-7"}, "type": {"S": "cancellation"}, "reason": {"S": "Snow"}
    })
}

/// The official sample event with one record per (event name, new image).
fn stream_event(changes: &[(&str, Value)]) -> Event {
    let changes: Vec<_> = changes.iter().map(|(name, image)| (*name, Value::Null, image.clone())).collect();
    serde_json::from_value(testkit::dynamodb_stream_event(&changes)).unwrap()
}

async fn messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<String> {
    let received = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
    received.messages.unwrap_or_default().into_iter().filter_map(|m| m.body).collect()
}

fn id(n: u8) -> String {
    format!("01936b2e-1c2a-7def-8abc-0123456789{n:02x}")
}

#[tokio::test]
async fn new_alerts_are_published_in_order_and_other_changes_ignored() {
    let s = setup(None).await;
    let key_record = json!({"pk": {"S": "FLIGHT#LH400-2026-12-01"}, "sk": {"S": "KEY#k-1"}, "alertId": {"S": id(1)}});
    let event = stream_event(&[
        ("INSERT", alert_image(&id(1), "first")),
        ("INSERT", key_record),
        ("MODIFY", alert_image(&id(1), "first, changed")),
        ("INSERT", alert_image(&id(2), "second")),
    ]);
    let response = handle(&s.outbox, event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let published: Vec<AlertMessage> =
        messages(&s.sqs, &s.sms_queue).await.iter().map(|b| AlertMessage::from_json(b).unwrap()).collect();
    let texts: Vec<&str> = published.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(published[0].correlation_id, "trace-7");
}

#[tokio::test]
async fn an_unreadable_alert_goes_to_the_dead_letter_queue_and_the_rest_is_published() {
    let s = setup(None).await;
    let mut broken = alert_image(&id(3), "broken");
    broken["flightId"] = json!({"S": "not a flight"});
    let event = stream_event(&[("INSERT", broken), ("INSERT", alert_image(&id(4), "fine"))]);
    let response = handle(&s.outbox, event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let dead: Vec<Value> =
        messages(&s.sqs, &s.dead_letters).await.iter().map(|b| serde_json::from_str(b).unwrap()).collect();
    assert_eq!(dead.len(), 1);
    assert!(dead[0]["reason"].as_str().unwrap().contains("flight id"), "{}", dead[0]);
    assert_eq!(messages(&s.sqs, &s.sms_queue).await.len(), 1);
}

#[tokio::test]
async fn a_failed_publish_is_reported_and_nothing_after_it_is_published() {
    // A topic that does not exist: every publish fails.
    let s = setup(Some("arn:aws:sns:us-east-1:123456789012:nowhere")).await;
    let event = stream_event(&[("INSERT", alert_image(&id(5), "one")), ("INSERT", alert_image(&id(6), "two"))]);
    let response = handle(&s.outbox, event).await.unwrap();
    let reported: Vec<Option<String>> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    assert_eq!(reported, [Some("100".to_owned())], "retried from the first record");
}
