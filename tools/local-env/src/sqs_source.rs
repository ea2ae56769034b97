//! A local stand-in for Lambda's SQS event source mapping: long-polls a queue, invokes the
//! function with an SQS batch event, and deletes what the function finished.
//!
//! As on AWS: with `ReportBatchItemFailures` only the messages the function did not list
//! in `batchItemFailures` are deleted; if the invocation fails, none are. What is not
//! deleted becomes visible again after the queue's visibility timeout, and the queue's
//! redrive policy moves it to the dead-letter queue after `maxReceiveCount` receives.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use serde_json::{Value, json};

use crate::Error;
use crate::emulator::Invoker;

#[derive(Debug, Clone)]
pub struct SqsSource {
    pub function: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    pub report_failures: bool,
}

/// Polls forever; errors are logged and polling goes on, as the managed poller does.
pub async fn run(client: Client, invoker: Invoker, source: SqsSource) {
    loop {
        if let Err(err) = poll_once(&client, &invoker, &source).await {
            eprintln!("[sqs:{}] {err}", source.function);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Receives one batch (waiting up to a second for it) and delivers it. Returns how many
/// messages were received.
pub async fn poll_once(client: &Client, invoker: &Invoker, source: &SqsSource) -> Result<usize, Error> {
    let received = client
        .receive_message()
        .queue_url(&source.queue_url)
        .max_number_of_messages(source.batch_size.clamp(1, 10))
        .wait_time_seconds(1)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "ReceiveMessage", e))?;
    let messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(0);
    }
    let event = json!({ "Records": messages.iter().map(|m| record(m, source)).collect::<Vec<_>>() });
    let failed: HashSet<String> = match invoker.invoke(&source.function, &event).await {
        Ok(response) if source.report_failures => response
            .get("batchItemFailures")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("itemIdentifier").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        Ok(_) => HashSet::new(),
        Err(err) => {
            eprintln!("[sqs:{}] invocation failed, the batch returns to the queue: {err}", source.function);
            return Ok(messages.len());
        }
    };
    let entries: Vec<DeleteMessageBatchRequestEntry> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.message_id.as_ref().is_some_and(|id| failed.contains(id)))
        .filter_map(|(i, m)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .set_receipt_handle(m.receipt_handle.clone())
                .build()
                .ok()
        })
        .collect();
    if !entries.is_empty() {
        client
            .delete_message_batch()
            .queue_url(&source.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "DeleteMessageBatch", e))?;
    }
    Ok(messages.len())
}

/// One record of an SQS event, as Lambda builds it from a received message.
fn record(message: &Message, source: &SqsSource) -> Value {
    let attributes: serde_json::Map<String, Value> =
        message.attributes.iter().flatten().map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone()))).collect();
    let message_attributes: serde_json::Map<String, Value> = message
        .message_attributes
        .iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                json!({
                    "stringValue": v.string_value,
                    "dataType": v.data_type,
                    "stringListValues": [],
                    "binaryListValues": [],
                }),
            )
        })
        .collect();
    json!({
        "messageId": message.message_id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "md5OfBody": message.md5_of_body,
        "md5OfMessageAttributes": message.md5_of_message_attributes,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "eventSource": "aws:sqs",
        "eventSourceARN": source.queue_arn,
        "awsRegion": source.region,
    })
}
