//! Test support shared by the crates' test suites.
//!
//! * Events: the official sample payloads that `aws_lambda_events` ships, adjusted to the
//!   case at hand, so handlers are tested against the real shapes.
//! * AWS: the moto server that `scripts/test` starts (its URL in `MOTO_ENDPOINT`), and
//!   resources provisioned into it from `infra/template.yaml` under a unique prefix.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::Value;

/// Where `aws_lambda_events` keeps its sample events, found through `cargo metadata` so it
/// works wherever the registry, a vendor directory or a git checkout put the crate.
fn fixtures_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .output()
            .expect("cargo metadata runs");
        let meta: Value = serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        let manifest = meta["packages"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["name"] == "aws_lambda_events"))
            .and_then(|p| p["manifest_path"].as_str())
            .expect("aws_lambda_events is a dependency");
        PathBuf::from(manifest).parent().expect("manifest has a directory").join("src/fixtures")
    })
}

/// One of `aws_lambda_events`' sample events, e.g. `example-sqs-event.json`.
pub fn aws_sample(name: &str) -> Value {
    let path = fixtures_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("sample events are JSON")
}

/// The official sample DynamoDB stream event with one record per `(event name, old
/// image, new image)` (DynamoDB JSON; `Value::Null` for an image the record lacks), keyed by
/// the image's `pk` and `sk`, with sequence numbers 100, 101, ...
pub fn dynamodb_stream_event(changes: &[(&str, Value, Value)]) -> Value {
    let mut event = aws_sample("example-dynamodb-event.json");
    let template = event["Records"][0].clone();
    event["Records"] = changes
        .iter()
        .enumerate()
        .map(|(i, (name, old, new))| {
            let mut record = template.clone();
            record["eventName"] = serde_json::json!(name);
            record["dynamodb"]["OldImage"] = old.clone();
            record["dynamodb"]["NewImage"] = new.clone();
            let image = if new.is_null() { old } else { new };
            record["dynamodb"]["Keys"] = serde_json::json!({"pk": image["pk"], "sk": image["sk"]});
            record["dynamodb"]["SequenceNumber"] = serde_json::json!(format!("{}", 100 + i));
            record
        })
        .collect();
    event
}

/// Every official API Gateway REST (payload v1) sample event `aws_lambda_events` ships.
pub const API_GATEWAY_REST_SAMPLES: [&str; 10] = [
    "example-apigw-console-request.json",
    "example-apigw-console-test-request.json",
    "example-apigw-custom-auth-request-type-request.json",
    "example-apigw-custom-auth-request.json",
    "example-apigw-request-catch-all.json",
    "example-apigw-request-multi-value-parameters.json",
    "example-apigw-request.json",
    "example-apigw-restapi-openapi-request.json",
    "example-apigw-sam-http-request.json",
    "example-apigw-sam-rest-request.json",
];

/// Those samples, each with its name.
pub fn api_gateway_rest_samples() -> Vec<(String, Value)> {
    API_GATEWAY_REST_SAMPLES.iter().map(|name| ((*name).to_owned(), aws_sample(name))).collect()
}

/// The sample SQS event with one record per `(message id, body)`, each a copy of the
/// sample record.
pub fn sqs_event(records: &[(&str, String)]) -> SqsEvent {
    let mut event = aws_sample("example-sqs-event.json");
    let template = event["Records"][0].clone();
    event["Records"] = records
        .iter()
        .map(|(id, body)| {
            let mut record = template.clone();
            record["messageId"] = Value::String((*id).to_owned());
            record["body"] = Value::String(body.clone());
            record
        })
        .collect();
    serde_json::from_value(event).expect("still an SQS event")
}

/// A REST API (payload v1) request for one operation, built on the sample API Gateway
/// event: `resource` is the template (`/flights/{flightId}`), `path` the concrete path.
pub struct RestCall<'a> {
    pub method: &'a str,
    pub resource: &'a str,
    pub path: &'a str,
    pub path_parameters: &'a [(&'a str, &'a str)],
    pub query: &'a [(&'a str, &'a str)],
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<Value>,
}

impl Default for RestCall<'_> {
    fn default() -> Self {
        Self { method: "GET", resource: "/", path: "/", path_parameters: &[], query: &[], headers: &[], body: None }
    }
}

pub fn rest_request(call: RestCall<'_>) -> lambda_http::Request {
    let mut event = aws_sample("example-apigw-request.json");
    let map = |pairs: &[(&str, &str)]| -> Value {
        if pairs.is_empty() {
            Value::Null
        } else {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned()))).collect()
        }
    };
    let multi = |pairs: &[(&str, &str)]| -> Value {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), Value::Array(vec![Value::String((*v).to_owned())]))).collect()
    };
    event["resource"] = call.resource.into();
    event["path"] = call.path.into();
    event["httpMethod"] = call.method.into();
    event["requestContext"]["resourcePath"] = call.resource.into();
    event["requestContext"]["httpMethod"] = call.method.into();
    event["pathParameters"] = map(call.path_parameters);
    event["queryStringParameters"] = map(call.query);
    event["multiValueQueryStringParameters"] = if call.query.is_empty() { Value::Null } else { multi(call.query) };
    let mut headers = vec![("Content-Type", "application/json")];
    headers.extend_from_slice(call.headers);
    event["headers"] = map(&headers);
    event["multiValueHeaders"] = multi(&headers);
    event["body"] = call.body.map(|b| Value::String(b.to_string())).unwrap_or(Value::Null);
    lambda_http::request::from_str(&event.to_string()).expect("a REST API proxy event")
}

/// The JSON body of a function's HTTP response.
pub fn json_body(response: &lambda_http::Response<lambda_http::Body>) -> Value {
    match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        other => panic!("expected a text body, got {other:?}"),
    }
}

/// The moto server of this test run.
pub fn moto_endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto")
}

/// SDK configuration for moto, with the same settings the functions get. The first call
/// in a process also takes this process's block of phone numbers (`unique_mobile`).
pub async fn moto() -> SdkConfig {
    let config = local_env::provision::emulator_config(&moto_endpoint()).await;
    MOBILE_BLOCK.get_or_init(|| take_mobile_block(&config)).await;
    config
}

/// Blocks of 10,000 numbers in the +1 415 range `unique_mobile` uses.
const MOBILE_BLOCKS: u32 = 800;
static MOBILE_BLOCK: tokio::sync::OnceCell<u32> = tokio::sync::OnceCell::const_new();

/// The next block from a counter kept in moto itself, so that the test processes sharing a
/// moto (one `scripts/test` run) never share a block; moto being a fresh server each run,
/// blocks only wrap after 800 processes.
async fn take_mobile_block(config: &SdkConfig) -> u32 {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue, ScalarAttributeType,
    };
    let dynamo = aws_sdk_dynamodb::Client::new(config);
    let table = "testkit-counters";
    let created = dynamo
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await;
    if let Err(err) = created {
        assert!(
            err.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()),
            "creating the test counters table: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(err)
        );
    }
    let counted = dynamo
        .update_item()
        .table_name(table)
        .key("id", AttributeValue::S("mobile-block".into()))
        .update_expression("ADD n :one")
        .expression_attribute_values(":one", AttributeValue::N("1".into()))
        .return_values(ReturnValue::UpdatedNew)
        .send()
        .await
        .expect("counting test processes in moto");
    let n: u32 = match counted.attributes.as_ref().and_then(|a| a.get("n")) {
        Some(AttributeValue::N(n)) => n.parse().expect("a counter"),
        other => panic!("unexpected counter {other:?}"),
    };
    n % MOBILE_BLOCKS
}

/// The template's resources, freshly created in moto under a prefix no other test uses.
pub async fn provision(config: &SdkConfig) -> local_env::Resources {
    let template = local_env::Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml"))
        .expect("infra/template.yaml loads");
    let prefix = format!("t{}-", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    local_env::provision::provision(config, &template, &prefix).await.expect("provisioning in moto")
}

/// A mobile number no other test uses: US +1 415, exchange 2xx–9xx. Numbers are handed out
/// in order from a block of 10,000, so they never repeat within a test process (random
/// numbers did: 2,000 of them collided about one run in five). Processes sharing a moto
/// take their blocks from a counter in it (`moto`: call it first); a process that never
/// calls `moto` (the end-to-end tests, whose environments each run their own moto) takes
/// a block from its process id.
pub fn unique_mobile() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    assert!(n < 10_000, "a test process used all 10,000 numbers of its block");
    let block = MOBILE_BLOCK.get().copied().unwrap_or(std::process::id() % MOBILE_BLOCKS);
    let number = 2_000_000 + block * 10_000 + n;
    format!("+1415{number:07}")
}

/// A departure date the API accepts whenever the tests run: thirty days from today (UTC),
/// as `YYYY-MM-DD`. (Registrations outside the window around today are refused.)
pub fn departure_date() -> String {
    let date = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// How the SMS text writes a `YYYY-MM-DD` date: `24 Dec`.
pub fn text_date(date: &str) -> String {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month: usize = date[5..7].parse().unwrap_or(1);
    format!("{} {}", &date[8..10], MONTHS[month.clamp(1, 12) - 1])
}

/// Every text moto has recorded as sent, by phone number, oldest first. moto's SMS
/// sink is the ground truth of "what did passengers receive".
pub async fn texts_by_number(endpoint: &str) -> std::collections::HashMap<String, Vec<String>> {
    // moto serialises its state while other requests change it, and then answers with an
    // error page; asking again gets a consistent snapshot.
    let url = format!("{endpoint}/moto-api/data.json");
    let data: Value = eventually(Duration::from_secs(30), "moto's data as JSON", || async {
        reqwest::get(&url).await.ok()?.json::<Value>().await.ok()
    })
    .await;
    let mut texts: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for sms in data["sns"]["SMS"].as_array().into_iter().flatten() {
        if let (Some(number), Some(message)) = (sms["phone_number"].as_str(), sms["message"].as_str()) {
            texts.entry(number.to_owned()).or_default().push(message.to_owned());
        }
    }
    texts
}

/// Texts moto has recorded as sent to `number`, oldest first.
pub async fn texts_sent_to(endpoint: &str, number: &str) -> Vec<String> {
    texts_by_number(endpoint).await.remove(number).unwrap_or_default()
}

/// Polls `check` until it returns `Some`, or panics with `what` at the deadline.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out after {within:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The log lines that carry a phone number or an email address unmasked (anything
/// `domain::contact::redact` would change), for checks over everything a run logged.
pub fn unmasked_contact_details(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|line| matches!(domain::contact::redact(line), std::borrow::Cow::Owned(_))).collect()
}
