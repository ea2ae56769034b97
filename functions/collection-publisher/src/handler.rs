//! Stream batch in, partial batch failures out: each new collection version announced, in
//! order, with the outbox's retry and dead-letter rules (`adapters::outbox`). Announcing a
//! version twice is harmless: the retrainer skips versions its model already has.

use adapters::batch::NotStream;
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::metrics::Metrics;
use adapters::outbox::{BATCH_ITEM_FAILURES, relay};
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

pub async fn handle(outbox: &Outbox, event: Event) -> Result<DynamoDbEventResponse, NotStream> {
    let read = |event_name: &str, image: &serde_json::Value| {
        Ok(match Announcement::from_change(event_name, image)? {
            Announcement::Announce(change) => Some(change),
            Announcement::Ignore => None,
        })
    };
    relay(event, &outbox.dead_letters, &outbox.metrics, read, |change| async move {
        let message_id = outbox.topic.publish(&change).await?;
        tracing::info!(store_id = %change.store_id, version = change.version, message_id, "collection change announced");
        outbox.metrics.add(CHANGES_ANNOUNCED, 1);
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests;
