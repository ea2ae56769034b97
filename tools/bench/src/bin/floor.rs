//! The floor: a Lambda function on the same runtime crate and build profile as the real
//! ones that answers every event with `{}` and builds nothing else: no SDK, no logging.
//! Its cold start is what any Rust function here pays before doing its own set-up.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: LambdaEvent<Value>| async { Ok::<Value, Error>(json!({})) })).await
}
