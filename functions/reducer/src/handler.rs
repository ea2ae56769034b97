//! Exactly one reduction per job, whatever the stream delivers: the reducer first claims
//! the job (a conditional write: all chunks in, nobody holding it), until its own
//! deadline and a grace; a second delivery finds it claimed and waits for the outcome or
//! for the claim to lapse (its holder gone), and one that finds it done does nothing. So
//! a job's outputs are written once; only a reducer that dies after writing and before
//! recording could have them written again, by the one that takes over.
//!
//! Partials that cannot be chained or read fail the job (permanent); AWS failures are
//! retried from the stream, then land in the on-failure destination under an alarm.

use std::time::Duration;

use adapters::analytics::jobs_table::{Claim, Job, JobsTable, ResultKeys};
use adapters::analytics::results::ResultsBucket;
use adapters::batch::{NotStream, process_stream};
use adapters::deadline::Deadline;
use adapters::dynamo::image_s;
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use domain::analytics::job::{JobId, JobStatus};
use domain::analytics::{ChunkPartials, Combiner, report_rows, to_csv};
use serde::Serialize;

pub struct Reducer {
    pub jobs: JobsTable,
    pub results: ResultsBucket,
    pub metrics: Metrics,
}

pub const METRICS: &[&str] = &[JOBS_REDUCED, JOBS_FAILED, RESULTS_WRITTEN, BATCH_ITEM_FAILURES];
pub const JOBS_REDUCED: &str = "JobsReduced";
pub const JOBS_FAILED: &str = "JobsFailed";
/// Objects written to the results bucket: three per job, exactly once.
pub const RESULTS_WRITTEN: &str = "ResultsWritten";
pub const BATCH_ITEM_FAILURES: &str = "BatchItemFailures";

/// A claim outlives its holder's invocation by this much: a reducer cut off at its deadline
/// is certainly gone once it lapses.
pub const CLAIM_GRACE: Duration = Duration::from_secs(10);
/// How often a reducer that found the job claimed looks again.
const POLL: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum ReduceError {
    #[error("the stream record carries no job key")]
    NoJobKey,
    #[error("another reducer holds the job until {0} (epoch ms); retried")]
    HeldElsewhere(u64),
    #[error("the claim was taken over before the job was recorded done")]
    ClaimLost,
    #[error(transparent)]
    Aws(#[from] adapters::Error),
}

pub async fn handle(reducer: &Reducer, event: Event, deadline: Deadline) -> Result<DynamoDbEventResponse, NotStream> {
    let response = process_stream(event, |record| async move {
        let image = serde_json::to_value(&record.change.new_image).unwrap_or_default();
        let id = image_s(&image, "pk")
            .and_then(|pk| pk.strip_prefix("JOB#"))
            .and_then(JobId::parse)
            .ok_or(ReduceError::NoJobKey)?;
        reduce(reducer, &id, deadline).await
    })
    .await;
    if let Ok(response) = &response {
        reducer.metrics.add(BATCH_ITEM_FAILURES, response.batch_item_failures.len() as u64);
    }
    reducer.metrics.flush();
    response
}

fn epoch_ms(at: time::OffsetDateTime) -> u64 {
    u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// Reduces the job unless it is done, failed or (still) held by another reducer.
pub async fn reduce(reducer: &Reducer, id: &JobId, deadline: Deadline) -> Result<(), ReduceError> {
    let token = uuid::Uuid::new_v4().to_string();
    let until = epoch_ms(deadline.wall()) + CLAIM_GRACE.as_millis() as u64;
    loop {
        let now = epoch_ms(time::OffsetDateTime::now_utc());
        match reducer.jobs.claim(id, &token, now, until).await? {
            Claim::Claimed(job) => return reduce_claimed(reducer, *job, &token).await,
            Claim::Settled(status) => {
                tracing::info!(job_id = %id, status = status.as_str(), "nothing to reduce");
                return Ok(());
            }
            Claim::NoSuchJob => {
                tracing::warn!(job_id = %id, "no such job; nothing to reduce");
                return Ok(());
            }
            // Wait for the holder's outcome, or for its claim to lapse, within the deadline.
            Claim::HeldUntil(held) => {
                if deadline.remaining() < POLL * 2 {
                    return Err(ReduceError::HeldElsewhere(held));
                }
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// The job's summary, written next to its report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary<'a> {
    job_id: &'a str,
    input: Input<'a>,
    rows_read: u64,
    rows_accepted: u64,
    rows_rejected: u64,
    rejected_by_reason: &'a std::collections::BTreeMap<String, u64>,
    rejected_sample: &'a [domain::analytics::RejectedSample],
    groups: usize,
    chunks: u32,
    chunk_bytes: u64,
    bytes_read_by_mappers: u64,
    mapper_millis: u64,
    created_at: &'a str,
    reduced_at: String,
    duration_millis: Option<i64>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Input<'a> {
    bucket: &'a str,
    key: &'a str,
    etag: &'a str,
    size: u64,
}

#[derive(Debug, thiserror::Error)]
enum Problem {
    #[error("{found} chunk results found for {expected} chunks")]
    Missing { found: usize, expected: u32 },
    #[error("chunk {index}'s partial result is unreadable: {error}")]
    Unreadable { index: u32, error: String },
    #[error(transparent)]
    Chain(#[from] domain::analytics::ChainError),
    #[error(transparent)]
    Aws(#[from] adapters::Error),
}

/// Merges the job's partials page by page, in chunk order: one page of compressed
/// partials and one chunk's partials decoded are held at a time, whatever the job's size.
/// Returns the merged partial, the bytes the mappers read and their milliseconds.
async fn merge_partials(reducer: &Reducer, job: &Job) -> Result<(domain::analytics::Partial, u64, u64), Problem> {
    let mut combiner = Combiner::default();
    let (mut found, mut bytes_read, mut millis) = (0usize, 0u64, 0u64);
    let mut after = None;
    loop {
        let page = reducer.jobs.chunk_page(&job.id, after).await?;
        for chunk in page.chunks {
            if chunk.index as usize != found {
                return Err(Problem::Missing { found, expected: job.chunks_total });
            }
            let text = chunk.partial()?;
            let partials: ChunkPartials = serde_json::from_str(&text)
                .map_err(|e| Problem::Unreadable { index: chunk.index, error: e.to_string() })?;
            combiner.push(partials)?;
            found += 1;
            bytes_read += chunk.stats.bytes_read;
            millis += chunk.stats.millis;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if found != job.chunks_total as usize {
        return Err(Problem::Missing { found, expected: job.chunks_total });
    }
    Ok((combiner.finish(), bytes_read, millis))
}

async fn reduce_claimed(reducer: &Reducer, job: Job, token: &str) -> Result<(), ReduceError> {
    let merged = match merge_partials(reducer, &job).await {
        Ok(merged) => merged,
        Err(Problem::Aws(err)) if err.is_transient() => return Err(err.into()),
        // Partials that do not chain, cannot be read or are missing never will: the job fails.
        Err(problem) => {
            let reason = problem.to_string();
            if reducer.jobs.fail(&job.id, &reason, None).await? {
                reducer.metrics.add(JOBS_FAILED, 1);
            }
            tracing::error!(job_id = %job.id, reason, "job cannot be reduced; recorded as failed");
            return Ok(());
        }
    };
    let (merged, bytes_read, mapper_millis) = merged;
    let rows = report_rows(&merged);
    let keys: ResultKeys = reducer.results.keys(&job.id);
    let reduced_at = time::OffsetDateTime::now_utc();
    let created = time::OffsetDateTime::parse(&job.created_at, &time::format_description::well_known::Rfc3339).ok();
    let summary = Summary {
        job_id: job.id.as_str(),
        input: Input { bucket: &job.input.bucket, key: &job.input.key, etag: &job.input.etag, size: job.input.size },
        rows_read: merged.rows_read,
        rows_accepted: merged.rows_read.saturating_sub(merged.rows_rejected),
        rows_rejected: merged.rows_rejected,
        rejected_by_reason: &merged.rejected_by_reason,
        rejected_sample: &merged.samples,
        groups: rows.len(),
        chunks: job.chunks_total,
        chunk_bytes: job.chunk_bytes,
        bytes_read_by_mappers: bytes_read,
        mapper_millis,
        created_at: &job.created_at,
        reduced_at: reduced_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        duration_millis: created.map(|c| (reduced_at - c).whole_milliseconds() as i64),
    };
    let json = serde_json::to_vec(&rows).unwrap_or_default();
    let summary_json = serde_json::to_vec_pretty(&summary).unwrap_or_default();
    reducer.results.put(&keys.json, json, "application/json").await?;
    reducer.results.put(&keys.csv, to_csv(&rows).into_bytes(), "text/csv").await?;
    reducer.results.put(&keys.summary, summary_json, "application/json").await?;
    reducer.metrics.add(RESULTS_WRITTEN, 3);
    if !reducer.jobs.finish(&job.id, token, &keys, (merged.rows_read, merged.rows_rejected)).await? {
        return Err(ReduceError::ClaimLost);
    }
    reducer.metrics.add(JOBS_REDUCED, 1);
    tracing::info!(
        job_id = %job.id, rows_read = merged.rows_read, rows_rejected = merged.rows_rejected, groups = rows.len(),
        chunks = job.chunks_total, status = JobStatus::Done.as_str(), "job reduced"
    );
    Ok(())
}
