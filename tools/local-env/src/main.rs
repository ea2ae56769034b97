//! `local-env`: runs the whole application on this machine (see the README), or, as
//! `local-env ctl <command>`, controls a running one (`scripts/local` is that command).
//!
//! Options (all optional):
//!   --api-port N            the REST API on 127.0.0.1 (default 3000; 0 picks a free port)
//!   --moto-port N           moto (default 5050)
//!   --lambda-port N         the Lambda Invoke API, for `cargo lambda invoke` (default 9000)
//!   --control-port N        the control API, for `scripts/local` (default 9001)
//!   --no-build              use the function binaries already in --bin-dir
//!   --bin-dir DIR           where the function binaries are (default target/debug)
//!   --venv DIR              the project's Python venv with moto (default .venv)
//!   --template FILE         the SAM template (default infra/template.yaml)
//!   --api-key KEY           the API key clients send as x-api-key (default local-api-key)
//!   --parameter N=V         a template parameter override, like sam deploy's (repeatable)
//!   --state-dir DIR         where env.json and invocations.jsonl go (default .local)
//!   --retry-scale F         multiply AWS's waits between attempts (visibility timeouts,
//!                           async and stream retries) by F, e.g. 0.01 (default 1)
//!   --fault RULE            inject faults, e.g. sns:Publish=throttle:0.2 or
//!                           sns:Publish@+14155550123=invalid (repeatable)
//!   --fault-seed N          make fault injection repeatable
//!   --max-concurrency N     invocations at once of a function without reserved
//!                           concurrency (default 10)
//!   --ttl-sweep-interval D  how often expired items are deleted (default 10s)
//!   --watch                 rebuild and restart a function when its code changes
//!   --watch-path P          what --watch watches (repeatable; default functions/, shared/)
//!   --build-command CMD     how --watch (and the start) build (default cargo build --bin ...)

use std::process::ExitCode;

use local_env::clock::parse_duration;
use local_env::control;
use local_env::run::{Options, run};

fn parse_args(args: Vec<String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let port = |v: String| v.parse::<u16>().map_err(|_| format!("{v} is not a port"));
        match arg.as_str() {
            "--api-port" => o.api_port = port(value()?)?,
            "--moto-port" => o.moto_port = port(value()?)?,
            "--lambda-port" => o.lambda_port = port(value()?)?,
            "--control-port" => o.control_port = port(value()?)?,
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
            "--state-dir" => o.state_dir = value()?.into(),
            "--retry-scale" => {
                let v = value()?;
                o.retry_scale = v.parse().map_err(|_| format!("--retry-scale {v} is not a number"))?;
            }
            "--fault" => o.faults.push(value()?),
            "--fault-seed" => {
                let v = value()?;
                o.fault_seed = v.parse().map_err(|_| format!("--fault-seed {v} is not a number"))?;
            }
            "--max-concurrency" => {
                let v = value()?;
                o.max_concurrency = v.parse().map_err(|_| format!("--max-concurrency {v} is not a number"))?;
            }
            "--ttl-sweep-interval" => o.ttl_sweep_interval = parse_duration(&value()?)?,
            "--watch" => o.watch = true,
            "--watch-path" => o.watch_paths.push(value()?.into()),
            "--build-command" => o.build_command = Some(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("ctl") {
        return match control::command(&args[1..]).await {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(err) => {
                eprintln!("{err}");
                ExitCode::from(2)
            }
        };
    }
    let options = match parse_args(args) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!(
                "{msg}\nusage: local-env [options] (see tools/local-env/src/main.rs), or local-env ctl <command>\n{}",
                control::USAGE
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
