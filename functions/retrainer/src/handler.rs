//! SQS batch in, partial batch failures out. A batch is grouped by store first: a burst
//! of changes to one store (the queue's batching window gathers them) is one retrain, of
//! the newest version, and each message of the burst succeeds or fails with it.

use std::collections::BTreeMap;

use adapters::batch::NotSqs;
use adapters::deadline::Deadline;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use domain::recommendations::{CollectionChanged, StoreId};
use futures::{StreamExt, stream};
use tracing::Instrument;

use crate::retrain::{Retrained, Retrainer};

/// Messages handed back to the queue for a retry.
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";
/// Stores retrained at once within one invocation.
const STORE_CONCURRENCY: usize = 4;

pub async fn handle(retrainer: &Retrainer, event: SqsEvent, deadline: Deadline) -> Result<SqsBatchResponse, NotSqs> {
    if let Some(other) = event.records.iter().find(|r| r.event_source.as_deref() != Some("aws:sqs")) {
        let source = other.event_source.clone().unwrap_or_else(|| "missing".to_owned());
        tracing::error!(event_source = %source, "not an SQS event");
        return Err(NotSqs(source));
    }
    let mut failed = Vec::new();
    // Message ids per store, and the newest version asked for.
    let mut stores: BTreeMap<StoreId, (u64, Vec<String>)> = BTreeMap::new();
    for record in event.records {
        let id = record.message_id.unwrap_or_default();
        match CollectionChanged::from_json(record.body.as_deref().unwrap_or_default()) {
            Ok(change) => {
                let entry = stores.entry(change.store_id).or_default();
                entry.0 = entry.0.max(change.version);
                entry.1.push(id);
            }
            // Unreadable: it can never succeed, and goes to the dead-letter queue after
            // the redrive policy's retries, where a person can read it.
            Err(err) => {
                tracing::error!(message_id = %id, error = %err, "unreadable message; it will be retried, then dead-lettered");
                failed.push(id);
            }
        }
    }
    let outcomes: Vec<(Vec<String>, bool)> = stream::iter(stores)
        .map(|(store_id, (version, ids))| async move {
            if deadline.passed() {
                return (ids, false);
            }
            let change = CollectionChanged { store_id, version };
            let span = tracing::info_span!("store", store_id = %change.store_id, version);
            let outcome = deadline.bound(retrainer.retrain(&change)).instrument(span).await;
            let ok = match outcome {
                Some(Ok(Retrained::NoCollection)) => {
                    tracing::warn!(store_id = %change.store_id, "no collection for a change; nothing to train");
                    true
                }
                Some(Ok(_)) => true,
                Some(Err(err)) => {
                    tracing::error!(store_id = %change.store_id, error = %err, "retrain failed; its messages will be retried");
                    false
                }
                None => {
                    tracing::error!(store_id = %change.store_id, "retrain cut off at the deadline; its messages will be retried");
                    false
                }
            };
            (ids, ok)
        })
        .buffer_unordered(STORE_CONCURRENCY)
        .collect()
        .await;
    for (ids, ok) in outcomes {
        if !ok {
            failed.extend(ids);
        }
    }
    retrainer.metrics.add(BATCH_ITEM_FAILURES, failed.len() as u64);
    retrainer.metrics.flush();
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    Ok(response)
}

#[cfg(test)]
mod tests;
