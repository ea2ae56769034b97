//! Stream batch in, partial batch failures out: each new alert published, in order.
//!
//! A publish that fails (SNS throttling, an outage) is transient: the record is reported
//! and Lambda retries from it, so no alert is skipped and none overtakes another. A record
//! that can never be published (an alert image the domain cannot read) is permanent: it
//! goes to the dead-letter queue, whose alarm calls a person, and the stream moves on.
//! Publishing an alert twice is harmless: the SMS function texts each passenger once per alert.

use adapters::batch::{NotStream, process_stream};
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::flight_alerts::alerts_table::OutboxAlert;
use adapters::flight_alerts::publish::AlertPublisher;
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use tracing::Instrument;

pub struct Outbox {
    pub publisher: AlertPublisher,
    /// Where records that can never be published go, with the reason.
    pub dead_letters: DeadLetterQueue,
    pub metrics: Metrics,
}

/// The metrics this function emits: alerts published, and records handed back for a retry.
pub const METRICS: &[&str] = &[ALERTS_PUBLISHED, BATCH_ITEM_FAILURES];
pub const ALERTS_PUBLISHED: &str = "AlertsPublished";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// Retried: the record stays in the stream until it is published.
    #[error(transparent)]
    Transient(adapters::Error),
}

pub async fn handle(outbox: &Outbox, event: Event) -> Result<DynamoDbEventResponse, NotStream> {
    let response = process_stream(event, |record| async move {
        let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        match OutboxAlert::from_change(&record.event_name, &image) {
            Ok(OutboxAlert::Ignore) => Ok(()),
            Ok(OutboxAlert::Publish(message)) => {
                let span = tracing::info_span!("alert", correlation_id = %message.correlation_id, alert_id = %message.alert_id);
                async {
                    let message_id = outbox.publisher.publish(&message).await.map_err(PublishError::Transient)?;
                    tracing::info!(message_id, "alert published");
                    outbox.metrics.add(ALERTS_PUBLISHED, 1);
                    Ok(())
                }
                .instrument(span)
                .await
            }
            Err(unreadable) => {
                tracing::error!(error = %unreadable, "alert image cannot be published; sent to the dead-letter queue");
                // If even that fails, the record is retried: it is never dropped silently.
                let record = serde_json::to_value(&record).unwrap_or_default();
                outbox.dead_letters.send(&unreadable.to_string(), &record).await.map_err(PublishError::Transient)
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
