//! The adapters' one error type. Functions map it once, at their edge, to an HTTP
//! problem or a failed batch item.

use std::fmt;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// What can go wrong talking to AWS or reading what it returned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A required setting (environment variable) is missing or unusable: a deployment mistake.
    #[error("environment variable {0} is not set or not usable")]
    MissingSetting(&'static str),
    /// A required setting is present but not a value this code may run with: a deployment mistake.
    #[error("environment variable {name} {problem}")]
    InvalidSetting { name: &'static str, problem: String },
    /// An AWS call failed.
    #[error(transparent)]
    Aws(#[from] AwsFailure),
    /// A stored item did not have the shape this code writes.
    #[error("stored item is malformed: {0}")]
    Malformed(String),
}

/// A failed AWS call, described by what is safe to log: the service's error code, the
/// HTTP status and the request id (which AWS support can trace). Never the service's
/// message: services quote what they were sent (SNS quotes the phone number a text was
/// for), and errors end up in logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct AwsFailure {
    pub service: &'static str,
    pub operation: &'static str,
    /// The service's error code (`ThrottlingException`, `InvalidParameter`), or what kind
    /// of failure happened before an answer came (`Timeout`, `DispatchFailure`).
    pub code: String,
    /// The HTTP status, when the service answered.
    pub status: Option<u16>,
    pub request_id: Option<String>,
    /// Whether the same call may succeed later (throttling, 5xx, timeouts, connection
    /// failures), or will fail the same way until something changes.
    pub transient: bool,
}

impl fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} failed: {}", self.service, self.operation, self.code)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " request {id}")?;
        }
        Ok(())
    }
}

/// Error codes that mean "slow down" or "try again", whatever their HTTP status.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
    "TransactionConflictException",
    "SlowDown",
    "KMSThrottlingException",
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
];

impl AwsFailure {
    /// Describes an SDK error without keeping its message.
    pub fn from_sdk<E: ProvideErrorMetadata>(
        service: &'static str,
        operation: &'static str,
        err: &SdkError<E, HttpResponse>,
    ) -> Self {
        let (code, status, request_id, transient) = match err {
            SdkError::ServiceError(context) => {
                let status = context.raw().status().as_u16();
                let code = context.err().code().unwrap_or("Unknown").to_owned();
                let headers = context.raw().headers();
                let request_id = headers.get("x-amzn-requestid").or_else(|| headers.get("x-amz-request-id"));
                let transient = status >= 500 || status == 429 || RETRYABLE_CODES.contains(&code.as_str());
                (code, Some(status), request_id.map(str::to_owned), transient)
            }
            SdkError::TimeoutError(_) => ("Timeout".to_owned(), None, None, true),
            SdkError::DispatchFailure(_) => ("DispatchFailure".to_owned(), None, None, true),
            SdkError::ResponseError(context) => {
                ("UnreadableResponse".to_owned(), Some(context.raw().status().as_u16()), None, true)
            }
            // The request could not even be built: the same input fails the same way.
            _ => ("ConstructionFailure".to_owned(), None, None, false),
        };
        Self { service, operation, code, status, request_id, transient }
    }
}

impl Error {
    pub(crate) fn dynamo<E: ProvideErrorMetadata>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self {
        Self::aws("DynamoDB", operation, err)
    }

    pub(crate) fn aws<E: ProvideErrorMetadata>(
        service: &'static str,
        operation: &'static str,
        err: SdkError<E, HttpResponse>,
    ) -> Self {
        Error::Aws(AwsFailure::from_sdk(service, operation, &err))
    }

    /// A request this code built was refused by the SDK's own checks (a missing required
    /// field): a bug, not a condition to retry.
    pub(crate) fn build(what: &'static str, err: impl fmt::Display) -> Self {
        Error::Malformed(format!("{what}: {err}"))
    }

    /// Whether retrying the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Aws(failure) if failure.transient)
    }

    /// The AWS error code, if an AWS call failed.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Aws(failure) => Some(&failure.code),
            _ => None,
        }
    }
}
