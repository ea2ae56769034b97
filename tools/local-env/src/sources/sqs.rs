//! `Type: SQS` — Lambda's SQS event source mapping.
//!
//! Pollers receive messages (up to 10 a call), gather a batch of up to `BatchSize`
//! within `MaximumBatchingWindowInSeconds`, invoke the function synchronously and delete
//! what it finished. As on AWS: with `ReportBatchItemFailures` only the messages listed in
//! `batchItemFailures` stay (an identifier that is empty or not in the batch fails the
//! whole batch); a function error, timeout or throttle keeps the whole batch. What stays
//! becomes visible again after the queue's visibility timeout, and the queue's redrive
//! policy moves it to the dead-letter queue after `maxReceiveCount` receives. Messages
//! that match none of the `FilterCriteria` are deleted without invoking. At most
//! `ScalingConfig.MaximumConcurrency` invocations run at once (else the function's limit).
//! A `DeleteMessageBatch` entry that fails is retried; one that keeps failing is logged,
//! and the message will be delivered again (at least once, never lost).
//!
//! As on AWS, a queue whose visibility timeout is shorter than the function's timeout is
//! refused, and received messages stay invisible for at least the batching window plus
//! the function's timeout (plus 30 seconds), so a batch still being gathered or processed
//! is never delivered twice at once. When the environment's retry scale shortened the
//! queue's visibility timeout, a message that failed becomes visible again that
//! (shortened) time after its invocation ended.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName};
use futures::future::BoxFuture;
use hyper::body::Bytes;
use serde_json::{Value, json};

use super::filter::{Filters, with_json_field};
use super::{SourceContext, Subscription};
use crate::Error;
use crate::aws::Aws;
use crate::lambda::{Function, Outcome};

/// Lambda's limit on an invocation's payload.
const MAX_PAYLOAD: usize = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SqsMapping {
    pub queue_logical_id: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: usize,
    pub window: Duration,
    pub report_failures: bool,
    pub concurrency: usize,
    /// How long received messages stay invisible.
    pub receive_visibility: i32,
    /// The queue's own visibility timeout, given to failed messages after their invocation
    /// when receiving held them longer (see the module's comment).
    pub retry_visibility: Option<i32>,
}

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        props.deployment_only(&["MetricsConfig", "KmsKeyArn"]);
        let queue = props.reference("Queue")?.ok_or_else(|| props.error("Queue is required"))?;
        let batch_size = props.integer("BatchSize", 1..=10_000)?.unwrap_or(10);
        let window = props.integer("MaximumBatchingWindowInSeconds", 0..=300)?.unwrap_or(0);
        if batch_size > 10 && window == 0 {
            return Err(
                props.error("a BatchSize above 10 needs MaximumBatchingWindowInSeconds of at least 1 (as on AWS)")
            );
        }
        let report_failures = report_batch_item_failures(props)?;
        let concurrency = match props.nested("ScalingConfig") {
            Some(scaling) => {
                let max = scaling.integer("MaximumConcurrency", 2..=1000)?;
                scaling.finish()?;
                max
            }
            None => None,
        };
        let filters = Filters::from_props(props)?;
        let enabled = props.boolean("Enabled")?.unwrap_or(true);
        let physical = ctx.resources.get(&queue)?;
        let visibility = queue_visibility(ctx, &physical.reference).await?;
        let timeout = i32::try_from(sub.function.config.timeout.as_secs()).unwrap_or(900);
        let scaled_timeout = ctx.lambda.scaled(sub.function.config.timeout).as_secs_f64();
        if f64::from(visibility) < scaled_timeout.floor() {
            return Err(props.error(format!(
                "Queue visibility timeout: {visibility} seconds is less than Function timeout: {timeout} seconds (as AWS refuses it)"
            )));
        }
        let window_seconds = i32::try_from(window).unwrap_or(0);
        let covering = window_seconds + timeout;
        let receive_visibility = if visibility >= covering {
            visibility
        } else {
            covering + ctx.lambda.scaled(Duration::from_secs(30)).as_secs() as i32
        };
        let mapping = SqsMapping {
            queue_logical_id: queue.clone(),
            queue_url: physical.reference.clone(),
            queue_arn: physical.arn.clone(),
            region: ctx.resources.region.clone(),
            batch_size: usize::try_from(batch_size).unwrap_or(10),
            window: Duration::from_secs(u64::try_from(window).unwrap_or(0)),
            report_failures,
            concurrency: concurrency.and_then(|c| usize::try_from(c).ok()).unwrap_or(sub.function.config.concurrency),
            receive_visibility,
            retry_visibility: (receive_visibility != visibility).then_some(visibility),
        };
        let Subscription { function, props, .. } = sub;
        props.finish()?;
        if !enabled {
            return Ok(());
        }
        let filters = filters.map(Arc::new);
        for _ in 0..mapping.concurrency.max(1) {
            let (ctx, mapping, function, filters) = (ctx.clone(), mapping.clone(), function.clone(), filters.clone());
            tokio::spawn(async move {
                loop {
                    if let Err(err) = poll_once(&ctx, &mapping, &function, filters.as_deref()).await {
                        eprintln!("[sqs:{}] {err}", mapping.queue_logical_id);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            });
        }
        Ok(())
    })
}

/// `FunctionResponseTypes: [ReportBatchItemFailures]`, the only response type there is.
pub fn report_batch_item_failures(props: &crate::properties::Props) -> Result<bool, Error> {
    let types = props.list("FunctionResponseTypes");
    for t in &types {
        if t.as_str() != Some("ReportBatchItemFailures") {
            return Err(props.error(format!("FunctionResponseTypes: {t:?} is not ReportBatchItemFailures")));
        }
    }
    Ok(!types.is_empty())
}

/// The queue's visibility timeout, as provisioned.
async fn queue_visibility(ctx: &SourceContext, url: &str) -> Result<i32, Error> {
    let attributes = ctx
        .aws
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout)
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "GetQueueAttributes", e))?;
    Ok(attributes
        .attributes
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout).and_then(|v| v.parse().ok()))
        .unwrap_or(30))
}

async fn receive(aws: &Aws, mapping: &SqsMapping, max: usize, wait_seconds: i32) -> Result<Vec<Message>, Error> {
    let received = aws
        .sqs
        .receive_message()
        .queue_url(&mapping.queue_url)
        .visibility_timeout(mapping.receive_visibility)
        .max_number_of_messages(i32::try_from(max.clamp(1, 10)).unwrap_or(10))
        .wait_time_seconds(wait_seconds)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "ReceiveMessage", e))?;
    Ok(received.messages.unwrap_or_default())
}

/// Gathers one batch, delivers it and deletes what was finished. Returns how many
/// messages were received.
pub async fn poll_once(
    ctx: &SourceContext,
    mapping: &SqsMapping,
    function: &Arc<Function>,
    filters: Option<&Filters>,
) -> Result<usize, Error> {
    let mut messages = receive(&ctx.aws, mapping, mapping.batch_size, 1).await?;
    if messages.is_empty() {
        return Ok(0);
    }
    // Keep gathering until the batch is full, the window closes or the payload is full.
    let window_ends = Instant::now() + mapping.window;
    let size = |m: &[Message]| m.iter().map(|m| m.body.as_deref().map_or(0, str::len)).sum::<usize>();
    while messages.len() < mapping.batch_size && Instant::now() < window_ends && size(&messages) < MAX_PAYLOAD / 2 {
        let wait = (window_ends - Instant::now()).as_secs().clamp(0, 1) as i32;
        messages.extend(receive(&ctx.aws, mapping, mapping.batch_size - messages.len(), wait).await?);
    }
    let received = messages.len();
    let records: Vec<(Message, Value)> = messages
        .into_iter()
        .map(|m| {
            let r = record(&m, mapping);
            (m, r)
        })
        .collect();
    let (deliver, filtered_out): (Vec<_>, Vec<_>) = records
        .into_iter()
        .partition(|(m, r)| filters.is_none_or(|f| f.matches(&with_json_field(r, "body", m.body.as_deref()))));
    // Lambda deletes the messages its filters drop.
    delete(&ctx.aws, mapping, filtered_out.iter().map(|(m, _)| m)).await;
    if deliver.is_empty() {
        return Ok(received);
    }
    let attempt = deliver
        .iter()
        .filter_map(|(m, _)| {
            m.attributes.as_ref()?.get(&MessageSystemAttributeName::ApproximateReceiveCount)?.parse().ok()
        })
        .max()
        .unwrap_or(1);
    let event = json!({ "Records": deliver.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>() });
    let source = format!("sqs:{}", mapping.queue_logical_id);
    let invocation = ctx.lambda.invoke(function, Bytes::from(event.to_string()), &source, attempt).await;
    let done: Vec<&Message> = match &invocation.outcome {
        Outcome::Ok(response) => {
            let ids: Vec<&str> = deliver.iter().filter_map(|(m, _)| m.message_id.as_deref()).collect();
            match failed_items(response, &ids, mapping.report_failures) {
                Some(failed) => deliver
                    .iter()
                    .map(|(m, _)| m)
                    .filter(|m| !m.message_id.as_deref().is_some_and(|id| failed.contains(id)))
                    .collect(),
                None => {
                    eprintln!(
                        "[sqs:{}] the response's batchItemFailures name messages not in the batch: the whole batch is retried",
                        mapping.queue_logical_id
                    );
                    Vec::new()
                }
            }
        }
        _ => Vec::new(),
    };
    if let Some(visibility) = mapping.retry_visibility {
        let kept: Vec<&Message> = deliver
            .iter()
            .map(|(m, _)| m)
            .filter(|m| !done.iter().any(|d| d.receipt_handle == m.receipt_handle))
            .collect();
        release(&ctx.aws, mapping, &kept, visibility).await;
    }
    delete(&ctx.aws, mapping, done.into_iter()).await;
    Ok(received)
}

/// The message ids a response reports as failed; `None` when the report is invalid (an
/// identifier that is missing, empty or not in the batch), which fails the whole batch.
pub fn failed_items(response: &[u8], batch: &[&str], report_failures: bool) -> Option<HashSet<String>> {
    if !report_failures {
        return Some(HashSet::new());
    }
    // An empty or null response is a complete success; one that is not JSON, a failure.
    if response.iter().all(u8::is_ascii_whitespace) {
        return Some(HashSet::new());
    }
    let response = serde_json::from_slice::<Value>(response).ok()?;
    let Some(failures) = response.get("batchItemFailures").filter(|f| !f.is_null()) else {
        return Some(HashSet::new());
    };
    let mut failed = HashSet::new();
    for failure in failures.as_array()? {
        let id = failure.get("itemIdentifier").and_then(Value::as_str).filter(|id| !id.is_empty())?;
        if !batch.contains(&id) {
            return None;
        }
        failed.insert(id.to_owned());
    }
    Some(failed)
}

/// Makes messages that stay in the queue visible again after `seconds`.
async fn release(aws: &Aws, mapping: &SqsMapping, messages: &[&Message], seconds: i32) {
    for chunk in messages.chunks(10) {
        let entries: Vec<aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                aws_sdk_sqs::types::ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(i.to_string())
                    .set_receipt_handle(m.receipt_handle.clone())
                    .visibility_timeout(seconds)
                    .build()
                    .ok()
            })
            .collect();
        let changed = aws
            .sqs
            .change_message_visibility_batch()
            .queue_url(&mapping.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        if let Err(err) = changed {
            eprintln!("[sqs:{}] {}", mapping.queue_logical_id, Error::aws("SQS", "ChangeMessageVisibilityBatch", err));
        }
    }
}

/// Deletes messages in batches of ten, retrying entries that fail.
async fn delete<'m>(aws: &Aws, mapping: &SqsMapping, messages: impl Iterator<Item = &'m Message>) {
    let handles: Vec<String> = messages.filter_map(|m| m.receipt_handle.clone()).collect();
    for chunk in handles.chunks(10) {
        let mut pending: Vec<(String, String)> =
            chunk.iter().enumerate().map(|(i, h)| (i.to_string(), h.clone())).collect();
        for attempt in 0..3 {
            match delete_batch(aws, &mapping.queue_url, &pending).await {
                Ok(failed) => pending.retain(|(id, _)| failed.contains(id)),
                Err(err) => eprintln!("[sqs:{}] {err}", mapping.queue_logical_id),
            }
            if pending.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
        }
        if !pending.is_empty() {
            eprintln!(
                "[sqs:{}] {} processed message(s) could not be deleted; they will be delivered again after the visibility timeout",
                mapping.queue_logical_id,
                pending.len()
            );
        }
    }
}

/// One `DeleteMessageBatch` call; returns the ids of the entries that failed.
pub async fn delete_batch(aws: &Aws, queue_url: &str, entries: &[(String, String)]) -> Result<HashSet<String>, Error> {
    let entries: Vec<DeleteMessageBatchRequestEntry> = entries
        .iter()
        .filter_map(|(id, handle)| DeleteMessageBatchRequestEntry::builder().id(id).receipt_handle(handle).build().ok())
        .collect();
    let out = aws
        .sqs
        .delete_message_batch()
        .queue_url(queue_url)
        .set_entries(Some(entries))
        .send()
        .await
        .map_err(|e| Error::aws("SQS", "DeleteMessageBatch", e))?;
    Ok(out.failed.into_iter().map(|f| f.id).collect())
}

/// One record of an SQS event, as Lambda builds it from a received message.
fn record(message: &Message, mapping: &SqsMapping) -> Value {
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
                    "binaryValue": v.binary_value.as_ref().map(|b| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b.as_ref())),
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
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": mapping.region,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_item_failures_as_lambda_reads_them() {
        let batch = ["a", "b"];
        let read = |r: &str| failed_items(r.as_bytes(), &batch, true);
        assert_eq!(read(r#"{"batchItemFailures":[]}"#), Some(HashSet::new()));
        assert_eq!(read(r#"{"batchItemFailures":null}"#), Some(HashSet::new()));
        assert_eq!(read("null"), Some(HashSet::new()));
        assert_eq!(read(""), Some(HashSet::new()));
        assert_eq!(read("{}"), Some(HashSet::new()));
        assert_eq!(read("not json"), None);
        assert_eq!(read(r#"{"batchItemFailures":[{"itemIdentifier":"b"}]}"#), Some(HashSet::from(["b".to_owned()])));
        // Invalid reports fail the whole batch.
        assert_eq!(read(r#"{"batchItemFailures":[{"itemIdentifier":""}]}"#), None);
        assert_eq!(read(r#"{"batchItemFailures":[{"itemIdentifier":null}]}"#), None);
        assert_eq!(read(r#"{"batchItemFailures":[{"id":"a"}]}"#), None);
        assert_eq!(read(r#"{"batchItemFailures":[{"itemIdentifier":"zzz"}]}"#), None);
        // Without ReportBatchItemFailures the response is not read.
        assert_eq!(
            failed_items(br#"{"batchItemFailures":[{"itemIdentifier":"a"}]}"#, &batch, false),
            Some(HashSet::new())
        );
    }
}
