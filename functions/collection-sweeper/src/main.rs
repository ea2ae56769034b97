//! The collection sweeper: deletes the products no reader will see again, from the
//! collections table's stream. A replacement writes a store's products under a new
//! generation and moves the head to it; the generation it replaced, and one a failed
//! replacement left behind, are deleted here, outside the request that caused them.

use adapters::config::{self, DynamoClient};
use adapters::deadline::Deadline;
use adapters::logging;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let sweeper = handler::Sweeper {
        collections: CollectionsTable::new(DynamoClient::new(&aws), config::setting("COLLECTIONS_TABLE")?),
        metrics: Metrics::new(handler::METRICS),
    };
    run(service_fn(|event: LambdaEvent<Event>| handler::handle(&sweeper, event.payload, Deadline::of(&event.context))))
        .await
}
