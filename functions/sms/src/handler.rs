//! SQS batch in, partial batch failures out; the rest of a flight a delivery had no time
//! for goes back to the queue as a follow-up message.
//!
//! A follow-up (rather than a batch item failure) is what lets a flight larger than one
//! invocation can text be delivered at all: a failed message comes back with its receive
//! count raised and reaches the dead-letter queue after five, while each follow-up is a
//! new message. Only a delivery that made no progress fails, so the dead-letter queue
//! gets alerts that are stuck, not alerts that are big.

use adapters::batch::{NotSqs, process_sqs};
use adapters::deadline::Deadline;
use adapters::flight_alerts::publish::SmsSender;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use domain::flight_alerts::AlertMessage;
use tracing::Instrument;

use crate::deliver::{Budget, Delivered, Deliverer, DeliveryError};

/// Messages handed back to the queue for a retry.
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

pub async fn handle<S: SmsSender + Sync>(
    deliverer: &Deliverer<S>,
    event: SqsEvent,
    deadline: Deadline,
) -> Result<SqsBatchResponse, NotSqs> {
    let budget = Budget::new(deadline);
    let response = process_sqs(event, |record| async move {
        let body = record.body.unwrap_or_default();
        // A body that is not an alert message can never succeed; failing it sends it to
        // the dead-letter queue after the redrive policy's retries, where it can be read.
        let message = AlertMessage::from_json(&body).map_err(DeliveryError::Unreadable)?;
        let span = tracing::info_span!("alert", correlation_id = %message.correlation_id, alert_id = %message.alert_id);
        async {
            match deliverer.deliver(&message, &budget).await? {
                Delivered::Finished(report) => {
                    tracing::info!(%report, "every passenger accounted for");
                    Ok(())
                }
                Delivered::Continue { resume, delay, report } => {
                    tracing::info!(after = %resume.after, accounted = resume.counted, delay_seconds = delay.as_secs(), %report, "the rest of the flight follows in a new message");
                    deliverer.follow_ups.send(&message.resumed(resume), delay).await.map_err(DeliveryError::Store)
                }
            }
        }
        .instrument(span)
        .await
    })
    .await;
    if let Ok(response) = &response {
        deliverer.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    deliverer.metrics.flush();
    response
}

#[cfg(test)]
mod tests;
