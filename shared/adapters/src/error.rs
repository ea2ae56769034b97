//! The adapters' one error type. Functions map it once, at their edge, to an HTTP
//! problem or a failed batch item.

/// What can go wrong talking to AWS or reading what it returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required setting (environment variable) is missing: a deployment mistake.
    #[error("environment variable {0} is not set")]
    MissingSetting(&'static str),
    /// An AWS call failed; `detail` carries the SDK's full error context.
    #[error("{service} {operation} failed: {detail}")]
    Aws { service: &'static str, operation: &'static str, detail: String },
    /// A stored item did not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

impl Error {
    pub(crate) fn dynamo<E: std::error::Error>(operation: &'static str, err: E) -> Self {
        Self::aws("DynamoDB", operation, err)
    }

    pub(crate) fn aws<E: std::error::Error>(service: &'static str, operation: &'static str, err: E) -> Self {
        Error::Aws { service, operation, detail: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string() }
    }
}
