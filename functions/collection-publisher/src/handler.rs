//! Stream batch in, partial batch failures out: each new collection version announced,
//! in order.
//!
//! A publish that fails is transient: the record is reported and Lambda retries from it,
//! so no version is skipped. A record that can never be announced (a head image that
//! cannot be read) goes to the dead-letter queue, whose alarm calls a person, and the
//! stream moves on. Announcing a version twice is harmless: the retrainer skips versions
//! its model already has.

use adapters::batch::{NotStream, process_stream};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::metrics::Metrics;
use adapters::recommendations::publish::{Announcement, CollectionChangesTopic};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

pub struct Outbox {
    pub topic: CollectionChangesTopic,
    /// Where records that can never be announced go, with the reason.
    pub dead_letters: DeadLetterQueue,
    pub metrics: Metrics,
}

/// The metrics this function emits.
pub const METRICS: &[&str] = &[CHANGES_ANNOUNCED, BATCH_ITEM_FAILURES];
pub const CHANGES_ANNOUNCED: &str = "CollectionChangesAnnounced";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

pub async fn handle(outbox: &Outbox, event: Event) -> Result<DynamoDbEventResponse, NotStream> {
    let response = process_stream(event, |record| async move {
        let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        match Announcement::from_change(&record.event_name, &image) {
            Ok(Announcement::Ignore) => Ok(()),
            Ok(Announcement::Announce(change)) => {
                let message_id = outbox.topic.publish(&change).await?;
                tracing::info!(store_id = %change.store_id, version = change.version, message_id, "collection change announced");
                outbox.metrics.add(CHANGES_ANNOUNCED, 1);
                Ok(())
            }
            Err(unreadable) => {
                tracing::error!(error = %unreadable, "head image cannot be announced; sent to the dead-letter queue");
                // If even that fails, the record is retried: it is never dropped silently.
                let record = serde_json::to_value(&record).unwrap_or_default();
                outbox.dead_letters.send(&unreadable.to_string(), &record).await
            }
        }
    })
    .await;
    if let Ok(response) = &response {
        outbox.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    outbox.metrics.flush();
    response
}

#[cfg(test)]
mod tests;
