//! The reducer: once a job's last chunk is in (the jobs table's stream), merges the
//! chunks' partial results and writes the report and its summary to the results bucket.

use adapters::analytics::jobs_table::JobsTable;
use adapters::analytics::results::ResultsBucket;
use adapters::config;
use adapters::deadline::Deadline;
use adapters::logging;
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let reducer = handler::Reducer {
        jobs: JobsTable::new(config::dynamo_within_deadlines(&aws), config::setting("JOBS_TABLE")?),
        results: ResultsBucket::new(aws_sdk_s3::Client::new(&aws), config::setting("RESULTS_BUCKET")?),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<Event>| handler::handle(&reducer, event.payload, Deadline::of(&event.context))))
        .await
}
