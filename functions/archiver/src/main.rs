//! The archiver: keeps in S3 what expires. Fed by the streams of the tables whose items
//! live under a TTL, filtered to DynamoDB's own TTL deletions, it writes each expired item
//! to the archive bucket as a gzip JSON Lines row under `table=<t>/year=/month=/day=/`.

use adapters::archive::ArchiveBucket;
use adapters::config;
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::deadline::Deadline;
use adapters::logging;
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::Event;
use domain::archive::ArchivedTable;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let archiver = handler::Archiver {
        archive: ArchiveBucket::new(aws_sdk_s3::Client::new(&aws), config::setting("ARCHIVE_BUCKET")?),
        tables: vec![
            (config::setting("ALERTS_TABLE")?, ArchivedTable::Alerts),
            (config::setting("DELIVERIES_TABLE")?, ArchivedTable::SmsDeliveries),
            (config::setting("FEEDBACK_TABLE")?, ArchivedTable::Feedback),
        ],
        dead_letters: DeadLetterQueue::new(aws_sdk_sqs::Client::new(&aws), config::setting("DEAD_LETTER_QUEUE_URL")?),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<Event>| handler::handle(&archiver, event.payload, Deadline::of(&event.context))))
        .await
}
