//! The alerts function: `POST /flights/{flightId}/events` and `GET /alerts`.

use adapters::config::{self, DynamoClient};
use adapters::flight_alerts::alerts_table::AlertsTable;
use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::http::run;
use adapters::logging;
use lambda_http::{Error, Request, service_fn};

mod handler;
mod view;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let dynamo = DynamoClient::new(&aws);
    let deps = handler::Deps {
        flights: FlightsTable::new(dynamo.clone(), config::setting("FLIGHTS_TABLE")?),
        alerts: AlertsTable::new(dynamo, config::setting("ALERTS_TABLE")?)
            .with_retention(config::retention_setting("ALERTS_RETENTION_DAYS")?),
    };
    run(service_fn(|req: Request| handler::handle(&deps, req))).await
}
