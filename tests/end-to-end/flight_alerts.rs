//! The README's story, end to end, against the local environment: the real function
//! binaries under cargo-lambda's runtime emulator, moto as AWS, wired from the template.
//!
//! Register a flight with three passengers, post a delay, and each passenger receives one
//! text: the alert is recorded, published from the alerts table's stream (the outbox),
//! and texted. Deliver the same alert again, and retry the request, and still each has one. Then the same
//! promise under injected SNS throttling and DynamoDB failures, a number SNS refuses, an
//! invocation cut off by its timeout, and a poison message watched from the queue to its
//! dead-letter queue and back.

use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::{LocalEnv, aws_sqs, queue_messages};

#[tokio::test(flavor = "multi_thread")]
async fn a_delay_texts_every_passenger_exactly_once() {
    let env = LocalEnv::start(&[]);
    let http = env.client();
    let mobiles: Vec<String> = (0..3).map(|_| testkit::unique_mobile()).collect();
    let date = testkit::departure_date();
    let emails = ["ada@example.com", "grace@example.com", "alan@example.com"];

    // Register the flight with three passengers.
    let flight = json!({
        "carrier": "DL", "flightNumber": "1", "date": date, "origin": "JFK", "destination": "LAX",
        "scheduledDeparture": format!("{date}T08:00:00-05:00"),
        "passengers": mobiles.iter().zip(emails).enumerate()
            .map(|(i, (m, e))| json!({"name": format!("Passenger {i}"), "email": e, "mobile": m}))
            .collect::<Vec<_>>()
    });
    let created = http.post(env.api("/flights")).json(&flight).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let flight_id = created.json::<Value>().await.unwrap()["flightId"].as_str().unwrap().to_owned();
    assert_eq!(flight_id, format!("DL1-{date}"));
    let read: Value = http.get(env.api(&format!("/flights/{flight_id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(read["passengerCount"], 3);

    // Post a delay.
    let correlation = format!("e2e-{}", uuid::Uuid::new_v4().simple());
    let post_delay = || {
        http.post(env.api(&format!("/flights/{flight_id}/events")))
            .header("x-correlation-id", &correlation)
            .header("idempotency-key", "e2e-delay-1")
            .json(&json!({"type": "delay", "minutes": 90, "reason": "Snow at origin"}))
            .send()
    };
    let accepted = post_delay().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().await.unwrap();
    let text =
        format!("DL1 JFK-LAX {}: delayed 90 min, now departs 09:30. Reason: Snow at origin", testkit::text_date(&date));
    let text = text.as_str();
    assert_eq!(accepted["message"], text);
    let alert_id = accepted["alertId"].as_str().unwrap().to_owned();

    // Each passenger receives exactly one text with the right words.
    let texts = |env: &LocalEnv| {
        let (moto, mobiles) = (env.moto().to_owned(), mobiles.clone());
        async move {
            let sent = testkit::texts_by_number(&moto).await;
            mobiles.iter().map(|m| sent.get(m).cloned().unwrap_or_default()).collect::<Vec<_>>()
        }
    };
    let first = testkit::eventually(Duration::from_secs(60), "three texts", || async {
        let t = texts(&env).await;
        t.iter().all(|texts| !texts.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(first, vec![vec![text.to_owned()]; 3]);

    // Deliver the same alert again, straight into the SMS queue, as SQS's at-least-once
    // delivery may; and the client retries with its key (the same alert, not published again).
    let queue = env.ready["resources"]["SmsQueue"]["reference"].as_str().unwrap();
    let sqs = aws_sqs(env.moto()).await;
    let same = json!({"alertId": alert_id, "flightId": flight_id, "text": text, "correlationId": correlation});
    sqs.send_message().queue_url(queue).message_body(same.to_string()).send().await.unwrap();
    let retried: Value = post_delay().await.unwrap().json().await.unwrap();
    assert_eq!(retried["alertId"], alert_id.as_str(), "the retry is the same alert");

    testkit::eventually(Duration::from_secs(60), "the re-delivery processed", || async {
        let handled = env.logs().iter().filter(|l| l.contains("alert delivered") && l.contains(&alert_id)).count();
        (handled >= 2).then_some(())
    })
    .await;
    assert_eq!(texts(&env).await, vec![vec![text.to_owned()]; 3], "still one text each");

    // The alert is listed, once.
    let listed: Value =
        http.get(env.api(&format!("/alerts?flightId={flight_id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["alertId"], alert_id.as_str());

    // The invocation log shows the choreography (API, the alerts table's stream, the SMS
    // queue), the correlation id carried from the API request into the SMS function.
    let log = testkit::eventually(Duration::from_secs(30), "the SMS invocations logged", || async {
        let log = env.invocations();
        (log.iter().filter(|i| i["source"] == "sqs:SmsQueue").count() >= 2).then_some(log)
    })
    .await;
    let sources: Vec<&str> = log.iter().map(|i| i["source"].as_str().unwrap()).collect();
    assert_eq!(
        &sources[..5],
        [
            "api:POST /flights",
            "api:GET /flights/{flightId}",
            "api:POST /flights/{flightId}/events",
            "dynamodb:AlertsTable",
            "sqs:SmsQueue"
        ]
    );
    assert_eq!(sources.iter().filter(|s| **s == "dynamodb:AlertsTable").count(), 1, "published once: {sources:?}");
    let carried = |source: &str| {
        log.iter().any(|i| {
            i["source"] == source && i["correlationIds"].as_array().unwrap().iter().any(|c| c == correlation.as_str())
        })
    };
    assert!(
        carried("api:POST /flights/{flightId}/events") && carried("dynamodb:AlertsTable") && carried("sqs:SmsQueue"),
        "{log:?}"
    );

    // Logs: the correlation id reached the SMS function; no contact detail appears in full.
    let logs = env.logs();
    assert!(logs.iter().any(|l| l.starts_with("[sms]") && l.contains("text sent") && l.contains(&correlation)));
    for line in &logs {
        for secret in mobiles.iter().map(String::as_str).chain(emails) {
            assert!(!line.contains(secret), "unmasked contact detail in a log line: {line}");
        }
    }
}

/// A delay posted with `Idempotency-Key`, retried as a client should while the API answers 503.
async fn post_delay(env: &LocalEnv, flight_id: &str, key: &str) -> Value {
    let http = env.client();
    testkit::eventually(Duration::from_secs(60), "the delay accepted", || async {
        let response = http
            .post(env.api(&format!("/flights/{flight_id}/events")))
            .header("idempotency-key", key)
            .json(&json!({"type": "delay", "minutes": 30, "reason": "Crew"}))
            .send()
            .await
            .ok()?;
        (response.status() == 202).then_some(())?;
        response.json::<Value>().await.ok()
    })
    .await
}

/// Registers a flight with one passenger per number in `mobiles`, retrying as a client
/// should while the API answers 503 (a registration is idempotent).
async fn register(env: &LocalEnv, carrier: &str, number: &str, mobiles: &[String]) -> String {
    let date = testkit::departure_date();
    let flight = json!({
        "carrier": carrier, "flightNumber": number, "date": date, "origin": "CDG", "destination": "JFK",
        "scheduledDeparture": format!("{date}T10:00:00+01:00"),
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("Passenger {i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    });
    let http = env.client();
    testkit::eventually(Duration::from_secs(60), "the flight registered", || async {
        let response = http.post(env.api("/flights")).json(&flight).send().await.ok()?;
        (response.status() == 201).then_some(())
    })
    .await;
    format!("{carrier}{number}-{date}")
}

/// How many texts each number has received, once every number has at least one.
async fn texts_once_all_arrived(env: &LocalEnv, mobiles: &[String], within: Duration) -> Vec<usize> {
    testkit::eventually(within, "a text for every number", || async {
        let sent = testkit::texts_by_number(env.moto()).await;
        let counts: Vec<usize> = mobiles.iter().map(|m| sent.get(m).map_or(0, Vec::len)).collect();
        counts.iter().all(|&c| c > 0).then_some(counts)
    })
    .await
}

async fn dead_letters(env: &LocalEnv) -> Vec<Value> {
    queue_messages(&aws_sqs(env.moto()).await, &env.resource("SmsDeadLetterQueue", "reference")).await
}

#[tokio::test(flavor = "multi_thread")]
async fn five_hundred_passengers_with_sns_throttling_and_dynamodb_failing_get_exactly_one_text_each() {
    let env = LocalEnv::start(&[
        "--fault",
        "sns:Publish=throttle:0.2",
        "--fault",
        "dynamodb:*=5xx:0.05",
        "--fault-seed",
        "8",
        "--retry-scale",
        "0.01",
        // The account rate raised, so the test does not wait on the default 20 texts a second.
        "--parameter",
        "SmsTextsPerSecond=400",
    ]);
    let mobiles: Vec<String> = (0..500).map(|_| testkit::unique_mobile()).collect();
    let flight_id = register(&env, "AF", "7", &mobiles).await;
    post_delay(&env, &flight_id, "throttled-delay").await;

    let counts = texts_once_all_arrived(&env, &mobiles, Duration::from_secs(240)).await;
    assert_eq!(counts, vec![1; 500], "exactly one text each");
    let faults = env.local_json(&["faults"]);
    assert!(faults["injected"]["sns:Publish=throttle:0.2"].as_u64().unwrap() > 0, "{faults}");
    assert!(faults["injected"]["dynamodb:*=5xx:0.05"].as_u64().unwrap() > 0, "{faults}");
    // Nothing was given up on.
    assert!(dead_letters(&env).await.is_empty());
    // Counted as each invocation ends: 500 texts sent, not one more.
    let sent = testkit::eventually(Duration::from_secs(30), "the texts counted", || async {
        let sent = env.metric_total("sms", "TextsSent");
        (sent >= 500).then_some(sent)
    })
    .await;
    assert_eq!(sent, 500);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_number_sns_refuses_is_recorded_failed_and_everyone_else_is_texted_once() {
    let mobiles: Vec<String> = (0..5).map(|_| testkit::unique_mobile()).collect();
    let refused = format!("sns:Publish@{}=invalid", mobiles[3]);
    let env = LocalEnv::start(&["--fault", &refused, "--retry-scale", "0.01"]);
    let flight_id = register(&env, "LH", "400", &mobiles).await;
    post_delay(&env, &flight_id, "refused-delay").await;

    let others: Vec<String> = mobiles.iter().enumerate().filter(|(i, _)| *i != 3).map(|(_, m)| m.clone()).collect();
    assert_eq!(texts_once_all_arrived(&env, &others, Duration::from_secs(60)).await, [1, 1, 1, 1]);
    // The alert is finished (sent or failed for every number): the message is not retried.
    let failed = testkit::eventually(Duration::from_secs(30), "the refusal recorded", || async {
        let dynamo = aws_sdk_dynamodb::Client::new(&env.aws().await);
        let items =
            dynamo.scan().table_name(env.resource("SmsDeliveriesTable", "reference")).send().await.ok()?.items?;
        let state = |i: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, k: &str| {
            i.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
        };
        let failed: Vec<String> =
            items.iter().filter(|i| state(i, "state") == "FAILED").map(|i| state(i, "reason")).collect();
        (items.len() == 5 && items.iter().all(|i| state(i, "state") != "IN_PROGRESS")).then_some(failed)
    })
    .await;
    assert_eq!(failed, ["InvalidParameter"]);
    assert!(!testkit::texts_by_number(env.moto()).await.contains_key(&mobiles[3]));
    let failed_count = testkit::eventually(Duration::from_secs(30), "the refusal counted", || async {
        let failed = env.metric_total("sms", "TextsFailed");
        (failed >= 1).then_some(failed)
    })
    .await;
    assert_eq!(failed_count, 1);
    // The invocation is logged once it has answered, which may be after its metrics.
    let deliveries = testkit::eventually(Duration::from_secs(30), "the SMS invocation logged", || async {
        let n = env.invocations().iter().filter(|i| i["source"] == "sqs:SmsQueue").count();
        (n >= 1).then_some(n)
    })
    .await;
    assert_eq!(deliveries, 1, "delivered in one invocation, not retried");
    assert!(dead_letters(&env).await.is_empty());
    // SNS's message quoted the number: the logs did not (checked for every line on drop).
    assert!(env.logs().iter().any(|l| l.starts_with("[sms]") && l.contains("InvalidParameter")));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_invocation_cut_off_by_its_timeout_texts_nobody_twice() {
    let mobiles: Vec<String> = (0..40).map(|_| testkit::unique_mobile()).collect();
    // The claim of one passenger and the text of another hang: the invocation is cut off
    // at its 5 s timeout with both outstanding, the others texted and recorded.
    let digest = |m: &str| {
        let any_alert = domain::flight_alerts::AlertId::parse("00000000-0000-7000-8000-000000000000").unwrap();
        let id = domain::flight_alerts::delivery::delivery_id(&any_alert, &domain::PhoneNumber::from_e164(m).unwrap());
        id.rsplit('#').next().unwrap().to_owned()
    };
    let stuck_claim = format!("dynamodb:PutItem@{}=slow:60000ms", digest(&mobiles[5]));
    let stuck_text = format!("sns:Publish@{}=slow:60000ms", mobiles[6]);
    let env = LocalEnv::start(&[
        "--parameter",
        "SmsTimeoutSeconds=5",
        "--parameter",
        "SmsTextsPerSecond=400",
        "--retry-scale",
        "0.01",
        "--fault",
        &stuck_claim,
        "--fault",
        &stuck_text,
    ]);
    let flight_id = register(&env, "KL", "641", &mobiles).await;
    post_delay(&env, &flight_id, "cut-off-delay").await;

    testkit::eventually(Duration::from_secs(60), "an SMS invocation cut off by its timeout", || async {
        env.invocations().iter().any(|i| i["source"] == "sqs:SmsQueue" && i["outcome"] == "timeout").then_some(())
    })
    .await;
    // Whatever had been sent before the cut-off went out once; the two stuck calls never
    // reached SNS or DynamoDB (their caller was gone).
    env.local_json(&["fault", "--clear"]);
    let counts = texts_once_all_arrived(&env, &mobiles, Duration::from_secs(120)).await;
    assert_eq!(counts, vec![1; 40], "exactly one text each");
    assert!(dead_letters(&env).await.is_empty());
    // The stuck text's claim was taken over once it lapsed (counted as that invocation ends).
    testkit::eventually(Duration::from_secs(30), "the takeover counted", || async {
        (env.metric_total("sms", "ClaimTakeovers") >= 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_poison_message_reaches_the_dead_letter_queue_in_seconds_and_can_be_redriven() {
    // The template's 360 s visibility timeout and 5 receives take 24 minutes on AWS; scaled, seconds.
    let env = LocalEnv::start(&["--retry-scale", "0.01"]);
    let sqs = aws_sqs(env.moto()).await;
    let queue = env.resource("SmsQueue", "reference");
    sqs.send_message().queue_url(&queue).message_body("not an alert").send().await.unwrap();
    let dead_letters = env.resource("SmsDeadLetterQueue", "reference");
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
    testkit::eventually(Duration::from_secs(120), "the message dead-lettered", || async {
        (depth(dead_letters.clone()).await == 1).then_some(())
    })
    .await;
    let attempts: Vec<u64> = env
        .invocations()
        .iter()
        .filter(|i| i["source"] == "sqs:SmsQueue")
        .map(|i| i["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5], "maxReceiveCount: 5");

    let moved = env.local_json(&["redrive", "SmsQueue"]);
    assert_eq!((moved["moved"].as_u64(), moved["from"].as_str()), (Some(1), Some("SmsDeadLetterQueue")));
    assert_eq!(depth(dead_letters.clone()).await, 0);
    testkit::eventually(Duration::from_secs(60), "the redriven message delivered again", || async {
        (env.invocations().iter().filter(|i| i["source"] == "sqs:SmsQueue").count() > 5).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recorded_alert_is_published_however_long_sns_fails_and_an_unrecorded_one_never() {
    let env = LocalEnv::start(&["--retry-scale", "0.02"]);
    let mobiles: Vec<String> = (0..3).map(|_| testkit::unique_mobile()).collect();
    let date = testkit::departure_date();
    let flight = json!({
        "carrier": "KL", "flightNumber": "641", "date": date, "origin": "AMS", "destination": "JFK",
        "scheduledDeparture": format!("{date}T10:00:00+01:00"),
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("Passenger {i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    });
    let http = env.client();
    assert_eq!(http.post(env.api("/flights")).json(&flight).send().await.unwrap().status(), 201);
    let flight_id = format!("KL641-{date}");
    let post = |body: Value, key: &'static str| {
        http.post(env.api(&format!("/flights/{flight_id}/events"))).header("idempotency-key", key).json(&body).send()
    };

    // Every publish fails: the alert is recorded and accepted all the same ...
    env.local_json(&["fault", "sns:Publish=5xx:1"]);
    let delay = post(json!({"type": "delay", "minutes": 20, "reason": "Fog"}), "outbox-1").await.unwrap();
    assert_eq!(delay.status(), 202);
    // ... and the outbox keeps retrying it, in order, without giving up.
    testkit::eventually(Duration::from_secs(60), "the publisher retrying", || async {
        let failed = env
            .invocations()
            .iter()
            .filter(|i| i["source"] == "dynamodb:AlertsTable" && i["outcome"] == "batch-item-failures")
            .count();
        (failed >= 3).then_some(())
    })
    .await;
    assert!(testkit::texts_by_number(env.moto()).await.is_empty(), "nothing texted while SNS fails");

    // A write that fails records nothing, and so publishes nothing, ever.
    env.local_json(&["fault", "dynamodb:PutItem=5xx:1"]);
    let lost = post(json!({"type": "cancellation", "reason": "Never recorded"}), "outbox-2").await.unwrap();
    assert_eq!(lost.status(), 503);

    // SNS recovers: the recorded alert reaches every passenger, once; the other never.
    env.local_json(&["fault", "--clear"]);
    let sent = testkit::eventually(Duration::from_secs(60), "the delay texted", || async {
        let sent = testkit::texts_by_number(env.moto()).await;
        mobiles.iter().all(|m| sent.contains_key(m)).then_some(sent)
    })
    .await;
    for mobile in &mobiles {
        assert_eq!(sent[mobile].len(), 1, "{sent:?}");
        assert!(sent[mobile][0].contains("delayed 20 min"), "{sent:?}");
    }
    // A later alert goes through too, and is the only other text: the lost one never appears.
    assert_eq!(
        post(json!({"type": "gateChange", "gate": "D7", "reason": "Swap"}), "outbox-3").await.unwrap().status(),
        202
    );
    let sent = testkit::eventually(Duration::from_secs(60), "the gate change texted", || async {
        let sent = testkit::texts_by_number(env.moto()).await;
        mobiles.iter().all(|m| sent.get(m).is_some_and(|t| t.len() == 2)).then_some(sent)
    })
    .await;
    assert!(sent.values().flatten().all(|t| !t.contains("cancelled")), "{sent:?}");
}
