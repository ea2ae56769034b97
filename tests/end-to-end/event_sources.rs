//! Every event source the local environment runs, end to end: the probe function
//! (tests/probe) behind each trigger type of tests/end-to-end/event-sources.yaml, real
//! processes, moto as AWS, and the semantics AWS documents for each source.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

mod support;
use support::{LocalEnv, queue_messages};

/// Waits are scaled down so retries and redrives take seconds.
const FAST: &[&str] = &["--retry-scale", "0.02"];
const WAIT: Duration = Duration::from_secs(60);

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

/// The records of a stream or queue event.
fn records(event: &Value) -> Vec<Value> {
    event["Records"].as_array().cloned().unwrap_or_default()
}

/// A DynamoDB stream record's `pk`.
fn key(record: &Value) -> String {
    record["dynamodb"]["Keys"]["pk"]["S"].as_str().unwrap_or_default().to_owned()
}

/// The invocations of `function` from `source`, in the order they started.
fn invocations(env: &LocalEnv, function: &str, source: &str) -> Vec<Value> {
    let mut all: Vec<Value> =
        env.invocations().into_iter().filter(|i| i["function"] == function && i["source"] == source).collect();
    all.sort_by(|a, b| a["time"].as_str().cmp(&b["time"].as_str()));
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_stream_record_is_bisected_out_to_the_failure_destination_and_the_rest_is_processed_in_order() {
    let env = LocalEnv::event_sources(FAST);
    let dynamodb = aws_sdk_dynamodb::Client::new(&env.aws().await);
    for i in 0..8 {
        let note = if i == 5 { "probe-fail" } else { "fine" };
        dynamodb
            .put_item()
            .table_name("Events")
            .item("pk", s(&format!("item-{i}")))
            .item("note", s(note))
            .send()
            .await
            .unwrap();
    }
    let sqs = aws_sdk_sqs::Client::new(&env.aws().await);
    let failures_url = env.resource("StreamFailures", "reference");
    let failures = testkit::eventually(WAIT, "the poison record's failure record", || async {
        let messages = queue_messages(&sqs, &failures_url).await;
        (!messages.is_empty()).then_some(messages)
    })
    .await;

    // The function saw every record; those of successful invocations, in order, are all but the poison one.
    let processed = |env: &LocalEnv| -> Vec<String> {
        let ok: HashSet<String> = invocations(env, "StreamProbe", "dynamodb:Events")
            .iter()
            .filter(|i| i["outcome"] == "ok")
            .map(|i| i["requestId"].as_str().unwrap().to_owned())
            .collect();
        let events = env.probe_events("StreamProbe");
        events.iter().filter(|(id, _)| ok.contains(id)).flat_map(|(_, e)| records(e)).map(|r| key(&r)).collect()
    };
    let processed = testkit::eventually(WAIT, "the records after the poison one processed", || async {
        let done = processed(&env);
        done.contains(&"item-7".to_owned()).then_some(done)
    })
    .await;
    let expected: Vec<String> = [0, 1, 2, 3, 4, 6, 7].iter().map(|i| format!("item-{i}")).collect();
    assert_eq!(processed, expected, "processed exactly once each, in order, without item-5");
    let events = env.probe_events("StreamProbe");

    // Bisected down to the poison record alone, retried once (MaximumRetryAttempts: 1), then discarded.
    let alone: Vec<&(String, Value)> =
        events.iter().filter(|(_, e)| records(e).len() == 1 && key(&records(e)[0]) == "item-5").collect();
    assert_eq!(alone.len(), 2, "item-5 alone: the first attempt and one retry");
    let sequence = records(&alone[0].1)[0]["dynamodb"]["SequenceNumber"].clone();
    // No newer record is delivered on its own before the poison one is done with.
    let holds = |e: &Value, k: &str| records(e).iter().any(|r| key(r) == k);
    let last_poison = events.iter().rposition(|(_, e)| holds(e, "item-5")).unwrap();
    let first_alone = events.iter().position(|(_, e)| holds(e, "item-6") && !holds(e, "item-5")).unwrap();
    assert!(first_alone > last_poison, "item-6 went ahead of item-5");

    assert_eq!(failures.len(), 1);
    let failure = &failures[0];
    assert_eq!(failure["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(failure["requestContext"]["approximateInvokeCount"], 2);
    assert_eq!(failure["responseContext"]["functionError"], "Unhandled");
    let batch = &failure["DDBStreamBatchInfo"];
    assert_eq!(
        (batch["batchSize"].as_u64(), &batch["startSequenceNumber"], &batch["endSequenceNumber"]),
        (Some(1), &sequence, &sequence)
    );
    assert_eq!(batch["streamArn"].as_str().unwrap(), env.ready["resources"]["Events"]["attributes"]["StreamArn"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_record_that_keeps_failing_is_given_up_once_older_than_its_maximum_age() {
    let env = LocalEnv::event_sources(FAST);
    let dynamodb = aws_sdk_dynamodb::Client::new(&env.aws().await);
    dynamodb.put_item().table_name("Ledger").item("pk", s("stuck")).item("note", s("probe-fail")).send().await.unwrap();
    // Retried without limit (MaximumRetryAttempts: -1) ...
    testkit::eventually(WAIT, "a few retries", || async {
        (invocations(&env, "AgingProbe", "dynamodb:Ledger").len() >= 3).then_some(())
    })
    .await;
    // ... until the record is older than MaximumRecordAgeInSeconds (60) by the environment's clock.
    env.local_json(&["advance", "2m"]);
    let sqs = aws_sdk_sqs::Client::new(&env.aws().await);
    let url = env.resource("StreamFailures", "reference");
    let failure = testkit::eventually(WAIT, "the failure record, through the SNS destination", || async {
        queue_messages(&sqs, &url).await.into_iter().next()
    })
    .await;
    assert_eq!(failure["requestContext"]["condition"], "RecordAgeExceeded");
    assert_eq!(failure["DDBStreamBatchInfo"]["batchSize"], 1);
    // And the shard moves on.
    dynamodb.put_item().table_name("Ledger").item("pk", s("next")).send().await.unwrap();
    testkit::eventually(WAIT, "the next record delivered", || async {
        let events = env.probe_events("AgingProbe");
        events.iter().any(|(_, e)| records(e).iter().any(|r| key(r) == "next")).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn records_no_filter_matches_never_reach_the_function() {
    let env = LocalEnv::event_sources(&[]);
    let dynamodb = aws_sdk_dynamodb::Client::new(&env.aws().await);
    for (pk, kind) in [("w1", "wanted"), ("o1", "other"), ("w2", "wanted")] {
        dynamodb.put_item().table_name("Events").item("pk", s(pk)).item("kind", s(kind)).send().await.unwrap();
    }
    dynamodb.delete_item().table_name("Events").key("pk", s("w1")).send().await.unwrap();
    // The unfiltered mapping on the same stream sees all four changes; then the filtered one is done too.
    testkit::eventually(WAIT, "all four changes at the unfiltered function", || async {
        let seen: usize = env.probe_events("StreamProbe").iter().map(|(_, e)| records(e).len()).sum();
        (seen == 4).then_some(())
    })
    .await;
    testkit::eventually(WAIT, "the filtered function's invocations to finish", || async {
        let done = invocations(&env, "FilteredStreamProbe", "dynamodb:Events")
            .iter()
            .map(|i| i["records"].as_u64().unwrap_or(0))
            .sum::<u64>();
        (done == 2).then_some(())
    })
    .await;
    let filtered: Vec<(String, String)> = env
        .probe_events("FilteredStreamProbe")
        .iter()
        .flat_map(|(_, e)| records(e))
        .map(|r| (r["eventName"].as_str().unwrap().to_owned(), key(&r)))
        .collect();
    assert_eq!(filtered, [("INSERT".to_owned(), "w1".to_owned()), ("INSERT".to_owned(), "w2".to_owned())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn items_removed_by_ttl_carry_the_service_identity_and_a_users_delete_does_not() {
    // Swept on demand only, so the counts below are this test's.
    let env = LocalEnv::event_sources(&["--ttl-sweep-interval", "1d"]);
    let dynamodb = aws_sdk_dynamodb::Client::new(&env.aws().await);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let n = |x: i64| AttributeValue::N(x.to_string());
    let put = |pk: &str, expires: Option<i64>| {
        let mut put = dynamodb.put_item().table_name("Events").item("pk", s(pk));
        if let Some(at) = expires {
            put = put.item("expiresAt", n(at));
        }
        put.send()
    };
    put("expired", Some(now - 60)).await.unwrap();
    put("later", Some(now + 3600)).await.unwrap();
    put("ancient", Some(now - 6 * 365 * 24 * 3600)).await.unwrap();
    put("by-hand", None).await.unwrap();
    dynamodb.delete_item().table_name("Events").key("pk", s("by-hand")).send().await.unwrap();

    assert_eq!(
        env.local_json(&["sweep"])["deleted"]["Events"],
        1,
        "only the expired item (not one expired over five years ago)"
    );
    let removals = |env: &LocalEnv| -> Vec<(String, Value)> {
        env.probe_events("StreamProbe")
            .iter()
            .flat_map(|(_, e)| records(e))
            .filter(|r| r["eventName"] == "REMOVE")
            .map(|r| (key(&r), r.get("userIdentity").cloned().unwrap_or(Value::Null)))
            .collect()
    };
    let service = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    let seen = testkit::eventually(WAIT, "two REMOVE records", || async {
        let r = removals(&env);
        (r.len() == 2).then_some(r)
    })
    .await;
    assert_eq!(seen, [("by-hand".to_owned(), Value::Null), ("expired".to_owned(), service.clone())]);

    // An hour and a bit later by the environment's clock, the next item has expired too.
    let clock = env.local_json(&["advance", "1h1m"]);
    assert_eq!(clock["offsetSeconds"], 3660);
    assert_eq!(env.local_json(&["sweep"])["deleted"]["Events"], 1);
    let seen = testkit::eventually(WAIT, "the third REMOVE record", || async {
        let r = removals(&env);
        (r.len() == 3).then_some(r)
    })
    .await;
    assert_eq!(seen[2], ("later".to_owned(), service));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kinesis_batch_resumes_from_its_lowest_reported_failure_and_then_moves_on() {
    let env = LocalEnv::event_sources(FAST);
    let kinesis = aws_sdk_kinesis::Client::new(&env.aws().await);
    let entry = |n: usize, note: &str| {
        let data = json!({"n": n, "note": note}).to_string();
        aws_sdk_kinesis::types::PutRecordsRequestEntry::builder()
            .partition_key("one-shard")
            .data(aws_sdk_kinesis::primitives::Blob::new(data))
            .build()
            .unwrap()
    };
    let batch: Vec<_> = (0..6).map(|n| entry(n, if n == 2 { "probe-fail-item" } else { "fine" })).collect();
    kinesis.put_records().stream_name("Orders").set_records(Some(batch)).send().await.unwrap();

    let sqs = aws_sdk_sqs::Client::new(&env.aws().await);
    let failures_url = env.resource("StreamFailures", "reference");
    let failure = testkit::eventually(WAIT, "the failure record", || async {
        queue_messages(&sqs, &failures_url).await.into_iter().next()
    })
    .await;
    // Then the shard moves on: a later record is processed.
    kinesis.put_records().stream_name("Orders").records(entry(6, "fine")).send().await.unwrap();
    let numbers = |event: &Value| -> Vec<u64> {
        records(event)
            .iter()
            .map(|r| {
                let data = r["kinesis"]["data"].as_str().unwrap();
                let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).unwrap();
                serde_json::from_slice::<Value>(&bytes).unwrap()["n"].as_u64().unwrap()
            })
            .collect()
    };
    let batches = testkit::eventually(WAIT, "record 6 delivered", || async {
        let batches: Vec<Vec<u64>> = env.probe_events("KinesisProbe").iter().map(|(_, e)| numbers(e)).collect();
        batches.iter().any(|b| b.contains(&6)).then_some(batches)
    })
    .await;
    assert_eq!(
        batches,
        [vec![0, 1, 2, 3, 4, 5], vec![2, 3, 4, 5], vec![2, 3, 4, 5], vec![6]],
        "retried from the lowest failure, twice"
    );
    assert_eq!(failure["requestContext"]["condition"], "RetryAttemptsExhausted");
    assert_eq!(failure["requestContext"]["approximateInvokeCount"], 3);
    let info = &failure["KinesisBatchInfo"];
    assert_eq!(info["batchSize"], 4);
    let sequences: Vec<Value> = records(&env.probe_events("KinesisProbe")[1].1)
        .iter()
        .map(|r| r["kinesis"]["sequenceNumber"].clone())
        .collect();
    assert_eq!((&info["startSequenceNumber"], &info["endSequenceNumber"]), (&sequences[0], &sequences[3]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_notification_that_keeps_failing_reaches_the_on_failure_destination_after_three_attempts() {
    let env = LocalEnv::event_sources(FAST);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&env.aws().await).force_path_style(true).build(),
    );
    let bucket = env.resource("Uploads", "reference");
    for key in ["in/probe-fail.csv", "in/ok.csv", "in/skipped.txt", "elsewhere/x.csv"] {
        s3.put_object().bucket(&bucket).key(key).body(b"a,b\n1,2\n".to_vec().into()).send().await.unwrap();
    }
    let sqs = aws_sdk_sqs::Client::new(&env.aws().await);
    let url = env.resource("AsyncFailures", "reference");
    let failure = testkit::eventually(WAIT, "the failed event at its destination", || async {
        queue_messages(&sqs, &url).await.into_iter().next()
    })
    .await;
    assert_eq!(failure["requestContext"]["condition"], "RetriesExhausted");
    assert_eq!(failure["requestContext"]["approximateInvokeCount"], 3);
    assert_eq!(failure["requestPayload"]["Records"][0]["s3"]["object"]["key"], "in/probe-fail.csv");
    assert_eq!(failure["responseContext"]["functionError"], "Unhandled");

    let logged = testkit::eventually(WAIT, "all four S3 invocations logged", || async {
        let logged = invocations(&env, "AsyncProbe", "s3:Uploads");
        (logged.len() == 4).then_some(logged)
    })
    .await;
    let attempts: Vec<(u64, String, String)> = logged
        .iter()
        .map(|i| {
            (
                i["attempt"].as_u64().unwrap(),
                i["outcome"].as_str().unwrap().to_owned(),
                i["requestId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let keys: Vec<(String, String)> = env
        .probe_events("AsyncProbe")
        .iter()
        .map(|(id, e)| (id.clone(), e["Records"][0]["s3"]["object"]["key"].as_str().unwrap_or_default().to_owned()))
        .collect();
    let key_of = |id: &str| keys.iter().find(|(i, _)| i == id).map(|(_, k)| k.clone()).unwrap_or_default();
    let mut seen: Vec<(u64, String, String)> = attempts.iter().map(|(n, o, id)| (*n, o.clone(), key_of(id))).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            (1, "error".into(), "in/probe-fail.csv".into()),
            (1, "ok".into(), "in/ok.csv".into()),
            (2, "error".into(), "in/probe-fail.csv".into()),
            (3, "error".into(), "in/probe-fail.csv".into()),
        ],
        "filtered keys never invoke; the failing one is tried three times"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sns_messages_reach_the_function_through_its_filter_policy() {
    let env = LocalEnv::event_sources(&[]);
    let sns = aws_sdk_sns::Client::new(&env.aws().await);
    let topic = env.resource("Notices", "arn");
    let attribute = |v: &str| {
        aws_sdk_sns::types::MessageAttributeValue::builder().data_type("String").string_value(v).build().unwrap()
    };
    sns.publish()
        .topic_arn(&topic)
        .message("hello")
        .message_attributes("kind", attribute("alert"))
        .send()
        .await
        .unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("filtered")
        .message_attributes("kind", attribute("chatter"))
        .send()
        .await
        .unwrap();
    sns.publish().topic_arn(&topic).message("no attributes").send().await.unwrap();
    sns.publish()
        .topic_arn(&topic)
        .message("again")
        .message_attributes("kind", attribute("alert"))
        .send()
        .await
        .unwrap();
    let messages = testkit::eventually(WAIT, "two SNS events", || async {
        let seen: Vec<Value> = env
            .probe_events("AsyncProbe")
            .into_iter()
            .map(|(_, e)| e)
            .filter(|e| e["Records"][0]["EventSource"] == "aws:sns")
            .collect();
        (seen.len() >= 2).then_some(seen)
    })
    .await;
    // Asynchronous invocations may start in either order.
    let mut texts: Vec<&str> = messages.iter().map(|e| e["Records"][0]["Sns"]["Message"].as_str().unwrap()).collect();
    texts.sort();
    assert_eq!(texts, ["again", "hello"], "only the messages the filter policy lets through");
    let record = &messages[0]["Records"][0];
    assert_eq!(record["Sns"]["TopicArn"], topic.as_str());
    assert_eq!(record["Sns"]["MessageAttributes"]["kind"]["Value"], "alert");
    assert!(record["EventSubscriptionArn"].as_str().unwrap().starts_with(&format!("{topic}:")));
}

#[tokio::test(flavor = "multi_thread")]
async fn eventbridge_rules_invoke_for_the_events_their_pattern_matches() {
    let env = LocalEnv::event_sources(&[]);
    let events = aws_sdk_eventbridge::Client::new(&env.aws().await);
    let put = |source: &str, total: u64| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name("shop")
            .source(source)
            .detail_type("order placed")
            .detail(json!({"total": total}).to_string())
            .build()
    };
    events
        .put_events()
        .entries(put("shop", 50))
        .entries(put("warehouse", 500))
        .entries(put("shop", 150))
        .send()
        .await
        .unwrap();
    let matched = testkit::eventually(WAIT, "the matching event", || async {
        env.probe_events("AsyncProbe").into_iter().map(|(_, e)| e).find(|e| e["detail-type"] == "order placed")
    })
    .await;
    assert_eq!((matched["source"].as_str(), matched["detail"]["total"].as_u64()), (Some("shop"), Some(150)));
    assert_eq!(matched["account"], "123456789012");
    // A sentinel put after the others: once it is through, nothing else was let in.
    events.put_events().entries(put("shop", 1000)).send().await.unwrap();
    testkit::eventually(WAIT, "the sentinel", || async {
        (invocations(&env, "AsyncProbe", "eventbridge:shop").len() == 2).then_some(())
    })
    .await;
    let totals: Vec<u64> =
        env.probe_events("AsyncProbe").iter().filter_map(|(_, e)| e["detail"]["total"].as_u64()).collect();
    assert_eq!(totals, [150, 1000]);
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_fire_on_demand_and_when_the_clock_passes_them() {
    let env = LocalEnv::event_sources(&[]);
    let status = env.local_json(&["status"]);
    assert_eq!(status["schedules"], json!(["AsyncProbe.Daily", "AsyncProbe.Nightly"]));
    assert_eq!(env.local_json(&["fire", "AsyncProbe.Daily"])["fired"], "AsyncProbe.Daily");
    env.local_json(&["fire", "asyncprobe.nightly"]);
    let (ok, text) = env.local(&["fire", "AsyncProbe.Hourly"]);
    assert!(!ok && text.contains("AsyncProbe.Daily, AsyncProbe.Nightly"), "{text}");

    let fired =
        |env: &LocalEnv, name: &str| invocations(env, "AsyncProbe", &format!("schedule:AsyncProbe.{name}")).len();
    testkit::eventually(WAIT, "both schedules fired once", || async {
        (fired(&env, "Daily") == 1 && fired(&env, "Nightly") == 1).then_some(())
    })
    .await;
    let events: Vec<Value> = env.probe_events("AsyncProbe").into_iter().map(|(_, e)| e).collect();
    let rule = events.iter().find(|e| e["source"] == "aws.events").unwrap();
    assert_eq!(rule["detail-type"], "Scheduled Event");
    assert_eq!(rule["resources"], json!(["arn:aws:events:us-east-1:123456789012:rule/AsyncProbe-Daily"]));
    let nightly = events.iter().find(|e| e["report"] == "nightly").unwrap();
    assert!(nightly["for"].as_str().unwrap().ends_with('Z'), "the scheduled time was filled in: {nightly}");

    // A day passes by the environment's clock: the daily rate and the 02:00 cron fire by themselves.
    env.local_json(&["advance", "1d1h"]);
    testkit::eventually(WAIT, "both schedules fired again", || async {
        (fired(&env, "Daily") == 2 && fired(&env, "Nightly") == 2).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_is_delivered_in_windowed_batches_within_its_concurrency_and_a_poison_message_is_redriven() {
    let env = LocalEnv::event_sources(FAST);
    let sqs = aws_sdk_sqs::Client::new(&env.aws().await);
    let work = env.resource("Work", "reference");
    for chunk in 0..4 {
        let entries: Vec<_> = (0..10)
            .map(|i| {
                let n = chunk * 10 + i;
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .message_body(format!("job-{n} probe-sleep-200"))
                    .build()
                    .unwrap()
            })
            .collect();
        sqs.send_message_batch().queue_url(&work).set_entries(Some(entries)).send().await.unwrap();
    }
    sqs.send_message().queue_url(&work).message_body("poison probe-fail-item").send().await.unwrap();

    // The poison message is reported failed at each receive, then moved to the dead-letter queue.
    let dead_letters = env.resource("WorkDeadLetters", "reference");
    let depth = |url: String| {
        let sqs = sqs.clone();
        async move {
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            attributes
                .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        }
    };
    testkit::eventually(WAIT, "the poison message in the dead-letter queue", || async {
        (depth(dead_letters.clone()).await == 1).then_some(())
    })
    .await;

    let delivered = |env: &LocalEnv| -> Vec<String> {
        let events = env.probe_events("QueueProbe");
        events.iter().flat_map(|(_, e)| records(e)).map(|r| r["body"].as_str().unwrap().to_owned()).collect()
    };
    let bodies = testkit::eventually(WAIT, "every job delivered and logged", || async {
        let bodies = delivered(&env);
        let logged: u64 =
            invocations(&env, "QueueProbe", "sqs:Work").iter().map(|i| i["records"].as_u64().unwrap_or(0)).sum();
        let jobs = bodies.iter().filter(|b| b.starts_with("job-")).count();
        (jobs >= 40 && logged as usize == bodies.len()).then_some(bodies)
    })
    .await;
    let jobs: Vec<&String> = bodies.iter().filter(|b| b.starts_with("job-")).collect();
    let unique: HashSet<&String> = jobs.iter().copied().collect();
    assert_eq!((jobs.len(), unique.len()), (40, 40), "each job delivered once");
    assert_eq!(bodies.iter().filter(|b| b.starts_with("poison")).count(), 2, "maxReceiveCount: 2");
    let log = invocations(&env, "QueueProbe", "sqs:Work");
    assert!(log.iter().any(|i| i["records"].as_u64().unwrap() > 1), "messages are batched");
    assert!(log.iter().all(|i| i["records"].as_u64().unwrap() <= 10), "BatchSize: 10");
    // At most two invocations at once (ScalingConfig.MaximumConcurrency: 2).
    let spans: Vec<(time::OffsetDateTime, time::OffsetDateTime)> = log
        .iter()
        .map(|i| {
            let start = time::OffsetDateTime::parse(
                i["time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap();
            (start, start + Duration::from_secs_f64(i["durationMs"].as_f64().unwrap() / 1000.0))
        })
        .collect();
    let most =
        spans.iter().map(|(start, _)| spans.iter().filter(|(s, e)| s <= start && start < e).count()).max().unwrap();
    assert!(most <= 2, "{most} invocations overlapped");

    // Moved back, the message is delivered again as a new message.
    let moved = env.local_json(&["redrive", "WorkDeadLetters"]);
    assert_eq!((moved["moved"].as_u64(), moved["to"].as_str()), (Some(1), Some("Work")));
    testkit::eventually(WAIT, "the redriven message delivered again", || async {
        let again = env
            .probe_events("QueueProbe")
            .iter()
            .flat_map(|(_, e)| records(e))
            .filter(|r| r["body"].as_str().unwrap().starts_with("poison"))
            .count();
        (again == 3).then_some(())
    })
    .await;
}

#[test]
fn what_the_environment_cannot_run_stops_it_at_start_with_the_resource_and_property_named() {
    let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/event-sources.yaml")).unwrap();
    let cases = [
        // An event property no source supports.
        (
            base.replace(
                "            ScalingConfig: { MaximumConcurrency: 2 }",
                "            ScalingConfig: { MaximumConcurrency: 2 }\n            Surprise: true",
            ),
            "QueueProbe.Events.Work (SQS): property Surprise is not supported by the local environment",
        ),
        // A resource property the environment does not know.
        (
            base.replace("      ShardCount: 2", "      ShardCount: 2\n      Replicas: 3"),
            "Orders: property Replicas is not supported by the local environment",
        ),
        // A value AWS itself refuses.
        (
            base.replace(
                "            MaximumRetryAttempts: 1",
                "            MaximumRetryAttempts: 1\n            MaximumRecordAgeInSeconds: 30",
            ),
            "StreamProbe.Events.Changes (DynamoDB): MaximumRecordAgeInSeconds: the minimum AWS accepts is 60",
        ),
        // An event type the environment does not run.
        (
            base.replace("          Type: EventBridgeRule", "          Type: MQ"),
            "AsyncProbe.Events.BigOrders (MQ): event type MQ is not run by the local environment",
        ),
        // A resource type it does not provision.
        (
            base.replace(
                "  AsyncFailures:\n    Type: AWS::SQS::Queue",
                "  AsyncFailures:\n    Type: AWS::StepFunctions::StateMachine",
            ),
            "AsyncFailures: resource type AWS::StepFunctions::StateMachine is not supported by the local environment",
        ),
    ];
    for (template, expected) in cases {
        assert_ne!(template, base, "the case must change the template ({expected})");
        let path = std::env::temp_dir().join(format!("template-{}.yaml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&path, template).unwrap();
        let said = support::refused_at_start(&path);
        assert!(said.contains(expected), "expected {expected:?} in:\n{said}");
    }
}
