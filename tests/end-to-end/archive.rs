//! Transient data, end to end through the local environment: alerts and SMS delivery
//! records expire by TTL (the environment's clock moved past their retention, its sweeper
//! deleting them as DynamoDB does), the archiver writes each exactly once to the archive
//! bucket, a delete by hand is never archived, a redelivered or bisected stream batch
//! doubles nothing, an expired item not yet deleted is not served by the API, and the daily
//! roll-up, fired by its schedule or run for a day, writes one report with the right counts,
//! the same as SQL (DuckDB) over the archive's Hive partitions. And while S3 refuses the
//! archive's writes, nothing is acknowledged: the records wait in the stream, and those
//! about to leave it are parked whole, to be redriven into the archive once.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

mod support;
use support::LocalEnv;

const WAIT: Duration = Duration::from_secs(120);

/// Every archived row under `table=<table>/`, with the key of the object holding it.
async fn archived(s3: &aws_sdk_s3::Client, bucket: &str, table: &str) -> Vec<(String, Value)> {
    let listed = s3.list_objects_v2().bucket(bucket).prefix(format!("table={table}/")).send().await.unwrap();
    let mut rows = Vec::new();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        let object = s3.get_object().bucket(bucket).key(key).send().await.unwrap();
        let bytes = object.body.collect().await.unwrap().into_bytes();
        let text = adapters::archive::archive_bucket::gunzip(&bytes).unwrap();
        for line in text.lines() {
            rows.push((key.to_owned(), serde_json::from_str(line).unwrap()));
        }
    }
    rows
}

/// The day (YYYY-MM-DD) of an object's partition.
fn partition_day(key: &str) -> String {
    let part = |name: &str| key.split('/').find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap().to_owned();
    format!("{}-{}-{}", part("year"), part("month"), part("day"))
}

/// A plain JSON item back in DynamoDB JSON (strings and numbers are all these items hold).
fn dynamo_json(item: &Value) -> Value {
    let attributes = item.as_object().unwrap().iter().map(|(name, value)| {
        let typed = match value {
            Value::String(s) => json!({"S": s}),
            Value::Number(n) => json!({"N": n.to_string()}),
            other => panic!("unexpected attribute {name}: {other}"),
        };
        (name.clone(), typed)
    });
    Value::Object(attributes.collect())
}

/// The alerts table's stream records of `rows` as the archiver's mapping delivers them.
fn redelivery(rows: &[Value], table: &str) -> Value {
    let records: Vec<Value> = rows
        .iter()
        .map(|row| {
            json!({
                "eventID": format!("redelivered-{}", row["sequenceNumber"].as_str().unwrap()),
                "eventName": "REMOVE", "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
                "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
                "dynamodb": {
                    "ApproximateCreationDateTime": 1_700_000_000,
                    "Keys": {"pk": {"S": row["item"]["pk"]}, "sk": {"S": row["item"]["sk"]}},
                    "OldImage": dynamo_json(&row["item"]),
                    "SequenceNumber": row["sequenceNumber"], "SizeBytes": 100, "StreamViewType": "NEW_AND_OLD_IMAGES"
                },
                "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-01-01T00:00:00.000")
            })
        })
        .collect();
    json!({"Records": records})
}

async fn invoke(env: &LocalEnv, function: &str, payload: &Value) -> Value {
    let response = reqwest::Client::new().post(env.invoke_url(function)).json(payload).send().await.unwrap();
    assert!(response.headers().get("x-amz-function-error").is_none(), "{function} failed");
    response.json().await.unwrap()
}

async fn read_report(s3: &aws_sdk_s3::Client, bucket: &str, day: &str) -> Option<(Value, usize)> {
    let (y, m, d) = (&day[..4], &day[5..7], &day[8..10]);
    let key = format!("rollups/daily/year={y}/month={m}/day={d}/report.json");
    let object = s3.get_object().bucket(bucket).key(&key).send().await.ok()?;
    let report = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    let versions = s3.list_object_versions().bucket(bucket).prefix(&key).send().await.unwrap();
    Some((report, versions.versions().len()))
}

fn day_before(now: &str) -> String {
    let now = time::OffsetDateTime::parse(now, &time::format_description::well_known::Rfc3339).unwrap();
    let day = (now - time::Duration::days(1)).date();
    format!("{:04}-{:02}-{:02}", day.year(), u8::from(day.month()), day.day())
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_items_are_archived_exactly_once_and_rolled_up_daily() {
    let mobiles: Vec<String> = (0..2).map(|_| testkit::unique_mobile()).collect();
    let refused = format!("sns:Publish@{}=invalid", mobiles[1]);
    let env = LocalEnv::start(&[
        // Objects as soon as a batch is in, and sweeps only when the test asks.
        "--parameter",
        "ArchiveBatchingWindowSeconds=0",
        "--ttl-sweep-interval",
        "24h",
        // SNS refuses the second passenger's number for good: a failed text to count.
        "--fault",
        &refused,
    ]);
    let http = env.client();
    let config = env.aws().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let archive = env.resource("ArchiveBucket", "reference");
    let results = env.resource("AnalyticsResultsBucket", "reference");
    let alerts_table = env.resource("AlertsTable", "reference");

    // A flight with two passengers, and four alerts: each texted to both (one refused).
    let date = testkit::departure_date();
    let flight = json!({
        "carrier": "UA", "flightNumber": "990", "date": date, "origin": "EWR", "destination": "SFO",
        "scheduledDeparture": format!("{date}T09:00:00-05:00"),
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("Passenger {i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    });
    assert_eq!(http.post(env.api("/flights")).json(&flight).send().await.unwrap().status(), 201);
    let flight_id = format!("UA990-{date}");
    let events = [
        json!({"type": "delay", "minutes": 45, "reason": "Fog"}),
        json!({"type": "gateChange", "gate": "B12", "reason": "Operations"}),
        json!({"type": "cancellation", "reason": "Crew"}),
        json!({"type": "delay", "minutes": 90, "reason": "Fog"}),
    ];
    let mut alert_ids = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let response = http
            .post(env.api(&format!("/flights/{flight_id}/events")))
            .header("idempotency-key", format!("archive-e2e-{i}"))
            .json(event)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        alert_ids.push(response.json::<Value>().await.unwrap()["alertId"].as_str().unwrap().to_owned());
    }
    testkit::eventually(WAIT, "every alert texted or refused", || async {
        let finished = env.logs().iter().filter(|l| l.starts_with("[sms]") && l.contains("alert delivered")).count();
        (finished >= events.len()).then_some(())
    })
    .await;
    let listed: Value =
        http.get(env.api(&format!("/alerts?flightId={flight_id}"))).send().await.unwrap().json().await.unwrap();
    let served: HashMap<String, Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["alertId"].as_str().unwrap().to_owned(), a.clone()))
        .collect();
    assert_eq!(served.len(), 4);

    // The fourth alert is deleted by hand: never archived.
    let (by_hand, expired_early) = (&alert_ids[3], &alert_ids[2]);
    let key = |id: &str| {
        HashMap::from([
            ("pk".to_owned(), AttributeValue::S(format!("FLIGHT#{flight_id}"))),
            ("sk".to_owned(), AttributeValue::S(format!("ALERT#{id}"))),
        ])
    };
    dynamo.delete_item().table_name(&alerts_table).set_key(Some(key(by_hand))).send().await.unwrap();

    // The third alert's TTL passes now (DynamoDB has not deleted it yet): no longer served.
    let past = (time::OffsetDateTime::now_utc().unix_timestamp() - 60).to_string();
    dynamo
        .update_item()
        .table_name(&alerts_table)
        .set_key(Some(key(expired_early)))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::N(past))
        .send()
        .await
        .unwrap();
    let listed: Value =
        http.get(env.api(&format!("/alerts?flightId={flight_id}"))).send().await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = listed["items"].as_array().unwrap().iter().map(|a| a["alertId"].as_str().unwrap()).collect();
    assert_eq!(ids, [alert_ids[1].as_str(), alert_ids[0].as_str()], "newest first, the expired one left out");

    // Past every retention (alerts 30 days, SMS records 15), then DynamoDB's TTL deletes.
    env.local_json(&["advance", "31d"]);
    let swept = env.local_json(&["sweep"]);
    assert!(swept["deleted"]["AlertsTable"].as_u64().unwrap() >= 3, "{swept}");

    // Each expired alert exactly once in the archive, as it was served; the one deleted
    // by hand not at all. The idempotency keys expire with their alerts and are kept too.
    let rows = testkit::eventually(WAIT, "the alerts archived", || async {
        let rows = archived(&s3, &archive, "alerts").await;
        (rows.iter().filter(|(_, r)| r["item"]["sk"].as_str().unwrap().starts_with("ALERT#")).count() >= 3)
            .then_some(rows)
    })
    .await;
    let alert_rows: Vec<&Value> =
        rows.iter().map(|(_, r)| r).filter(|r| r["item"]["sk"].as_str().unwrap().starts_with("ALERT#")).collect();
    for id in &alert_ids[..3] {
        let found: Vec<&&Value> = alert_rows.iter().filter(|r| r["item"]["alertId"] == id.as_str()).collect();
        assert_eq!(found.len(), 1, "alert {id} archived once: {rows:?}");
        let item = &found[0]["item"];
        for field in ["flightId", "type", "reason", "message", "issuedAt"] {
            assert_eq!(item[field], served[id][field], "{field} of {id}");
        }
        assert_eq!(
            (&item["carrier"], &item["origin"], &item["destination"]),
            (&json!("UA"), &json!("EWR"), &json!("SFO"))
        );
        assert_eq!(found[0]["table"], "alerts");
    }
    assert!(alert_rows.iter().all(|r| r["item"]["alertId"] != by_hand.as_str()), "a delete by hand is not an expiry");
    // Kept out by the mappings' filters: the archiver, whose metrics are logged, never
    // even saw a record to skip.
    testkit::eventually(WAIT, "the archiver's metrics logged", || async {
        (env.metric_total("archiver", "RowsArchived") >= 3).then_some(())
    })
    .await;
    assert_eq!(env.metric_total("archiver", "RecordsSkipped"), 0);
    assert_eq!(alert_rows.len(), 3);
    let keys_archived = rows.iter().filter(|(_, r)| r["item"]["sk"].as_str().unwrap().starts_with("KEY#")).count();
    assert_eq!(keys_archived, 4, "the four idempotency keys");

    // SMS delivery records: two per alert, the refused number's FAILED.
    let deliveries = testkit::eventually(WAIT, "the SMS records archived", || async {
        let rows = archived(&s3, &archive, "sms-deliveries").await;
        (rows.len() >= 8).then_some(rows)
    })
    .await;
    assert_eq!(deliveries.len(), 8, "{deliveries:?}");
    let states: Vec<&str> = deliveries.iter().map(|(_, r)| r["item"]["state"].as_str().unwrap()).collect();
    assert_eq!(states.iter().filter(|s| **s == "SENT").count(), 4);
    assert_eq!(states.iter().filter(|s| **s == "FAILED").count(), 4);

    // The same records delivered again, whole and then bisected, as Lambda retries: the
    // same objects are overwritten, nothing is doubled.
    let mut objects: HashMap<String, Vec<Value>> = HashMap::new();
    for (key, row) in &rows {
        objects.entry(key.clone()).or_default().push(row.clone());
    }
    // The sweep deleted the seven items at once, so the stream delivered them together:
    // some object holds several rows, and its bisection really cuts it.
    assert!(objects.values().any(|batch| batch.len() >= 2), "no object to bisect: {objects:?}");
    for batch in objects.values() {
        invoke(&env, "archiver", &redelivery(batch, &alerts_table)).await;
        let half = batch.len().div_ceil(2);
        invoke(&env, "archiver", &redelivery(&batch[..half], &alerts_table)).await;
        invoke(&env, "archiver", &redelivery(&batch[half..], &alerts_table)).await;
    }
    let after = archived(&s3, &archive, "alerts").await;
    let mut sequences: Vec<&str> = after.iter().map(|(_, r)| r["sequenceNumber"].as_str().unwrap()).collect();
    sequences.sort_unstable();
    let total = sequences.len();
    sequences.dedup();
    assert_eq!((total, sequences.len()), (rows.len(), rows.len()), "no row twice: {after:?}");

    // The schedule: moving the clock fired it once already (before the sweep); fired
    // again now, it rolls up the day before the environment's clock: the alerts' day,
    // 30 days after they were issued (the clock is 31 days on).
    let first_alert = alert_rows.iter().find(|r| r["item"]["alertId"] == alert_ids[0].as_str()).unwrap();
    let day = partition_day_of(&rows, first_alert);
    let on_day = alert_rows.iter().filter(|r| partition_day_of(&rows, r) == day).count() as u64;
    let before = env.local_json(&["status"])["clock"]["now"].as_str().unwrap().to_owned();
    env.local_json(&["fire", "RollupFunction.Daily"]);
    let after = env.local_json(&["status"])["clock"]["now"].as_str().unwrap().to_owned();
    let candidates = [day_before(&before), day_before(&after)];
    if candidates.contains(&day) {
        let (report, versions) = testkit::eventually(WAIT, "the scheduled roll-up's report", || async {
            let (report, versions) = read_report(&s3, &results, &day).await?;
            (report["alerts"]["total"] == on_day).then_some((report, versions))
        })
        .await;
        assert_eq!(report["day"], day.as_str());
        // Per carrier, route and kind, as the archived alerts of the day (each checked
        // above against the alert the API served) say.
        let mut expected: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
        for row in alert_rows.iter().filter(|r| partition_day_of(&rows, r) == day) {
            *expected.entry(row["item"]["type"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        let groups: Vec<Value> = expected
            .iter()
            .map(|(kind, n)| json!({"carrier": "UA", "origin": "EWR", "destination": "SFO", "kind": kind, "alerts": n}))
            .collect();
        assert_eq!(report["alerts"]["byCarrierRouteKind"], json!(groups), "{report}");
        assert!(expected.contains_key("delay"), "the first alert is on its own day: {expected:?}");
        assert_eq!(report["archivedRows"]["alerts"], rows.iter().filter(|(k, _)| partition_day(k) == day).count());
        // Run again for the same day: the same report, not written again.
        let again = invoke(&env, "rollup", &json!({"day": day})).await;
        assert_eq!(again["days"][0]["written"], "unchanged", "{again}");
        assert_eq!(read_report(&s3, &results, &day).await.unwrap().1, versions);
    } else {
        // Midnight passed while the test ran: the schedule rolled up another day.
        testkit::eventually(WAIT, "the scheduled roll-up's report", || async {
            for candidate in &candidates {
                read_report(&s3, &results, candidate).await?;
            }
            Some(())
        })
        .await;
    }

    // The same figures from SQL: DuckDB runs the README's Athena query over a copy of
    // the archive, reading its Hive partitions and gzip JSON Lines as Athena does.
    invoke(&env, "rollup", &json!({"day": day})).await;
    let (report, _) = read_report(&s3, &results, &day).await.unwrap();
    let copy = std::env::temp_dir().join(format!("archive-{}", uuid::Uuid::new_v4().simple()));
    let listed = s3.list_objects_v2().bucket(&archive).send().await.unwrap();
    for key in listed.contents().iter().filter_map(|o| o.key()) {
        let object = s3.get_object().bucket(&archive).key(key).send().await.unwrap();
        let path = copy.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, object.body.collect().await.unwrap().into_bytes()).unwrap();
    }
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = std::process::Command::new(workspace.join(".venv/bin/python"))
        .arg(workspace.join("tools/archive/query.py"))
        .arg(&copy)
        .arg(&day)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let sql: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(sql, report["alerts"]["byCarrierRouteKind"], "the roll-up agrees with SQL over the archive");
    assert!(!sql.as_array().unwrap().is_empty());
    std::fs::remove_dir_all(&copy).unwrap();

    // The SMS records' day, on demand (as scripts/rollup DAY does): texts sent and failed,
    // one report however often it runs.
    let sms_day = partition_day(&deliveries[0].0);
    let first = invoke(&env, "rollup", &json!({"day": sms_day})).await;
    assert_eq!(first["days"][0]["written"], "new", "{first}");
    assert_eq!(invoke(&env, "rollup", &json!({"day": sms_day})).await["days"][0]["written"], "unchanged");
    let (report, versions) = read_report(&s3, &results, &sms_day).await.unwrap();
    assert_eq!(versions, 1, "written once");
    let on_sms_day: Vec<&str> = deliveries
        .iter()
        .filter(|(k, _)| partition_day(k) == sms_day)
        .map(|(_, r)| r["item"]["state"].as_str().unwrap())
        .collect();
    let texts = &report["texts"];
    let failed = on_sms_day.iter().filter(|s| **s == "FAILED").count();
    assert_eq!(texts["sent"], on_sms_day.iter().filter(|s| **s == "SENT").count(), "{report}");
    assert_eq!(texts["failed"], failed, "{report}");
    let by_reason = if failed > 0 { json!({"InvalidParameter": failed}) } else { json!({}) };
    assert_eq!(texts["failedByReason"], by_reason, "SNS refused the second number: {report}");
    assert_eq!(texts["unfinished"], 0);
}

/// The day of the object holding `row`.
fn partition_day_of(rows: &[(String, Value)], row: &Value) -> String {
    rows.iter().find(|(_, r)| r == row).map(|(key, _)| partition_day(key)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn while_s3_refuses_the_archive_expired_alerts_wait_in_the_stream_and_are_archived_once_after() {
    let env = LocalEnv::start(&[
        "--parameter",
        "ArchiveBatchingWindowSeconds=0",
        "--ttl-sweep-interval",
        "24h",
        // Stream retries come at once.
        "--retry-scale",
        "0.01",
    ]);
    let http = env.client();
    let s3 = aws_sdk_s3::Client::new(&env.aws().await);
    let archive = env.resource("ArchiveBucket", "reference");
    let date = testkit::departure_date();
    let flight = json!({
        "carrier": "B6", "flightNumber": "615", "date": date, "origin": "JFK", "destination": "BOS",
        "scheduledDeparture": format!("{date}T07:00:00-05:00"),
        "passengers": [{"name": "Passenger", "email": "p@example.com", "mobile": testkit::unique_mobile()}]
    });
    assert_eq!(http.post(env.api("/flights")).json(&flight).send().await.unwrap().status(), 201);
    let mut alert_ids = Vec::new();
    for minutes in [15, 30, 45, 60, 75, 90] {
        let response = http
            .post(env.api(&format!("/flights/B6615-{date}/events")))
            .json(&json!({"type": "delay", "minutes": minutes, "reason": "Traffic"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        alert_ids.push(response.json::<Value>().await.unwrap()["alertId"].as_str().unwrap().to_owned());
    }

    // S3 refuses every archive write (a 5xx) while the alerts expire.
    let (ok, text) = env.local(&["fault", "s3:PutObject@jsonl.gz=5xx:1"]);
    assert!(ok, "{text}");
    env.local_json(&["advance", "31d"]);
    env.local_json(&["sweep"]);
    let refused = |env: &LocalEnv| {
        env.invocations()
            .iter()
            .filter(|i| i["source"] == "dynamodb:AlertsTable" && i["function"] == "archiver")
            .filter(|i| i["outcome"] == "batch-item-failures")
            .count()
    };
    testkit::eventually(WAIT, "the archiver refused and retried", || async { (refused(&env) >= 3).then_some(()) })
        .await;
    assert!(archived(&s3, &archive, "alerts").await.is_empty(), "nothing acknowledged, nothing written");

    // S3 back: the records still in the stream are archived, each once.
    let (ok, text) = env.local(&["fault", "--clear"]);
    assert!(ok, "{text}");
    let rows = testkit::eventually(WAIT, "every alert archived once S3 is back", || async {
        let rows = archived(&s3, &archive, "alerts").await;
        alert_ids.iter().all(|id| rows.iter().any(|(_, r)| r["item"]["alertId"] == id.as_str())).then_some(rows)
    })
    .await;
    for id in &alert_ids {
        let copies = rows.iter().filter(|(_, r)| r["item"]["alertId"] == id.as_str()).count();
        assert_eq!(copies, 1, "alert {id} archived once: {rows:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expiries_parked_while_s3_refused_for_a_day_are_redriven_into_the_archive_once() {
    let env = LocalEnv::start(&["--ttl-sweep-interval", "24h"]);
    let config = env.aws().await;
    let s3 = aws_sdk_s3::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let archive = env.resource("ArchiveBucket", "reference");
    let alerts_table = env.resource("AlertsTable", "reference");
    let queue = env.resource("ArchiveFailuresQueue", "reference");

    // Three alerts DynamoDB expired 21 hours ago, their records still failing to be
    // archived: S3 has refused every write since.
    let (ok, text) = env.local(&["fault", "s3:PutObject@jsonl.gz=5xx:1"]);
    assert!(ok, "{text}");
    let expired = time::OffsetDateTime::now_utc().unix_timestamp() - 21 * 3_600;
    let base = u64::from(uuid::Uuid::new_v4().as_u128() as u32) * 1_000;
    let ids: Vec<String> = (0..3).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let rows: Vec<Value> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            json!({"sequenceNumber": (base + i as u64).to_string(), "item": {
                "pk": "FLIGHT#DL1-2026-01-01", "sk": format!("ALERT#{id}"), "alertId": id, "carrier": "DL",
                "origin": "ATL", "destination": "LAX", "type": "delay", "expiresAt": expired}})
        })
        .collect();
    let mut batch = redelivery(&rows, &alerts_table);
    for record in batch["Records"].as_array_mut().unwrap() {
        record["dynamodb"]["ApproximateCreationDateTime"] = json!(expired);
    }
    // Lambda's last tries before the stream drops them (the second, say, after a lost
    // answer): parked whole, and acknowledged.
    for _ in 0..2 {
        let answer = invoke(&env, "archiver", &batch).await;
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    assert!(archived(&s3, &archive, "alerts").await.is_empty(), "S3 took nothing");
    // (Counted, not received: a message received here would be hidden from the redrive.)
    assert_eq!(queue_depth(&sqs, &queue).await, 6, "each record, each time it was parked");

    // S3 back: the redrive archives each record once, and empties the queue.
    let (ok, text) = env.local(&["fault", "--clear"]);
    assert!(ok, "{text}");
    let redrive = || {
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let out = std::process::Command::new(workspace.join(".venv/bin/python"))
            .arg(workspace.join("tools/archive/redrive.py"))
            .args(["--queue-url", &queue, "--function", "archiver"])
            // As against a deployed stack: the standard AWS settings, pointed at the local environment.
            .env("AWS_ENDPOINT_URL_SQS", env.moto())
            .env("AWS_ENDPOINT_URL_LAMBDA", env.lambda())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let said = redrive();
    assert!(said.starts_with("3 parked records archived from 6 messages"), "{said}");
    let archived_rows = archived(&s3, &archive, "alerts").await;
    for id in &ids {
        let copies = archived_rows.iter().filter(|(_, r)| r["item"]["alertId"] == id.as_str()).count();
        assert_eq!(copies, 1, "alert {id} archived once: {archived_rows:?}");
    }
    assert_eq!(queue_depth(&sqs, &queue).await, 0, "nothing left parked");
    assert!(redrive().starts_with("0 parked records"), "a second redrive finds nothing");
    assert_eq!(archived(&s3, &archive, "alerts").await.len(), 3);
}

/// Messages in a queue, visible or being handled.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName::{ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible};
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(ApproximateNumberOfMessages)
        .attribute_names(ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attributes = out.attributes.unwrap_or_default();
    [ApproximateNumberOfMessages, ApproximateNumberOfMessagesNotVisible]
        .iter()
        .map(|name| attributes.get(name).map_or(0, |n| n.parse::<u64>().unwrap()))
        .sum()
}
