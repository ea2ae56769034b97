//! Starting the whole environment: moto, the resources, the fault proxy, the Lambda
//! service with every function, every event source of the template, TTL sweeping, the
//! API, the Invoke API and the control API; then a READY line for whoever started it.

use std::net::{Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::net::TcpListener;

use crate::api_gateway::{self, Protections, Route};
use crate::aws::Aws;
use crate::clock::Clock;
use crate::control::{self, Control};
use crate::faults::{self, Faults, Rule};
use crate::invocation_log::InvocationLog;
use crate::lambda::{Lambda, invoke_api};
use crate::openapi::OpenApi;
use crate::processes;
use crate::properties::Props;
use crate::sources::{self, SourceContext, Subscription};
use crate::triggers::Triggers;
use crate::ttl::{self, Sweeper, Sweeps};
use crate::watch::Watch;
use crate::{Error, Template, functions, provision};

#[derive(Debug, Clone)]
pub struct Options {
    pub api_port: u16,
    pub moto_port: u16,
    pub lambda_port: u16,
    pub control_port: u16,
    pub build: bool,
    pub bin_dir: PathBuf,
    pub venv: PathBuf,
    pub template: PathBuf,
    pub api_key: String,
    pub parameters: Vec<(String, String)>,
    /// Where `env.json` (how to reach this environment) and the invocation log are written.
    pub state_dir: PathBuf,
    /// Multiplies the waits AWS puts between attempts: queues' visibility timeouts,
    /// asynchronous retries, stream retries.
    pub retry_scale: f64,
    pub faults: Vec<String>,
    pub fault_seed: u64,
    /// Invocations at once for a function without reserved concurrency.
    pub max_concurrency: usize,
    pub ttl_sweep_interval: Duration,
    pub watch: bool,
    pub watch_paths: Vec<PathBuf>,
    pub build_command: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            api_port: 3000,
            moto_port: 5050,
            lambda_port: 9000,
            control_port: 9001,
            build: true,
            bin_dir: PathBuf::from("target/debug"),
            venv: PathBuf::from(".venv"),
            template: PathBuf::from("infra/template.yaml"),
            api_key: "local-api-key".into(),
            parameters: Vec::new(),
            state_dir: PathBuf::from(".local"),
            retry_scale: 1.0,
            faults: Vec::new(),
            fault_seed: 0,
            max_concurrency: 10,
            ttl_sweep_interval: Duration::from_secs(10),
            watch: false,
            watch_paths: Vec::new(),
            build_command: None,
        }
    }
}

/// A listener on 127.0.0.1 (port 0: one the system picks), and its port.
async fn listen(port: u16, what: &str) -> Result<(TcpListener, u16), Error> {
    let listener =
        TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| Error::Process(format!("{what} port {port}: {e}")))?;
    let port = listener.local_addr().map_err(|e| Error::Process(e.to_string()))?.port();
    Ok((listener, port))
}

pub async fn run(o: Options) -> Result<(), Error> {
    let mut template = Template::load(&o.template)?;
    for (name, value) in &o.parameters {
        template.override_parameter(name, value)?;
    }
    let specs = template.functions()?;
    let workspace = std::env::current_dir().map_err(|e| Error::Process(e.to_string()))?;
    let fault_rules = o.faults.iter().map(|f| Rule::parse(f)).collect::<Result<Vec<_>, _>>().map_err(Error::Process)?;
    if !(0.0..=1.0).contains(&o.retry_scale) || o.retry_scale == 0.0 {
        return Err(Error::Process(format!("--retry-scale {} must be above 0 and at most 1", o.retry_scale)));
    }
    let build_command = o.build_command.clone().unwrap_or_else(|| {
        let mut bins: Vec<String> = specs.iter().map(|f| format!("--bin {}", f.binary)).collect();
        bins.sort();
        bins.dedup();
        format!("cargo build {}", bins.join(" "))
    });
    if o.build {
        let status = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&build_command)
            .status()
            .await
            .map_err(|e| Error::Process(format!("{build_command}: {e}")))?;
        if !status.success() {
            return Err(Error::Process("building the functions failed".into()));
        }
    }
    for f in &specs {
        let path = o.bin_dir.join(&f.binary);
        if !path.exists() {
            return Err(Error::Process(format!(
                "{} not found: build the functions first (cargo build)",
                path.display()
            )));
        }
    }

    // AWS: moto, the template's resources, and the proxy the functions' calls go through.
    let (_moto, moto_port) = processes::start_moto(&o.venv, o.moto_port, true).await?;
    let moto = format!("http://127.0.0.1:{moto_port}");
    let config = provision::emulator_config(&moto).await;
    let options = provision::Options { prefix: String::new(), visibility_scale: o.retry_scale };
    let resources = Arc::new(provision::provision_with(&config, &template, &options).await?);
    let aws = Aws::new(&config);
    let faults = Arc::new(Faults::new(fault_rules, if o.fault_seed == 0 { rand_seed() } else { o.fault_seed }));
    let (proxy_listener, proxy_port) = listen(0, "fault proxy").await?;
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    tokio::spawn(faults::serve(proxy_listener, moto.clone(), faults.clone()));

    // Lambda: every function, with its settings from the template.
    std::fs::create_dir_all(&o.state_dir)
        .map_err(|source| Error::Read { path: o.state_dir.display().to_string(), source })?;
    let log_path = o.state_dir.join("invocations.jsonl");
    let log = Arc::new(InvocationLog::create(Some(&log_path))?);
    let mut lambda = Lambda::new(aws.clone(), log, o.retry_scale);
    for spec in &specs {
        let local =
            functions::configure(spec, &resources, &aws, &workspace, &o.bin_dir, &proxy, o.max_concurrency).await?;
        lambda.add(local.config, local.async_config);
    }
    let lambda = Arc::new(lambda);

    // Event sources, each from its function's `Events:`.
    let clock = Clock::default();
    let (triggers, sweeps) = (Arc::new(Triggers::default()), Arc::new(Sweeps::default()));
    let ctx = SourceContext {
        lambda: lambda.clone(),
        aws: aws.clone(),
        resources: resources.clone(),
        clock: clock.clone(),
        triggers: triggers.clone(),
        sweeps: sweeps.clone(),
    };
    let mut routes = Vec::new();
    for spec in &specs {
        let function =
            lambda.function(&spec.name).ok_or_else(|| Error::Process(format!("{} was not added", spec.name)))?;
        for event in &spec.events {
            let context = format!("{}.Events.{} ({})", spec.logical_id, event.name, event.kind);
            if event.kind == "Api" {
                let props = Props::new(&context, &event.properties, &resources);
                props.deployment_only(&["RestApiId"]);
                let resource = props.required_string("Path")?;
                let method = props.required_string("Method")?.to_ascii_uppercase();
                props.finish()?;
                routes.push(Route { method, resource, function: spec.name.clone() });
                continue;
            }
            let start = sources::starter(&event.kind).ok_or_else(|| {
                Error::Template(format!(
                    "{context}: event type {} is not run by the local environment (it runs {})",
                    event.kind,
                    sources::SUPPORTED
                ))
            })?;
            let subscription = Subscription {
                function: function.clone(),
                name: format!("{}.{}", spec.logical_id, event.name),
                props: Props::new(&context, &event.properties, &resources),
            };
            start(subscription, &ctx).await?;
        }
    }

    // TTL: a sweeper on a cadence, and on demand through the control API.
    let sweeper = Arc::new(Sweeper {
        aws: aws.clone(),
        clock: clock.clone(),
        tables: ttl::tables(&template, &resources)?,
        sweeps,
    });
    tokio::spawn(sweeper.clone().run(o.ttl_sweep_interval));

    // Servers: the Invoke API, the REST API, the control API.
    let (lambda_listener, lambda_port) = listen(o.lambda_port, "Invoke API").await?;
    tokio::spawn(invoke_api::serve(lambda_listener, lambda.clone()));
    // `cargo lambda invoke` calls [::1]:9000 unless told otherwise: the fixed port is
    // served on both loopback addresses (a port picked at random, as tests do, only on 127.0.0.1).
    if o.lambda_port != 0
        && let Ok(v6) = TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, lambda_port))).await
    {
        tokio::spawn(invoke_api::serve(v6, lambda.clone()));
    }
    let (api_listener, api_port) = listen(o.api_port, "API").await?;
    let api = format!("http://127.0.0.1:{api_port}");
    let contract = match template.api_definition() {
        Some(path) => Some(OpenApi::load(path)?),
        None if routes.is_empty() => None,
        None => {
            return Err(Error::Template(
                "Api events need an AWS::Serverless::Api with an included DefinitionBody".into(),
            ));
        }
    };
    let throttle = match template.usage_plan_throttle() {
        Some((rate, burst)) => {
            let number = |v: &yaml_serde::Value| -> Result<f64, Error> {
                let text = resources.resolve(v)?;
                text.parse().map_err(|_| Error::Template(format!("usage plan throttle {text} is not a number")))
            };
            Some((number(&rate)?, number(&burst)?))
        }
        None => None,
    };
    if let Some(contract) = contract {
        let stage = template.parameter_default("Stage").unwrap_or_else(|| "dev".into());
        let protections = Protections::new(contract, o.api_key.clone(), throttle)?;
        tokio::spawn(api_gateway::serve(api_listener, routes.clone(), lambda.clone(), stage, protections));
    }
    let redrives: Vec<(String, String)> =
        template.queues()?.into_iter().filter_map(|q| q.redrive.map(|(dlq, _)| (q.logical_id, dlq))).collect();
    let control = Arc::new(Control {
        lambda: lambda.clone(),
        clock,
        triggers: triggers.clone(),
        sweeper,
        faults,
        aws,
        resources: resources.clone(),
        redrives,
    });
    let (control_listener, control_port) = listen(o.control_port, "control").await?;
    let control_url = format!("http://127.0.0.1:{control_port}");
    tokio::spawn(control::serve(control_listener, control));

    if o.watch {
        let paths = if o.watch_paths.is_empty() {
            ["functions", "shared", "Cargo.toml", "Cargo.lock"].iter().map(|p| workspace.join(p)).collect()
        } else {
            o.watch_paths.clone()
        };
        let watch =
            Watch { paths, build: build_command, cwd: workspace.clone(), functions: lambda.functions().to_vec() };
        tokio::spawn(watch.run());
    }

    let lambda_url = format!("http://127.0.0.1:{lambda_port}");
    println!("The application is running locally.");
    if !routes.is_empty() {
        println!("  API          {api}   (API key: {}; send it as x-api-key)", o.api_key);
        for r in &routes {
            println!("                 {:<6} {}  -> {}", r.method, r.resource, r.function);
        }
        if let Some((rate, burst)) = throttle {
            println!("  Throttle     {rate} requests/s, burst {burst} (usage plan; 429 beyond)");
        }
    }
    println!("  AWS          {moto}   (moto; texts sent: {moto}/moto-api/data.json, under sns.SMS)");
    println!("  Lambda       {lambda_url}   (Invoke API: cargo lambda invoke <function>)");
    println!(
        "  Control      {control_url}   (scripts/local status | fire | sweep | advance | redrive | fault | invocations)"
    );
    println!("  Invocations  {}   (one JSON line each; also scripts/local invocations --follow)", log_path.display());
    if !triggers.names().is_empty() {
        println!("  Schedules    {}   (scripts/local fire <name>)", triggers.names().join(", "));
    }
    if o.watch {
        println!("  Watching     the functions' sources: a change rebuilds, and the next event runs the new code");
    }
    println!("Function logs follow. Ctrl-C stops everything.");
    let ready = json!({
        "api": api, "apiKey": o.api_key, "moto": moto, "lambda": lambda_url, "control": control_url,
        "proxy": proxy, "invocationLog": log_path, "resources": resources.resources,
    });
    let state = o.state_dir.join("env.json");
    std::fs::write(&state, ready.to_string())
        .map_err(|source| Error::Read { path: state.display().to_string(), source })?;
    println!("READY {ready}");

    shutdown_signal().await;
    eprintln!("local-env: stopping");
    let _ = std::fs::remove_file(&state);
    Ok(())
}

/// A seed for fault injection when none is given.
fn rand_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0
}

async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
    }
}
