//! The tag recommender: `GET /stores/{storeId}/recommendations` and the consumer's choice.

use adapters::config;
use adapters::http::run;
use adapters::logging;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::FeedbackTable;
use adapters::recommendations::models::ModelStore;
use lambda_http::{Error, Request, service_fn};

mod cache;
mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation, with the
    // models cache.
    let aws = config::aws().await;
    let dynamo = config::DynamoClient::new(&aws);
    let recommender = handler::Recommender {
        collections: CollectionsTable::new(dynamo.clone(), config::setting("COLLECTIONS_TABLE")?),
        feedback: FeedbackTable::new(dynamo.clone(), config::setting("FEEDBACK_TABLE")?)
            .with_retention(config::retention_setting("FEEDBACK_RETENTION_DAYS")?),
        models: ModelStore::new(
            dynamo,
            config::setting("MODELS_TABLE")?,
            aws_sdk_s3::Client::new(&aws),
            config::setting("MODELS_BUCKET")?,
        ),
        cache: cache::ModelCache::default(),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|req: Request| handler::handle(&recommender, req))).await
}
