//! The jobs table: one item per map/reduce job, one per chunk a mapper finished.
//!
//! | pk          | sk              | what |
//! |-------------|-----------------|------|
//! | `JOB#<id>`  | `JOB`           | the job: its file, status, chunks left, outcome; in the `byCreated` index |
//! | `JOB#<id>`  | `PARTIAL#<index>` | a chunk's partial result (both quote-state hypotheses), DEFLATE-compressed; expires by TTL |
//! | `JOB#<id>`  | `CHUNK#<index>` | the chunk counted: a marker; expires by TTL |
//!
//! Chunk items expire the mapper's `JOB_CHUNKS_RETENTION_DAYS` after they are written (7 by default).
//!
//! A mapper writes its chunk's partial result (the same bytes whoever computes it), then
//! counts the chunk off the job in one transaction with the chunk's marker, conditional on
//! the marker not existing: a chunk delivered twice, or mapped twice at once, is counted
//! once. The partial stays out of the transaction, which costs twice the writes of its
//! items: a chunk costs its compressed partial's KB plus 4 write units. The write that takes `chunksLeft` to 0 is what the table's stream
//! hands the reducer (its filter), and the reducer claims the job with a conditional
//! write, so one reducer merges and writes; a claim lapses with its holder's invocation.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use domain::analytics::Columns;
use domain::analytics::job::{InputFile, JobId, JobStatus};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::dynamo::{Item, TTL_ATTRIBUTE, UNEXPIRED, epoch, get_n, get_opt_n, get_opt_s, get_s, n, s};
use crate::error::AwsFailure;

/// How long a chunk's partial result is kept after it is written, unless the deployment
/// says otherwise.
pub const CHUNK_RETENTION: Duration = Duration::days(7);
/// The index listing jobs newest first, and the value its partition key has.
const LISTING_INDEX: &str = "byCreated";
const LISTING: &str = "jobs";

#[derive(Debug, Clone)]
pub struct JobsTable {
    client: Client,
    name: String,
    /// How long chunk items are kept after they are written.
    chunk_retention: Duration,
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub status: JobStatus,
    pub input: InputFile,
    pub chunk_bytes: u64,
    pub chunks_total: u32,
    pub chunks_left: u32,
    pub data_start: u64,
    pub columns: Option<Columns>,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Why a failed job failed, and the chunk that failed it (that chunk's message goes on
    /// to the dead-letter queue; the job's other chunks are dropped).
    pub failure: Option<String>,
    pub failed_chunk: Option<u32>,
    /// A reducer's claim: its token and until when (epoch ms) it holds.
    pub claim: Option<(String, u64)>,
    pub results: Option<ResultKeys>,
    pub rows_read: Option<u64>,
    pub rows_rejected: Option<u64>,
}

/// Where a finished job's outputs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultKeys {
    pub bucket: String,
    pub json: String,
    pub csv: String,
    pub summary: String,
}

/// A job about to start.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub input: InputFile,
    pub chunk_bytes: u64,
    pub chunks_total: u32,
    /// Where the data starts (after the header) and the columns the mappers read: what a
    /// retried split needs to queue exactly the same tasks again.
    pub data_start: u64,
    pub columns: Option<Columns>,
    /// Set for a file that cannot be analysed at all (empty, no usable header): the job
    /// is created failed, so the upload is visible with its reason.
    pub failure: Option<String>,
}

/// What recording a chunk did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkRecorded {
    /// Recorded and counted off the job.
    New,
    /// This chunk was recorded before (a duplicate delivery, or another mapper first).
    Duplicate,
    /// The job is no longer mapping (it failed): nothing recorded.
    JobClosed,
}

/// What claiming a job for reduction found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This reducer holds the job until the lease it asked for.
    Claimed(Box<Job>),
    /// Another reducer holds it until this time (epoch ms).
    HeldUntil(u64),
    /// Already done or failed, or still mapping: nothing to do.
    Settled(JobStatus),
    NoSuchJob,
}

fn key(id: &JobId) -> String {
    format!("JOB#{id}")
}

fn chunk_key(index: u32) -> String {
    format!("CHUNK#{index:06}")
}

fn partial_key(index: u32) -> String {
    format!("PARTIAL#{index:06}")
}

/// Partials are JSON of many numbers: DEFLATE makes them several times smaller, and
/// DynamoDB bills writes by the KB.
fn compress(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

fn decompress(bytes: &[u8]) -> Result<String, std::io::Error> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

fn now_text() -> String {
    let now = OffsetDateTime::now_utc();
    // Fixed width (milliseconds always written), so the index sorts by time.
    let now = now.replace_nanosecond(now.millisecond() as u32 * 1_000_000).unwrap_or(now);
    let text = now.format(&Rfc3339).unwrap_or_default();
    if now.millisecond() == 0 { text.replace('Z', ".000Z") } else { text }
}

fn read_job(item: &Item) -> Result<Job, Error> {
    let pk = get_s(item, "pk")?;
    let id = pk
        .strip_prefix("JOB#")
        .and_then(JobId::parse)
        .ok_or_else(|| Error::Malformed(format!("job key {pk} is not JOB#<id>")))?;
    let status = JobStatus::parse(get_s(item, "status")?)
        .ok_or_else(|| Error::Malformed("attribute status is not a job status".into()))?;
    let claim = match (get_opt_s(item, "claimToken"), get_opt_n::<u64>(item, "claimUntil")?) {
        (Some(token), Some(until)) => Some((token.to_owned(), until)),
        _ => None,
    };
    let results = match get_opt_s(item, "resultsBucket") {
        Some(bucket) => Some(ResultKeys {
            bucket: bucket.to_owned(),
            json: get_s(item, "resultJson")?.to_owned(),
            csv: get_s(item, "resultCsv")?.to_owned(),
            summary: get_s(item, "resultSummary")?.to_owned(),
        }),
        None => None,
    };
    Ok(Job {
        id,
        status,
        input: InputFile {
            bucket: get_s(item, "bucket")?.to_owned(),
            key: get_s(item, "key")?.to_owned(),
            etag: get_s(item, "etag")?.to_owned(),
            size: get_n(item, "size")?,
        },
        chunk_bytes: get_n(item, "chunkBytes")?,
        chunks_total: get_n(item, "chunksTotal")?,
        chunks_left: get_n(item, "chunksLeft")?,
        data_start: get_opt_n(item, "dataStart")?.unwrap_or(0),
        columns: match get_opt_s(item, "columns") {
            Some(text) => {
                Some(serde_json::from_str(text).map_err(|e| Error::Malformed(format!("attribute columns: {e}")))?)
            }
            None => None,
        },
        created_at: get_s(item, "createdAt")?.to_owned(),
        finished_at: get_opt_s(item, "finishedAt").map(str::to_owned),
        failure: get_opt_s(item, "failure").map(str::to_owned),
        failed_chunk: get_opt_n(item, "failedChunk")?,
        claim,
        results,
        rows_read: get_opt_n(item, "rowsRead")?,
        rows_rejected: get_opt_n(item, "rowsRejected")?,
    })
}

type TransactError = aws_sdk_dynamodb::error::SdkError<
    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    aws_smithy_runtime_api::client::orchestrator::HttpResponse,
>;

/// The reasons a transaction was cancelled, one per item (`None` when it was not).
fn cancellation_codes(err: &TransactError) -> Option<Vec<String>> {
    match err.as_service_error()? {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => {
            Some(c.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
        }
        _ => None,
    }
}

/// A transaction that failed other than on its conditions — cancelled by a conflicting
/// transaction on the job item (chunks counted at the same moment), throttled, or
/// unanswered — is worth trying again, whatever its HTTP status.
fn transient_transaction_failure(err: &TransactError) -> Error {
    let mut failure = AwsFailure::from_sdk("DynamoDB", "TransactWriteItems", err);
    if cancellation_codes(err).is_some() {
        failure.transient = true;
    }
    Error::Aws(failure)
}

fn conditional_check_failed<E: aws_sdk_dynamodb::error::ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

impl JobsTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), chunk_retention: CHUNK_RETENTION }
    }

    /// Keeps chunk items recorded from now on for `retention`.
    #[must_use]
    pub fn with_chunk_retention(self, retention: Duration) -> Self {
        Self { chunk_retention: retention, ..self }
    }

    /// An update of a job's item, with `#status` naming its status attribute (a reserved word).
    fn update_job(&self, id: &JobId) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s("JOB"))
            .expression_attribute_names("#status", "status")
    }

    /// Creates the job unless it exists (a redelivered upload event); returns the job as
    /// stored either way, and whether this call created it.
    pub async fn create(&self, job: &NewJob) -> Result<(Job, bool), Error> {
        let (status, finished) = match job.failure {
            Some(_) => (JobStatus::Failed, Some(now_text())),
            None => (JobStatus::Mapping, None),
        };
        let mut item = Item::new();
        item.insert("pk".into(), s(key(&job.id)));
        item.insert("sk".into(), s("JOB"));
        item.insert("listing".into(), s(LISTING));
        item.insert("createdAt".into(), s(now_text()));
        item.insert("status".into(), s(status.as_str()));
        item.insert("bucket".into(), s(&job.input.bucket));
        item.insert("key".into(), s(&job.input.key));
        item.insert("etag".into(), s(&job.input.etag));
        item.insert("size".into(), n(job.input.size));
        item.insert("chunkBytes".into(), n(job.chunk_bytes));
        item.insert("chunksTotal".into(), n(job.chunks_total));
        item.insert("chunksLeft".into(), n(job.chunks_total));
        item.insert("dataStart".into(), n(job.data_start));
        if let Some(columns) = &job.columns {
            item.insert("columns".into(), s(serde_json::to_string(columns).unwrap_or_default()));
        }
        if let Some(failure) = &job.failure {
            item.insert("failure".into(), s(failure));
        }
        if let Some(finished) = finished {
            item.insert("finishedAt".into(), s(finished));
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(item.clone()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok((read_job(&item)?, true)),
            Err(err) if err.as_service_error().is_some_and(conditional_check_failed) => {
                let existing = self.get(&job.id).await?;
                existing.map(|job| (job, false)).ok_or_else(|| Error::Malformed("a job vanished once created".into()))
            }
            Err(err) => Err(Error::dynamo("PutItem", err)),
        }
    }

    pub async fn get(&self, id: &JobId) -> Result<Option<Job>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s("JOB"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        out.item.as_ref().map(read_job).transpose()
    }

    /// Jobs newest first, `limit` at a time; `after` is the previous page's last
    /// `createdAt` and job key, as [`Page::next`] returned it.
    pub async fn list(&self, limit: u16, after: Option<&str>) -> Result<Page, Error> {
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(LISTING_INDEX)
            .key_condition_expression("listing = :jobs")
            .expression_attribute_values(":jobs", s(LISTING))
            .scan_index_forward(false)
            .limit(i32::from(limit));
        if let Some(after) = after {
            let (created, pk) = after
                .split_once('|')
                .ok_or_else(|| Error::Malformed("a job listing position is createdAt|pk".into()))?;
            query = query
                .exclusive_start_key("listing", s(LISTING))
                .exclusive_start_key("createdAt", s(created))
                .exclusive_start_key("pk", s(pk))
                .exclusive_start_key("sk", s("JOB"));
        }
        let out = query.send().await.map_err(|e| Error::dynamo("Query", e))?;
        let jobs = out.items().iter().map(read_job).collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key() {
            Some(last) => Some(format!("{}|{}", get_s(last, "createdAt")?, get_s(last, "pk")?)),
            None => None,
        };
        Ok(Page { jobs, next })
    }

    /// Whether a chunk is counted already. A marker past its expiry still counts: taking it
    /// for absent could count the chunk twice.
    pub async fn has_chunk(&self, id: &JobId, index: u32) -> Result<bool, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s(chunk_key(index)))
            .projection_expression("pk")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        Ok(out.item.is_some())
    }

    /// Records a chunk's partial result, then counts the chunk off the job, once.
    pub async fn record_chunk(
        &self,
        id: &JobId,
        index: u32,
        partial: &str,
        stats: ChunkStats,
    ) -> Result<ChunkRecorded, Error> {
        let expires = epoch(OffsetDateTime::now_utc() + self.chunk_retention);
        self.client
            .put_item()
            .table_name(&self.name)
            .item("pk", s(key(id)))
            .item("sk", s(partial_key(index)))
            .item("partial", AttributeValue::B(Blob::new(compress(partial.as_bytes()))))
            .item("bytesRead", n(stats.bytes_read))
            .item("millis", n(stats.millis))
            .item(TTL_ATTRIBUTE, expires.clone())
            .send()
            .await
            .map_err(|e| Error::dynamo("PutItem", e))?;
        let put = Put::builder()
            .table_name(&self.name)
            .item("pk", s(key(id)))
            .item("sk", s(chunk_key(index)))
            .item(TTL_ATTRIBUTE, expires)
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::build("Put", e))?;
        let count = Update::builder()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s("JOB"))
            .update_expression("SET chunksLeft = chunksLeft - :one")
            .condition_expression("#status = :mapping AND chunksLeft > :zero")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":mapping", s(JobStatus::Mapping.as_str()))
            .build()
            .map_err(|e| Error::build("Update", e))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().update(count).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(ChunkRecorded::New),
            Err(err) => {
                let codes = cancellation_codes(&err).unwrap_or_default();
                match codes.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
                    ["ConditionalCheckFailed", ..] => Ok(ChunkRecorded::Duplicate),
                    [_, "ConditionalCheckFailed"] => Ok(ChunkRecorded::JobClosed),
                    _ => Err(transient_transaction_failure(&err)),
                }
            }
        }
    }

    /// Marks a job failed (unless it is already settled): a chunk could not be mapped.
    pub async fn fail(&self, id: &JobId, reason: &str, chunk: Option<u32>) -> Result<bool, Error> {
        let mut expression = "SET #status = :failed, failure = :reason, finishedAt = :at".to_owned();
        if chunk.is_some() {
            expression.push_str(", failedChunk = :chunk");
        }
        let failed = self
            .update_job(id)
            .update_expression(expression)
            .condition_expression("#status IN (:mapping, :reducing)")
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(now_text()))
            .expression_attribute_values(":mapping", s(JobStatus::Mapping.as_str()))
            .expression_attribute_values(":reducing", s(JobStatus::Reducing.as_str()));
        let failed = match chunk {
            Some(chunk) => failed.expression_attribute_values(":chunk", n(chunk)),
            None => failed,
        };
        match failed.send().await {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(conditional_check_failed) => Ok(false),
            Err(err) => Err(Error::dynamo("UpdateItem", err)),
        }
    }

    /// Fails a job for a chunk that could not be mapped, unless that chunk was counted
    /// after all (an attempt whose answer was lost) or the job is past mapping.
    pub async fn fail_chunk(&self, id: &JobId, index: u32, reason: &str) -> Result<bool, Error> {
        let uncounted = ConditionCheck::builder()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s(chunk_key(index)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| Error::build("ConditionCheck", e))?;
        let fail = Update::builder()
            .table_name(&self.name)
            .key("pk", s(key(id)))
            .key("sk", s("JOB"))
            .update_expression("SET #status = :failed, failure = :reason, finishedAt = :at, failedChunk = :chunk")
            .condition_expression("#status = :mapping")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":failed", s(JobStatus::Failed.as_str()))
            .expression_attribute_values(":reason", s(reason))
            .expression_attribute_values(":at", s(now_text()))
            .expression_attribute_values(":chunk", n(index))
            .expression_attribute_values(":mapping", s(JobStatus::Mapping.as_str()))
            .build()
            .map_err(|e| Error::build("Update", e))?;
        let written = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(uncounted).build())
            .transact_items(TransactWriteItem::builder().update(fail).build())
            .send()
            .await;
        match written {
            Ok(_) => Ok(true),
            Err(err) => match cancellation_codes(&err) {
                Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed") => Ok(false),
                _ => Err(transient_transaction_failure(&err)),
            },
        }
    }

    /// Claims a mapped job for reduction until `until_ms` (epoch ms): if all its chunks
    /// are in and no one holds it, or the last holder's claim has lapsed.
    pub async fn claim(&self, id: &JobId, token: &str, now_ms: u64, until_ms: u64) -> Result<Claim, Error> {
        let claimed = self
            .update_job(id)
            .update_expression("SET #status = :reducing, claimToken = :token, claimUntil = :until")
            .condition_expression(
                "(#status = :mapping AND chunksLeft = :zero) OR (#status = :reducing AND claimUntil < :now)",
            )
            .expression_attribute_values(":reducing", s(JobStatus::Reducing.as_str()))
            .expression_attribute_values(":mapping", s(JobStatus::Mapping.as_str()))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":until", n(until_ms))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":zero", n(0))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match claimed {
            Ok(out) => match out.attributes {
                Some(item) => Ok(Claim::Claimed(Box::new(read_job(&item)?))),
                None => Err(Error::Malformed("a claimed job came back without its attributes".into())),
            },
            Err(err) if err.as_service_error().is_some_and(conditional_check_failed) => {
                let Some(job) = self.get(id).await? else { return Ok(Claim::NoSuchJob) };
                Ok(match (job.status, job.claim) {
                    (JobStatus::Reducing, Some((_, until))) => Claim::HeldUntil(until),
                    (status, _) => Claim::Settled(status),
                })
            }
            Err(err) => Err(Error::dynamo("UpdateItem", err)),
        }
    }

    /// Every chunk's partial result, in chunk order.
    pub async fn chunks(&self, id: &JobId) -> Result<Vec<StoredChunk>, Error> {
        let mut out = Vec::new();
        let mut page = self.chunk_page(id, None).await?;
        loop {
            out.append(&mut page.chunks);
            match page.next {
                Some(next) => page = self.chunk_page(id, Some(next)).await?,
                None => return Ok(out),
            }
        }
    }

    /// A page (up to 1 MB) of a job's partial results, in chunk order, from `after` (the
    /// previous page's `next`).
    pub async fn chunk_page(&self, id: &JobId, after: Option<Item>) -> Result<ChunkPage, Error> {
        let page = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :partial)")
            .expression_attribute_values(":pk", s(key(id)))
            .expression_attribute_values(":partial", s("PARTIAL#"))
            // A partial past its expiry is gone for readers, as it soon is from the table:
            // the job then lacks it and fails, rather than merging what DynamoDB may drop.
            .filter_expression(UNEXPIRED)
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", epoch(OffsetDateTime::now_utc()))
            .consistent_read(true)
            .set_exclusive_start_key(after)
            .send()
            .await
            .map_err(|e| Error::dynamo("Query", e))?;
        let mut chunks = Vec::with_capacity(page.items().len());
        for item in page.items() {
            let sk = get_s(item, "sk")?;
            let index = sk
                .strip_prefix("PARTIAL#")
                .and_then(|i| i.parse().ok())
                .ok_or_else(|| Error::Malformed(format!("partial key {sk} is not PARTIAL#<index>")))?;
            let Some(AttributeValue::B(compressed)) = item.get("partial") else {
                return Err(Error::Malformed(format!("{sk} has no binary partial")));
            };
            chunks.push(StoredChunk {
                index,
                compressed: compressed.as_ref().to_vec(),
                stats: ChunkStats { bytes_read: get_n(item, "bytesRead")?, millis: get_n(item, "millis")? },
            });
        }
        Ok(ChunkPage { chunks, next: page.last_evaluated_key })
    }

    /// Records a claimed job as done, with where its results are; `false` if the claim
    /// was lost (it lapsed and another reducer took the job over).
    pub async fn finish(&self, id: &JobId, token: &str, results: &ResultKeys, rows: (u64, u64)) -> Result<bool, Error> {
        let done = self
            .update_job(id)
            .update_expression(
                "SET #status = :done, finishedAt = :at, resultsBucket = :bucket, resultJson = :json, \
                 resultCsv = :csv, resultSummary = :summary, rowsRead = :read, rowsRejected = :rejected \
                 REMOVE claimToken, claimUntil",
            )
            .condition_expression("#status = :reducing AND claimToken = :token")
            .expression_attribute_values(":done", s(JobStatus::Done.as_str()))
            .expression_attribute_values(":reducing", s(JobStatus::Reducing.as_str()))
            .expression_attribute_values(":token", s(token))
            .expression_attribute_values(":at", s(now_text()))
            .expression_attribute_values(":bucket", s(&results.bucket))
            .expression_attribute_values(":json", s(&results.json))
            .expression_attribute_values(":csv", s(&results.csv))
            .expression_attribute_values(":summary", s(&results.summary))
            .expression_attribute_values(":read", n(rows.0))
            .expression_attribute_values(":rejected", n(rows.1))
            .send()
            .await;
        match done {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(conditional_check_failed) => Ok(false),
            Err(err) => Err(Error::dynamo("UpdateItem", err)),
        }
    }
}

/// A page of jobs and the position after it.
#[derive(Debug, Clone)]
pub struct Page {
    pub jobs: Vec<Job>,
    pub next: Option<String>,
}

/// A page of partial results.
#[derive(Debug, Clone)]
pub struct ChunkPage {
    pub chunks: Vec<StoredChunk>,
    pub next: Option<Item>,
}

/// What a mapper spent on a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkStats {
    pub bytes_read: u64,
    pub millis: u64,
}

/// A chunk's partial result as stored: JSON of `domain::analytics::ChunkPartials`, kept
/// compressed until it is merged, so a job's partials are held at a third of their size.
#[derive(Debug, Clone)]
pub struct StoredChunk {
    pub index: u32,
    compressed: Vec<u8>,
    pub stats: ChunkStats,
}

impl StoredChunk {
    /// The partial result's JSON.
    pub fn partial(&self) -> Result<String, Error> {
        decompress(&self.compressed)
            .map_err(|e| Error::Malformed(format!("chunk {}'s partial cannot be decompressed: {e}", self.index)))
    }
}
