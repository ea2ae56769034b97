//! Stream batch in, archive objects out, partial batch failures back.
//!
//! The records are cut into runs of one partition (`domain::archive::partition`); each run
//! is one object named by its first sequence number, written whole or not at all.
//!
//! - A record that can never be archived (no old image, a table without an archive name,
//!   an image that is not DynamoDB JSON) is permanent: it goes, whole, to the dead-letter
//!   queue (under an alarm) and the batch moves on.
//! - A run that cannot be written now (S3 failing or slow, the deadline near) is
//!   transient: the rest of the batch is left and the run's first record is reported, so
//!   Lambda retries from it, without limit while the stream holds it (24 hours; an alarm
//!   watches the iterator age). A failure is never acknowledged.
//!
//! A redelivered run overwrites its own object.

use std::time::Duration;

use adapters::archive::ArchiveBucket;
use adapters::batch::{NotStream, ensure_stream};
use adapters::dead_letter_queue::DeadLetterQueue;
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
    /// Where records that can never be archived go, whole.
    pub dead_letters: DeadLetterQueue,
    pub metrics: Metrics,
}

/// The metrics this function emits.
pub const METRICS: &[&str] =
    &[ROWS_ARCHIVED, OBJECTS_WRITTEN, RECORDS_SKIPPED, RECORDS_DEAD_LETTERED, BATCH_ITEM_FAILURES];
pub const ROWS_ARCHIVED: &str = "RowsArchived";
pub const OBJECTS_WRITTEN: &str = "ArchiveObjectsWritten";
/// Records that are not TTL expiries: the mapping's filter keeps them out, so any here
/// means the filter is missing.
pub const RECORDS_SKIPPED: &str = "RecordsSkipped";
pub const RECORDS_DEAD_LETTERED: &str = "RecordsDeadLettered";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// Time kept back from the deadline: no write starts later, and none may run into it.
const WRITE_MARGIN: Duration = Duration::from_secs(3);

/// Why a record can never be archived (permanent).
#[derive(Debug, thiserror::Error)]
enum Unarchivable {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("the record comes from table {0:?}, which is not archived (a stream wired without its setting)")]
    UnknownTable(String),
}

/// Why a run was not written now (transient: retried).
#[derive(Debug, thiserror::Error)]
enum Failure {
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
            Err(unarchivable) => {
                // What came before is written first, so a retry from here loses nothing.
                if let Some(done) = run.take() {
                    write(archiver, done, deadline).await?;
                }
                dead_letter(archiver, &record, &sequence, &unarchivable).await?;
                continue;
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

/// Sends a record that can never be archived, whole, to the dead-letter queue.
async fn dead_letter(
    archiver: &Archiver,
    record: &EventRecord,
    sequence: &str,
    why: &Unarchivable,
) -> Result<(), (String, Failure)> {
    tracing::error!(sequence_number = %sequence, error = %why, "cannot be archived; sent to the dead-letter queue");
    let whole = serde_json::to_value(record).unwrap_or_default();
    archiver.dead_letters.send(&why.to_string(), &whole).await.map_err(|e| (sequence.to_owned(), e.into()))?;
    archiver.metrics.add(RECORDS_DEAD_LETTERED, 1);
    Ok(())
}

/// A record's partition and its line.
fn row(archiver: &Archiver, record: &EventRecord, sequence: &str) -> Result<(Partition, String), Unarchivable> {
    let arn = record.event_source_arn.as_deref().unwrap_or_default();
    // arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>
    let name = arn.split('/').nth(1).unwrap_or_default();
    let table = archiver
        .tables
        .iter()
        .find(|(table, _)| table == name)
        .map(|(_, archived)| *archived)
        .ok_or_else(|| Unarchivable::UnknownTable(name.to_owned()))?;
    if sequence.is_empty() {
        return Err(RecordError::NoSequenceNumber.into());
    }
    let old_image = serde_json::to_value(&record.change.old_image).unwrap_or_default();
    let removed_at = OffsetDateTime::from_unix_timestamp(record.change.approximate_creation_date_time.timestamp())
        .unwrap_or_else(|_| OffsetDateTime::now_utc());
    let expired_at = expiry(image_n::<i64>(&old_image, TTL_ATTRIBUTE), removed_at);
    let partition = Partition::of(table, expired_at);
    let row = ArchiveRow::new(table, sequence, expired_at.format(&Rfc3339).unwrap_or_default(), &old_image)?;
    Ok((partition, row.to_line()))
}

/// Writes one run as its object, within the deadline; on failure, the run's first
/// sequence number.
async fn write(archiver: &Archiver, run: Run, deadline: &Deadline) -> Result<(), (String, Failure)> {
    let Some(time) = deadline.remaining().checked_sub(WRITE_MARGIN).filter(|t| !t.is_zero()) else {
        return Err((run.first_sequence, Failure::Deadline));
    };
    let key = object_key(&run.partition, &run.first_sequence);
    match tokio::time::timeout(time, archiver.archive.put_lines(&key, &run.lines)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err((run.first_sequence, err.into())),
        Err(_) => return Err((run.first_sequence, Failure::Deadline)),
    }
    tracing::info!(key = %key, rows = run.rows, "archived");
    archiver.metrics.add(OBJECTS_WRITTEN, 1);
    archiver.metrics.add(ROWS_ARCHIVED, run.rows);
    Ok(())
}

#[cfg(test)]
mod tests;
