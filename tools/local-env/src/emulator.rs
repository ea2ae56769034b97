//! Talking to cargo-lambda's emulator: the Invoke API, as the AWS Lambda service offers it.

use std::time::Duration;

use crate::Error;

#[derive(Debug, Clone)]
pub struct Invoker {
    http: reqwest::Client,
    base: String,
}

impl Invoker {
    pub fn new(base: impl Into<String>) -> Self {
        // Requests wait for the function, so the timeout covers the longest function timeout.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(900)).build().unwrap_or_default();
        Self { http, base: base.into() }
    }

    /// Invokes `function` synchronously with `event`; a function error is an `Err` carrying
    /// the error the function reported.
    pub async fn invoke(&self, function: &str, event: &serde_json::Value) -> Result<serde_json::Value, Error> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let fail = |detail: String| Error::Invoke { function: function.to_owned(), detail };
        let response = self.http.post(url).json(event).send().await.map_err(|e| fail(e.to_string()))?;
        let status = response.status();
        let function_error = response.headers().get("x-amz-function-error").is_some();
        let body = response.bytes().await.map_err(|e| fail(e.to_string()))?;
        if !status.is_success() || function_error {
            return Err(fail(format!("{status}: {}", String::from_utf8_lossy(&body))));
        }
        serde_json::from_slice(&body).map_err(|e| fail(format!("response is not JSON: {e}")))
    }
}
