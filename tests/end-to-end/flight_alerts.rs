//! The README's story, end to end, against the local environment: the real function
//! binaries under cargo-lambda's runtime emulator, moto as AWS, wired from the template.
//!
//! Register a flight with three passengers, post a delay, and each passenger receives one
//! text. Deliver the same alert again, twice, and still each has one.

use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::{LocalEnv, aws_sqs};

#[tokio::test(flavor = "multi_thread")]
async fn a_delay_texts_every_passenger_exactly_once() {
    let env = LocalEnv::start(&[]);
    let http = env.client();
    let mobiles: Vec<String> = (0..3).map(|_| testkit::unique_mobile()).collect();
    let emails = ["ada@example.com", "grace@example.com", "alan@example.com"];

    // Register the flight with three passengers.
    let flight = json!({
        "carrier": "DL", "flightNumber": "1", "date": "2026-12-24", "origin": "JFK", "destination": "LAX",
        "scheduledDeparture": "2026-12-24T08:00:00-05:00",
        "passengers": mobiles.iter().zip(emails).enumerate()
            .map(|(i, (m, e))| json!({"name": format!("Passenger {i}"), "email": e, "mobile": m}))
            .collect::<Vec<_>>()
    });
    let created = http.post(env.api("/flights")).json(&flight).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let flight_id = created.json::<Value>().await.unwrap()["flightId"].as_str().unwrap().to_owned();
    assert_eq!(flight_id, "DL1-2026-12-24");
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
    let text = "DL1 JFK-LAX 24 Dec: delayed 90 min, now departs 09:30. Reason: Snow at origin";
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

    // Deliver the same alert again: once straight into the SMS queue, as SQS's
    // at-least-once delivery may, and once by the client retrying with its key.
    let queue = env.ready["resources"]["SmsQueue"]["reference"].as_str().unwrap();
    let sqs = aws_sqs(env.moto()).await;
    let same = json!({"alertId": alert_id, "flightId": flight_id, "text": text, "correlationId": correlation});
    sqs.send_message().queue_url(queue).message_body(same.to_string()).send().await.unwrap();
    let retried: Value = post_delay().await.unwrap().json().await.unwrap();
    assert_eq!(retried["alertId"], alert_id.as_str(), "the retry is the same alert");

    testkit::eventually(Duration::from_secs(60), "both re-deliveries processed", || async {
        let handled = env.logs().iter().filter(|l| l.contains("alert delivered") && l.contains(&alert_id)).count();
        (handled >= 3).then_some(())
    })
    .await;
    assert_eq!(texts(&env).await, vec![vec![text.to_owned()]; 3], "still one text each");

    // The alert is listed, once.
    let listed: Value =
        http.get(env.api(&format!("/alerts?flightId={flight_id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["alertId"], alert_id.as_str());

    // Logs: the correlation id reached the SMS function; no contact detail appears in full.
    let logs = env.logs();
    assert!(logs.iter().any(|l| l.starts_with("[sms]") && l.contains("text sent") && l.contains(&correlation)));
    for line in &logs {
        for secret in mobiles.iter().map(String::as_str).chain(emails) {
            assert!(!line.contains(secret), "unmasked contact detail in a log line: {line}");
        }
    }
}
