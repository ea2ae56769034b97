//! The mapper: aggregates one chunk of an uploaded file (an SQS task from the splitter)
//! into a partial result, recorded in the jobs table and counted off its job.

use adapters::analytics::input_file::InputFiles;
use adapters::analytics::jobs_table::JobsTable;
use adapters::config;
use adapters::deadline::Deadline;
use adapters::logging;
use adapters::metrics::Metrics;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let mapper = handler::Mapper {
        jobs: JobsTable::new(config::dynamo_within_deadlines(&aws), config::setting("JOBS_TABLE")?)
            .with_chunk_retention(config::retention_setting("JOB_CHUNKS_RETENTION_DAYS")?),
        files: InputFiles::new(aws_sdk_s3::Client::new(&aws)),
        attempts: config::number_setting("CHUNK_ATTEMPTS")? as u32,
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handler::handle(&mapper, event.payload, Deadline::of(&event.context))
    }))
    .await
}
