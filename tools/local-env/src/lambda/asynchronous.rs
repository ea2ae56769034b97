//! Asynchronous invocation, as Lambda runs it for S3, SNS, EventBridge and schedules (and
//! `Invoke` with `InvocationType: Event`): the event is queued, the function is invoked,
//! and a function error is retried twice, one minute and then two minutes later; throttles
//! are retried with backoff, without counting as attempts, until the event is too old.
//! What still fails goes to the function's on-failure destination, or else its
//! dead-letter queue; what succeeds goes to its on-success destination, if any.
//! (`EventInvokeConfig` sets the retries, 0–2, and the maximum event age, 60 s–6 h.)
//!
//! Locally, every wait is multiplied by the environment's retry scale, so a person can
//! watch an event exhaust its retries in seconds instead of minutes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::body::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::destinations::Destination;
use super::{Function, Lambda, Outcome};

/// `EventInvokeConfig` and `DeadLetterQueue` of a function.
#[derive(Debug, Clone)]
pub struct AsyncConfig {
    pub maximum_retry_attempts: u32,
    pub maximum_event_age: Duration,
    pub on_success: Option<Destination>,
    pub on_failure: Option<Destination>,
    pub dead_letter: Option<Destination>,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        Self {
            maximum_retry_attempts: 2,
            maximum_event_age: Duration::from_secs(6 * 3600),
            on_success: None,
            on_failure: None,
            dead_letter: None,
        }
    }
}

/// Lambda's waits before the first and second retry of a function error.
const RETRY_DELAYS: [Duration; 2] = [Duration::from_secs(60), Duration::from_secs(120)];
/// Backoff for throttled attempts: from one second, doubling, up to five minutes.
const THROTTLE_FIRST: Duration = Duration::from_secs(1);
const THROTTLE_MAX: Duration = Duration::from_secs(300);

/// Runs one queued event to its end: success, or retries exhausted, or too old.
pub async fn run(lambda: Arc<Lambda>, function: Arc<Function>, payload: Bytes, source: String) {
    let config = lambda.async_config(&function.config.name);
    let queued = Instant::now();
    let mut attempts = 0u32;
    let mut throttle_wait = THROTTLE_FIRST;
    loop {
        let invocation = lambda.invoke(&function, payload.clone(), &source, attempts + 1).await;
        let outcome = &invocation.outcome;
        if let Outcome::Ok(response) = outcome {
            if let Some(destination) = &config.on_success {
                let record = invocation_record(
                    &function,
                    &payload,
                    "Success",
                    attempts + 1,
                    &invocation.request_id,
                    None,
                    response,
                );
                deliver(&lambda, destination, &record, "Lambda Function Invocation Result - Success").await;
            }
            return;
        }
        let (wait, exhausted) = if matches!(outcome, Outcome::Throttled) {
            let wait = lambda.scaled(throttle_wait);
            throttle_wait = (throttle_wait * 2).min(THROTTLE_MAX);
            (wait, false)
        } else {
            attempts += 1;
            let delay = RETRY_DELAYS[usize::try_from(attempts).unwrap_or(1).clamp(1, RETRY_DELAYS.len()) - 1];
            (lambda.scaled(delay), attempts > config.maximum_retry_attempts)
        };
        let condition = if exhausted {
            Some("RetriesExhausted")
        } else if queued.elapsed() + wait > lambda.scaled(config.maximum_event_age) {
            Some("EventAgeExceeded")
        } else {
            None
        };
        if let Some(condition) = condition {
            let error = outcome.error_document(&invocation.request_id, function.config.timeout).unwrap_or_default();
            fail(&lambda, &function, &config, &payload, condition, attempts.max(1), &invocation.request_id, &error)
                .await;
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

/// The record Lambda sends to an asynchronous invocation's destination.
fn invocation_record(
    function: &Function,
    payload: &[u8],
    condition: &str,
    invoke_count: u32,
    request_id: &str,
    function_error: Option<&str>,
    response: &[u8],
) -> Value {
    let request_payload: Value = serde_json::from_slice(payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(payload).into_owned()));
    let response_payload: Value = serde_json::from_slice(response).unwrap_or(Value::Null);
    let mut response_context = json!({"statusCode": 200, "executedVersion": "$LATEST"});
    if let Some(error) = function_error {
        response_context["functionError"] = json!(error);
    }
    json!({
        "version": "1.0",
        "timestamp": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": format!("{}:$LATEST", function.config.arn),
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": request_payload,
        "responseContext": response_context,
        "responsePayload": response_payload,
    })
}

#[allow(clippy::too_many_arguments)]
async fn fail(
    lambda: &Arc<Lambda>,
    function: &Function,
    config: &AsyncConfig,
    payload: &[u8],
    condition: &str,
    invoke_count: u32,
    request_id: &str,
    error: &Value,
) {
    let response = error.to_string();
    if let Some(destination) = &config.on_failure {
        let record = invocation_record(
            function,
            payload,
            condition,
            invoke_count,
            request_id,
            Some("Unhandled"),
            response.as_bytes(),
        );
        deliver(lambda, destination, &record, "Lambda Function Invocation Result - Failure").await;
    } else if let Some(dead_letter) = &config.dead_letter {
        let message = error.get("errorMessage").and_then(Value::as_str).unwrap_or(condition);
        if let Err(err) = dead_letter.send_dead_letter(lambda, payload, request_id, message).await {
            eprintln!(
                "[lambda] {}: the failed event could not reach its dead-letter queue: {err}",
                function.config.name
            );
        }
    } else {
        eprintln!(
            "[lambda] {}: asynchronous event dropped after {invoke_count} attempts ({condition}); the function has no on-failure destination or dead-letter queue",
            function.config.name
        );
    }
}

async fn deliver(lambda: &Arc<Lambda>, destination: &Destination, record: &Value, detail_type: &str) {
    if let Err(err) = destination.send_record(lambda, record, detail_type).await {
        eprintln!("[lambda] destination {}: {err}", destination.arn());
    }
}
