//! Stream batch in, archive objects out, partial batch failures back.
//!
//! The records are cut into runs of one partition (`domain::archive::partition`); each run
//! is one object named by its first sequence number, written whole or not at all. At the
//! first run that cannot be written (S3 failing, the deadline near) or record that cannot
//! be archived, the rest of the batch is left and the run's first record is reported, so
//! Lambda retries from it (bisecting, then the on-failure destination after its retries):
//! a failure is never acknowledged. A redelivered run overwrites its own object.

use std::time::Duration;

use adapters::archive::ArchiveBucket;
use adapters::batch::{NotStream, ensure_stream};
use adapters::deadline::Deadline;
use adapters::dynamo::{TTL_ATTRIBUTE, image_n};
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use domain::archive::{ArchiveRow, ArchivedTable, Partition, RecordError, expiry, is_ttl_expiry, object_key};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub struct Archiver {
    pub archive: ArchiveBucket,
    /// Each archived table's name, as its stream's ARN holds it, and its archive name.
    pub tables: Vec<(String, ArchivedTable)>,
    pub metrics: Metrics,
}

/// The metrics this function emits.
pub const METRICS: &[&str] = &[ROWS_ARCHIVED, OBJECTS_WRITTEN, RECORDS_SKIPPED, BATCH_ITEM_FAILURES];
pub const ROWS_ARCHIVED: &str = "RowsArchived";
pub const OBJECTS_WRITTEN: &str = "ArchiveObjectsWritten";
/// Records that are not TTL expiries: the mapping's filter keeps them out, so any here
/// means the filter is missing.
pub const RECORDS_SKIPPED: &str = "RecordsSkipped";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// Time kept back for one object's write when the deadline is near.
const WRITE_MARGIN: Duration = Duration::from_secs(3);

/// Why a record or run was not archived.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the record comes from table {0:?}, which is not archived (a stream wired without its setting)")]
    UnknownTable(String),
    #[error(transparent)]
    Store(#[from] adapters::Error),
    #[error("too close to the deadline to write another object")]
    Deadline,
}

/// A run being gathered: one partition's consecutive rows.
struct Run {
    partition: Partition,
    first_sequence: String,
    lines: String,
    rows: u64,
}

pub async fn handle(archiver: &Archiver, event: Event, deadline: Deadline) -> Result<DynamoDbEventResponse, NotStream> {
    ensure_stream(&event)?;
    let mut response = DynamoDbEventResponse::default();
    if let Err((sequence, failure)) = archive(archiver, event.records, &deadline).await {
        tracing::error!(sequence_number = %sequence, error = %failure, "not archived; this record and the ones after it will be retried");
        let mut item = DynamoDbBatchItemFailure::default();
        item.item_identifier = Some(sequence);
        response.batch_item_failures.push(item);
    }
    archiver.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    archiver.metrics.flush();
    Ok(response)
}

/// Archives the records in order; on failure, the sequence number to retry from.
async fn archive(archiver: &Archiver, records: Vec<EventRecord>, deadline: &Deadline) -> Result<(), (String, Failure)> {
    let mut run: Option<Run> = None;
    for record in records {
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        let identity = record.user_identity.as_ref().map(|u| (u.type_.as_str(), u.principal_id.as_str()));
        if !is_ttl_expiry(&record.event_name, identity) {
            archiver.metrics.add(RECORDS_SKIPPED, 1);
            continue;
        }
        let (partition, line) = match row(archiver, &record, &sequence) {
            Ok(row) => row,
            Err(failure) => {
                // Keep what came before; retry from this record.
                if let Some(done) = run.take() {
                    write(archiver, done, deadline).await?;
                }
                return Err((sequence, failure));
            }
        };
        match &mut run {
            Some(current) if current.partition == partition => {
                current.lines.push_str(&line);
                current.rows += 1;
            }
            _ => {
                if let Some(done) = run.replace(Run { partition, first_sequence: sequence, lines: line, rows: 1 }) {
                    write(archiver, done, deadline).await?;
                }
            }
        }
    }
    if let Some(done) = run {
        write(archiver, done, deadline).await?;
    }
    Ok(())
}

/// A record's partition and its line.
fn row(archiver: &Archiver, record: &EventRecord, sequence: &str) -> Result<(Partition, String), Failure> {
    let arn = record.event_source_arn.as_deref().unwrap_or_default();
    // arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    let name = arn.split('/').nth(1).unwrap_or_default();
    let table = archiver
        .tables
        .iter()
        .find(|(table, _)| table == name)
        .map(|(_, archived)| *archived)
        .ok_or_else(|| Failure::UnknownTable(name.to_owned()))?;
    if sequence.is_empty() {
        return Err(RecordError::NoSequenceNumber.into());
    }
    let old_image = serde_json::to_value(&record.change.old_image).unwrap_or_default();
    let removed_at = OffsetDateTime::from_unix_timestamp(record.change.approximate_creation_date_time.timestamp())
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let expired_at = expiry(image_n::<i64>(&old_image, TTL_ATTRIBUTE), removed_at);
    let partition = Partition::of(table, expired_at);
    let row = ArchiveRow::new(table.as_str(), sequence, expired_at.format(&Rfc3339).unwrap_or_default(), &old_image)?;
    Ok((partition, row.to_line()))
}

/// Writes one run as its object; on failure, the run's first sequence number.
async fn write(archiver: &Archiver, run: Run, deadline: &Deadline) -> Result<(), (String, Failure)> {
    if deadline.remaining() < WRITE_MARGIN {
        return Err((run.first_sequence, Failure::Deadline));
    }
    let key = object_key(&run.partition, &run.first_sequence);
    if let Err(err) = archiver.archive.put_lines(&key, &run.lines).await {
        return Err((run.first_sequence, err.into()));
    }
    tracing::info!(key = %key, rows = run.rows, "archived");
    archiver.metrics.add(OBJECTS_WRITTEN, 1);
    archiver.metrics.add(ROWS_ARCHIVED, run.rows);
    Ok(())
}

#[cfg(test)]
mod tests;
