//! The archiver fed with the official sample DynamoDB stream event, shaped as the archived
//! tables' records, against moto's S3 and SQS: expiries archived once per run, a user's
//! delete and other records never, a redelivered batch overwriting its own objects, a
//! record that can never be archived dead-lettered whole while the batch goes on, what
//! cannot be written now (S3 failing, the deadline near) reported for a retry, and what
//! could not be written for 20 hours parked whole before the stream drops it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Archiver, PARKED, RECORDS_DEAD_LETTERED, RECORDS_PARKED, RECORDS_SKIPPED, handle};
use adapters::archive::ArchiveBucket;
use adapters::archive::archive_bucket::gunzip;
use adapters::dead_letter_queue::DeadLetterQueue;
use adapters::deadline::Deadline;
use adapters::metrics::Metrics;
use aws_lambda_events::event::dynamodb::Event;
use domain::archive::ArchivedTable;
use serde_json::{Value, json};

const ALERTS: &str = "alerts-table";
const DELIVERIES: &str = "deliveries-table";

struct Setup {
    archiver: Archiver,
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    bucket: String,
    dead_letters: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let bucket = resources.get("ArchiveBucket").unwrap().reference.clone();
    let dead_letters = resources.get("ArchiveFailuresQueue").unwrap().reference.clone();
    let s3 = aws_sdk_s3::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    Setup { archiver: archiver(&s3, &sqs, &bucket, &dead_letters), s3, sqs, bucket, dead_letters }
}

fn archiver(s3: &aws_sdk_s3::Client, sqs: &aws_sdk_sqs::Client, bucket: &str, dead_letters: &str) -> Archiver {
    Archiver {
        archive: ArchiveBucket::new(s3.clone(), bucket),
        tables: vec![(ALERTS.to_owned(), ArchivedTable::Alerts), (DELIVERIES.to_owned(), ArchivedTable::SmsDeliveries)],
        dead_letters: DeadLetterQueue::new(sqs.clone(), dead_letters),
        metrics: Metrics::in_memory(super::METRICS),
    }
}

/// The dead-lettered records of the given sequence numbers (the queue is shared by runs).
async fn dead_lettered(s: &Setup, sequences: &[String]) -> Vec<Value> {
    let mut found = Vec::new();
    for _ in 0..20 {
        let out = s.sqs.receive_message().queue_url(&s.dead_letters).max_number_of_messages(10).send().await.unwrap();
        for message in out.messages() {
            let body: Value = serde_json::from_str(message.body().unwrap()).unwrap();
            let sequence = body["record"]["dynamodb"]["SequenceNumber"].as_str().unwrap_or_default().to_owned();
            if sequences.contains(&sequence) {
                found.push(body);
            }
        }
        if found.len() >= sequences.len() {
            break;
        }
    }
    found
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

/// A day of its own for each test (and each run against the same moto): rows of
/// different tests never share a partition.
fn unique_day() -> i64 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Two days per test (a run may spill into the next day), ten per process.
    let n = i64::from(std::process::id() % 2_000) * 10 + i64::from(NEXT.fetch_add(1, Ordering::Relaxed)) * 2;
    // Days from 2100 on, so no real data shares them.
    (47_482 + n) * 86_400
}

fn alert_image(id: &str, expires: i64) -> Value {
    json!({"pk": {"S": "FLIGHT#UA1-2100-01-01"}, "sk": {"S": format!("ALERT#{id}")}, "type": {"S": "delay"},
           "minutes": {"N": "45"}, "expiresAt": {"N": expires.to_string()}})
}

/// A record as the archiver's mapping delivers it: `(event name, table, old image, by TTL)`,
/// removed from the table now.
fn event(base: u64, records: &[(&str, &str, Value, bool)]) -> Event {
    event_removed_at(base, records, time::OffsetDateTime::now_utc().unix_timestamp())
}

/// The same, removed at `removed` (epoch seconds).
fn event_removed_at(base: u64, records: &[(&str, &str, Value, bool)], removed: i64) -> Event {
    let changes: Vec<(&str, Value, Value)> = records
        .iter()
        .map(|(name, _, image, _)| match *name {
            "INSERT" => (*name, Value::Null, image.clone()),
            _ => (*name, image.clone(), Value::Null),
        })
        .collect();
    let mut event = testkit::dynamodb_stream_event(&changes);
    for (i, (_, table, _, by_ttl)) in records.iter().enumerate() {
        let record = &mut event["Records"][i];
        record["eventSourceARN"] =
            json!(format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000"));
        record["dynamodb"]["SequenceNumber"] = json!((base + i as u64).to_string());
        record["dynamodb"]["ApproximateCreationDateTime"] = json!(removed);
        record["dynamodb"]["Keys"] = json!({"pk": {"S": "key"}});
        // The sample carries the TTL identity; a delete by code or by hand carries none.
        if *by_ttl {
            record["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
        } else {
            record.as_object_mut().unwrap().remove("userIdentity");
        }
    }
    serde_json::from_value(event).unwrap()
}

/// Every archived row under a table's day, by object key.
async fn archived(s: &Setup, prefix: &str) -> Vec<(String, Vec<Value>)> {
    let listed = s.s3.list_objects_v2().bucket(&s.bucket).prefix(prefix).send().await.unwrap();
    let mut objects = Vec::new();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        let body = s.s3.get_object().bucket(&s.bucket).key(key).send().await.unwrap();
        let bytes = body.body.collect().await.unwrap().into_bytes();
        let rows = gunzip(&bytes).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        objects.push((key.to_owned(), rows));
    }
    objects
}

fn prefix(table: &str, epoch: i64) -> String {
    let day = time::OffsetDateTime::from_unix_timestamp(epoch).unwrap().date();
    format!("table={table}/year={:04}/month={:02}/day={:02}/", day.year(), u8::from(day.month()), day.day())
}

#[tokio::test]
async fn expiries_are_archived_by_day_once_and_nothing_else() {
    let s = setup().await;
    let day = unique_day();
    let next_day = day + 86_400;
    let base = 9_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let batch = [
        ("REMOVE", ALERTS, alert_image("a1", day + 10), true),
        ("REMOVE", ALERTS, alert_image("a2", day + 20), true),
        ("REMOVE", ALERTS, alert_image("hand", day + 30), false),
        ("INSERT", ALERTS, alert_image("new", day + 40), false),
        ("REMOVE", ALERTS, alert_image("a3", next_day + 5), true),
        (
            "REMOVE",
            DELIVERIES,
            json!({"id": {"S": "x#y"}, "state": {"S": "SENT"}, "expiresAt": {"N": (day + 1).to_string()}}),
            true,
        ),
    ];
    let response = handle(&s.archiver, event(base, &batch), deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(s.archiver.metrics.flushed_total(RECORDS_SKIPPED), 2, "a user's delete and an insert");

    let first = archived(&s, &prefix("alerts", day)).await;
    assert_eq!(first.len(), 1, "one run, one object: {first:?}");
    assert_eq!(first[0].0, format!("{}{base}.jsonl.gz", prefix("alerts", day)), "named by its first record");
    let ids: Vec<&str> = first[0].1.iter().map(|r| r["item"]["sk"].as_str().unwrap()).collect();
    assert_eq!(ids, ["ALERT#a1", "ALERT#a2"]);
    let row = &first[0].1[0];
    assert_eq!(row["table"], "alerts");
    assert_eq!(row["item"]["minutes"], 45, "numbers as numbers");
    assert_eq!(row["sequenceNumber"], base.to_string());
    let expired = time::OffsetDateTime::from_unix_timestamp(day + 10).unwrap();
    assert_eq!(row["expiredAt"], expired.format(&time::format_description::well_known::Rfc3339).unwrap());

    let second = archived(&s, &prefix("alerts", next_day)).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].0, format!("{}{}.jsonl.gz", prefix("alerts", next_day), base + 4));
    assert_eq!(second[0].1.len(), 1);
    let deliveries = archived(&s, &prefix("sms-deliveries", day)).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].1[0]["item"], json!({"alertId": "x", "state": "SENT", "expiresAt": day + 1}), "no digest");

    // Delivered again (a retry after a lost response): the same objects, the same rows.
    let again = handle(&s.archiver, event(base, &batch), deadline()).await.unwrap();
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(archived(&s, &prefix("alerts", day)).await, first);
    assert_eq!(archived(&s, &prefix("alerts", next_day)).await, second);
}

#[tokio::test]
async fn a_record_that_can_never_be_archived_is_dead_lettered_whole_and_the_batch_goes_on() {
    let s = setup().await;
    let day = unique_day();
    let base = 7_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let batch = [
        ("REMOVE", ALERTS, alert_image("b1", day), true),
        ("REMOVE", "some-other-table", alert_image("b2", day), true),
        ("REMOVE", ALERTS, json!({}), true),
        ("REMOVE", ALERTS, alert_image("b4", day), true),
    ];
    let response = handle(&s.archiver, event(base, &batch), deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "acknowledged: retrying cannot help");
    assert_eq!(s.archiver.metrics.flushed_total(RECORDS_DEAD_LETTERED), 2);
    let objects = archived(&s, &prefix("alerts", day)).await;
    let keys: Vec<&str> = objects.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            format!("{}{base}.jsonl.gz", prefix("alerts", day)),
            format!("{}{}.jsonl.gz", prefix("alerts", day), base + 3)
        ],
        "the runs either side of them"
    );
    let letters = dead_lettered(&s, &[(base + 1).to_string(), (base + 2).to_string()]).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    assert!(letters.iter().any(|l| l["reason"].as_str().unwrap().contains("some-other-table")));
    assert!(letters.iter().any(|l| l["reason"].as_str().unwrap().contains("old image")));
    assert!(letters.iter().all(|l| l["record"]["eventName"] == "REMOVE"), "the record, whole");
}

#[tokio::test]
async fn what_cannot_be_written_now_is_reported_for_a_retry() {
    let s = setup().await;
    let day = unique_day();
    let base = 5_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let batch = [("REMOVE", ALERTS, alert_image("c1", day), true), ("REMOVE", ALERTS, alert_image("c2", day), true)];
    let reported = |response: aws_lambda_events::event::streams::DynamoDbEventResponse| -> Vec<Option<String>> {
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    };

    // S3 refusing: the whole run is retried from its first record.
    let broken = archiver(&s.s3, &s.sqs, "no-such-archive-bucket", &s.dead_letters);
    let response = handle(&broken, event(base, &batch), deadline()).await.unwrap();
    assert_eq!(reported(response), [Some(base.to_string())]);

    // Too close to the deadline to start a write: the same, and nothing written.
    let response = handle(&s.archiver, event(base, &batch), Deadline::after(Duration::from_secs(2))).await.unwrap();
    assert_eq!(reported(response), [Some(base.to_string())]);
    assert!(archived(&s, &prefix("alerts", day)).await.is_empty());

    // The dead-letter queue refusing a record that can never be archived: retried from
    // that record, after the run before it was written.
    let broken = archiver(&s.s3, &s.sqs, &s.bucket, "http://127.0.0.1:9/no-such-queue");
    let batch =
        [("REMOVE", ALERTS, alert_image("c3", day), true), ("REMOVE", "elsewhere", alert_image("c4", day), true)];
    let response = handle(&broken, event(base + 50, &batch), deadline()).await.unwrap();
    assert_eq!(reported(response), [Some((base + 51).to_string())]);
    assert_eq!(archived(&s, &prefix("alerts", day)).await.len(), 1);
}

#[tokio::test]
async fn a_run_that_could_not_be_written_for_twenty_hours_is_parked_whole_before_the_stream_drops_it() {
    let s = setup().await;
    let day = unique_day();
    let base = 3_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let batch = [("REMOVE", ALERTS, alert_image("p1", day), true), ("REMOVE", ALERTS, alert_image("p2", day), true)];
    let reported = |response: aws_lambda_events::event::streams::DynamoDbEventResponse| -> Vec<Option<String>> {
        response.batch_item_failures.into_iter().map(|f| f.item_identifier).collect()
    };
    let broken = archiver(&s.s3, &s.sqs, "no-such-archive-bucket", &s.dead_letters);

    // Removed 19 hours ago: the stream still holds the records for hours; retried.
    let response = handle(&broken, event_removed_at(base, &batch, now - 19 * 3_600), deadline()).await.unwrap();
    assert_eq!(reported(response), [Some(base.to_string())]);
    assert_eq!(broken.metrics.flushed_total(RECORDS_PARKED), 0);

    // Removed 21 hours ago: parked, each record whole and marked for the redrive, and
    // acknowledged.
    let response = handle(&broken, event_removed_at(base + 10, &batch, now - 21 * 3_600), deadline()).await.unwrap();
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(broken.metrics.flushed_total(RECORDS_PARKED), 2);
    let letters = dead_lettered(&s, &[(base + 10).to_string(), (base + 11).to_string()]).await;
    assert_eq!(letters.len(), 2, "{letters:?}");
    for letter in &letters {
        assert_eq!(letter[PARKED], true);
        assert!(letter["reason"].as_str().unwrap().contains("S3 PutObject failed"), "{letter}");
        assert_eq!(letter["record"]["userIdentity"]["principalId"], "dynamodb.amazonaws.com", "the record, whole");
    }
    let ids: Vec<&str> =
        letters.iter().map(|l| l["record"]["dynamodb"]["OldImage"]["sk"]["S"].as_str().unwrap()).collect();
    assert!(ids.contains(&"ALERT#p1") && ids.contains(&"ALERT#p2"), "{ids:?}");

    // Neither S3 nor the queue taking them: nothing is acknowledged.
    let worse = archiver(&s.s3, &s.sqs, "no-such-archive-bucket", "http://127.0.0.1:9/no-such-queue");
    let response = handle(&worse, event_removed_at(base + 20, &batch, now - 21 * 3_600), deadline()).await.unwrap();
    assert_eq!(reported(response), [Some((base + 20).to_string())]);
}

#[tokio::test]
async fn events_of_other_sources_fail_the_invocation() {
    let s = setup().await;
    let mut kinesis = testkit::aws_sample("example-dynamodb-event.json");
    kinesis["Records"][0]["eventSource"] = json!("aws:kinesis");
    let refused = handle(&s.archiver, serde_json::from_value(kinesis).unwrap(), deadline()).await.unwrap_err();
    assert_eq!(refused.0, "aws:kinesis");
}
