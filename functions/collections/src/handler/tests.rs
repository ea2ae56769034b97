//! The collections handler fed with the sample API Gateway REST event, against moto.

use super::handle;
use adapters::recommendations::collections_table::CollectionsTable;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use testkit::{RestCall, rest_request};

async fn collections() -> CollectionsTable {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    CollectionsTable::new(aws_sdk_dynamodb::Client::new(&config), &resources.get("CollectionsTable").unwrap().reference)
}

fn product(id: &str, tags: &[&str]) -> Value {
    json!({"productId": id, "name": format!("Product {id}"), "tags": tags, "available": true})
}

async fn call(
    table: &CollectionsTable,
    method: &str,
    store: &str,
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Response<Body> {
    let path = format!("/stores/{store}/collection");
    let req = rest_request(RestCall {
        method,
        resource: "/stores/{storeId}/collection",
        path: &path,
        path_parameters: &[("storeId", store)],
        query,
        body,
        ..Default::default()
    });
    handle(table, req).await.unwrap()
}

#[tokio::test]
async fn a_collection_is_replaced_changed_and_read_back_page_by_page() {
    let table = collections().await;
    let products: Vec<Value> = (0..45).map(|i| product(&format!("sku-{i:03}"), &["insomnia", "tea"])).collect();
    let put = call(&table, "PUT", "store-1", &[], Some(json!({ "products": products }))).await;
    assert_eq!(put.status(), 200);
    assert_eq!(testkit::json_body(&put), json!({"storeId": "store-1", "version": 1, "products": 45, "tags": 2}));

    let patch =
        json!({"upsert": [product("sku-900", &["calm"]), product("sku-000", &["tea"])], "remove": ["sku-001", "nope"]});
    let changed = call(&table, "PATCH", "store-1", &[], Some(patch)).await;
    assert_eq!(changed.status(), 200);
    assert_eq!(testkit::json_body(&changed), json!({"storeId": "store-1", "version": 2, "products": 45, "tags": 3}));

    let (mut ids, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let mut query = vec![("limit", "20")];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let page = testkit::json_body(&call(&table, "GET", "store-1", &query, None).await);
        assert_eq!(page["version"], 2);
        ids.extend(page["items"].as_array().unwrap().iter().map(|p| p["productId"].as_str().unwrap().to_owned()));
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(ids.len(), 45);
    assert!(ids.contains(&"sku-900".to_owned()) && !ids.contains(&"sku-001".to_owned()));
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in product id order");

    // A replacement makes the earlier listing's cursor a 400 and the old products invisible.
    let replaced = call(&table, "PUT", "store-1", &[], Some(json!({"products": [product("only", &["x"])]}))).await;
    assert_eq!(testkit::json_body(&replaced)["version"], 3);
    let stale = call(&table, "GET", "store-1", &[("cursor", cursor.as_deref().unwrap_or("x"))], None).await;
    assert_eq!(stale.status(), 400);
    let page = testkit::json_body(&call(&table, "GET", "store-1", &[], None).await);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_input_is_refused_by_field_and_writes_nothing() {
    let table = collections().await;
    let bad =
        call(&table, "PUT", "store-2", &[], Some(json!({"products": [product("a", &["x"]), product("a", &["-y"])]})))
            .await;
    assert_eq!(bad.status(), 400);
    let fields: Vec<String> = testkit::json_body(&bad)["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["products[1].tags", "products[1].productId"]);
    assert_eq!(call(&table, "GET", "store-2", &[], None).await.status(), 404, "nothing written");

    // A change needs a collection to change, and keeps to the limits.
    let orphan = call(&table, "PATCH", "store-2", &[], Some(json!({"remove": ["a"]}))).await;
    assert_eq!(orphan.status(), 404);
    let full: Vec<Value> = (0..300).map(|i| product(&format!("p{i}"), &[&format!("t{i}")])).collect();
    assert_eq!(call(&table, "PUT", "store-2", &[], Some(json!({ "products": full }))).await.status(), 200);
    let over = call(&table, "PATCH", "store-2", &[], Some(json!({"upsert": [product("new", &["tag-301"])]}))).await;
    assert_eq!(over.status(), 409);
    assert!(testkit::json_body(&over)["detail"].as_str().unwrap().contains("300 distinct tags"));
    let page = testkit::json_body(&call(&table, "GET", "store-2", &[("limit", "1")], None).await);
    assert_eq!(page["version"], 1, "the refused change wrote nothing");

    assert_eq!(call(&table, "GET", "Not A Store", &[], None).await.status(), 400);
}

#[tokio::test]
async fn concurrent_changes_all_commit_one_after_another() {
    let table = collections().await;
    assert_eq!(
        call(&table, "PUT", "store-3", &[], Some(json!({"products": [product("base", &["x"])]}))).await.status(),
        200
    );
    let changes = (0..8).map(|i| {
        let table = &table;
        async move {
            call(table, "PATCH", "store-3", &[], Some(json!({"upsert": [product(&format!("c{i}"), &["y"])]}))).await
        }
    });
    let answers = futures::future::join_all(changes).await;
    let mut versions: Vec<u64> = answers.iter().map(|a| testkit::json_body(a)["version"].as_u64().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>(), "each change its own version");
    let page = testkit::json_body(&call(&table, "GET", "store-3", &[("limit", "100")], None).await);
    assert_eq!(page["items"].as_array().unwrap().len(), 9);
}
