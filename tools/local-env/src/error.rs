#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    /// Something in the template (or the contract it includes) the environment cannot run.
    #[error("template: {0}")]
    Template(String),
    #[error("{service} {operation} failed: {detail}")]
    Aws { service: &'static str, operation: &'static str, detail: String },
    #[error("{0}")]
    Process(String),
    #[error("invoking {function}: {detail}")]
    Invoke { function: String, detail: String },
}

impl Error {
    pub(crate) fn aws<E: std::error::Error>(service: &'static str, operation: &'static str, err: E) -> Self {
        Error::Aws { service, operation, detail: aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string() }
    }
}
