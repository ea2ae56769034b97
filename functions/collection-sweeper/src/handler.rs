//! Stream batch in, partial batch failures out: each record that retires a generation
//! has that generation's products deleted before the stream moves on.
//!
//! A deletion that fails (throttling, a deadline) is transient: the record is reported
//! and retried, and deleting again what is gone already costs nothing. A record that
//! cannot be read goes to the mapping's on-failure destination after its retries.

use adapters::batch::{NotStream, process_stream};
use adapters::deadline::Deadline;
use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::{CollectionsTable, Retirement};
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;

pub struct Sweeper {
    pub collections: CollectionsTable,
    pub metrics: Metrics,
}

/// The metrics this function emits.
pub const METRICS: &[&str] = &[PRODUCTS_DELETED, GENERATIONS_RETIRED, BATCH_ITEM_FAILURES];
pub const PRODUCTS_DELETED: &str = "ProductsDeleted";
pub const GENERATIONS_RETIRED: &str = "GenerationsRetired";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

pub async fn handle(sweeper: &Sweeper, event: Event, deadline: Deadline) -> Result<DynamoDbEventResponse, NotStream> {
    let response = process_stream(event, |record| async move {
        let old_image = serde_json::to_value(&record.change.old_image).unwrap_or_default();
        let new_image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        let (store, generation) = match Retirement::from_change(&record.event_name, &old_image, &new_image)? {
            Retirement::Nothing => return Ok(()),
            Retirement::Replaced { store, generation } => (store, generation),
            Retirement::Abandoned { store, generation } => {
                // The marker expires whether or not its replacement committed.
                let head = sweeper.collections.head(&store).await?;
                if head.is_some_and(|h| h.generation == generation) {
                    return Ok(());
                }
                (store, generation)
            }
        };
        let deleted = sweeper.collections.retire(&store, &generation, &deadline).await?;
        tracing::info!(store_id = %store, generation, deleted, "generation retired");
        sweeper.metrics.add(GENERATIONS_RETIRED, 1);
        sweeper.metrics.add(PRODUCTS_DELETED, deleted as u64);
        Ok::<(), adapters::Error>(())
    })
    .await;
    if let Ok(response) = &response {
        sweeper.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    sweeper.metrics.flush();
    response
}

#[cfg(test)]
mod tests;
