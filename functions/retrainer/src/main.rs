//! The store-collection retrainer: consumes collection changes from the retrain queue and
//! rebuilds each changed store's model from its collection and its recent feedback.

use adapters::config;
use adapters::deadline::Deadline;
use adapters::logging;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::FeedbackTable;
use adapters::recommendations::models::ModelStore;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;
mod retrain;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let dynamo = config::dynamo_within_deadlines(&aws);
    let retrainer = retrain::Retrainer {
        collections: CollectionsTable::new(dynamo.clone(), config::setting("COLLECTIONS_TABLE")?),
        feedback: FeedbackTable::new(dynamo.clone(), config::setting("FEEDBACK_TABLE")?),
        models: ModelStore::new(
            dynamo,
            config::setting("MODELS_TABLE")?,
            aws_sdk_s3::Client::new(&aws),
            config::setting("MODELS_BUCKET")?,
        )
        .with_retention(config::retention_setting("MODEL_VERSIONS_RETENTION_DAYS")?),
        metrics: Metrics::new(retrain::METRICS),
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handler::handle(&retrainer, event.payload, Deadline::of(&event.context))
    }))
    .await
}
