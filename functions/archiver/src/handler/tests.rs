//! The archiver fed with the official sample DynamoDB stream event, shaped as the archived
//! tables' records, against moto's S3: expiries archived once per run, a user's delete
//! and other records never, a redelivered batch overwriting its own objects, a record that
//! cannot be archived reported with everything after it.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{Archiver, RECORDS_SKIPPED, handle};
use adapters::archive::ArchiveBucket;
use adapters::archive::archive_bucket::gunzip;
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
    bucket: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let bucket = resources.get("ArchiveBucket").unwrap().reference.clone();
    let s3 = aws_sdk_s3::Client::new(&config);
    Setup { archiver: archiver(&s3, &bucket), s3, bucket }
}

fn archiver(s3: &aws_sdk_s3::Client, bucket: &str) -> Archiver {
    Archiver {
        archive: ArchiveBucket::new(s3.clone(), bucket),
        tables: vec![(ALERTS.to_owned(), ArchivedTable::Alerts), (DELIVERIES.to_owned(), ArchivedTable::SmsDeliveries)],
        metrics: Metrics::in_memory(super::METRICS),
    }
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

/// A record as the archiver's mapping delivers it: `(event name, table, old image, by TTL)`.
fn event(base: u64, records: &[(&str, &str, Value, bool)]) -> Event {
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
    assert_eq!(deliveries[0].1[0]["item"]["state"], "SENT");

    // Delivered again (a retry after a lost response): the same objects, the same rows.
    let again = handle(&s.archiver, event(base, &batch), deadline()).await.unwrap();
    assert!(again.batch_item_failures.is_empty());
    assert_eq!(archived(&s, &prefix("alerts", day)).await, first);
    assert_eq!(archived(&s, &prefix("alerts", next_day)).await, second);
}

#[tokio::test]
async fn a_record_that_cannot_be_archived_is_reported_after_what_came_before_is_written() {
    let s = setup().await;
    let day = unique_day();
    let base = 7_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let batch = [
        ("REMOVE", ALERTS, alert_image("b1", day), true),
        ("REMOVE", "some-other-table", alert_image("b2", day), true),
        ("REMOVE", ALERTS, alert_image("b3", day), true),
    ];
    let response = handle(&s.archiver, event(base, &batch), deadline()).await.unwrap();
    let reported: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(reported, [Some((base + 1).to_string())], "retried from the record that failed");
    let objects = archived(&s, &prefix("alerts", day)).await;
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].1.len(), 1, "only the record before it: {objects:?}");

    // An expiry without its old image (a stream that does not carry one) is never acknowledged.
    let no_image = [("REMOVE", ALERTS, json!({}), true)];
    let response = handle(&s.archiver, event(base + 50, &no_image), deadline()).await.unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn a_failing_bucket_acknowledges_nothing() {
    let s = setup().await;
    let broken = archiver(&s.s3, "no-such-archive-bucket");
    let day = unique_day();
    let base = 5_000_000 + u64::try_from(day / 86_400).unwrap() * 100;
    let batch = [("REMOVE", ALERTS, alert_image("c1", day), true), ("REMOVE", ALERTS, alert_image("c2", day), true)];
    let response = handle(&broken, event(base, &batch), deadline()).await.unwrap();
    let reported: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
    assert_eq!(reported, [Some(base.to_string())], "the whole run is retried");
}

#[tokio::test]
async fn events_of_other_sources_fail_the_invocation() {
    let s = setup().await;
    let mut kinesis = testkit::aws_sample("example-dynamodb-event.json");
    kinesis["Records"][0]["eventSource"] = json!("aws:kinesis");
    let refused = handle(&s.archiver, serde_json::from_value(kinesis).unwrap(), deadline()).await.unwrap_err();
    assert_eq!(refused.0, "aws:kinesis");
}
