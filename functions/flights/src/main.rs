//! The flights function: `POST /flights` and `GET /flights/{flightId}`.

use adapters::flight_alerts::flights_table::FlightsTable;
use adapters::http::run;
use adapters::{config, logging};
use lambda_http::{Error, Request, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let flights = FlightsTable::new(config::DynamoClient::new(&aws), config::setting("FLIGHTS_TABLE")?)
        .with_retention(config::retention_setting("FLIGHTS_RETENTION_DAYS")?);
    run(service_fn(|req: Request| handler::handle(&flights, req))).await
}
