//! The probe: a Lambda function for testing event sources, not deployed. It prints each
//! event it receives as one JSON line, then does what the event asks, wherever in the
//! event the command appears (a record's body, key, attribute or decoded Kinesis data):
//!
//! - `probe-fail`: the invocation fails (a function error);
//! - `probe-fail-item`: the records holding it are reported in `batchItemFailures`;
//! - `probe-sleep-<ms>`: sleeps that long first;
//! - `probe-crash`: the process exits mid-invocation;
//! - `probe-grow-<MiB>`: allocates and touches that much memory.
//!
//! Anything else succeeds, answering `{"batchItemFailures": []}` for a batch.

use base64::Engine;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use serde_json::{Value, json};

/// The event's text as commands are looked for in it: the JSON, plus any Kinesis data decoded.
fn text_of(record: &Value) -> String {
    let mut text = record.to_string();
    if let Some(data) = record.pointer("/kinesis/data").and_then(Value::as_str)
        && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data)
    {
        text.push_str(&String::from_utf8_lossy(&bytes));
    }
    text
}

/// The number after `marker` in `text`, if the marker is there.
fn argument(text: &str, marker: &str) -> Option<u64> {
    let at = text.find(marker)? + marker.len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// How a record is named in `batchItemFailures`: an SQS message id, a stream sequence number.
fn item_identifier(record: &Value) -> Option<&str> {
    record
        .get("messageId")
        .or_else(|| record.pointer("/dynamodb/SequenceNumber"))
        .or_else(|| record.pointer("/kinesis/sequenceNumber"))
        .and_then(Value::as_str)
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let (payload, context) = event.into_parts();
    let records: Vec<Value> = payload.get("Records").and_then(Value::as_array).cloned().unwrap_or_default();
    let text = if records.is_empty() { text_of(&payload) } else { records.iter().map(text_of).collect() };
    println!(
        "{}",
        json!({"probe": {"requestId": context.request_id, "function": std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default()}, "event": payload})
    );
    if let Some(ms) = argument(&text, "probe-sleep-") {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if let Some(mib) = argument(&text, "probe-grow-") {
        let size = usize::try_from(mib).unwrap_or(0) * 1024 * 1024;
        let grown = vec![1u8; size];
        // Held across a pause so the memory is seen in use.
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        println!("grew {} bytes", grown.iter().map(|b| usize::from(*b)).sum::<usize>());
    }
    if text.contains("probe-crash") {
        std::process::exit(3);
    }
    if text.contains("probe-fail-item") {
        let failed: Vec<Value> = records
            .iter()
            .filter(|r| text_of(r).contains("probe-fail-item"))
            .filter_map(item_identifier)
            .map(|id| json!({"itemIdentifier": id}))
            .collect();
        return Ok(json!({"batchItemFailures": failed}));
    }
    if text.contains("probe-fail") {
        return Err("the probe was told to fail".into());
    }
    Ok(if records.is_empty() { json!({"ok": true}) } else { json!({"batchItemFailures": []}) })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(handle)).await
}
