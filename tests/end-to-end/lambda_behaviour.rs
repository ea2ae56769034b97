//! Functions behave locally as they do on Lambda: cut off at their timeout, stopped past
//! their memory, throttled beyond their concurrency, invocable with `cargo lambda invoke`,
//! restarted with new code under `--watch`; and what each function of the application
//! does with an event of the wrong shape.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

mod support;
use support::LocalEnv;

const WAIT: Duration = Duration::from_secs(60);

/// Invokes synchronously through the Invoke API: (status, function error header, body).
async fn invoke(env: &LocalEnv, function: &str, payload: &Value) -> (u16, Option<String>, Value) {
    let response = reqwest::Client::new().post(env.invoke_url(function)).json(payload).send().await.unwrap();
    let status = response.status().as_u16();
    let error = response.headers().get("x-amz-function-error").map(|v| v.to_str().unwrap().to_owned());
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, error, body)
}

/// The invocation log's entry for a request id, once written.
async fn logged(env: &LocalEnv, request_id: &str) -> Value {
    testkit::eventually(WAIT, "the invocation in the log", || async {
        env.invocations().into_iter().find(|i| i["requestId"] == request_id)
    })
    .await
}

/// The request id the probe saw for the event holding `marker` (its output is read
/// concurrently, so it may arrive just after the invocation's answer).
async fn request_of(env: &LocalEnv, function: &str, marker: &str) -> String {
    testkit::eventually(WAIT, marker, || async {
        let events = env.probe_events(function);
        events.iter().rev().find(|(_, e)| e.to_string().contains(marker)).map(|(id, _)| id.clone())
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_function_is_stopped_at_its_timeout_and_past_its_memory_and_the_next_invocation_starts_fresh() {
    let env = LocalEnv::event_sources(&[]);
    let (status, error, body) = invoke(&env, "QueueProbe", &json!({"first": "warm up"})).await;
    assert_eq!((status, error, body), (200, None, json!({"ok": true})));

    // Timeout: 2 seconds in the template.
    let (status, error, body) = invoke(&env, "QueueProbe", &json!({"cmd": "probe-sleep-5000"})).await;
    assert_eq!((status, error.as_deref()), (200, Some("Unhandled")));
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert!(body["errorMessage"].as_str().unwrap().ends_with("Task timed out after 2.00 seconds"), "{body}");
    let timed_out = logged(&env, &request_of(&env, "QueueProbe", "probe-sleep-5000").await).await;
    assert_eq!(timed_out["outcome"], "timeout");
    let (_, error, _) = invoke(&env, "QueueProbe", &json!({"after": "timeout"})).await;
    assert_eq!(error, None);
    let after = logged(&env, &request_of(&env, "QueueProbe", "\"after\"").await).await;
    assert_eq!(after["coldStart"], true, "a timed-out environment is replaced");
    assert_ne!(after["environment"], timed_out["environment"]);

    // Memory: 128 MB in the template.
    let (_, error, body) = invoke(&env, "QueueProbe", &json!({"cmd": "probe-grow-300"})).await;
    assert_eq!(
        (error.as_deref(), body["errorType"].as_str()),
        (Some("Unhandled"), Some("Runtime.OutOfMemory")),
        "{body}"
    );
    let grown = logged(&env, &request_of(&env, "QueueProbe", "probe-grow-300").await).await;
    assert_eq!((grown["outcome"].as_str(), grown["memorySizeMiB"].as_u64()), (Some("crashed"), Some(128)));
    assert!(grown["peakMemoryMiB"].as_f64().unwrap() > 128.0, "{grown}");

    // A crash mid-invocation is a function error too.
    let (_, error, body) = invoke(&env, "QueueProbe", &json!({"cmd": "probe-crash"})).await;
    assert_eq!(
        (error.as_deref(), body["errorType"].as_str()),
        (Some("Unhandled"), Some("Runtime.ExitError")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invocations_beyond_reserved_concurrency_are_throttled() {
    let env = LocalEnv::event_sources(&[]);
    // AsyncProbe reserves 3 concurrent executions.
    let calls = (0..5).map(|i| {
        let env = &env;
        async move { invoke(env, "AsyncProbe", &json!({"call": i, "cmd": "probe-sleep-1500"})).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut statuses: Vec<u16> = results.iter().map(|(s, _, _)| *s).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let throttled = results.iter().find(|(s, _, _)| *s == 429).unwrap();
    assert_eq!(throttled.2["message"], "Rate Exceeded.");
}

#[tokio::test(flavor = "multi_thread")]
async fn cargo_lambda_invoke_works_against_the_local_environment() {
    let env = LocalEnv::event_sources(&[]);
    let port = env.ready["lambda"].as_str().unwrap().rsplit(':').next().unwrap().to_owned();
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let output = Command::new(workspace.join(".venv/bin/cargo-lambda"))
        .current_dir(&workspace)
        .args(["lambda", "invoke", "--invoke-address", "127.0.0.1", "--invoke-port", &port])
        .args(["--data-ascii", r#"{"from": "cargo lambda"}"#, "QueueProbe"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(serde_json::from_str::<Value>(stdout.trim()).unwrap(), json!({"ok": true}));
    request_of(&env, "QueueProbe", "cargo lambda").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn under_watch_a_code_change_rebuilds_and_the_next_event_runs_in_a_new_environment() {
    // A stand-in for the sources and the build: touching the probe binary is what a
    // rebuild does to it; the mechanism (watch, build, compare, restart) is the real one.
    let sources = std::env::temp_dir().join(format!("watched-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(sources.join("lib.rs"), "// before").unwrap();
    let probe = std::env::current_exe().unwrap().parent().and_then(|d| d.parent()).unwrap().join("probe");
    let build = format!("touch {}", probe.display());
    let env =
        LocalEnv::event_sources(&["--watch", "--watch-path", sources.to_str().unwrap(), "--build-command", &build]);
    invoke(&env, "QueueProbe", &json!({"n": "one"})).await;
    invoke(&env, "QueueProbe", &json!({"n": "two"})).await;
    let two = logged(&env, &request_of(&env, "QueueProbe", "\"two\"").await).await;
    assert_eq!(two["coldStart"], false, "the environment is reused while the code is unchanged");

    std::fs::write(sources.join("lib.rs"), "// after").unwrap();
    testkit::eventually(WAIT, "the rebuild", || async {
        env.logs().iter().any(|l| l.contains("QueueProbe: new code")).then_some(())
    })
    .await;
    invoke(&env, "QueueProbe", &json!({"n": "three"})).await;
    let three = logged(&env, &request_of(&env, "QueueProbe", "\"three\"").await).await;
    assert_eq!(three["coldStart"], true);
    assert_ne!(three["environment"], two["environment"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_refuses_an_event_of_another_source_with_a_clear_error() {
    let env = LocalEnv::start(&[]);
    let sqs_event = testkit::aws_sample("example-sqs-event.json");
    let http_and_streams = [
        "flights",
        "alerts",
        "alert-publisher",
        "collections",
        "recommender",
        "collection-publisher",
        "collection-sweeper",
        "jobs",
        "splitter",
        "reducer",
        "archiver",
        "rollup",
    ];
    for function in http_and_streams {
        let (status, error, body) = invoke(&env, function, &sqs_event).await;
        assert_eq!((status, error.as_deref()), (200, Some("Unhandled")), "{function}: {body}");
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{function} explains the failure: {body}");
    }
    for function in ["sms", "retrainer", "mapper"] {
        for sample in ["example-s3-event.json", "example-sns-event.json", "example-dynamodb-event.json"] {
            let (status, error, body) = invoke(&env, function, &testkit::aws_sample(sample)).await;
            assert_eq!((status, error.as_deref()), (200, Some("Unhandled")), "{function} {sample}: {body}");
            let message = body["errorMessage"].as_str().unwrap();
            assert!(message.contains("not an SQS event"), "{function} {sample}: {body}");
        }
    }
    let texted = testkit::texts_by_number(env.moto()).await;
    assert!(texted.is_empty(), "nothing was texted: {texted:?}");
}
