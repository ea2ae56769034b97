//! The SMS function: consumes alert messages from the SMS queue and texts every
//! passenger of the flight, exactly once per alert and number.

use adapters::config::{self, SqsClient};
use adapters::deadline::Deadline;
use adapters::flight_alerts::deliveries_table::DeliveriesTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::flight_alerts::publish::{SmsQueue, SnsSms};
use adapters::logging;
use adapters::metrics::Metrics;
use adapters::rate_limit::TokenBucket;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod deliver;
mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let dynamo = config::dynamo_within_deadlines(&aws);
    // The account's SMS rate shared between the environments the function may run in
    // at once (its reserved concurrency): each sends at most its share.
    let per_second = config::number_setting("SMS_TEXTS_PER_SECOND")? / config::number_setting("SMS_CONCURRENCY")?;
    let deliverer = deliver::Deliverer {
        flights: FlightsTable::new(dynamo.clone(), config::setting("FLIGHTS_TABLE")?),
        // Refused at start if shorter than a message can be replayed (14 days).
        deliveries: DeliveriesTable::new(dynamo, config::setting("DELIVERIES_TABLE")?)
            .with_retention(config::retention_setting("SMS_DELIVERIES_RETENTION_DAYS")?)?,
        sender: SnsSms::new(&aws),
        follow_ups: SmsQueue::new(SqsClient::new(&aws), config::setting("SMS_QUEUE_URL")?),
        rate: TokenBucket::new(per_second, per_second),
        metrics: Metrics::new(deliver::METRICS),
        clock: deliver::Clock::default(),
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| {
        handler::handle(&deliverer, event.payload, Deadline::of(&event.context))
    }))
    .await
}
