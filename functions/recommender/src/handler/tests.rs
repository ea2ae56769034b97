//! The recommender fed with the sample API Gateway REST event, against moto.

use std::time::Duration;

use super::{Recommender, handle};
use crate::cache::ModelCache;
use adapters::deadline::Deadline;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::FeedbackTable;
use adapters::recommendations::models::ModelStore;
use domain::recommendations::collection::{Collection, CollectionRequest};
use domain::recommendations::{Model, StoreId, model};
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use testkit::{RestCall, rest_request};
use time::OffsetDateTime;

async fn recommender() -> Recommender {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let reference = |id: &str| resources.get(id).unwrap().reference.clone();
    Recommender {
        collections: CollectionsTable::new(dynamo.clone(), reference("CollectionsTable")),
        feedback: FeedbackTable::new(dynamo.clone(), reference("FeedbackTable")),
        models: ModelStore::new(
            dynamo,
            reference("ModelsTable"),
            aws_sdk_s3::Client::new(&config),
            reference("ModelsBucket"),
        ),
        cache: ModelCache::default(),
        metrics: Metrics::in_memory(super::METRICS),
    }
}

fn products() -> Vec<domain::recommendations::Product> {
    let products: Vec<Value> = [
        ("tea", &["insomnia", "calm"][..], true),
        ("mask", &["insomnia"], true),
        ("coffee", &["energy"], true),
        ("pills", &["insomnia"], false),
    ]
    .iter()
    .map(|(id, tags, available)| json!({"productId": id, "name": id, "tags": tags, "available": available}))
    .collect();
    let req: CollectionRequest = serde_json::from_value(json!({ "products": products })).unwrap();
    Collection::validate(req).unwrap().products
}

async fn get(r: &Recommender, store: &str, query: &[(&str, &str)]) -> Response<Body> {
    let path = format!("/stores/{store}/recommendations");
    let req = rest_request(RestCall {
        method: "GET",
        resource: "/stores/{storeId}/recommendations",
        path: &path,
        path_parameters: &[("storeId", store)],
        query,
        ..Default::default()
    });
    handle(r, req).await.unwrap()
}

async fn choose(r: &Recommender, store: &str, recommendation: &str, product: &str) -> Response<Body> {
    let path = format!("/stores/{store}/recommendations/{recommendation}/choice");
    let req = rest_request(RestCall {
        method: "PUT",
        resource: "/stores/{storeId}/recommendations/{recommendationId}/choice",
        path: &path,
        path_parameters: &[("storeId", store), ("recommendationId", recommendation)],
        body: Some(json!({ "productId": product })),
        ..Default::default()
    });
    handle(r, req).await.unwrap()
}

fn ids(body: &Value) -> Vec<&str> {
    body["items"].as_array().unwrap().iter().map(|i| i["productId"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_store_without_a_model_is_answered_by_tag_overlap_and_an_unknown_one_is_404() {
    let r = recommender().await;
    let store = StoreId::parse("calm-shop").unwrap();
    r.collections.replace(&store, &products(), &Deadline::after(Duration::from_secs(30))).await.unwrap();
    let answer = get(&r, "calm-shop", &[("tags", "Insomnia,calm"), ("limit", "3")]).await;
    assert_eq!(answer.status(), 200);
    let body = testkit::json_body(&answer);
    assert_eq!(body["basis"], "tag-overlap");
    assert!(body.get("modelVersion").is_none());
    assert_eq!(ids(&body)[..2], ["tea", "mask"], "both tags first, then one; unavailable never: {body}");
    assert!(!ids(&body).contains(&"pills"));

    assert_eq!(get(&r, "no-such-shop", &[("tags", "insomnia")]).await.status(), 404);
    assert_eq!(get(&r, "calm-shop", &[]).await.status(), 400, "tags are required");
    assert_eq!(get(&r, "calm-shop", &[("tags", "a b")]).await.status(), 400);
    assert_eq!(get(&r, "calm-shop", &[("tags", "x"), ("limit", "0")]).await.status(), 400);
}

#[tokio::test]
async fn the_current_model_answers_is_cached_by_version_and_choices_are_recorded_once() {
    let r = recommender().await;
    let store = StoreId::parse("model-shop").unwrap();
    r.collections.replace(&store, &products(), &Deadline::after(Duration::from_secs(30))).await.unwrap();
    let listed: Vec<model::Product> = products()
        .into_iter()
        .map(|p| model::Product { id: p.product_id, tags: p.tags, available: p.available })
        .collect();
    r.models.publish(&store, 1, Model::train(&listed, &[]).to_bytes(), OffsetDateTime::now_utc()).await.unwrap();

    let first = testkit::json_body(&get(&r, "model-shop", &[("tags", "insomnia")]).await);
    assert_eq!(first["modelVersion"], 1);
    let second = testkit::json_body(&get(&r, "model-shop", &[("tags", "insomnia"), ("limit", "2")]).await);
    assert_eq!(ids(&second), ["mask", "tea"], "the two tagged and available products");
    assert_eq!(r.metrics.flushed_total("ModelsLoaded"), 1, "the second request used the cached model");
    assert_ne!(first["recommendationId"], second["recommendationId"]);
    // A new version is loaded.
    r.models.publish(&store, 2, Model::train(&listed, &[]).to_bytes(), OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(testkit::json_body(&get(&r, "model-shop", &[("tags", "insomnia")]).await)["modelVersion"], 2);
    assert_eq!(r.metrics.flushed_total("ModelsLoaded"), 2);

    let id = first["recommendationId"].as_str().unwrap();
    let offered = ids(&first)[0];
    assert_eq!(choose(&r, "model-shop", id, offered).await.status(), 204);
    assert_eq!(choose(&r, "model-shop", id, offered).await.status(), 204, "the same choice again");
    let other = ids(&first)[1];
    assert_eq!(choose(&r, "model-shop", id, other).await.status(), 409);
    let fresh = second["recommendationId"].as_str().unwrap();
    assert_eq!(choose(&r, "model-shop", fresh, "coffee").await.status(), 422, "not among the two offered");
    assert_eq!(choose(&r, "model-shop", "0190a000-0000-7000-8000-000000000000", offered).await.status(), 404);
    assert_eq!(choose(&r, "model-shop", "not-a-uuid", offered).await.status(), 400);

    // The choice is feedback the next model learns from.
    let feedback = r.feedback.recent(&store, 100, time::OffsetDateTime::now_utc()).await.unwrap();
    assert_eq!(feedback.len(), 3);
    assert_eq!(feedback.iter().filter(|f| f.chosen.as_deref() == Some(offered)).count(), 1);
}
