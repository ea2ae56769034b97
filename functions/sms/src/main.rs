//! The SMS function: consumes alert messages from the SMS queue and texts every
//! passenger of the flight, exactly once per alert.

use adapters::config::{self, DynamoClient, SnsClient};
use adapters::flight_alerts::deliveries_table::DeliveriesTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::flight_alerts::publish::SnsSms;
use adapters::logging;
use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};

mod deliver;
mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let dynamo = DynamoClient::new(&aws);
    let deliverer = deliver::Deliverer {
        flights: FlightsTable::new(dynamo.clone(), config::setting("FLIGHTS_TABLE")?),
        deliveries: DeliveriesTable::new(dynamo, config::setting("DELIVERIES_TABLE")?),
        sender: SnsSms::new(SnsClient::new(&aws)),
    };
    run(service_fn(|event: LambdaEvent<SqsEvent>| handler::handle(&deliverer, event.payload))).await
}
