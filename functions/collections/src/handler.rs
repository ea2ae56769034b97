//! Routing and the three operations. What a valid collection or change is lives in the
//! domain crate; how it is stored, in the collections table's adapter.

use adapters::http::{
    Operation, dependency_failed, json, json_body, no_such_operation, path_parameter, query_parameter, serve,
};
use adapters::problem::Problem;
use adapters::recommendations::collections_table::{Changed, CollectionsTable, Head};
use domain::Invalid;
use domain::pagination::{Cursor, page_size};
use domain::recommendations::collection::{Change, ChangeRequest, Collection, CollectionRequest, Product, StoreId};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VersionView {
    store_id: String,
    version: u64,
    products: u64,
    tags: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PageView {
    store_id: String,
    version: u64,
    items: Vec<Product>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_cursor: Option<String>,
}

fn version_view(store: &StoreId, head: &Head) -> VersionView {
    VersionView {
        store_id: store.to_string(),
        version: head.version,
        products: head.products,
        tags: head.tag_counts.len(),
    }
}

pub async fn handle(collections: &CollectionsTable, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    serve(req, |req, op| async move {
        let store = path_parameter(&req, "storeId").unwrap_or_default();
        let store = StoreId::parse(&store).map_err(|e| Problem::invalid(Invalid::one("storeId", e)))?;
        match (op.method.as_str(), op.resource.as_str()) {
            ("PUT", "/stores/{storeId}/collection") => replace(collections, &store, &req, &op).await,
            ("PATCH", "/stores/{storeId}/collection") => change(collections, &store, &req, &op).await,
            ("GET", "/stores/{storeId}/collection") => list(collections, &store, &req, &op).await,
            _ => Err(no_such_operation(&op)),
        }
    })
    .await
}

async fn replace(
    collections: &CollectionsTable,
    store: &StoreId,
    req: &Request,
    op: &Operation,
) -> Result<Response<Body>, Problem> {
    let body: CollectionRequest = json_body(req)?;
    let collection = Collection::validate(body).map_err(Problem::invalid)?;
    let head = collections
        .replace(store, &collection.products, &op.deadline)
        .await
        .map_err(dependency_failed(&op.correlation_id))?;
    tracing::info!(store_id = %store, version = head.version, products = head.products, "collection replaced");
    Ok(json(StatusCode::OK, &version_view(store, &head)))
}

async fn change(
    collections: &CollectionsTable,
    store: &StoreId,
    req: &Request,
    op: &Operation,
) -> Result<Response<Body>, Problem> {
    let body: ChangeRequest = json_body(req)?;
    let change = Change::validate(body).map_err(Problem::invalid)?;
    let changed =
        collections.change(store, &change, &op.deadline).await.map_err(dependency_failed(&op.correlation_id))?;
    match changed {
        Changed::Committed(head) => {
            tracing::info!(store_id = %store, version = head.version, products = head.products, "collection changed");
            Ok(json(StatusCode::OK, &version_view(store, &head)))
        }
        Changed::NoCollection => Err(Problem::not_found(format!("store {store} has no collection: put one first"))),
        // Valid in itself, but not with what the collection already holds.
        Changed::OverLimit(detail) => Err(Problem::conflict(detail)),
    }
}

async fn list(
    collections: &CollectionsTable,
    store: &StoreId,
    req: &Request,
    op: &Operation,
) -> Result<Response<Body>, Problem> {
    let limit =
        page_size(query_parameter(req, "limit").as_deref()).map_err(|e| Problem::invalid(Invalid::one("limit", e)))?;
    let head = collections.head(store).await.map_err(dependency_failed(&op.correlation_id))?;
    let Some(head) = head else {
        return Err(Problem::not_found(format!("store {store} has no collection")));
    };
    // A cursor belongs to one listing of one generation of the collection.
    let scope = format!("{store}/{}", head.generation);
    let after = query_parameter(req, "cursor")
        .map(|c| Cursor::decode(&c, &scope).map_err(|e| Problem::invalid(Invalid::one("cursor", e))))
        .transpose()?
        .map(|c| c.position);
    let page = collections
        .products(store, &head.generation, after.as_deref(), i32::from(limit))
        .await
        .map_err(dependency_failed(&op.correlation_id))?;
    let next_cursor = page.next.map(|position| Cursor { scope, position }.encode());
    let view = PageView { store_id: store.to_string(), version: head.version, items: page.products, next_cursor };
    Ok(json(StatusCode::OK, &view))
}

#[cfg(test)]
mod tests;
