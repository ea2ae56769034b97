//! Batch processing with partial failures, for queues and streams.
//!
//! SQS: every record is processed, a few at a time; the ones that failed are reported back
//! in `batchItemFailures`, so Lambda deletes only the successes and the failures return to
//! the queue after their visibility timeout (and reach the dead-letter queue once they
//! exceed the redrive policy's receive count).
//!
//! DynamoDB streams: records are processed in order, one at a time; at the first failure
//! the rest is left, and that record's sequence number is reported, so Lambda retries
//! from it and nothing later overtakes it.
//!
//! Both require `ReportBatchItemFailures` on the event source mapping.

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use futures::{StreamExt, stream};
use tracing::Instrument;

/// Records processed at once within a batch.
pub const RECORD_CONCURRENCY: usize = 4;

/// An event that is not an SQS batch (S3, SNS or stream records parse as one with every
/// SQS field missing): the function is wired to the wrong source and no record of it can
/// succeed, so the whole invocation fails, naming what arrived.
#[derive(Debug, thiserror::Error)]
#[error("not an SQS event: a record's eventSource is {0}")]
pub struct NotSqs(pub String);

impl From<NotSqs> for lambda_runtime::Diagnostic {
    fn from(err: NotSqs) -> Self {
        Self { error_type: "NotAnSqsEvent".into(), error_message: err.to_string() }
    }
}

/// An event that is not a DynamoDB stream batch: the function is wired to the wrong source.
#[derive(Debug, thiserror::Error)]
#[error("not a DynamoDB stream event: a record's eventSource is {0}")]
pub struct NotStream(pub String);

impl From<NotStream> for lambda_runtime::Diagnostic {
    fn from(err: NotStream) -> Self {
        Self { error_type: "NotADynamoDbStreamEvent".into(), error_message: err.to_string() }
    }
}

/// Refuses an event any of whose records is not a DynamoDB stream record.
pub fn ensure_stream(event: &StreamEvent) -> Result<(), NotStream> {
    match event.records.iter().find(|r| r.event_source.as_deref() != Some("aws:dynamodb")) {
        Some(other) => {
            let source = other.event_source.clone().unwrap_or_else(|| "missing".to_owned());
            tracing::error!(event_source = %source, "not a DynamoDB stream event");
            Err(NotStream(source))
        }
        None => Ok(()),
    }
}

/// Runs `process` on each stream record in order, stopping at the first failure, which is
/// reported so Lambda retries from it.
pub async fn process_stream<F, Fut, E>(event: StreamEvent, process: F) -> Result<DynamoDbEventResponse, NotStream>
where
    F: Fn(StreamRecord) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    ensure_stream(&event)?;
    let mut response = DynamoDbEventResponse::default();
    for record in event.records {
        let sequence = record.change.sequence_number.clone();
        let span = tracing::info_span!("stream_record", sequence_number = sequence.as_deref().unwrap_or_default());
        if let Err(err) = process(record).instrument(span).await {
            tracing::error!(sequence_number = sequence.as_deref().unwrap_or_default(), error = %err, "record failed; it and the records after it will be retried");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence;
            response.batch_item_failures.push(failure);
            break;
        }
    }
    Ok(response)
}

/// Runs `process` on every record and reports the failed ones.
pub async fn process_sqs<F, Fut, E>(event: SqsEvent, process: F) -> Result<SqsBatchResponse, NotSqs>
where
    F: Fn(SqsMessage) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    if let Some(other) = event.records.iter().find(|r| r.event_source.as_deref() != Some("aws:sqs")) {
        let source = other.event_source.clone().unwrap_or_else(|| "missing".to_owned());
        tracing::error!(event_source = %source, "not an SQS event");
        return Err(NotSqs(source));
    }
    let outcomes = stream::iter(event.records.into_iter().map(|record| {
        let id = record.message_id.clone().unwrap_or_default();
        let span = tracing::info_span!("sqs_record", message_id = %id);
        let run = process(record);
        async move { (id, run.await) }.instrument(span)
    }))
    .buffer_unordered(RECORD_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;

    let mut response = SqsBatchResponse::default();
    for (id, outcome) in outcomes {
        if let Err(err) = outcome {
            tracing::error!(message_id = %id, error = %err, "record failed; it will be retried");
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The official sample SQS event, with two records.
    fn sample_event() -> SqsEvent {
        testkit::sqs_event(&[("first", "one".into()), ("second", "two".into())])
    }

    #[tokio::test]
    async fn only_failed_records_are_reported() {
        let event = sample_event();
        let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), 2);
        let failing = ids[1].clone();
        let response = process_sqs(event, |record| {
            let failing = failing.clone();
            async move { if record.message_id == Some(failing) { Err("boom") } else { Ok(()) } }
        })
        .await
        .unwrap();
        let reported: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(reported, [ids[1].as_str()]);
    }

    #[tokio::test]
    async fn a_clean_batch_reports_nothing() {
        let response = process_sqs(sample_event(), |_| async { Ok::<(), String>(()) }).await.unwrap();
        assert!(response.batch_item_failures.is_empty());
    }

    #[tokio::test]
    async fn a_stream_batch_stops_at_its_first_failure_and_reports_it() {
        // The official sample, its first record three times with sequence numbers 1, 2, 3.
        let mut sample = testkit::aws_sample("example-dynamodb-event.json");
        let record = sample["Records"][0].clone();
        sample["Records"] = (1..=3)
            .map(|n| {
                let mut r = record.clone();
                r["dynamodb"]["SequenceNumber"] = serde_json::json!(n.to_string());
                r
            })
            .collect();
        let event: StreamEvent = serde_json::from_value(sample).unwrap();
        let sequences: Vec<String> = event.records.iter().filter_map(|r| r.change.sequence_number.clone()).collect();
        let seen = std::sync::Mutex::new(Vec::new());
        let failing = sequences[1].clone();
        let response = process_stream(event, |record| {
            let sequence = record.change.sequence_number.clone().unwrap_or_default();
            seen.lock().unwrap().push(sequence.clone());
            let fail = sequence == failing;
            async move { if fail { Err("boom") } else { Ok(()) } }
        })
        .await
        .unwrap();
        assert_eq!(*seen.lock().unwrap(), sequences[..2], "nothing after the failure is processed");
        let reported: Vec<Option<String>> =
            response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        assert_eq!(reported, [Some(failing)]);
    }

    #[tokio::test]
    async fn records_of_other_sources_fail_the_whole_invocation() {
        for (sample, source) in [
            ("example-s3-event.json", "aws:s3"),
            ("example-sns-event.json", "missing"),
            ("example-dynamodb-event.json", "aws:dynamodb"),
        ] {
            let event: SqsEvent = serde_json::from_value(testkit::aws_sample(sample)).unwrap();
            let refused = process_sqs(event, |_| async { Ok::<(), String>(()) }).await.unwrap_err();
            assert_eq!(refused.0, source, "{sample}");
        }
    }
}
