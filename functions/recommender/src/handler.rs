//! Routing and the two operations: ranked products for tags, and the consumer's choice.

use std::sync::Arc;

use adapters::http::{
    Operation, dependency_failed, json, json_body, no_such_operation, path_parameter, query_parameter, serve,
};
use adapters::metrics::Metrics;
use adapters::problem::Problem;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::{Chosen, FeedbackTable, Given};
use adapters::recommendations::models::ModelStore;
use domain::Invalid;
use domain::recommendations::collection::{product_id, tag};
use domain::recommendations::{Basis, Model, Ranking, StoreId, model};
use domain::validation::Collector;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::cache::ModelCache;

/// Most tags one request may select.
pub const MAX_TAGS: usize = 10;
pub const DEFAULT_LIMIT: usize = 5;
pub const MAX_LIMIT: usize = 50;

/// The metrics this function emits.
pub const METRICS: &[&str] = &[MODELS_LOADED, FEEDBACK_NOT_RECORDED];
/// Models read from S3 into the cache (a new version, or a cold environment).
pub const MODELS_LOADED: &str = "ModelsLoaded";
/// Recommendations answered whose feedback record could not be written.
pub const FEEDBACK_NOT_RECORDED: &str = "FeedbackNotRecorded";

pub struct Recommender {
    /// Read only: the collections function owns this table.
    pub collections: CollectionsTable,
    pub feedback: FeedbackTable,
    /// Read only: the retrainer owns the models.
    pub models: ModelStore,
    pub cache: ModelCache,
    pub metrics: Metrics,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecommendationsView {
    recommendation_id: String,
    store_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<u64>,
    basis: &'static str,
    items: Vec<ItemView>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ItemView {
    product_id: String,
    score: f32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ChoiceRequest {
    product_id: Option<String>,
}

fn basis_name(basis: Basis) -> &'static str {
    match basis {
        Basis::Learned => "learned",
        Basis::TagOverlap => "tag-overlap",
        Basis::Popularity => "popularity",
    }
}

pub async fn handle(recommender: &Recommender, req: Request) -> Result<Response<Body>, std::convert::Infallible> {
    let response = serve(req, |req, op| async move {
        let store = path_parameter(&req, "storeId").unwrap_or_default();
        let store = StoreId::parse(&store).map_err(|e| Problem::invalid(Invalid::one("storeId", e)))?;
        match (op.method.as_str(), op.resource.as_str()) {
            ("GET", "/stores/{storeId}/recommendations") => recommend(recommender, &store, &req, &op).await,
            ("PUT", "/stores/{storeId}/recommendations/{recommendationId}/choice") => {
                choose(recommender, &store, &req, &op).await
            }
            _ => Err(no_such_operation(&op)),
        }
    })
    .await;
    recommender.metrics.flush();
    response
}

/// The selected tags (`tags=a,b`, compared in lower case, repeats once) and the limit.
fn selection(req: &Request) -> Result<(Vec<String>, usize), Invalid> {
    let mut c = Collector::new();
    let tags = c.required("tags", query_parameter(req, "tags"), |raw| {
        let mut tags: Vec<String> = Vec::new();
        for (i, raw) in raw.split(',').enumerate() {
            let tag = tag(raw).map_err(|e| format!("[{i}] {e}"))?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > MAX_TAGS { Err(format!("must select at most {MAX_TAGS} tags")) } else { Ok(tags) }
    });
    let limit = match query_parameter(req, "limit") {
        None => Some(DEFAULT_LIMIT),
        Some(raw) => c.check(
            "limit",
            raw.parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("must be a whole number from 1 to {MAX_LIMIT}")),
        ),
    };
    c.finish(|| Some((tags?, limit?)))
}

async fn recommend(
    recommender: &Recommender,
    store: &StoreId,
    req: &Request,
    op: &Operation,
) -> Result<Response<Body>, Problem> {
    let (tags, limit) = selection(req).map_err(Problem::invalid)?;
    let failed = dependency_failed(&op.correlation_id);
    let (ranking, model_version) = match recommender.models.current(store).await {
        Err(err) => return Err(failed(err)),
        Ok(Some(pointer)) => {
            let model = match recommender.cache.get(store, pointer.version) {
                Some(model) => model,
                None => {
                    let bytes =
                        recommender.models.load(&pointer).await.map_err(dependency_failed(&op.correlation_id))?;
                    let model = Model::from_bytes(&bytes).map_err(|e| {
                        tracing::error!(store_id = %store, version = pointer.version, error = %e, "stored model unreadable");
                        Problem::internal(&op.correlation_id)
                    })?;
                    recommender.metrics.add(MODELS_LOADED, 1);
                    let model = Arc::new(model);
                    recommender.cache.put(store, pointer.version, model.clone());
                    model
                }
            };
            (rank(&model, &tags, limit), Some(pointer.version))
        }
        // No model yet (the first one is being trained): the collection itself, by tag overlap.
        Ok(None) => {
            let head = recommender.collections.head(store).await.map_err(dependency_failed(&op.correlation_id))?;
            let Some(head) = head else {
                return Err(Problem::not_found(format!("store {store} has no collection")));
            };
            let products = recommender
                .collections
                .all_products(store, &head)
                .await
                .map_err(dependency_failed(&op.correlation_id))?;
            let listed: Vec<model::Product> = products
                .into_iter()
                .map(|p| model::Product { id: p.product_id, tags: p.tags, available: p.available })
                .collect();
            (rank(&Model::train(&listed, &[]), &tags, limit), None)
        }
    };
    let recommendation_id = uuid::Uuid::now_v7().to_string();
    let offered: Vec<String> = ranking.product_ids().map(str::to_owned).collect();
    let given = Given { recommendation_id: &recommendation_id, tags: &tags, offered: &offered, model_version };
    // The consumer gets an answer even if it cannot be learned from: a failed feedback
    // write is counted and logged, and a choice reported for it is a 404.
    if let Err(err) = recommender.feedback.record(store, &given, OffsetDateTime::now_utc()).await {
        recommender.metrics.add(FEEDBACK_NOT_RECORDED, 1);
        tracing::error!(error = %err, "feedback not recorded");
    }
    tracing::info!(store_id = %store, model_version, basis = basis_name(ranking.basis), items = ranking.items.len(), "recommended");
    let view = RecommendationsView {
        recommendation_id,
        store_id: store.to_string(),
        model_version,
        basis: basis_name(ranking.basis),
        items: ranking
            .items
            .into_iter()
            .map(|i| ItemView { product_id: i.product, score: if i.score.is_finite() { i.score } else { 0.0 } })
            .collect(),
    };
    Ok(json(StatusCode::OK, &view))
}

fn rank(model: &Model, tags: &[String], limit: usize) -> Ranking {
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    model.recommend(&tags, limit)
}

async fn choose(
    recommender: &Recommender,
    store: &StoreId,
    req: &Request,
    op: &Operation,
) -> Result<Response<Body>, Problem> {
    let raw = path_parameter(req, "recommendationId").unwrap_or_default();
    // Canonical form only: it is the key the recommendation was stored under.
    let recommendation =
        uuid::Uuid::parse_str(&raw).ok().map(|id| id.to_string()).filter(|id| *id == raw).ok_or_else(|| {
            Problem::invalid(Invalid::one("recommendationId", "must be a recommendation id (a UUID)"))
        })?;
    let body: ChoiceRequest = json_body(req)?;
    let mut c = Collector::new();
    let product = c.required("productId", body.product_id, |p| product_id(&p));
    let product = c.finish(|| product).map_err(Problem::invalid)?;
    let chosen = recommender
        .feedback
        .choose(store, &recommendation, &product, OffsetDateTime::now_utc())
        .await
        .map_err(dependency_failed(&op.correlation_id))?;
    match chosen {
        Chosen::Recorded | Chosen::Again => {
            tracing::info!(store_id = %store, recommendation_id = %recommendation, "choice recorded");
            Ok(Response::builder().status(StatusCode::NO_CONTENT).body(Body::Empty).unwrap_or_default())
        }
        Chosen::Different(before) => {
            Err(Problem::conflict(format!("{before} was chosen for this recommendation already")))
        }
        Chosen::NotOffered => Err(Problem::unprocessable(
            "/problems/not-offered",
            "Not offered",
            format!("recommendation {recommendation} did not offer {product}"),
        )),
        Chosen::Unknown => Err(Problem::not_found(format!(
            "store {store} has no recommendation {recommendation} (they are kept 30 days)"
        ))),
    }
}

#[cfg(test)]
mod tests;
