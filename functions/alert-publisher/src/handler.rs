//! Stream batch in, partial batch failures out: each new alert published, in order, with
//! the outbox's retry and dead-letter rules (`adapters::outbox`). Publishing an alert twice
//! is harmless: the SMS function texts each passenger once per alert.

use adapters::batch::NotStream;
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::flight_alerts::alerts_table::OutboxAlert;
use adapters::flight_alerts::publish::AlertPublisher;
use adapters::metrics::Metrics;
use adapters::outbox::{BATCH_ITEM_FAILURES, relay};
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

pub async fn handle(outbox: &Outbox, event: Event) -> Result<DynamoDbEventResponse, NotStream> {
    let read = |event_name: &str, image: &serde_json::Value| {
        Ok(match OutboxAlert::from_change(event_name, image)? {
            OutboxAlert::Publish(message) => Some(message),
            OutboxAlert::Ignore => None,
        })
    };
    relay(event, &outbox.dead_letters, &outbox.metrics, read, |message| async move {
        let span = tracing::info_span!("alert", correlation_id = %message.correlation_id, alert_id = %message.alert_id);
        async {
            let message_id = outbox.publisher.publish(&message).await?;
            tracing::info!(message_id, "alert published");
            outbox.metrics.add(ALERTS_PUBLISHED, 1);
            Ok(())
        }
        .instrument(span)
        .await
    })
    .await
}

#[cfg(test)]
mod tests;
