//! The README's story, end to end, against the local environment: the real function
//! binaries under cargo-lambda's runtime emulator, moto as AWS, wired from the template.
//!
//! Register a flight with three passengers, post a delay, and each passenger receives one
//! text: the alert is recorded, published from the alerts table's stream (the outbox),
//! and texted. Deliver the same alert again, and retry the request, and still each has one. Then the same
//! promise under injected SNS throttling, and a poison message watched from the queue to
//! its dead-letter queue and back.

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

#[tokio::test(flavor = "multi_thread")]
async fn with_a_fifth_of_sns_publishes_throttled_every_passenger_still_gets_exactly_one_text() {
    let env = LocalEnv::start(&["--fault", "sns:Publish=throttle:0.2", "--fault-seed", "8", "--retry-scale", "0.01"]);
    let mobiles: Vec<String> = (0..40).map(|_| testkit::unique_mobile()).collect();
    let flight = json!({
        "carrier": "AF", "flightNumber": "7", "date": testkit::departure_date(), "origin": "CDG", "destination": "JFK",
        "scheduledDeparture": format!("{}T10:00:00+01:00", testkit::departure_date()),
        "passengers": mobiles.iter().enumerate()
            .map(|(i, m)| json!({"name": format!("Passenger {i}"), "email": format!("p{i}@example.com"), "mobile": m}))
            .collect::<Vec<_>>()
    });
    assert_eq!(env.client().post(env.api("/flights")).json(&flight).send().await.unwrap().status(), 201);
    post_delay(&env, &format!("AF7-{}", testkit::departure_date()), "throttled-delay").await;

    let counts = testkit::eventually(Duration::from_secs(120), "a text for every passenger", || async {
        let sent = testkit::texts_by_number(env.moto()).await;
        let counts: Vec<usize> = mobiles.iter().map(|m| sent.get(m).map_or(0, Vec::len)).collect();
        counts.iter().all(|&c| c > 0).then_some(counts)
    })
    .await;
    assert_eq!(counts, vec![1; 40], "exactly one text each");
    let faults = env.local_json(&["faults"]);
    assert!(faults["injected"]["sns:Publish=throttle:0.2"].as_u64().unwrap() > 0, "{faults}");
    // Nothing was given up on.
    let sqs = aws_sqs(env.moto()).await;
    assert!(queue_messages(&sqs, &env.resource("SmsDeadLetterQueue", "reference")).await.is_empty());
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
