//! The shipped build survives whatever reaches it: the HTTP functions, built with the
//! release profile (`panic = "abort"`, as packaged) for this machine by scripts/test, are
//! fed every official API Gateway sample event and requests with hostile `Host` and
//! `X-Forwarded-Proto` headers through the Lambda Runtime API; each gets an answer, and
//! the process that answered the first is the one that answers the last.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use local_env::lambda::runtime_api::{Answer, Event, RuntimeApi};
use serde_json::{Value, json};

/// The sample request on `GET /flights/{flightId}`, with the given Host and X-Forwarded-Proto.
fn hostile(host: &str, proto: &str) -> Value {
    let mut event = testkit::aws_sample("example-apigw-request.json");
    event["resource"] = json!("/flights/{flightId}");
    event["path"] = json!("/flights/UA83-2026-12-01");
    event["httpMethod"] = json!("GET");
    event["pathParameters"] = json!({"flightId": "UA83-2026-12-01"});
    event["headers"] = json!({"Host": host, "X-Forwarded-Proto": proto});
    event["multiValueHeaders"] = json!({"Host": [host], "X-Forwarded-Proto": [proto]});
    event
}

#[tokio::test]
async fn the_release_build_answers_every_sample_event_and_hostile_header_without_dying() {
    let release = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/release"));
    let mut events: Vec<(String, Value)> = testkit::api_gateway_rest_samples();
    for (host, proto) in [("api{x}", "https"), ("api.example.com", "a b"), ("[::z]", "https"), ("h:99999", "http")] {
        events.push((format!("Host {host}, X-Forwarded-Proto {proto}"), hostile(host, proto)));
    }
    for function in ["flights", "alerts"] {
        let program = release.join(function);
        assert!(program.exists(), "{} missing: scripts/test builds it (cargo build --release)", program.display());
        let api = RuntimeApi::start().await.unwrap();
        let mut process = tokio::process::Command::new(&program)
            .env_clear()
            .envs([
                ("AWS_LAMBDA_RUNTIME_API", api.address().as_str()),
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                // Nothing listens here: no sample event may need AWS to be answered.
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
                ("AWS_LAMBDA_FUNCTION_NAME", function),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                ("FLIGHTS_TABLE", "flights"),
                ("ALERTS_TABLE", "alerts"),
                ("FLIGHTS_RETENTION_DAYS", "30"),
                ("ALERTS_RETENTION_DAYS", "30"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let pid = process.id();
        for (name, event) in &events {
            let sent = Event::new(
                event.to_string(),
                Duration::from_secs(30),
                "arn:aws:lambda:us-east-1:123456789012:function:t",
            );
            let answer = tokio::time::timeout(Duration::from_secs(30), api.submit(sent).answer).await;
            let answer = answer
                .unwrap_or_else(|_| panic!("{function}: no answer to {name} (exited: {:?})", process.try_wait()))
                .unwrap();
            if let Answer::Response { body, .. } = &answer {
                let response: Value = serde_json::from_slice(body).unwrap();
                let status = response["statusCode"].as_u64().unwrap_or(0);
                assert!((200..500).contains(&status), "{function}: {name} answered {response}");
            }
            assert!(process.try_wait().unwrap().is_none(), "{function} died on {name}");
        }
        assert_eq!(process.id(), pid, "the same process answered every event");
    }
}
