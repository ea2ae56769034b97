//! The roll-up against moto's S3: a day's archive counted into its report, each row once
//! (the same row in two objects, as a bisected redelivery can leave it), written once
//! however often it runs, the scheduled event's days the week before it fired, an
//! unreadable archive object failing the run instead of being skipped, and a run out of
//! time failing with the days it finished written.

use std::sync::atomic::{AtomicU32, Ordering};

use std::time::Duration;

use super::{Rollup, RollupError, handle};
use adapters::archive::{ArchiveBucket, DailyReports};
use adapters::deadline::Deadline;
use serde_json::{Value, json};

struct Setup {
    rollup: Rollup,
    s3: aws_sdk_s3::Client,
    archive: String,
    results: String,
}

async fn setup() -> Setup {
    let config = testkit::moto().await;
    let resources = testkit::provision(&config).await;
    let archive = resources.get("ArchiveBucket").unwrap().reference.clone();
    let results = resources.get("AnalyticsResultsBucket").unwrap().reference.clone();
    let s3 = aws_sdk_s3::Client::new(&config);
    Setup {
        rollup: Rollup {
            archive: ArchiveBucket::new(s3.clone(), &archive),
            reports: DailyReports::new(s3.clone(), &results),
        },
        s3,
        archive,
        results,
    }
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(60))
}

/// A day (YYYY, MM, DD) of its own for each test, from 2200 on so no other data shares it,
/// with a week free before it (a scheduled run covers the week before it fired).
fn unique_day() -> (i32, u8, u8) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = (std::process::id() % 5_000) * 40 + NEXT.fetch_add(1, Ordering::Relaxed) * 8 + 7;
    let day =
        time::Date::from_calendar_date(2200, time::Month::January, 1).unwrap() + time::Duration::days(i64::from(n));
    (day.year(), u8::from(day.month()), day.day())
}

fn iso((y, m, d): (i32, u8, u8)) -> String {
    format!("{y:04}-{m:02}-{d:02}")
}

fn prefix(table: &str, (y, m, d): (i32, u8, u8)) -> String {
    format!("table={table}/year={y:04}/month={m:02}/day={d:02}/")
}

fn alert(seq: u32, carrier: &str, kind: &str) -> String {
    json!({"table": "alerts", "sequenceNumber": seq.to_string(), "expiredAt": "x",
           "item": {"sk": format!("ALERT#{seq}"), "carrier": carrier, "origin": "EWR", "destination": "ORD", "type": kind}})
    .to_string()
        + "\n"
}

fn delivery(seq: u32, state: &str) -> String {
    json!({"table": "sms-deliveries", "sequenceNumber": seq.to_string(), "expiredAt": "x", "item": {"state": state, "reason": "InvalidParameter"}})
        .to_string()
        + "\n"
}

async fn put(s: &Setup, key: &str, lines: &str) {
    s.rollup.archive.put_lines(key, lines).await.unwrap();
}

async fn report(s: &Setup, day: (i32, u8, u8)) -> (Value, usize) {
    let (y, m, d) = day;
    let key = format!("rollups/daily/year={y:04}/month={m:02}/day={d:02}/report.json");
    let out = s.s3.get_object().bucket(&s.results).key(&key).send().await.unwrap();
    let body: Value = serde_json::from_slice(&out.body.collect().await.unwrap().into_bytes()).unwrap();
    let versions = s.s3.list_object_versions().bucket(&s.results).prefix(&key).send().await.unwrap();
    (body, versions.versions().len())
}

#[tokio::test]
async fn a_days_archive_is_counted_once_into_one_report() {
    let s = setup().await;
    let day = unique_day();
    put(
        &s,
        &format!("{}100.jsonl.gz", prefix("alerts", day)),
        &(alert(100, "UA", "delay") + &alert(101, "UA", "delay") + &alert(102, "B6", "cancellation")),
    )
    .await;
    // A bisected redelivery's second half: row 102 again, under its own first record.
    put(
        &s,
        &format!("{}102.jsonl.gz", prefix("alerts", day)),
        &(alert(102, "B6", "cancellation") + &alert(103, "UA", "gateChange")),
    )
    .await;
    put(
        &s,
        &format!("{}7.jsonl.gz", prefix("sms-deliveries", day)),
        &(delivery(7, "SENT") + &delivery(8, "SENT") + &delivery(9, "FAILED")),
    )
    .await;
    // Another day's rows are not this day's.
    let (y, m, d) = day;
    let other = (y, m, if d == 1 { 2 } else { d - 1 });
    put(&s, &format!("{}500.jsonl.gz", prefix("alerts", other)), &alert(500, "UA", "delay")).await;

    let out = handle(&s.rollup, json!({"day": iso(day)}), deadline()).await.unwrap()["days"][0].clone();
    assert_eq!(out["written"], "new");
    assert_eq!(out["archiveObjects"], 3);
    let (report, versions) = report(&s, day).await;
    assert_eq!(versions, 1);
    assert_eq!(report["day"], iso(day));
    assert_eq!(report["alerts"]["total"], 4, "row 102 once: {report}");
    assert_eq!(
        report["alerts"]["byCarrierRouteKind"],
        json!([
            {"carrier": "B6", "origin": "EWR", "destination": "ORD", "kind": "cancellation", "alerts": 1},
            {"carrier": "UA", "origin": "EWR", "destination": "ORD", "kind": "delay", "alerts": 2},
            {"carrier": "UA", "origin": "EWR", "destination": "ORD", "kind": "gateChange", "alerts": 1}
        ])
    );
    assert_eq!(report["texts"]["sent"], 2);
    assert_eq!(report["texts"]["failed"], 1);

    // Run again: the same report, not written again.
    let again = handle(&s.rollup, json!({"day": iso(day)}), deadline()).await.unwrap()["days"][0].clone();
    assert_eq!(again["written"], "unchanged");
    assert_eq!(self::report(&s, day).await.1, 1, "one version of the report");

    // A row archived late changes the report: replaced.
    put(&s, &format!("{}104.jsonl.gz", prefix("alerts", day)), &alert(104, "AA", "delay")).await;
    assert_eq!(
        handle(&s.rollup, json!({"day": iso(day)}), deadline()).await.unwrap()["days"][0]["written"],
        "replaced"
    );
    assert_eq!(self::report(&s, day).await.0["alerts"]["total"], 5);
}

#[tokio::test]
async fn the_schedule_rolls_up_the_day_before_it_fired() {
    let s = setup().await;
    let day = unique_day();
    put(&s, &format!("{}1.jsonl.gz", prefix("alerts", day)), &alert(1, "DL", "delay")).await;
    let next = time::Date::from_calendar_date(day.0, time::Month::try_from(day.1).unwrap(), day.2)
        .unwrap()
        .next_day()
        .unwrap();
    let scheduled = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "time": format!("{}T00:30:00Z", iso((next.year(), u8::from(next.month()), next.day()))), "resources": [], "detail": {}});
    let out = handle(&s.rollup, scheduled, deadline()).await.unwrap();
    let days: Vec<&str> = out["days"].as_array().unwrap().iter().map(|d| d["day"].as_str().unwrap()).collect();
    assert_eq!(days.len(), 7, "the week before it fired");
    assert_eq!(days[0], iso(day), "the day before first");
    assert_eq!(report(&s, day).await.0["alerts"]["total"], 1);
}

#[tokio::test]
async fn an_unreadable_archive_fails_the_run() {
    let s = setup().await;
    let day = unique_day();
    s.s3.put_object()
        .bucket(&s.archive)
        .key(format!("{}1.jsonl.gz", prefix("alerts", day)))
        .body(b"not gzip".to_vec().into())
        .send()
        .await
        .unwrap();
    let err = handle(&s.rollup, json!({"day": iso(day)}), deadline()).await.unwrap_err();
    assert!(matches!(err, RollupError::Store(_)), "{err}");
    put(&s, &format!("{}1.jsonl.gz", prefix("alerts", day)), "not json\n").await;
    let err = handle(&s.rollup, json!({"day": iso(day)}), deadline()).await.unwrap_err();
    assert!(matches!(err, RollupError::Line { line: 1, .. }), "{err}");
    assert!(matches!(handle(&s.rollup, json!({"nothing": 1}), deadline()).await, Err(RollupError::Day(_))));
}

#[tokio::test]
async fn runs_of_one_day_at_the_same_moment_write_its_report_once() {
    let s = setup().await;
    let day = unique_day();
    put(&s, &format!("{}1.jsonl.gz", prefix("alerts", day)), &(alert(1, "AA", "delay") + &alert(2, "AA", "delay")))
        .await;
    // Six runs interleaved on this task: each reads, compares and writes while the others do.
    let runs = (0..6).map(|_| handle(&s.rollup, json!({"day": iso(day)}), deadline()));
    let outcomes: Vec<String> = futures::future::join_all(runs)
        .await
        .into_iter()
        .map(|out| out.unwrap()["days"][0]["written"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes.iter().filter(|w| *w == "new").count(), 1, "{outcomes:?}");
    assert!(outcomes.iter().all(|w| w == "new" || w == "unchanged"), "{outcomes:?}");
    let (report, versions) = report(&s, day).await;
    assert_eq!(versions, 1, "one version");
    assert_eq!(report["alerts"]["total"], 2);
}

#[tokio::test]
async fn a_run_out_of_time_fails_saying_which_day_it_was_counting() {
    let s = setup().await;
    let day = unique_day();
    put(&s, &format!("{}1.jsonl.gz", prefix("alerts", day)), &alert(1, "UA", "delay")).await;
    // Within the margin kept for the report's write: no object is read, nothing written.
    let err = handle(&s.rollup, json!({"day": iso(day)}), Deadline::after(Duration::from_secs(5))).await.unwrap_err();
    match err {
        RollupError::OutOfTime { day: counting, objects: 0, done } => {
            assert_eq!(counting, iso(day));
            assert!(done.is_empty());
        }
        other => panic!("{other}"),
    }
    let key = format!("rollups/daily/year={:04}/month={:02}/day={:02}/report.json", day.0, day.1, day.2);
    assert!(s.s3.head_object().bucket(&s.results).key(key).send().await.is_err(), "no report written");
}
