//! Settings and AWS clients, built once per execution environment.
//!
//! Clients come from `aws-config`'s default chain, so the same binary talks to AWS, to
//! LocalStack or to moto purely through `AWS_ENDPOINT_URL`, `AWS_REGION` and the
//! standard credential variables: no "local mode" in function code.

use crate::Error;

/// A required environment variable, set by the deployment template.
pub fn setting(name: &'static str) -> Result<String, Error> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(Error::MissingSetting(name)),
    }
}

/// The shared SDK configuration; every client of a function is built from this one value
/// so credentials are resolved once.
pub async fn aws() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

pub use aws_config::SdkConfig;
pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_sns::Client as SnsClient;
