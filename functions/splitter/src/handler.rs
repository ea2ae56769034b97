//! One job per uploaded file. Everything here is safe to repeat: the job's id comes from
//! the upload (bucket, key, the event's sequencer), the job is created only if new, and
//! the tasks of a job still mapping are queued again, exactly as first planned (from what
//! the job recorded) — a mapper counts a chunk once.
//!
//! A file that cannot be analysed at all (empty, no header within 64 KiB, a column
//! missing) becomes a job that failed, with the reason: visible in `GET /jobs`.

use adapters::analytics::chunk_tasks::ChunkQueue;
use adapters::analytics::input_file::{InputFiles, is_gone_or_replaced};
use adapters::analytics::jobs_table::{Job, JobsTable, NewJob};
use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use domain::analytics::job::{ChunkTask, InputFile, JobId, JobStatus};
use domain::analytics::{Columns, HeaderError, plan, read_header};

pub struct Splitter {
    pub jobs: JobsTable,
    pub files: InputFiles,
    pub queue: ChunkQueue,
    /// The chunk size for files that do not set their own (`chunk-bytes` metadata).
    pub chunk_bytes: u64,
}

/// The most chunks a job has: bigger chunks beyond that.
pub const MAX_CHUNKS: u32 = 10_000;
/// The header must end within this many bytes.
pub const HEADER_WINDOW: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("not an S3 event: a record's eventSource is {0}")]
    NotS3(String),
    #[error(transparent)]
    Aws(#[from] adapters::Error),
}

impl From<SplitError> for lambda_runtime::Diagnostic {
    fn from(err: SplitError) -> Self {
        let error_type = match err {
            SplitError::NotS3(_) => "NotAnS3Event",
            SplitError::Aws(_) => "DependencyFailed",
        };
        Self { error_type: error_type.into(), error_message: err.to_string() }
    }
}

/// A failed invocation is retried by Lambda (twice), then goes to the on-failure destination.
pub async fn handle(splitter: &Splitter, event: S3Event) -> Result<(), SplitError> {
    if let Some(other) = event.records.iter().find(|r| r.event_source.as_deref() != Some("aws:s3")) {
        return Err(SplitError::NotS3(other.event_source.clone().unwrap_or_else(|| "missing".into())));
    }
    for record in &event.records {
        split(splitter, record).await?;
    }
    Ok(())
}

/// S3 event keys are URL-encoded, a space as `+`.
fn decoded_key(raw: &str) -> String {
    url::form_urlencoded::parse(raw.as_bytes())
        .map(|(k, v)| if v.is_empty() { k.into_owned() } else { format!("{k}={v}") })
        .collect()
}

async fn split(splitter: &Splitter, record: &S3EventRecord) -> Result<(), SplitError> {
    let bucket = record.s3.bucket.name.clone().unwrap_or_default();
    let key = decoded_key(record.s3.object.key.as_deref().unwrap_or_default());
    // Unique per write of a key; the ETag and version stand in where it is missing.
    let sequencer = record
        .s3
        .object
        .sequencer
        .clone()
        .or_else(|| record.s3.object.version_id.clone())
        .or_else(|| record.s3.object.e_tag.clone())
        .unwrap_or_default();
    let id = JobId::for_upload(&bucket, &key, &sequencer);
    // A retried event: queue the job's tasks as first planned, whatever the file or the
    // settings are now.
    if let Some(job) = splitter.jobs.get(&id).await? {
        return requeue(splitter, &job).await;
    }
    let facts = match splitter.files.facts(&bucket, &key).await {
        Ok(facts) => facts,
        Err(err) if is_gone_or_replaced(&err) => {
            tracing::warn!(job_id = %id, bucket, key, "the uploaded file is gone; no job");
            return Ok(());
        }
        Err(err) => return Err(err.into()),
    };
    let input = InputFile { bucket, key, etag: facts.etag.clone(), size: facts.size };
    let chunk_bytes = facts.chunk_bytes.unwrap_or(splitter.chunk_bytes).max(1);

    let mut failure = None;
    let mut tasks = Vec::new();
    let mut planned = (0, None);
    let event_etag = record.s3.object.e_tag.as_deref().map(|e| e.trim_matches('"'));
    if event_etag.is_some_and(|e| !e.is_empty() && e != facts.etag.trim_matches('"')) {
        failure =
            Some("the file was replaced before it could be read; the newer upload is a job of its own".to_owned());
    } else if facts.size == 0 {
        failure = Some("the file is empty".to_owned());
    } else {
        let mut prefix = Vec::new();
        let window = facts.size.min(HEADER_WINDOW);
        match splitter
            .files
            .read_range(&input, 0, window, |bytes| {
                prefix.extend_from_slice(bytes);
                true
            })
            .await
        {
            Ok(_) => {}
            Err(err) if is_gone_or_replaced(&err) => {
                failure = Some("the file was replaced or deleted before it could be read".to_owned());
            }
            Err(err) => return Err(err.into()),
        }
        if failure.is_none() {
            match read_header(&prefix, facts.size <= HEADER_WINDOW) {
                Err(HeaderError::TooLong) => {
                    failure = Some(format!("no end of the header record within the first {HEADER_WINDOW} bytes"))
                }
                Err(err) => failure = Some(err.to_string()),
                Ok(header) => match Columns::from_header(&header.names) {
                    Err(missing) => failure = Some(missing.to_string()),
                    Ok(columns) => {
                        tasks = chunk_tasks(&id, &input, header.data_start, chunk_bytes, &columns);
                        planned = (header.data_start, Some(columns));
                    }
                },
            }
        }
    }
    let new = NewJob {
        id: id.clone(),
        input: input.clone(),
        chunk_bytes,
        chunks_total: tasks.len() as u32,
        data_start: planned.0,
        columns: planned.1,
        failure: failure.clone(),
    };
    let (job, created) = splitter.jobs.create(&new).await?;
    if !created {
        // Another invocation for the same event created it first.
        return requeue(splitter, &job).await;
    }
    if let Some(reason) = &failure {
        tracing::warn!(job_id = %id, key = input.key, reason, "the file cannot be analysed; the job is recorded as failed");
        return Ok(());
    }
    splitter.queue.send_all(&tasks).await?;
    tracing::info!(
        job_id = %id, key = input.key, bytes = input.size, chunk_bytes, chunks = tasks.len(), created,
        "job split into chunks"
    );
    Ok(())
}

fn chunk_tasks(id: &JobId, input: &InputFile, data_start: u64, chunk_bytes: u64, columns: &Columns) -> Vec<ChunkTask> {
    plan(input.size, data_start, chunk_bytes, MAX_CHUNKS)
        .into_iter()
        .map(|chunk| ChunkTask { job_id: id.clone(), input: input.clone(), chunk, columns: columns.clone() })
        .collect()
}

/// Queues a stored job's tasks again, from what it recorded: a job past mapping needs none.
async fn requeue(splitter: &Splitter, job: &Job) -> Result<(), SplitError> {
    let (JobStatus::Mapping, Some(columns)) = (job.status, &job.columns) else {
        tracing::info!(job_id = %job.id, status = job.status.as_str(), "job exists; nothing to queue");
        return Ok(());
    };
    let tasks = chunk_tasks(&job.id, &job.input, job.data_start, job.chunk_bytes, columns);
    if tasks.len() != job.chunks_total as usize {
        return Err(adapters::Error::Malformed(format!(
            "job {} plans {} chunks now, {} when it was created",
            job.id,
            tasks.len(),
            job.chunks_total
        ))
        .into());
    }
    splitter.queue.send_all(&tasks).await?;
    tracing::info!(job_id = %job.id, chunks = tasks.len(), "job's tasks queued again");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(decoded_key("input/my+flights%282013%29.csv"), "input/my flights(2013).csv");
        assert_eq!(decoded_key("input/a%3Db%26c.csv"), "input/a=b&c.csv");
        assert_eq!(decoded_key("input/plain.csv"), "input/plain.csv");
    }
}
