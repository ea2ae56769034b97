//! The store recommendations' storage against moto, on tables and a bucket provisioned
//! from the template: the collections table's commit point, the model pointer's
//! conditional flip, and feedback recorded once.

use std::time::Duration;

use adapters::deadline::Deadline;
use adapters::recommendations::collections_table::{Changed, CollectionsTable, Retirement};
use adapters::recommendations::feedback_table::{Chosen, FeedbackTable, Given};
use adapters::recommendations::models::{ModelStore, Published, SUPERSEDED_TAG};
use aws_sdk_dynamodb::types::AttributeValue;
use domain::recommendations::StoreId;
use domain::recommendations::collection::{Change, ChangeRequest, Collection, CollectionRequest, Product};
use serde_json::json;
use time::OffsetDateTime;

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn store() -> StoreId {
    StoreId::parse(&format!("store-{}", uuid::Uuid::new_v4().simple())).unwrap()
}

fn products(ids: &[&str]) -> Vec<Product> {
    let list: Vec<_> = ids
        .iter()
        .map(|id| json!({"productId": id, "name": format!("Product {id}"), "tags": ["calm", id], "available": true}))
        .collect();
    let req: CollectionRequest = serde_json::from_value(json!({ "products": list })).unwrap();
    Collection::validate(req).unwrap().products
}

fn change(body: serde_json::Value) -> Change {
    let req: ChangeRequest = serde_json::from_value(body).unwrap();
    Change::validate(req).unwrap()
}

async fn collections() -> CollectionsTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    CollectionsTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("CollectionsTable").unwrap().reference)
}

fn ids(products: &[Product]) -> Vec<&str> {
    products.iter().map(|p| p.product_id.as_str()).collect()
}

#[tokio::test]
async fn a_replacement_is_visible_whole_at_its_commit_and_pages_in_id_order() {
    let table = collections().await;
    let store = store();
    assert_eq!(table.head(&store).await.unwrap(), None);

    let first = table.replace(&store, &products(&["a", "b", "c"]), &deadline()).await.unwrap();
    assert_eq!((first.version, first.products), (1, 3));
    assert_eq!(first.tag_counts["calm"], 3);
    let page = table.products(&store, &first.generation, None, 2).await.unwrap();
    assert_eq!(ids(&page.products), ["a", "b"]);
    let rest = table.products(&store, &first.generation, page.next.as_deref(), 2).await.unwrap();
    assert_eq!((ids(&rest.products), rest.next), (vec!["c"], None));

    // A second replacement moves the head to a new generation. The old one's products are
    // left for the sweeper, which retires them (twice is harmless).
    let second = table.replace(&store, &products(&["x"]), &deadline()).await.unwrap();
    assert_eq!(second.version, 2);
    assert_ne!(second.generation, first.generation);
    assert_eq!(ids(&table.all_products(&store, &second).await.unwrap()), ["x"]);
    assert_eq!(table.products(&store, &first.generation, None, 10).await.unwrap().products.len(), 3);
    assert_eq!(table.retire(&store, &first.generation, &deadline()).await.unwrap(), 3);
    assert_eq!(table.retire(&store, &first.generation, &deadline()).await.unwrap(), 0);
    assert!(table.products(&store, &first.generation, None, 10).await.unwrap().products.is_empty());
    assert_eq!(ids(&table.all_products(&store, &second).await.unwrap()), ["x"]);
}

#[tokio::test]
async fn the_stream_tells_the_sweeper_which_generation_to_retire() {
    let store = store();
    let head = |generation: &str| json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "HEAD"}, "generation": {"S": generation}});
    let marker = json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "PENDING#g3"}, "generation": {"S": "g3"}});
    let product = json!({"pk": {"S": format!("STORE#{store}")}, "sk": {"S": "P#g1#a"}});
    let none = serde_json::Value::Null;
    assert_eq!(
        Retirement::from_change("MODIFY", &head("g1"), &head("g2")).unwrap(),
        Retirement::Replaced { store: store.clone(), generation: "g1".into() }
    );
    assert_eq!(Retirement::from_change("MODIFY", &head("g1"), &head("g1")).unwrap(), Retirement::Nothing, "a change");
    assert_eq!(
        Retirement::from_change("REMOVE", &marker, &none).unwrap(),
        Retirement::Abandoned { store: store.clone(), generation: "g3".into() }
    );
    assert_eq!(Retirement::from_change("INSERT", &none, &head("g1")).unwrap(), Retirement::Nothing);
    assert_eq!(Retirement::from_change("REMOVE", &product, &none).unwrap(), Retirement::Nothing);
    assert!(Retirement::from_change("MODIFY", &head("g1"), &json!({"sk": {"S": "HEAD"}})).is_err());
}

#[tokio::test]
async fn a_change_is_one_transaction_that_keeps_to_the_limits() {
    let table = collections().await;
    let store = store();
    let none = table.change(&store, &change(json!({"remove": ["a"]})), &deadline()).await.unwrap();
    assert_eq!(none, Changed::NoCollection);

    table.replace(&store, &products(&["a", "b"]), &deadline()).await.unwrap();
    let upsert = json!({"productId": "c", "name": "C", "tags": ["new"], "available": false});
    let changed = table.change(&store, &change(json!({"upsert": [upsert], "remove": ["a"]})), &deadline()).await;
    let Changed::Committed(head) = changed.unwrap() else { panic!("committed") };
    assert_eq!((head.version, head.products), (2, 2));
    assert_eq!(head.tag_counts.get("new"), Some(&1));
    assert_eq!(head.tag_counts.get("a"), None, "a tag no product carries is not counted");
    assert_eq!(ids(&table.all_products(&store, &head).await.unwrap()), ["b", "c"]);

    // 300 distinct tags at most: a change that would make 301 writes nothing.
    let many: Vec<_> = (0..297)
        .map(|i| json!({"productId": format!("p{i}"), "name": "P", "tags": [format!("t{i}")], "available": true}))
        .collect();
    let many: Vec<Product> =
        Collection::validate(serde_json::from_value(json!({ "products": many })).unwrap()).unwrap().products;
    let full = table.replace(&store, &many, &deadline()).await.unwrap();
    assert_eq!(full.tag_counts.len(), 297);
    let three = json!({"productId": "q", "name": "Q", "tags": ["u1", "u2", "u3"], "available": true});
    let fits = table.change(&store, &change(json!({"upsert": [three]})), &deadline()).await.unwrap();
    assert!(matches!(fits, Changed::Committed(ref h) if h.tag_counts.len() == 300), "{fits:?}");
    let one_more = json!({"productId": "r", "name": "R", "tags": ["u4"], "available": true});
    let over = table.change(&store, &change(json!({"upsert": [one_more]})), &deadline()).await.unwrap();
    assert!(matches!(over, Changed::OverLimit(_)), "{over:?}");
    assert_eq!(table.head(&store).await.unwrap().unwrap().version, 4, "the refused change wrote nothing");
}

#[tokio::test]
async fn concurrent_changes_each_commit_once_with_versions_in_a_row() {
    let table = collections().await;
    let store = store();
    table.replace(&store, &products(&["base"]), &deadline()).await.unwrap();
    let edits = (0..8).map(|i| {
        let table = table.clone();
        let store = store.clone();
        tokio::spawn(async move {
            let edit =
                json!({"upsert": [{"productId": format!("e{i}"), "name": "E", "tags": ["calm"], "available": true}]});
            table.change(&store, &change(edit), &deadline()).await.unwrap()
        })
    });
    let mut versions = Vec::new();
    for edit in edits {
        let Changed::Committed(head) = edit.await.unwrap() else { panic!("committed") };
        versions.push(head.version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<u64>>(), "no change lost, none counted twice");
    let head = table.head(&store).await.unwrap().unwrap();
    assert_eq!(table.all_products(&store, &head).await.unwrap().len(), 9);
}

async fn model_store() -> (ModelStore, aws_sdk_dynamodb::Client, String, aws_sdk_s3::Client, String) {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let table = resources.get("ModelsTable").unwrap().reference.clone();
    let bucket = resources.get("ModelsBucket").unwrap().reference.clone();
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let s3 = aws_sdk_s3::Client::new(&config);
    (ModelStore::new(dynamo.clone(), &table, s3.clone(), &bucket), dynamo, table, s3, bucket)
}

async fn superseded(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> bool {
    let tags = s3.get_object_tagging().bucket(bucket).key(key).send().await.unwrap();
    tags.tag_set().iter().any(|t| (t.key(), t.value()) == SUPERSEDED_TAG)
}

#[tokio::test]
async fn a_model_becomes_current_only_if_newer_and_the_one_it_replaced_is_kept_for_rollback() {
    let (models, dynamo, table, s3, bucket) = model_store().await;
    let store = store();
    let now = OffsetDateTime::now_utc();
    assert_eq!(models.current(&store).await.unwrap(), None);

    let Published::Current(v3) = models.publish(&store, 3, b"model three".to_vec(), now).await.unwrap() else {
        panic!("the first model is current")
    };
    assert_eq!(models.current(&store).await.unwrap().as_ref(), Some(&v3));
    assert_eq!(models.load(&v3).await.unwrap(), b"model three");

    // A retrain of an older version finishing late changes nothing.
    let late = models.publish(&store, 2, b"model two".to_vec(), now).await.unwrap();
    assert_eq!(late, Published::Stale { current: 3 });
    assert_eq!(models.current(&store).await.unwrap().as_ref(), Some(&v3));

    let Published::Current(v5) = models.publish(&store, 5, b"model five".to_vec(), now).await.unwrap() else {
        panic!("a newer model is current")
    };
    assert_eq!(models.load(&models.current(&store).await.unwrap().unwrap()).await.unwrap(), b"model five");
    assert!(superseded(&s3, &bucket, &v3.key).await, "the replaced model's object is marked for the lifecycle rule");
    // Copied onto itself to mark it (so its age starts now): the same model, as written.
    assert_eq!(models.load(&v3).await.unwrap(), b"model three");
    let head = s3.head_object().bucket(&bucket).key(&v3.key).send().await.unwrap();
    assert_eq!(head.content_type(), Some("application/octet-stream"));
    assert!(!superseded(&s3, &bucket, &v5.key).await);

    // The replaced pointer is kept under TTL, for rollback.
    let history = dynamo
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("STORE#{store}")))
        .key("sk", AttributeValue::S(format!("V#{:012}", 3)))
        .send()
        .await
        .unwrap()
        .item
        .expect("a history item for version 3");
    assert_eq!(history["key"], AttributeValue::S(v3.key.clone()));
    let expires: i64 = history["expiresAt"].as_n().unwrap().parse().unwrap();
    let week = (now + time::Duration::days(7)).unix_timestamp();
    assert!((week - 60..=week + 60).contains(&expires), "expires with the rollback window: {expires}");
}

#[tokio::test]
async fn feedback_is_recorded_and_a_choice_is_taken_once() {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let feedback =
        FeedbackTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("FeedbackTable").unwrap().reference);
    let store = store();
    let tags = vec!["insomnia".to_owned()];
    let offered = vec!["tea".to_owned(), "mask".to_owned()];
    let now = OffsetDateTime::now_utc();
    for id in ["01a20000-0000-7000-8000-000000000001", "01a20000-0000-7000-8000-000000000002"] {
        let given = Given { recommendation_id: id, tags: &tags, offered: &offered, model_version: Some(4) };
        feedback.record(&store, &given, now).await.unwrap();
    }
    let first = "01a20000-0000-7000-8000-000000000001";
    assert_eq!(feedback.choose(&store, first, "coffee", now).await.unwrap(), Chosen::NotOffered);
    assert_eq!(feedback.choose(&store, first, "mask", now).await.unwrap(), Chosen::Recorded);
    assert_eq!(feedback.choose(&store, first, "mask", now).await.unwrap(), Chosen::Again);
    assert_eq!(feedback.choose(&store, first, "tea", now).await.unwrap(), Chosen::Different("mask".into()));
    let unknown = "01a20000-0000-7000-8000-0000000000ff";
    assert_eq!(feedback.choose(&store, unknown, "tea", now).await.unwrap(), Chosen::Unknown);

    // Newest first: the second recommendation (no choice), then the first (mask).
    let recent = feedback.recent(&store, 10, now).await.unwrap();
    let chosen: Vec<Option<&str>> = recent.iter().map(|f| f.chosen.as_deref()).collect();
    assert_eq!(chosen, [None, Some("mask")]);
    assert!(recent.iter().all(|f| f.tags == tags));
    assert_eq!(feedback.recent(&store, 1, now).await.unwrap().len(), 1, "at most the limit");

    // Past their expiry they are gone, whether or not DynamoDB has deleted them yet.
    let later = now + time::Duration::days(31);
    assert!(feedback.recent(&store, 10, later).await.unwrap().is_empty());
    let second = "01a20000-0000-7000-8000-000000000002";
    assert_eq!(feedback.choose(&store, second, "tea", later).await.unwrap(), Chosen::Unknown);
    assert_eq!(feedback.choose(&store, second, "tea", now).await.unwrap(), Chosen::Recorded, "nothing was written");
}

#[tokio::test]
async fn the_configured_retentions_set_when_history_and_feedback_expire() {
    let (models, dynamo, table, _, _) = model_store().await;
    let models = models.with_retention(time::Duration::days(3));
    let store = store();
    let now = OffsetDateTime::now_utc();
    models.publish(&store, 1, b"one".to_vec(), now).await.unwrap();
    models.publish(&store, 2, b"two".to_vec(), now).await.unwrap();
    let history = dynamo
        .get_item()
        .table_name(&table)
        .key("pk", AttributeValue::S(format!("STORE#{store}")))
        .key("sk", AttributeValue::S(format!("V#{:012}", 1)))
        .send()
        .await
        .unwrap()
        .item
        .expect("a history item for version 1");
    assert_eq!(history["expiresAt"], AttributeValue::N((now + time::Duration::days(3)).unix_timestamp().to_string()));

    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let name = resources.get("FeedbackTable").unwrap().reference.clone();
    let feedback =
        FeedbackTable::new(aws_sdk_dynamodb::Client::new(&config), &name).with_retention(time::Duration::days(2));
    let id = "01a20000-0000-7000-8000-000000000003";
    let tags = vec!["calm".to_owned()];
    let given = Given { recommendation_id: id, tags: &tags, offered: &tags, model_version: None };
    feedback.record(&store, &given, now).await.unwrap();
    let item = aws_sdk_dynamodb::Client::new(&config)
        .get_item()
        .table_name(&name)
        .key("pk", AttributeValue::S(format!("STORE#{store}")))
        .key("sk", AttributeValue::S(format!("REC#{id}")))
        .send()
        .await
        .unwrap()
        .item
        .expect("recorded");
    assert_eq!(item["expiresAt"], AttributeValue::N((now + time::Duration::days(2)).unix_timestamp().to_string()));
    assert_eq!(feedback.recent(&store, 10, now + time::Duration::days(1)).await.unwrap().len(), 1);
    assert!(feedback.recent(&store, 10, now + time::Duration::days(2)).await.unwrap().is_empty(), "expired");
}
