//! One chunk per message: read the chunk's byte range (and as far past it as its last
//! record runs) as it streams, aggregate it under both quote-state hypotheses, record the
//! partial result and count the chunk off its job in one conditional transaction.
//!
//! Duplicates change nothing: a chunk recorded already is skipped before any reading,
//! and two mappers racing on one chunk both compute it but only one is recorded.
//! Failures: a file replaced or deleted since the job started, or too many groups for one
//! partial result, fails the job at once; anything else (throttling, timeouts, the
//! deadline, a crash) is retried `CHUNK_ATTEMPTS` times, and the delivery after those (the
//! queue's maxReceiveCount is one more) only fails the job — so even attempts that crashed
//! end in a failed job. Either way the message goes on to the dead-letter queue, under an
//! alarm. A job is failed only while mapping and only if the chunk was not counted after
//! all (an attempt whose answer was lost).

use std::time::Instant;

use adapters::analytics::input_file::{InputFiles, is_gone_or_replaced};
use adapters::analytics::jobs_table::{ChunkRecorded, ChunkStats, JobsTable};
use adapters::batch::{NotSqs, process_sqs};
use adapters::deadline::Deadline;
use adapters::metrics::Metrics;
use adapters::retry::{Backoff, retry};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use domain::analytics::ChunkScanner;
use domain::analytics::job::{ChunkTask, JobStatus};

pub struct Mapper {
    pub jobs: JobsTable,
    pub files: InputFiles,
    /// Attempts at a chunk; the next delivery fails its job (maxReceiveCount is one more).
    pub attempts: u32,
    pub metrics: Metrics,
}

pub const METRICS: &[&str] = &[CHUNKS_MAPPED, BYTES_READ, DUPLICATES, JOBS_FAILED, BATCH_ITEM_FAILURES];
pub const CHUNKS_MAPPED: &str = "ChunksMapped";
pub const BYTES_READ: &str = "BytesRead";
pub const DUPLICATES: &str = "DuplicateChunks";
pub const JOBS_FAILED: &str = "JobsFailed";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// The largest partial result (as JSON) a chunk may have: stored compressed it fits a
/// DynamoDB item (400 KB) whatever its numbers, and the reducer holds every chunk's at once.
pub const MAX_PARTIAL_BYTES: usize = 350_000;
/// The most groups (carrier × origin × month) one chunk may gather, checked as it is read,
/// so a column with millions of distinct values fails the job instead of the memory.
pub const MAX_GROUPS: usize = 4_000;
/// Read past the chunk's end in windows of this size while its last record runs on.
const OVERRUN_WINDOW: u64 = 64 * 1024;
/// Time kept back from the deadline to record the result or the failure.
const RECORD_MARGIN: std::time::Duration = std::time::Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("unreadable chunk task: {0}")]
    Unreadable(serde_json::Error),
    #[error("job {0} does not exist")]
    NoJob(String),
    #[error("its job failed on this chunk; it goes to the dead-letter queue")]
    FailedHere,
    #[error(
        "the chunk's partial result is {0} bytes, more than an item holds ({MAX_PARTIAL_BYTES}): use a smaller chunk size"
    )]
    PartialTooLarge(usize),
    #[error("more than {MAX_GROUPS} groups in one chunk: use a smaller chunk size")]
    TooManyGroups,
    #[error("{0} attempts failed")]
    GaveUp(u32),
    #[error("cut off at the deadline")]
    Deadline,
    #[error(transparent)]
    Aws(#[from] adapters::Error),
}

impl MapError {
    /// Whether another attempt cannot succeed.
    fn is_permanent(&self) -> bool {
        match self {
            MapError::PartialTooLarge(_)
            | MapError::TooManyGroups
            | MapError::FailedHere
            | MapError::GaveUp(_)
            | MapError::Unreadable(_) => true,
            MapError::Aws(err) => is_gone_or_replaced(err) || !err.is_transient(),
            MapError::NoJob(_) | MapError::Deadline => false,
        }
    }
}

pub async fn handle(mapper: &Mapper, event: SqsEvent, deadline: Deadline) -> Result<SqsBatchResponse, NotSqs> {
    let response = process_sqs(event, |message| map_message(mapper, message, deadline)).await;
    if let Ok(response) = &response {
        mapper.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    mapper.metrics.flush();
    response
}

async fn map_message(mapper: &Mapper, message: SqsMessage, deadline: Deadline) -> Result<(), MapError> {
    let task = ChunkTask::from_json(message.body.as_deref().unwrap_or_default()).map_err(MapError::Unreadable)?;
    let attempt: u32 = message.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1);
    // Past its attempts (the last may have crashed): only the job's failure is left to record.
    let outcome = if attempt > mapper.attempts {
        Err(MapError::GaveUp(mapper.attempts))
    } else {
        map_chunk(mapper, &task, deadline).await
    };
    if let Err(err) = &outcome
        && !matches!(err, MapError::FailedHere)
        && err.is_permanent()
    {
        let reason =
            format!("chunk {} (bytes {}-{}) failed: {err}", task.chunk.index, task.chunk.start, task.chunk.end);
        let failed = retry(&deadline, Backoff::AWS, adapters::Error::is_transient, || {
            mapper.jobs.fail_chunk(&task.job_id, task.chunk.index, &reason)
        })
        .await?;
        if failed {
            mapper.metrics.add(JOBS_FAILED, 1);
            tracing::error!(job_id = %task.job_id, chunk = task.chunk.index, attempt, reason, "job failed");
        }
    }
    outcome
}

async fn map_chunk(mapper: &Mapper, task: &ChunkTask, deadline: Deadline) -> Result<(), MapError> {
    let job = mapper.jobs.get(&task.job_id).await?.ok_or_else(|| MapError::NoJob(task.job_id.to_string()))?;
    match job.status {
        JobStatus::Mapping => {}
        JobStatus::Failed if job.failed_chunk == Some(task.chunk.index) => return Err(MapError::FailedHere),
        // The job failed on another chunk, or is reduced already: this chunk is not needed.
        status => {
            tracing::info!(job_id = %task.job_id, chunk = task.chunk.index, status = status.as_str(), "chunk not needed");
            return Ok(());
        }
    }
    if mapper.jobs.has_chunk(&task.job_id, task.chunk.index).await? {
        mapper.metrics.add(DUPLICATES, 1);
        tracing::info!(job_id = %task.job_id, chunk = task.chunk.index, "chunk recorded already");
        return Ok(());
    }
    let started = Instant::now();
    let work = deadline.less(RECORD_MARGIN);
    let (partials, bytes_read) = work.bound(scan(mapper, task)).await.ok_or(MapError::Deadline)??;
    let partial = serde_json::to_string(&partials).unwrap_or_default();
    if partial.len() > MAX_PARTIAL_BYTES {
        return Err(MapError::PartialTooLarge(partial.len()));
    }
    let stats = ChunkStats { bytes_read, millis: started.elapsed().as_millis() as u64 };
    let recorded = retry(&deadline, Backoff::AWS, adapters::Error::is_transient, || {
        mapper.jobs.record_chunk(&task.job_id, task.chunk.index, &partial, stats)
    })
    .await?;
    match recorded {
        ChunkRecorded::New => {
            mapper.metrics.add(CHUNKS_MAPPED, 1);
            mapper.metrics.add(BYTES_READ, bytes_read);
        }
        ChunkRecorded::Duplicate => mapper.metrics.add(DUPLICATES, 1),
        ChunkRecorded::JobClosed => {}
    }
    tracing::info!(
        job_id = %task.job_id, chunk = task.chunk.index, bytes_read, millis = stats.millis,
        rows = partials.even.rows_read, outcome = ?recorded, "chunk mapped"
    );
    Ok(())
}

/// Streams the chunk through the scanner: its range, then further windows while its
/// last record runs on. Memory holds one piece and the record being read.
async fn scan(mapper: &Mapper, task: &ChunkTask) -> Result<(domain::analytics::ChunkPartials, u64), MapError> {
    let size = task.input.size;
    let mut scanner = ChunkScanner::new(task.columns.clone(), &task.chunk, size);
    let mut position = scanner.read_from();
    let mut window_end = size.min(task.chunk.end.saturating_add(OVERRUN_WINDOW));
    let mut wants_more = true;
    let mut read = 0u64;
    while wants_more && position < size {
        let end = window_end.max(position + 1).min(size);
        let mut too_many = false;
        let got = mapper
            .files
            .read_range(&task.input, position, end, |bytes| {
                wants_more = scanner.feed(bytes);
                too_many = scanner.groups() > MAX_GROUPS;
                wants_more && !too_many
            })
            .await?;
        if too_many {
            return Err(MapError::TooManyGroups);
        }
        read += got;
        position += got;
        window_end = position.saturating_add(OVERRUN_WINDOW);
    }
    Ok((scanner.finish(), read))
}
