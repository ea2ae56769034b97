//! `local-env`: runs the whole application on this machine. See the README.
//!
//! Options (all optional):
//!   --api-port N       API port on 127.0.0.1 (default 3000; 0 picks a free one)
//!   --moto-port N      moto port (default 5050; 0 picks a free one)
//!   --emulator-port N  cargo-lambda runtime emulator port (default 9000; 0 picks a free one)
//!   --no-build         use the function binaries already in --bin-dir
//!   --bin-dir DIR      where the function binaries are (default target/debug)
//!   --venv DIR         the project's Python venv with moto and cargo-lambda (default .venv)
//!   --template FILE    the SAM template (default infra/template.yaml)
//!   --api-key KEY      the API key clients send as x-api-key (default local-api-key)
//!   --parameter N=V    a template parameter override, like sam deploy's (repeatable)

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use local_env::api_gateway::{self, Protections, Route};
use local_env::emulator::Invoker;
use local_env::openapi::OpenApi;
use local_env::processes::{self, free_port};
use local_env::sqs_source::{self, SqsSource};
use local_env::template::EventSpec;
use local_env::{Error, Template, provision};

struct Options {
    api_port: u16,
    moto_port: u16,
    emulator_port: u16,
    build: bool,
    bin_dir: PathBuf,
    venv: PathBuf,
    template: PathBuf,
    api_key: String,
    parameters: Vec<(String, String)>,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options {
        api_port: 3000,
        moto_port: 5050,
        emulator_port: 9000,
        build: true,
        bin_dir: PathBuf::from("target/debug"),
        venv: PathBuf::from(".venv"),
        template: PathBuf::from("infra/template.yaml"),
        api_key: "local-api-key".into(),
        parameters: Vec::new(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let port = |v: String| v.parse::<u16>().map_err(|_| format!("{v} is not a port"));
        match arg.as_str() {
            "--api-port" => o.api_port = port(value()?)?,
            "--moto-port" => o.moto_port = port(value()?)?,
            "--emulator-port" => o.emulator_port = port(value()?)?,
            "--no-build" => o.build = false,
            "--bin-dir" => o.bin_dir = value()?.into(),
            "--venv" => o.venv = value()?.into(),
            "--template" => o.template = value()?.into(),
            "--api-key" => o.api_key = value()?,
            "--parameter" => {
                let v = value()?;
                let (name, val) = v.split_once('=').ok_or_else(|| format!("--parameter takes Name=Value, not {v}"))?;
                o.parameters.push((name.to_owned(), val.to_owned()));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

fn pick(port: u16) -> Result<u16, Error> {
    if port == 0 { free_port() } else { Ok(port) }
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!(
                "{msg}\nusage: local-env [--api-port N] [--moto-port N] [--emulator-port N] [--no-build] [--bin-dir DIR] [--venv DIR] [--template FILE]"
            );
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("local-env: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(o: Options) -> Result<(), Error> {
    let mut template = Template::load(&o.template)?;
    for (name, value) in &o.parameters {
        template.override_parameter(name, value)?;
    }
    let contract = OpenApi::load(
        template
            .api_definition()
            .ok_or_else(|| Error::Template("no AWS::Serverless::Api with an included DefinitionBody".into()))?,
    )?;
    let functions = template.functions()?;
    let workspace = std::env::current_dir().map_err(|e| Error::Process(e.to_string()))?;

    if o.build {
        let mut cargo = tokio::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.arg("build");
        for f in &functions {
            cargo.args(["--bin", &f.binary]);
        }
        let status = cargo.status().await.map_err(|e| Error::Process(format!("cargo build: {e}")))?;
        if !status.success() {
            return Err(Error::Process("cargo build of the functions failed".into()));
        }
    }
    for f in &functions {
        let path = o.bin_dir.join(&f.binary);
        if !path.exists() {
            return Err(Error::Process(format!(
                "{} not found: build the functions first (cargo build)",
                path.display()
            )));
        }
    }

    let (api_port, moto_port, emulator_port) = (pick(o.api_port)?, pick(o.moto_port)?, pick(o.emulator_port)?);
    let moto = format!("http://127.0.0.1:{moto_port}");
    let _moto = processes::start_moto(&o.venv, moto_port, true).await?;
    let config = provision::emulator_config(&moto).await;
    let resources = provision::provision(&config, &template, "").await?;

    let _emulator = processes::start_emulator(&o.venv, &workspace, emulator_port).await?;
    let emulator = format!("http://127.0.0.1:{emulator_port}");
    let invoker = Invoker::new(&emulator);

    let mut routes = Vec::new();
    let sqs = aws_sdk_sqs::Client::new(&config);
    for f in &functions {
        // cargo-lambda's emulator serves each function's runtime API under its name.
        let runtime_api = format!("http://127.0.0.1:{emulator_port}/.rt/{}", f.binary);
        let env = provision::function_environment(f, &resources, &moto, &runtime_api)?;
        processes::start_function(absolute(&workspace, &o.bin_dir.join(&f.binary)), f.binary.clone(), env);
        for event in &f.events {
            match event {
                EventSpec::Api { path, method } => {
                    routes.push(Route { method: method.clone(), resource: path.clone(), function: f.binary.clone() })
                }
                EventSpec::Sqs { queue, batch_size, report_failures } => {
                    let queue = resources.get(queue)?;
                    let source = SqsSource {
                        function: f.binary.clone(),
                        queue_url: queue.reference.clone(),
                        queue_arn: queue.arn.clone(),
                        region: resources.region.clone(),
                        batch_size: i32::try_from(*batch_size).unwrap_or(10),
                        report_failures: *report_failures,
                    };
                    tokio::spawn(sqs_source::run(sqs.clone(), invoker.clone(), source));
                }
            }
        }
    }

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", api_port))
        .await
        .map_err(|e| Error::Process(format!("API port {api_port}: {e}")))?;
    let stage = template.parameter_default("Stage").unwrap_or_else(|| "dev".into());
    let api = format!("http://127.0.0.1:{api_port}");
    let throttle = match template.usage_plan_throttle() {
        Some((rate, burst)) => {
            let number = |v: &serde_yaml::Value| -> Result<f64, Error> {
                let text = resources.resolve(v)?;
                text.parse().map_err(|_| Error::Template(format!("usage plan throttle {text} is not a number")))
            };
            Some((number(&rate)?, number(&burst)?))
        }
        None => None,
    };
    let protections = Protections { api: contract, api_key: o.api_key.clone(), throttle };
    tokio::spawn(api_gateway::serve(listener, routes.clone(), invoker, stage, protections));

    println!("Flight alerts is running locally.");
    println!("  API       {api}");
    for r in &routes {
        println!("              {:<5} {}  -> {}", r.method, r.resource, r.function);
    }
    println!("  API key   {}  (send as x-api-key)", o.api_key);
    if let Some((rate, burst)) = throttle {
        println!("  Throttle  {rate} requests/s, burst {burst} (usage plan; 429 beyond)");
    }
    println!("  AWS       {moto}  (moto; texts sent: {moto}/moto-api/data.json, under sns.SMS)");
    println!("  Lambda    {emulator}  (cargo-lambda runtime emulator)");
    println!("Function logs follow. Ctrl-C stops everything.");
    let ready = serde_json::json!({"api": api, "apiKey": o.api_key, "moto": moto, "emulator": emulator, "resources": resources.resources});
    println!("READY {ready}");

    shutdown_signal().await;
    eprintln!("local-env: stopping");
    Ok(())
}

fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
