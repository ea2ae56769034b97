//! The API's protections, as declared in infra/template.yaml and openapi.yaml, enforced
//! by the local environment before any function runs: API key, usage-plan throttle,
//! request validation. Refusals are problem documents, like the functions' own.

use serde_json::{Value, json};

mod support;
use support::LocalEnv;

/// How many times the flights function has answered so far.
fn flights_invocations(env: &LocalEnv) -> usize {
    env.logs().iter().filter(|l| l.starts_with("[flights]") && l.contains("request handled")).count()
}

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_without_a_key_or_with_invalid_input_never_reach_a_function() {
    let env = LocalEnv::start(&[]);
    let anonymous = reqwest::Client::new();
    let keyed = env.client();

    let (status, body) = problem(anonymous.get(env.api("/flights/UA83-2026-12-01")).send().await.unwrap()).await;
    assert_eq!((status, body["type"].as_str()), (403, Some("/problems/forbidden")));
    let wrong = anonymous.get(env.api("/flights/UA83-2026-12-01")).header("x-api-key", "guess").send().await.unwrap();
    assert_eq!(wrong.status(), 403);

    let invalid = keyed.post(env.api("/flights")).json(&json!({"carrier": 5, "extra": true})).send().await.unwrap();
    let (status, body) = problem(invalid).await;
    assert_eq!(status, 400);
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("carrier") && detail.contains("extra") && detail.contains("passengers"), "{detail}");

    let (status, body) = problem(keyed.get(env.api("/alerts")).send().await.unwrap()).await;
    assert_eq!(status, 400);
    assert_eq!(body["detail"], "Missing required request parameters: [flightId]");

    let (status, _) = problem(keyed.get(env.api("/nowhere")).send().await.unwrap()).await;
    assert_eq!(status, 404);
    let (status, _) = problem(keyed.delete(env.api("/flights")).send().await.unwrap()).await;
    assert_eq!(status, 404, "an undeclared method is answered as an undeclared route");
    let huge = format!("{{\"carrier\": \"{}\"}}", "x".repeat(11 * 1024 * 1024));
    let too_large =
        keyed.post(env.api("/flights")).header("content-type", "application/json").body(huge).send().await.unwrap();
    let (status, body) = problem(too_large).await;
    assert_eq!((status, body["type"].as_str()), (413, Some("/problems/too-large")));
    assert_eq!(flights_invocations(&env), 0, "no function ran for any of these");

    // A valid request with the key does reach the function.
    assert_eq!(keyed.get(env.api("/flights/UA83-2026-12-01")).send().await.unwrap().status(), 404);
    testkit::eventually(std::time::Duration::from_secs(10), "the flights function's log line", || async {
        (flights_invocations(&env) == 1).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_beyond_the_usage_plan_are_throttled() {
    let env = LocalEnv::start(&["--parameter", "ApiRateLimit=1", "--parameter", "ApiBurstLimit=3"]);
    let keyed = env.client();
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(keyed.get(env.api("/flights/UA83-2026-12-01")).send().await.unwrap().status().as_u16());
    }
    assert!(statuses[..3].iter().all(|&s| s == 404), "the burst is served: {statuses:?}");
    let throttled = keyed.get(env.api("/flights/UA83-2026-12-01")).send().await.unwrap();
    let (status, body) = problem(throttled).await;
    assert_eq!((status, body["type"].as_str()), (429, Some("/problems/throttled")), "{statuses:?}");
}
