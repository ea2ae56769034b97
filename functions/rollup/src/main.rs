//! The daily roll-up: on a schedule (and on demand), counts one day's archived alerts and
//! SMS deliveries into a report in the results bucket.

use adapters::archive::{ArchiveBucket, DailyReports};
use adapters::config;
use adapters::deadline::Deadline;
use adapters::logging;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::Value;

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let s3 = aws_sdk_s3::Client::new(&aws);
    let rollup = handler::Rollup {
        archive: ArchiveBucket::new(s3.clone(), config::setting("ARCHIVE_BUCKET")?),
        reports: DailyReports::new(s3, config::setting("RESULTS_BUCKET")?),
    };
    run(service_fn(|event: LambdaEvent<Value>| handler::handle(&rollup, event.payload, Deadline::of(&event.context))))
        .await
}
