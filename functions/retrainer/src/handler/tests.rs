//! The retrainer fed with the sample SQS event, against moto: one retrain per store per
//! batch, of the newest version; versions the current model has are skipped; a model that
//! learns from what consumers chose.

use std::time::Duration;

use super::handle;
use crate::retrain::Retrainer;
use adapters::deadline::Deadline;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::{FeedbackTable, Given};
use adapters::recommendations::models::ModelStore;
use aws_lambda_events::event::sqs::SqsBatchResponse;
use domain::recommendations::collection::{Change, ChangeRequest, Collection, CollectionRequest};
use domain::recommendations::{Basis, CollectionChanged, Model, StoreId};
use serde_json::json;
use time::OffsetDateTime;

struct Setup {
    retrainer: Retrainer,
    collections: CollectionsTable,
    feedback: FeedbackTable,
    models: ModelStore,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let reference = |id: &str| resources.get(id).unwrap().reference.clone();
    let collections = CollectionsTable::new(dynamo.clone(), reference("CollectionsTable"));
    let feedback = FeedbackTable::new(dynamo.clone(), reference("FeedbackTable"));
    let models =
        ModelStore::new(dynamo, reference("ModelsTable"), aws_sdk_s3::Client::new(&config), reference("ModelsBucket"));
    Setup {
        retrainer: Retrainer {
            collections: collections.clone(),
            feedback: feedback.clone(),
            models: models.clone(),
            metrics: Metrics::in_memory(crate::retrain::METRICS),
        },
        collections,
        feedback,
        models,
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn store(id: &str) -> StoreId {
    StoreId::parse(id).unwrap()
}

/// A collection: sleep products tagged insomnia, and others.
fn collection() -> Collection {
    let products: Vec<serde_json::Value> = (0..20)
        .map(|i| {
            let tags = if i < 5 { vec!["insomnia", "tea"] } else { vec!["energy"] };
            json!({"productId": format!("sku-{i:02}"), "name": format!("Product {i}"), "tags": tags, "available": true})
        })
        .collect();
    let req: CollectionRequest = serde_json::from_value(json!({ "products": products })).unwrap();
    Collection::validate(req).unwrap()
}

fn event(changes: &[(&str, &CollectionChanged)]) -> aws_lambda_events::event::sqs::SqsEvent {
    let records: Vec<(&str, String)> =
        changes.iter().map(|(id, change)| (*id, serde_json::to_string(change).unwrap())).collect();
    testkit::sqs_event(&records)
}

fn failed(response: &SqsBatchResponse) -> Vec<&str> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect()
}

#[tokio::test]
async fn a_change_trains_a_model_that_ranks_tagged_products_and_learns_from_choices() {
    let s = setup().await;
    let shop = store("shop-1");
    let head = s.collections.replace(&shop, &collection().products, &deadline()).await.unwrap();
    // Consumers asking for "insomnia" keep choosing sku-17, a product not tagged with it.
    let tags = vec!["insomnia".to_owned()];
    let offered: Vec<String> = vec!["sku-00".into(), "sku-17".into()];
    for i in 0..30 {
        let id = format!("0190a000-0000-7000-8000-{i:012}");
        let given = Given { recommendation_id: &id, tags: &tags, offered: &offered, model_version: None };
        s.feedback.record(&shop, &given, OffsetDateTime::now_utc()).await.unwrap();
        s.feedback.choose(&shop, &id, "sku-17", time::OffsetDateTime::now_utc()).await.unwrap();
    }

    let change = CollectionChanged { store_id: shop.clone(), version: head.version };
    let response = handle(&s.retrainer, event(&[("m1", &change)]), deadline()).await.unwrap();
    assert!(failed(&response).is_empty());
    let pointer = s.models.current(&shop).await.unwrap().expect("a model");
    assert_eq!(pointer.version, head.version);
    let model = Model::from_bytes(&s.models.load(&pointer).await.unwrap()).unwrap();
    let ranking = model.recommend(&["insomnia"], 5);
    assert_eq!(ranking.basis, Basis::Learned);
    assert_eq!(ranking.items[0].product, "sku-17", "learned from what consumers chose: {ranking:?}");
    assert!(ranking.items.iter().any(|i| i.product.as_str() < "sku-05"), "tagged products follow: {ranking:?}");
    assert_eq!(s.retrainer.metrics.flushed_total("ModelsTrained"), 1);
}

#[tokio::test]
async fn a_burst_of_changes_to_one_store_is_one_retrain_and_old_versions_are_skipped() {
    let s = setup().await;
    let shop = store("shop-2");
    s.collections.replace(&shop, &collection().products, &deadline()).await.unwrap();
    let mut changes = Vec::new();
    for i in 0..50 {
        let req: ChangeRequest = serde_json::from_value(
            json!({"upsert": [{"productId": format!("new-{i}"), "name": "New", "tags": ["tea"], "available": true}]}),
        )
        .unwrap();
        let change = Change::validate(req).unwrap();
        let committed = s.collections.change(&shop, &change, &deadline()).await.unwrap();
        let adapters::recommendations::collections_table::Changed::Committed(head) = committed else {
            panic!("{committed:?}")
        };
        changes.push(CollectionChanged { store_id: shop.clone(), version: head.version });
    }
    let ids: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let batch: Vec<(&str, &CollectionChanged)> = ids.iter().map(String::as_str).zip(changes.iter()).collect();
    let response = handle(&s.retrainer, event(&batch), deadline()).await.unwrap();
    assert!(failed(&response).is_empty());
    assert_eq!(s.retrainer.metrics.flushed_total("ModelsTrained"), 1, "fifty changes, one retrain");
    assert_eq!(s.models.current(&shop).await.unwrap().unwrap().version, 51);

    // The same messages again (SQS delivers at least once): nothing to do.
    let again = handle(&s.retrainer, event(&batch[..3]), deadline()).await.unwrap();
    assert!(failed(&again).is_empty());
    assert_eq!(s.retrainer.metrics.flushed_total("ModelsTrained"), 1);
    assert_eq!(s.retrainer.metrics.flushed_total("RetrainsSkipped"), 1);
}

#[tokio::test]
async fn a_stale_retrain_never_replaces_a_newer_model() {
    let s = setup().await;
    let shop = store("shop-3");
    s.collections.replace(&shop, &collection().products, &deadline()).await.unwrap();
    // A newer model is already current (another invocation got there first).
    let newer = Model::train(&[], &[]).to_bytes();
    s.models.publish(&shop, 99, newer, OffsetDateTime::now_utc()).await.unwrap();
    let change = CollectionChanged { store_id: shop.clone(), version: 1 };
    let response = handle(&s.retrainer, event(&[("m1", &change)]), deadline()).await.unwrap();
    assert!(failed(&response).is_empty());
    assert_eq!(s.models.current(&shop).await.unwrap().unwrap().version, 99);
    // Trained from the head it read (version 1), refused by the pointer's condition.
    let published =
        s.models.publish(&shop, 2, Model::train(&[], &[]).to_bytes(), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(published, adapters::recommendations::models::Published::Stale { current: 99 });
}

#[tokio::test]
async fn an_unreadable_message_fails_alone_and_a_store_without_a_collection_is_moot() {
    let s = setup().await;
    let shop = store("shop-4");
    let head = s.collections.replace(&shop, &collection().products, &deadline()).await.unwrap();
    let good = serde_json::to_string(&CollectionChanged { store_id: shop.clone(), version: head.version }).unwrap();
    let gone = serde_json::to_string(&CollectionChanged { store_id: store("never-existed"), version: 1 }).unwrap();
    let event = testkit::sqs_event(&[("bad", "not json".into()), ("good", good), ("gone", gone)]);
    let response = handle(&s.retrainer, event, deadline()).await.unwrap();
    assert_eq!(failed(&response), ["bad"]);
    assert!(s.models.current(&shop).await.unwrap().is_some());
    assert!(s.models.current(&store("never-existed")).await.unwrap().is_none());
}
