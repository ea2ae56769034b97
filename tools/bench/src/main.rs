//! `bench`: cold start, memory, warm latency, instructions and cost of each function,
//! side by side with a Python peer, against moto. Prints figures; asserts no timing.
//! See BENCHMARKS.md for results and `scripts/bench` for the command.
//!
//! Options:
//!   --bin-dir DIR     the function binaries to measure (default target/release)
//!   --runs N          fresh processes per function for cold starts (default 20)
//!   --warm N          warm invocations per function (default 200)
//!   --no-callgrind    skip counting instructions
//!   --smoke           a quick run that only proves the harness works (2 runs, 5 warm,
//!                     no callgrind); prints a RESULTS line for the test suite

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use local_env::Resources;
use local_env::provision::function_environment;
use local_env::template::FunctionSpec;
use local_env::{Template, processes, provision};
use serde_json::{Value, json};

mod measure;

use measure::{CheckFn, EventFn, Target, quantile_ms};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Env(#[from] local_env::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Harness(String),
}

/// Lambda's arm64 prices (us-east-1): per request, and per GB-second of billed duration.
const PRICE_PER_REQUEST: f64 = 0.20 / 1_000_000.0;
const PRICE_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
const MEMORY_GB: f64 = 128.0 / 1024.0;
/// The text the sms row sends to each of its three passengers.
const SMS_TEXT: &str = "BM1 SFO-JFK 01 Dec: cancelled. Reason: Bench";
const TEXTS_PER_SMS_INVOCATION: usize = 3;
/// An assumed price per SMS segment: SMS is billed per segment, at a price that depends
/// on the destination country and route (this is of the order of a US text's base price
/// before carrier fees); it dwarfs Lambda's.
const ASSUMED_PRICE_PER_SEGMENT: f64 = 0.0058;
/// The flight every read uses, registered thirty days ahead (see `departure_date`).
fn flight_id() -> String {
    format!("BM1-{}", departure_date())
}

/// A departure date the API accepts whenever the benchmark runs: thirty days from today.
fn departure_date() -> String {
    let date = time::OffsetDateTime::now_utc().date() + time::Duration::days(30);
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}
/// Flight numbers for the registrations measured (`BM1` is the flight every read uses).
static NEXT_FLIGHT_NUMBER: AtomicU32 = AtomicU32::new(1000);

struct Options {
    bin_dir: PathBuf,
    runs: usize,
    warm: usize,
    callgrind: bool,
    smoke: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { bin_dir: "target/release".into(), runs: 20, warm: 200, callgrind: true, smoke: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let count = |v: String| v.parse::<usize>().map_err(|_| format!("{v} is not a count"));
        match arg.as_str() {
            "--bin-dir" => o.bin_dir = value()?.into(),
            "--runs" => o.runs = count(value()?)?.max(1),
            "--warm" => o.warm = count(value()?)?.max(1),
            "--no-callgrind" => o.callgrind = false,
            "--smoke" => {
                o.smoke = true;
                (o.runs, o.warm, o.callgrind) = (2, 5, false);
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\nusage: bench [--bin-dir DIR] [--runs N] [--warm N] [--no-callgrind] [--smoke]");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("bench: {err}");
            ExitCode::FAILURE
        }
    }
}

/// A REST API (payload v1) proxy event, as API Gateway sends it.
fn rest_event(
    method: &str,
    resource: &str,
    path: &str,
    path_params: Value,
    query: Value,
    body: Option<Value>,
) -> Value {
    json!({
        "resource": resource, "path": path, "httpMethod": method,
        "headers": {"content-type": "application/json", "x-api-key": "bench"},
        "multiValueHeaders": {"content-type": ["application/json"]},
        "queryStringParameters": query, "multiValueQueryStringParameters": Value::Null,
        "pathParameters": path_params, "stageVariables": Value::Null,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench", "resourceId": "bench", "stage": "dev",
            "resourcePath": resource, "httpMethod": method, "path": format!("/dev{path}"),
            "requestId": uuid::Uuid::new_v4().to_string(), "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": body.map(|b| Value::String(b.to_string())).unwrap_or(Value::Null),
        "isBase64Encoded": false,
    })
}

/// `POST /flights` registering flight BM`number`, thirty days ahead, with three passengers.
fn registration(number: u32) -> Value {
    let passengers: Vec<Value> = ["+14155550101", "+14155550102", "+14155550103"]
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"name": format!("Bench {i}"), "email": format!("b{i}@example.com"), "mobile": m}))
        .collect();
    let body = json!({
        "carrier": "BM", "flightNumber": number.to_string(), "date": departure_date(), "origin": "SFO",
        "destination": "JFK", "scheduledDeparture": format!("{}T08:30:00-08:00", departure_date()), "passengers": passengers
    });
    rest_event("POST", "/flights", "/flights", Value::Null, Value::Null, Some(body))
}

fn status_is(expected: u64) -> CheckFn {
    Box::new(move |answer| match answer.get("statusCode").and_then(Value::as_u64) {
        Some(status) if status == expected => Ok(()),
        _ => Err(format!("expected status {expected}, got {answer}")),
    })
}

struct Setup {
    template: Template,
    resources: Resources,
    moto: String,
    workspace: PathBuf,
    bin_dir: PathBuf,
}

impl Setup {
    fn function(&self, binary: &str) -> Result<FunctionSpec, Error> {
        self.template
            .functions()?
            .into_iter()
            .find(|f| f.binary == binary)
            .ok_or_else(|| Error::Harness(format!("{binary} is not in the template")))
    }

    fn rust_target(&self, label: &str, binary: &str, event: EventFn, check: CheckFn) -> Result<Target, Error> {
        let function = self.function(binary)?;
        let env = function_environment(&function, &self.resources, &self.moto)?;
        // Logs go nowhere during measurement, but the formatting work is still done.
        let program = absolute(&self.workspace, &self.bin_dir.join(binary));
        if !program.exists() {
            return Err(Error::Harness(format!(
                "{} not found: build it first (scripts/bench does)",
                program.display()
            )));
        }
        Ok(Target {
            label: label.into(),
            program,
            args: vec![],
            cwd: self.workspace.clone(),
            env,
            event,
            check,
            callgrind: true,
        })
    }
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

struct Row {
    label: String,
    init_p50: f64,
    init_p90: f64,
    first_p50: f64,
    first_p90: f64,
    warm_p50: f64,
    warm_p90: f64,
    rss_mib: f64,
    instructions: Option<u64>,
}

impl Row {
    /// Cost of a million warm invocations at 128 MB on arm64: request fee plus billed
    /// duration (rounded up to the millisecond, as Lambda bills).
    fn cost_per_million(&self) -> f64 {
        let billed_seconds = self.warm_p50.ceil() / 1000.0;
        1_000_000.0 * (PRICE_PER_REQUEST + billed_seconds * MEMORY_GB * PRICE_PER_GB_SECOND_ARM64)
    }
}

async fn run(o: Options) -> Result<(), Error> {
    let workspace = std::env::current_dir()?;
    let venv = workspace.join(".venv");
    let mut template = Template::load(workspace.join("infra/template.yaml"))?;
    // The SMS function paces itself to its share of the account's SMS rate; here the rate
    // is lifted so that the figures measure its work, not its waiting.
    template.override_parameter("SmsTextsPerSecond", "100000")?;

    let (_moto, moto_port) = processes::start_moto(&venv, 0, true).await?;
    let moto = format!("http://127.0.0.1:{moto_port}");
    let config = provision::emulator_config(&moto).await;
    let resources = provision::provision(&config, &template, "").await?;
    let setup =
        Setup { template, resources, moto: moto.clone(), workspace: workspace.clone(), bin_dir: o.bin_dir.clone() };

    // The flight every measured request reads, registered through the flights function.
    let seed = setup.rust_target("seed", "flights", Box::new(|| registration(1)), status_is(201))?;
    measure::warm(&seed, 0).await?;

    let get_flight = || {
        rest_event(
            "GET",
            "/flights/{flightId}",
            &format!("/flights/{}", flight_id()),
            json!({"flightId": flight_id()}),
            Value::Null,
            None,
        )
    };
    let mut targets = vec![
        setup.rust_target("flights GET /flights/{id}", "flights", Box::new(get_flight), status_is(200))?,
        setup.rust_target(
            "flights POST /flights (3 passengers)",
            "flights",
            // A flight number no earlier invocation registered, so every answer is a 201.
            Box::new(|| registration(NEXT_FLIGHT_NUMBER.fetch_add(1, Ordering::Relaxed))),
            status_is(201),
        )?,
        setup.rust_target(
            "flights POST invalid (no I/O)",
            "flights",
            Box::new(|| {
                rest_event("POST", "/flights", "/flights", Value::Null, Value::Null, Some(json!({"carrier": "?"})))
            }),
            status_is(400),
        )?,
        setup.rust_target(
            "alerts GET /alerts",
            "alerts",
            Box::new(|| rest_event("GET", "/alerts", "/alerts", Value::Null, json!({"flightId": flight_id()}), None)),
            status_is(200),
        )?,
        setup.rust_target(
            "sms (3 texts)",
            "sms",
            Box::new(|| {
                let alert = json!({
                    "alertId": uuid::Uuid::now_v7().to_string(), "flightId": flight_id(),
                    "text": SMS_TEXT, "correlationId": "bench"
                });
                json!({"Records": [{
                    "messageId": uuid::Uuid::new_v4().to_string(), "receiptHandle": "r", "body": alert.to_string(),
                    "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:SmsQueue", "awsRegion": "us-east-1"
                }]})
            }),
            Box::new(|answer| match answer.get("batchItemFailures").and_then(Value::as_array) {
                Some(failures) if failures.is_empty() => Ok(()),
                _ => Err(format!("expected no batch item failures, got {answer}")),
            }),
        )?,
    ];
    // The floor: the runtime crate alone, with the flights function's environment.
    let mut floor = setup.rust_target(
        "floor: lambda_runtime alone (echo)",
        "flights",
        Box::new(|| json!({"ping": true})),
        Box::new(|answer| if answer == &json!({}) { Ok(()) } else { Err(format!("expected {{}}, got {answer}")) }),
    )?;
    floor.program = absolute(&workspace, &o.bin_dir.join("floor"));
    if !floor.program.exists() {
        return Err(Error::Harness(format!(
            "{} not found: build it first (scripts/bench does)",
            floor.program.display()
        )));
    }
    targets.insert(0, floor);
    let python_dir = workspace.join("tools/bench/python");
    let mut python_env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_LAMBDA_FUNCTION_NAME", "get_flight"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    python_env.push(("FLIGHTS_TABLE".into(), setup.resources.get("FlightsTable")?.reference.clone()));
    python_env.push(("LAMBDA_TASK_ROOT".into(), python_dir.display().to_string()));
    python_env.push(("PYTHONPATH".into(), python_dir.display().to_string()));
    targets.push(Target {
        label: "python GET /flights/{id}".into(),
        program: venv.join("bin/python"),
        args: vec!["-m".into(), "awslambdaric".into(), "get_flight.handler".into()],
        cwd: python_dir,
        env: python_env,
        event: Box::new(get_flight),
        check: status_is(200),
        callgrind: false,
    });

    let mut rows = Vec::new();
    for target in &targets {
        eprintln!("bench: {} ...", target.label);
        let cold = measure::cold_starts(target, o.runs).await?;
        let (warm, warm_rss) = measure::warm(target, o.warm).await?;
        let instructions = if o.callgrind && target.callgrind {
            Some(measure::instructions_per_invocation(target).await?)
        } else {
            None
        };
        let inits: Vec<Duration> = cold.iter().map(|c| c.init).collect();
        let firsts: Vec<Duration> = cold.iter().map(|c| c.first_response).collect();
        let rss = cold.iter().map(|c| c.peak_rss_kib).chain([warm_rss]).max().unwrap_or(0);
        rows.push(Row {
            label: target.label.clone(),
            init_p50: quantile_ms(&inits, 0.5),
            init_p90: quantile_ms(&inits, 0.9),
            first_p50: quantile_ms(&firsts, 0.5),
            first_p90: quantile_ms(&firsts, 0.9),
            warm_p50: quantile_ms(&warm, 0.5),
            warm_p90: quantile_ms(&warm, 0.9),
            rss_mib: rss as f64 / 1024.0,
            instructions,
        });
    }
    print_report(&o, &rows, &workspace);
    Ok(())
}

fn print_report(o: &Options, rows: &[Row], workspace: &Path) {
    println!(
        "\n{} cold starts and {} warm invocations per function; binaries from {}",
        o.runs,
        o.warm,
        o.bin_dir.display()
    );
    println!(
        "| function | init p50 ms | init p90 ms | 1st response p50 ms | p90 ms | warm p50 ms | warm p90 ms | peak RSS MiB | instr/invocation | $ per 1M (arm64, 128 MB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let instructions = r.instructions.map_or("-".to_owned(), |i| i.to_string());
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {} | {:.2} |",
            r.label,
            r.init_p50,
            r.init_p90,
            r.first_p50,
            r.first_p90,
            r.warm_p50,
            r.warm_p90,
            r.rss_mib,
            instructions,
            r.cost_per_million()
        );
    }
    if let Some(sms) = rows.iter().find(|r| r.label.starts_with("sms")) {
        let segments = TEXTS_PER_SMS_INVOCATION * domain::flight_alerts::sms_text::segments(SMS_TEXT);
        println!(
            "\nSMS is billed per segment: the sms row sends {segments} segments per invocation, ${:.0} per 1M invocations at an assumed ${ASSUMED_PRICE_PER_SEGMENT} a segment, next to ${:.2} of Lambda",
            segments as f64 * ASSUMED_PRICE_PER_SEGMENT * 1_000_000.0,
            sms.cost_per_million()
        );
    }
    let rust = rows.iter().find(|r| r.label.starts_with("flights GET"));
    let python = rows.iter().find(|r| r.label.starts_with("python"));
    if let (Some(rust), Some(python)) = (rust, python) {
        let ratio = |p: f64, r: f64| if r > 0.0 { p / r } else { 0.0 };
        println!("\nRust : Python, same handler (GET /flights/{{id}}), same moto, same run:");
        println!("  init p50            {:.1}x faster", ratio(python.init_p50, rust.init_p50));
        println!("  first response p50  {:.1}x faster", ratio(python.first_p50, rust.first_p50));
        println!("  warm p50            {:.1}x faster", ratio(python.warm_p50, rust.warm_p50));
        println!("  peak RSS            {:.1}x smaller", ratio(python.rss_mib, rust.rss_mib));
    }
    println!("\nPackages (arm64 release, from scripts/package):");
    for f in ["flights", "alerts", "alert-publisher", "sms"] {
        let zip = workspace.join("target/lambda").join(f).join("bootstrap.zip");
        match std::fs::metadata(&zip) {
            Ok(meta) => println!("  {f:<8} zip {:.2} MB", meta.len() as f64 / 1_048_576.0),
            Err(_) => println!("  {f:<8} (no package: run scripts/package)"),
        }
    }
    let results: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"label": r.label, "init_p50_ms": r.init_p50, "first_response_p50_ms": r.first_p50,
                        "warm_p50_ms": r.warm_p50, "peak_rss_mib": r.rss_mib, "instructions": r.instructions})
        })
        .collect();
    println!("RESULTS {}", Value::Array(results));
}
