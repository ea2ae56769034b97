//! The jobs function: `GET /jobs` and `GET /jobs/{jobId}` — map/reduce jobs, their
//! progress and where their results are. Read only.

use adapters::analytics::jobs_table::JobsTable;
use adapters::config::{self, DynamoClient};
use adapters::http::run;
use adapters::logging;
use lambda_http::{Error, Request, service_fn};

mod handler;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    // Built once per execution environment and reused by every invocation.
    let aws = config::aws().await;
    let jobs = JobsTable::new(DynamoClient::new(&aws), config::setting("JOBS_TABLE")?);
    run(service_fn(|req: Request| handler::handle(&jobs, req))).await
}
