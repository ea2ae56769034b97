//! The splitter: an uploaded CSV file (an S3 event) becomes a map/reduce job — its size
//! and header read, its bytes cut into chunks, one mapper task per chunk queued.

use adapters::analytics::chunk_tasks::ChunkQueue;
use adapters::analytics::input_file::InputFiles;
use adapters::analytics::jobs_table::JobsTable;
use adapters::config::{self, DynamoClient};
use adapters::logging;
use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let kibibytes = config::number_setting("CHUNK_KIBIBYTES")?;
    let splitter = handler::Splitter {
        jobs: JobsTable::new(DynamoClient::new(&aws), config::setting("JOBS_TABLE")?),
        files: InputFiles::new(aws_sdk_s3::Client::new(&aws)),
        queue: ChunkQueue::new(aws_sdk_sqs::Client::new(&aws), config::setting("CHUNK_QUEUE_URL")?),
        chunk_bytes: (kibibytes * 1024.0) as u64,
    };
    run(service_fn(|event: LambdaEvent<S3Event>| handler::handle(&splitter, event.payload))).await
}
