//! SQS batch in, partial batch failures out.

use adapters::batch::{NotSqs, process_sqs};
use adapters::flight_alerts::publish::SmsSender;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use domain::flight_alerts::AlertMessage;
use tracing::Instrument;

use crate::deliver::{Deliverer, DeliveryError};

pub async fn handle<S: SmsSender + Sync>(
    deliverer: &Deliverer<S>,
    event: SqsEvent,
) -> Result<SqsBatchResponse, NotSqs> {
    process_sqs(event, |record| async move {
        let body = record.body.unwrap_or_default();
        // A body that is not an alert message can never succeed; failing it sends it to
        // the dead-letter queue after the redrive policy's retries, where it can be read.
        let message = AlertMessage::from_json(&body).map_err(DeliveryError::Unreadable)?;
        let span = tracing::info_span!("alert", correlation_id = %message.correlation_id, alert_id = %message.alert_id);
        deliverer.deliver(&message).instrument(span).await.map(|_report| ())
    })
    .await
}

#[cfg(test)]
mod tests;
