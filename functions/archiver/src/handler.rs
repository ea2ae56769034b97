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
//!   Lambda retries from it while the stream holds it (an alarm watches the iterator age).
//!   The stream keeps records 24 hours, then drops them, and the mapping's on-failure
//!   destination receives only their sequence numbers; so a run still failing when its
//!   oldest record is [`PARK_AFTER`] old is parked instead: its records go, whole, to the
//!   dead-letter queue, marked for `scripts/redrive-archive` to bring back once S3 takes
//!   writes again. A failure is never acknowledged unless its records are kept.
//!
//! A redelivered run overwrites its own object.

use std::future::Future;
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
use serde_json::Value;
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
    &[ROWS_ARCHIVED, OBJECTS_WRITTEN, RECORDS_SKIPPED, RECORDS_DEAD_LETTERED, RECORDS_PARKED, BATCH_ITEM_FAILURES];
pub const ROWS_ARCHIVED: &str = "RowsArchived";
pub const OBJECTS_WRITTEN: &str = "ArchiveObjectsWritten";
/// Records that are not TTL expiries: the mapping's filter keeps them out, so any here
/// means the filter is missing.
pub const RECORDS_SKIPPED: &str = "RecordsSkipped";
pub const RECORDS_DEAD_LETTERED: &str = "RecordsDeadLettered";
/// Records whose archive write failed until they were nearly too old for the stream,
/// parked in the dead-letter queue to be redriven.
pub const RECORDS_PARKED: &str = "RecordsParked";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// Time kept back from the deadline: no write starts later, and none may run into it.
const WRITE_MARGIN: Duration = Duration::from_secs(3);

/// How old a record may grow while its run cannot be written before the run is parked.
/// DynamoDB streams keep records 24 hours, and the mappings' `MaximumRecordAgeInSeconds`
/// (86,400) gives up on them then: four hours earlier leaves Lambda's retries time to
/// reach a run and park it.
pub const PARK_AFTER: time::Duration = time::Duration::hours(20);

/// The mark on a parked record's message, which the redrive reads.
pub const PARKED: &str = "parked";

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
    #[error("too close to the deadline for another call")]
    Deadline,
}

/// A run being gathered: one partition's consecutive rows.
struct Run {
    partition: Partition,
    first_sequence: String,
    lines: String,
    /// Its records, by place in the batch: parked whole if it cannot be written in time.
    members: Vec<usize>,
    /// When DynamoDB removed the oldest of them.
    oldest: OffsetDateTime,
}

pub async fn handle(archiver: &Archiver, event: Event, deadline: Deadline) -> Result<DynamoDbEventResponse, NotStream> {
    ensure_stream(&event)?;
    let mut response = DynamoDbEventResponse::default();
    let now = OffsetDateTime::now_utc();
    if let Err((sequence, failure)) = archive(archiver, &event.records, &deadline, now).await {
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
async fn archive(
    archiver: &Archiver,
    records: &[EventRecord],
    deadline: &Deadline,
    now: OffsetDateTime,
) -> Result<(), (String, Failure)> {
    let mut run: Option<Run> = None;
    for (index, record) in records.iter().enumerate() {
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        let identity = record.user_identity.as_ref().map(|u| (u.type_.as_str(), u.principal_id.as_str()));
        if !is_ttl_expiry(&record.event_name, identity) {
            archiver.metrics.add(RECORDS_SKIPPED, 1);
            continue;
        }
        let (partition, line, removed_at) = match row(archiver, record, &sequence) {
            Ok(row) => row,
            Err(unarchivable) => {
                // What came before is written first, so a retry from here loses nothing.
                if let Some(done) = run.take() {
                    finish(archiver, done, records, deadline, now).await?;
                }
                dead_letter(archiver, record, &unarchivable, deadline).await.map_err(|e| (sequence, e))?;
                continue;
            }
        };
        match &mut run {
            Some(current) if current.partition == partition => {
                current.lines.push_str(&line);
                current.members.push(index);
                current.oldest = current.oldest.min(removed_at);
            }
            _ => {
                let next =
                    Run { partition, first_sequence: sequence, lines: line, members: vec![index], oldest: removed_at };
                if let Some(done) = run.replace(next) {
                    finish(archiver, done, records, deadline, now).await?;
                }
            }
        }
    }
    if let Some(done) = run {
        finish(archiver, done, records, deadline, now).await?;
    }
    Ok(())
}

/// Writes a run; if that fails and its records are about to leave the stream, parks
/// them. On failure, the run's first sequence number.
async fn finish(
    archiver: &Archiver,
    run: Run,
    records: &[EventRecord],
    deadline: &Deadline,
    now: OffsetDateTime,
) -> Result<(), (String, Failure)> {
    let failure = match write(archiver, &run, deadline).await {
        Ok(()) => return Ok(()),
        Err(failure) => failure,
    };
    if now - run.oldest < PARK_AFTER {
        return Err((run.first_sequence, failure));
    }
    let whole: Vec<Value> =
        run.members.iter().map(|&i| serde_json::to_value(&records[i]).unwrap_or_default()).collect();
    let reason =
        format!("not archived for {} hours ({failure}); parked before the stream drops it", PARK_AFTER.whole_hours());
    let mark = serde_json::Map::from_iter([(PARKED.to_owned(), Value::Bool(true))]);
    if let Err(parking) = within(deadline, archiver.dead_letters.send_all(&reason, &mark, &whole)).await {
        tracing::error!(sequence_number = %run.first_sequence, error = %parking, "could not park the run either");
        return Err((run.first_sequence, failure));
    }
    tracing::error!(
        sequence_number = %run.first_sequence, rows = run.members.len(), error = %failure,
        "not archived in time; the records are parked in the dead-letter queue for a redrive"
    );
    archiver.metrics.add(RECORDS_PARKED, run.members.len() as u64);
    Ok(())
}

/// Sends a record that can never be archived, whole, to the dead-letter queue.
async fn dead_letter(
    archiver: &Archiver,
    record: &EventRecord,
    why: &Unarchivable,
    deadline: &Deadline,
) -> Result<(), Failure> {
    let sequence = record.change.sequence_number.as_deref().unwrap_or_default();
    tracing::error!(sequence_number = %sequence, error = %why, "cannot be archived; sent to the dead-letter queue");
    let whole = serde_json::to_value(record).unwrap_or_default();
    within(deadline, archiver.dead_letters.send(&why.to_string(), &whole)).await?;
    archiver.metrics.add(RECORDS_DEAD_LETTERED, 1);
    Ok(())
}

/// A record's partition, its line, and when DynamoDB removed the item.
fn row(
    archiver: &Archiver,
    record: &EventRecord,
    sequence: &str,
) -> Result<(Partition, String, OffsetDateTime), Unarchivable> {
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
    Ok((partition, row.to_line(), removed_at))
}

/// Writes one run as its object, within the deadline.
async fn write(archiver: &Archiver, run: &Run, deadline: &Deadline) -> Result<(), Failure> {
    let key = object_key(&run.partition, &run.first_sequence);
    within(deadline, archiver.archive.put_lines(&key, &run.lines)).await?;
    tracing::info!(key = %key, rows = run.members.len(), "archived");
    archiver.metrics.add(OBJECTS_WRITTEN, 1);
    archiver.metrics.add(ROWS_ARCHIVED, run.members.len() as u64);
    Ok(())
}

/// Runs an AWS call if there is time for it before the deadline's margin, and stops
/// waiting for it there.
async fn within<T>(deadline: &Deadline, call: impl Future<Output = Result<T, adapters::Error>>) -> Result<T, Failure> {
    let Some(time) = deadline.remaining().checked_sub(WRITE_MARGIN).filter(|t| !t.is_zero()) else {
        return Err(Failure::Deadline);
    };
    match tokio::time::timeout(time, call).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(Failure::Deadline),
    }
}

#[cfg(test)]
mod tests;
