//! The publisher fed with the official sample DynamoDB stream event, shaped as the
//! collections table's records, against moto: heads announced in order, products
//! ignored, unreadable heads dead-lettered.

use super::{Outbox, handle};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::recommendations::publish::CollectionChangesTopic;
use aws_lambda_events::event::dynamodb::Event;
use domain::recommendations::CollectionChanged;
use serde_json::{Value, json};

struct Setup {
    outbox: Outbox,
    sqs: aws_sdk_sqs::Client,
    retrain_queue: String,
    dead_letters: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = resources.get("CollectionChangesTopic").unwrap().reference.clone();
    let dead_letters = resources.get("CollectionPublishDeadLetterQueue").unwrap().reference.clone();
    Setup {
        outbox: Outbox {
            topic: CollectionChangesTopic::new(aws_sdk_sns::Client::new(&config), topic),
            dead_letters: DeadLetterQueue::new(sqs.clone(), dead_letters.clone()),
            metrics: adapters::metrics::Metrics::in_memory(super::METRICS),
        },
        sqs,
        retrain_queue: resources.get("RetrainQueue").unwrap().reference.clone(),
        dead_letters,
    }
}

/// The official sample event with one record per (event name, new image).
fn stream_event(changes: &[(&str, Value)]) -> Event {
    let changes: Vec<_> = changes.iter().map(|(name, image)| (*name, Value::Null, image.clone())).collect();
    serde_json::from_value(testkit::dynamodb_stream_event(&changes)).unwrap()
}

fn head(store: &str, version: u64) -> Value {
    json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "HEAD"}, "version": {"N": version.to_string()}})
}

async fn bodies(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        let received = sqs.receive_message().queue_url(queue).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        out.extend(messages.into_iter().filter_map(|m| m.body));
    }
}

#[tokio::test]
async fn new_versions_reach_the_retrain_queue_and_products_are_ignored() {
    let s = setup().await;
    let product = json!({"pk": {"S": "STORE#s1"}, "sk": {"S": "P#g1#sku-1"}, "name": {"S": "Tea"}});
    let event = stream_event(&[("INSERT", head("s1", 1)), ("INSERT", product), ("MODIFY", head("s1", 2))]);
    let response = handle(&s.outbox, event).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    let announced: Vec<CollectionChanged> =
        bodies(&s.sqs, &s.retrain_queue).await.iter().map(|b| CollectionChanged::from_json(b).unwrap()).collect();
    let versions: Vec<u64> = announced.iter().map(|c| c.version).collect();
    assert_eq!(versions, [1, 2], "raw delivery, in order");
    assert_eq!(s.outbox.metrics.flushed_total("CollectionChangesAnnounced"), 2);
}

#[tokio::test]
async fn an_unreadable_head_is_dead_lettered_and_the_stream_moves_on() {
    let s = setup().await;
    let broken = json!({"pk": {"S": "STORE#s2"}, "sk": {"S": "HEAD"}});
    let response = handle(&s.outbox, stream_event(&[("MODIFY", broken), ("MODIFY", head("s2", 3))])).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(bodies(&s.sqs, &s.dead_letters).await.len(), 1);
    assert_eq!(bodies(&s.sqs, &s.retrain_queue).await.len(), 1);
}

#[tokio::test]
async fn a_failed_publish_is_reported_so_the_stream_retries_from_it() {
    let mut s = setup().await;
    let config = testkit::moto().await;
    s.outbox.topic =
        CollectionChangesTopic::new(aws_sdk_sns::Client::new(&config), "arn:aws:sns:us-east-1:123456789012:gone");
    let response =
        handle(&s.outbox, stream_event(&[("MODIFY", head("s3", 1)), ("MODIFY", head("s3", 2))])).await.unwrap();
    let failed: Vec<Option<String>> = response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    assert_eq!(failed, [Some("100".to_owned())], "the first record, and nothing after it");
}
