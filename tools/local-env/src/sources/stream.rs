//! The stream event source mapping, shared by DynamoDB Streams and Kinesis: one worker
//! per shard, records in order, and no newer record of a shard delivered before an older
//! one is done.
//!
//! As AWS documents it:
//! - A batch is up to `BatchSize` records gathered within `MaximumBatchingWindowInSeconds`;
//!   records that match none of the `FilterCriteria` are skipped before batching.
//! - A function error (including a timeout or crash) is retried; with
//!   `BisectBatchOnFunctionError` the batch is first split in two, halves in order, and a
//!   split does not count as a retry (a single record that keeps failing does).
//! - With `ReportBatchItemFailures`, the batch is retried from the lowest sequence number
//!   reported (the records before it are done); an identifier that is empty, missing or
//!   not in the batch fails the whole batch.
//! - Throttles do not count as retries. After `MaximumRetryAttempts` retries (-1, the
//!   default, is unlimited), or once a record is older than `MaximumRecordAgeInSeconds`,
//!   the records are discarded and a failure record naming them (shard, first and last
//!   sequence number, arrival times, count) goes to `DestinationConfig.OnFailure`; then
//!   the shard moves on.
//!
//! Waits between retries are multiplied by the environment's retry scale; a record's age
//! is measured by the environment's clock, so `scripts/local advance` ages records too.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use hyper::body::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::SourceContext;
use super::filter::Filters;
use crate::Error;
use crate::lambda::destinations::Destination;
use crate::lambda::{Function, Outcome};
use crate::properties::Props;

/// How often an idle shard is polled (Lambda polls DynamoDB streams four times a second).
const POLL: Duration = Duration::from_millis(250);
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(500);
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(30);

/// A record read from a shard.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    pub sequence: String,
    pub arrival: OffsetDateTime,
    /// The record as the function receives it.
    pub record: Value,
}

/// Reads one shard, in order, from where the mapping starts.
pub trait ShardReader: Send {
    /// The next records, possibly none yet.
    fn read(&mut self) -> BoxFuture<'_, Result<Vec<StreamRecord>, Error>>;
}

/// Where a mapping starts reading a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    TrimHorizon,
    Latest,
    AtTimestamp(OffsetDateTime),
}

/// The mapping's settings, from its event's properties.
pub struct MappingConfig {
    /// `dynamodb:AlertsTable`, as the invocation log names the source.
    pub source: String,
    pub stream_arn: String,
    /// `DDBStreamBatchInfo` or `KinesisBatchInfo`.
    pub batch_info_key: &'static str,
    pub starting_position: StartingPosition,
    pub batch_size: usize,
    pub window: Duration,
    pub bisect: bool,
    /// `None` is unlimited.
    pub max_retries: Option<u32>,
    pub max_record_age: Option<Duration>,
    pub report_failures: bool,
    pub on_failure: Option<Destination>,
    pub filters: Option<Filters>,
    /// Turns a record into what filters see (Kinesis decodes `data`).
    pub filter_view: fn(&Value) -> Value,
}

impl MappingConfig {
    /// Reads the properties both stream types share; `Stream` and `StartingPosition` are
    /// read by the caller, which knows what they may be.
    pub async fn read(
        props: &Props<'_>,
        ctx: &SourceContext,
        source: String,
        stream_arn: String,
        batch_info_key: &'static str,
        starting_position: StartingPosition,
        filter_view: fn(&Value) -> Value,
    ) -> Result<Self, Error> {
        props.deployment_only(&["KmsKeyArn", "MetricsConfig"]);
        let batch_size = props.integer("BatchSize", 1..=10_000)?.unwrap_or(100);
        let window = props.integer("MaximumBatchingWindowInSeconds", 0..=300)?.unwrap_or(0);
        let max_retries = props.integer("MaximumRetryAttempts", -1..=10_000)?.unwrap_or(-1);
        let max_age = props.integer("MaximumRecordAgeInSeconds", -1..=604_800)?.unwrap_or(-1);
        if (0..60).contains(&max_age) {
            return Err(props.error("MaximumRecordAgeInSeconds: the minimum AWS accepts is 60 (or -1, unlimited)"));
        }
        if let Some(factor) = props.integer("ParallelizationFactor", 1..=10)?
            && factor != 1
        {
            return Err(props.error("ParallelizationFactor above 1 is not supported by the local environment"));
        }
        if props.raw("TumblingWindowInSeconds").is_some() {
            return Err(props.error("TumblingWindowInSeconds is not supported by the local environment"));
        }
        let on_failure = match props.nested("DestinationConfig") {
            Some(config) => {
                let target = config.nested("OnFailure").ok_or_else(|| config.error("OnFailure is required"))?;
                target.deployment_only(&["Type"]);
                let arn = target.required_string("Destination")?;
                target.finish()?;
                config.finish()?;
                Some(Destination::from_arn(&arn, &["sqs", "sns"], &ctx.aws).await.map_err(|e| props.error(e))?)
            }
            None => None,
        };
        Ok(Self {
            source,
            stream_arn,
            batch_info_key,
            starting_position,
            batch_size: usize::try_from(batch_size).unwrap_or(100),
            window: Duration::from_secs(u64::try_from(window).unwrap_or(0)),
            bisect: props.boolean("BisectBatchOnFunctionError")?.unwrap_or(false),
            max_retries: u32::try_from(max_retries).ok(),
            max_record_age: u64::try_from(max_age).ok().map(Duration::from_secs),
            report_failures: super::sqs::report_batch_item_failures(props)?,
            on_failure,
            filters: Filters::from_props(props)?,
            filter_view,
        })
    }
}

/// A batch waiting to be delivered, with the retries it has used.
struct Work {
    records: Vec<StreamRecord>,
    retries: u32,
}

/// Delivers one shard's records, forever.
pub async fn run_shard(
    ctx: SourceContext,
    function: Arc<Function>,
    config: Arc<MappingConfig>,
    shard_id: String,
    mut reader: Box<dyn ShardReader>,
) {
    let mut pending: VecDeque<StreamRecord> = VecDeque::new();
    loop {
        if let Err(err) = fill(&mut pending, reader.as_mut(), &config, &ctx.clock).await {
            eprintln!("[{}] {shard_id}: {err}", config.source);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if pending.is_empty() {
            tokio::time::sleep(POLL).await;
            continue;
        }
        let take = pending.len().min(config.batch_size);
        let batch: Vec<StreamRecord> = pending.drain(..take).collect();
        deliver(&ctx, &function, &config, &shard_id, batch).await;
    }
}

/// Reads into `pending` until a batch is full or the batching window closes.
async fn fill(
    pending: &mut VecDeque<StreamRecord>,
    reader: &mut dyn ShardReader,
    config: &MappingConfig,
    clock: &crate::clock::Clock,
) -> Result<(), Error> {
    let mut window_ends: Option<tokio::time::Instant> = None;
    loop {
        let mut read = reader.read().await?;
        // Arrival times on the environment's clock, which may have been moved.
        for record in &mut read {
            record.arrival += clock.offset();
        }
        let got = !read.is_empty();
        pending.extend(
            read.into_iter()
                .filter(|r| config.filters.as_ref().is_none_or(|f| f.matches(&(config.filter_view)(&r.record)))),
        );
        if pending.len() >= config.batch_size || pending.is_empty() && !got {
            return Ok(());
        }
        if pending.is_empty() {
            continue;
        }
        let ends = *window_ends.get_or_insert_with(|| tokio::time::Instant::now() + config.window);
        if tokio::time::Instant::now() >= ends {
            return Ok(());
        }
        if !got {
            tokio::time::sleep(POLL.min(ends - tokio::time::Instant::now())).await;
        }
    }
}

/// Delivers one batch until every record is done or discarded.
async fn deliver(
    ctx: &SourceContext,
    function: &Arc<Function>,
    config: &MappingConfig,
    shard_id: &str,
    batch: Vec<StreamRecord>,
) {
    let mut queue = VecDeque::from([Work { records: batch, retries: 0 }]);
    let mut wait = FIRST_RETRY_WAIT;
    let mut last_request = String::new();
    while let Some(mut work) = queue.pop_front() {
        // Records too old are discarded before they are sent.
        if let Some(max_age) = config.max_record_age {
            let now = ctx.clock.now();
            let expired = work.records.iter().take_while(|r| now - r.arrival > max_age).count();
            if expired > 0 {
                let old: Vec<StreamRecord> = work.records.drain(..expired).collect();
                discard(ctx, function, config, shard_id, &old, "RecordAgeExceeded", work.retries, &last_request).await;
            }
            if work.records.is_empty() {
                continue;
            }
        }
        let event = json!({"Records": work.records.iter().map(|r| r.record.clone()).collect::<Vec<_>>()});
        let invocation =
            ctx.lambda.invoke(function, Bytes::from(event.to_string()), &config.source, work.retries + 1).await;
        last_request = invocation.request_id.clone();
        let retry_from = match &invocation.outcome {
            Outcome::Ok(response) => {
                let sequences: Vec<&str> = work.records.iter().map(|r| r.sequence.as_str()).collect();
                match lowest_failure(response, &sequences, config.report_failures) {
                    Some(None) => {
                        wait = FIRST_RETRY_WAIT;
                        continue;
                    }
                    Some(Some(index)) => Some(index),
                    None => {
                        eprintln!(
                            "[{}] {shard_id}: the batchItemFailures name records not in the batch: the whole batch is retried",
                            config.source
                        );
                        Some(0)
                    }
                }
            }
            Outcome::Throttled => {
                tokio::time::sleep(ctx.lambda.scaled(wait)).await;
                wait = (wait * 2).min(LONGEST_RETRY_WAIT);
                queue.push_front(work);
                continue;
            }
            _ => None,
        };
        match retry_from {
            // Partial failure: the records before the lowest failure are done.
            Some(index) => {
                work.records.drain(..index);
            }
            // Function error: split first, if asked; a split is not a retry.
            None if config.bisect && work.records.len() > 1 => {
                let second = work.records.split_off(work.records.len() / 2);
                queue.push_front(Work { records: second, retries: work.retries });
                queue.push_front(work);
                continue;
            }
            None => {}
        }
        if config.max_retries.is_some_and(|max| work.retries >= max) {
            discard(
                ctx,
                function,
                config,
                shard_id,
                &work.records,
                "RetryAttemptsExhausted",
                work.retries,
                &last_request,
            )
            .await;
            continue;
        }
        work.retries += 1;
        tokio::time::sleep(ctx.lambda.scaled(wait)).await;
        wait = (wait * 2).min(LONGEST_RETRY_WAIT);
        queue.push_front(work);
    }
}

/// The index of the lowest failed record: `Some(None)` when the batch succeeded, `None`
/// when the report is invalid (the whole batch failed).
fn lowest_failure(response: &[u8], sequences: &[&str], report_failures: bool) -> Option<Option<usize>> {
    let failed = super::sqs::failed_items(response, sequences, report_failures)?;
    Some(sequences.iter().position(|s| failed.contains(*s)))
}

#[allow(clippy::too_many_arguments)]
async fn discard(
    ctx: &SourceContext,
    function: &Function,
    config: &MappingConfig,
    shard_id: &str,
    records: &[StreamRecord],
    condition: &str,
    retries: u32,
    request_id: &str,
) {
    let (Some(first), Some(last)) = (records.first(), records.last()) else { return };
    let time = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    let mut record = json!({
        "requestContext": {
            "requestId": request_id,
            "functionArn": function.config.arn,
            "condition": condition,
            "approximateInvokeCount": retries + 1,
        },
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": time(OffsetDateTime::now_utc()),
    });
    record[config.batch_info_key] = json!({
        "shardId": shard_id,
        "startSequenceNumber": first.sequence,
        "endSequenceNumber": last.sequence,
        "approximateArrivalOfFirstRecord": time(first.arrival),
        "approximateArrivalOfLastRecord": time(last.arrival),
        "batchSize": records.len(),
        "streamArn": config.stream_arn,
    });
    eprintln!(
        "[{}] {shard_id}: {} record(s) {}..{} discarded ({condition})",
        config.source,
        records.len(),
        first.sequence,
        last.sequence
    );
    match &config.on_failure {
        Some(destination) => {
            if let Err(err) =
                destination.send_record(&ctx.lambda, &record, "Lambda Function Invocation Result - Failure").await
            {
                eprintln!("[{}] the on-failure destination {}: {err}", config.source, destination.arn());
            }
        }
        None => eprintln!("[{}] no DestinationConfig.OnFailure: the discarded records are lost", config.source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_reported_failure_is_where_the_batch_resumes() {
        let seqs = ["10", "11", "12"];
        assert_eq!(
            lowest_failure(br#"{"batchItemFailures":[{"itemIdentifier":"12"},{"itemIdentifier":"11"}]}"#, &seqs, true),
            Some(Some(1))
        );
        assert_eq!(lowest_failure(br#"{"batchItemFailures":[]}"#, &seqs, true), Some(None));
        assert_eq!(lowest_failure(br#"{"batchItemFailures":[{"itemIdentifier":"99"}]}"#, &seqs, true), None);
        assert_eq!(lowest_failure(br#"{"batchItemFailures":[{"itemIdentifier":"11"}]}"#, &seqs, false), Some(None));
    }
}
