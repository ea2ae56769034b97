//! A table's transactional outbox: its stream relayed, record by record and in order, to
//! where its changes are announced.
//!
//! A publish that fails (throttling, an outage) is transient: the record is reported and
//! Lambda retries from it, so nothing is skipped and nothing overtakes it. A record that
//! can never be published (an image the reader refuses) goes to the dead-letter queue,
//! whose alarm calls a person, and the stream moves on; if even that fails, the record is
//! retried, never dropped silently. Publishing a record twice is harmless: every consumer
//! of an outbox is idempotent.

use std::future::Future;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

use crate::Error;
use crate::batch::{NotStream, process_stream};
use crate::dead_letter_queue::DeadLetterQueue;
use crate::metrics::Metrics;

/// Records handed back for a retry, counted by every outbox.
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// Relays a stream batch: `read` turns a record (its event name and new image) into a
/// message, or `None` for a record that announces nothing; `publish` sends a message.
pub async fn relay<T, Fut>(
    event: Event,
    dead_letters: &DeadLetterQueue,
    metrics: &Metrics,
    read: impl Fn(&str, &serde_json::Value) -> Result<Option<T>, Error>,
    publish: impl Fn(T) -> Fut,
) -> Result<DynamoDbEventResponse, NotStream>
where
    Fut: Future<Output = Result<(), Error>>,
{
    let (read, publish) = (&read, &publish);
    let response = process_stream(event, |record| async move {
        let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        match read(&record.event_name, &image) {
            Ok(None) => Ok(()),
            Ok(Some(message)) => publish(message).await,
            Err(unreadable) => {
                tracing::error!(error = %unreadable, "a record that can never be published; sent to the dead-letter queue");
                let record = serde_json::to_value(&record).unwrap_or_default();
                dead_letters.send(&unreadable.to_string(), &record).await
            }
        }
    })
    .await;
    if let Ok(response) = &response {
        metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    metrics.flush();
    response
}
