//! The sweeper fed with the official sample DynamoDB stream event, shaped as the
//! collections table's records, against moto: a replaced generation's products deleted,
//! an abandoned one's too, a committed one's kept.

use std::time::Duration;

use super::{Sweeper, handle};
use adapters::deadline::Deadline;
use adapters::recommendations::collections_table::CollectionsTable;
use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use domain::recommendations::StoreId;
use domain::recommendations::collection::{Collection, CollectionRequest, Product};
use serde_json::{Value, json};

struct Setup {
    sweeper: Sweeper,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let table = resources.get("CollectionsTable").unwrap().reference.clone();
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    Setup {
        sweeper: Sweeper {
            collections: CollectionsTable::new(dynamo.clone(), &table),
            metrics: adapters::metrics::Metrics::in_memory(super::METRICS),
        },
        dynamo,
        table,
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn store() -> StoreId {
    StoreId::parse(&format!("store-{}", uuid_like())).unwrap()
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

fn products(ids: &[&str]) -> Vec<Product> {
    let list: Vec<_> =
        ids.iter().map(|id| json!({"productId": id, "name": "P", "tags": ["calm"], "available": true})).collect();
    let req: CollectionRequest = serde_json::from_value(json!({ "products": list })).unwrap();
    Collection::validate(req).unwrap().products
}

/// The official sample event with one record per (event name, old image, new image).
fn stream_event(changes: &[(&str, Value, Value)]) -> Event {
    serde_json::from_value(testkit::dynamodb_stream_event(changes)).unwrap()
}

fn head_image(store: &StoreId, version: u64, generation: &str) -> Value {
    json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "HEAD"}, "version": {"N": version.to_string()},
           "generation": {"S": generation}})
}

fn marker_image(store: &StoreId, generation: &str) -> Value {
    json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": format!("PENDING#{generation}")},
           "generation": {"S": generation}})
}

/// How many product items of `generation` the table holds.
async fn stored(s: &Setup, store: &StoreId, generation: &str) -> usize {
    let out = s
        .dynamo
        .query()
        .table_name(&s.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
        .expression_attribute_values(":pk", AttributeValue::S(format!("STORE#{store}")))
        .expression_attribute_values(":prefix", AttributeValue::S(format!("P#{generation}#")))
        .send()
        .await
        .unwrap();
    out.items.unwrap_or_default().len()
}

#[tokio::test]
async fn the_generation_a_replacement_moved_away_from_is_deleted() {
    let s = setup().await;
    let store = store();
    let first = s.sweeper.collections.replace(&store, &products(&["a", "b", "c"]), &deadline()).await.unwrap();
    let second = s.sweeper.collections.replace(&store, &products(&["d"]), &deadline()).await.unwrap();
    assert_eq!(stored(&s, &store, &first.generation).await, 3, "the request leaves the old products to the sweeper");

    let product = json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": format!("P#{}#d", second.generation)}});
    let event = stream_event(&[
        ("INSERT", Value::Null, head_image(&store, 1, &first.generation)),
        ("INSERT", Value::Null, product),
        ("MODIFY", head_image(&store, 1, &first.generation), head_image(&store, 2, &second.generation)),
    ]);
    let response = handle(&s.sweeper, event.clone(), deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stored(&s, &store, &first.generation).await, 0);
    assert_eq!(stored(&s, &store, &second.generation).await, 1, "the head's products stay");
    assert_eq!(s.sweeper.metrics.flushed_total(super::PRODUCTS_DELETED), 3);

    // Delivered again: nothing left to delete, nothing fails.
    assert!(handle(&s.sweeper, event, deadline()).await.unwrap().batch_item_failures.is_empty());
    assert_eq!(stored(&s, &store, &second.generation).await, 1);
}

#[tokio::test]
async fn an_abandoned_replacement_is_deleted_when_its_marker_expires_and_a_committed_one_is_not() {
    let s = setup().await;
    let store = store();
    let head = s.sweeper.collections.replace(&store, &products(&["kept"]), &deadline()).await.unwrap();
    // What a replacement that failed before its commit leaves: products under a generation
    // the head never named.
    for id in ["x", "y"] {
        s.dynamo
            .put_item()
            .table_name(&s.table)
            .item("pk", AttributeValue::S(format!("STORE#{store}")))
            .item("sk", AttributeValue::S(format!("P#abandoned#{id}")))
            .send()
            .await
            .unwrap();
    }
    let event = stream_event(&[
        ("REMOVE", marker_image(&store, &head.generation), Value::Null),
        ("REMOVE", marker_image(&store, "abandoned"), Value::Null),
    ]);
    let response = handle(&s.sweeper, event, deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(stored(&s, &store, "abandoned").await, 0);
    assert_eq!(stored(&s, &store, &head.generation).await, 1, "the committed replacement is the head: kept");
}

#[tokio::test]
async fn an_unreadable_record_is_reported_and_not_skipped() {
    let s = setup().await;
    let store = store();
    let no_generation = json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "HEAD"}, "version": {"N": "2"}});
    let event = stream_event(&[("MODIFY", head_image(&store, 1, "g1"), no_generation)]);
    let response = handle(&s.sweeper, event, deadline()).await.unwrap();
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(failed, [Some("100".to_owned())]);
}
