//! The alert publisher: the alerts table's transactional outbox. It consumes the table's
//! stream and publishes each recorded alert to the alerts topic, so an alert is published
//! if and only if it was recorded, however the alerts function's request ended.

use adapters::config::{self, SnsClient};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::flight_alerts::publish::AlertPublisher;
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
    let outbox = handler::Outbox {
        publisher: AlertPublisher::new(SnsClient::new(&aws), config::setting("ALERTS_TOPIC_ARN")?),
        dead_letters: DeadLetterQueue::new(aws_sdk_sqs::Client::new(&aws), config::setting("DEAD_LETTER_QUEUE_URL")?),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<Event>| handler::handle(&outbox, event.payload))).await
}
