//! The collections function: `PUT`, `PATCH` and `GET /stores/{storeId}/collection`.

use adapters::config;
use adapters::http::run;
use adapters::logging;
use adapters::recommendations::collections_table::CollectionsTable;
use lambda_http::{Error, Request, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let collections = CollectionsTable::new(config::DynamoClient::new(&aws), config::setting("COLLECTIONS_TABLE")?);
    run(service_fn(|req: Request| handler::handle(&collections, req))).await
}
