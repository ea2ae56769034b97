//! The collection publisher: the collections table's transactional outbox. It consumes
//! the table's stream and announces every new version of a store's collection on the
//! collection changes topic, so a change is announced if and only if it was committed.

use adapters::config::{self, SnsClient, SqsClient};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::logging;
use adapters::metrics::Metrics;
use adapters::recommendations::publish::CollectionChangesTopic;
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let outbox = handler::Outbox {
        topic: CollectionChangesTopic::new(SnsClient::new(&aws), config::setting("COLLECTION_CHANGES_TOPIC_ARN")?),
        dead_letters: DeadLetterQueue::new(SqsClient::new(&aws), config::setting("DEAD_LETTER_QUEUE_URL")?),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<Event>| handler::handle(&outbox, event.payload))).await
}
