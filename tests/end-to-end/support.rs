// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

//! The local environment as the end-to-end tests use it: started as the README's
//! command starts it (on free ports, with its own state directory), controlled with
//! `scripts/local` as a person would, its output collected, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

fn workspace() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Where cargo put this test's binaries, and so the function binaries and local-env.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf()
}

/// The local environment, started as the README's command starts it, stopped on drop.
pub struct LocalEnv {
    child: Child,
    pub ready: Value,
    logs: Arc<Mutex<Vec<String>>>,
}

impl LocalEnv {
    /// The application, from infra/template.yaml.
    pub fn start(extra_args: &[&str]) -> Self {
        Self::start_with(&[], extra_args)
    }

    /// The probe function behind every trigger type (tests/end-to-end/event-sources.yaml).
    pub fn event_sources(extra_args: &[&str]) -> Self {
        let template = workspace().join("tests/end-to-end/event-sources.yaml");
        Self::start_with(&["--template", template.to_str().unwrap()], extra_args)
    }

    fn start_with(template: &[&str], extra_args: &[&str]) -> Self {
        let bin_dir = bin_dir();
        let local_env = bin_dir.join("local-env");
        assert!(local_env.exists(), "{} missing: run the tests with scripts/test", local_env.display());
        let state_dir = std::env::temp_dir().join(format!("local-env-{}", uuid::Uuid::new_v4().simple()));
        let mut child = Command::new(local_env)
            .current_dir(workspace())
            .args(["--no-build", "--api-port", "0", "--moto-port", "0", "--lambda-port", "0", "--control-port", "0"])
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--bin-dir")
            .arg(&bin_dir)
            .args(template)
            .args(extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(ready) = line.strip_prefix("READY ") {
                    let _ = tx.send(serde_json::from_str::<Value>(ready).unwrap());
                }
            }
        });
        let ready = match rx.recv_timeout(Duration::from_secs(180)) {
            Ok(ready) => ready,
            Err(_) => {
                let _ = child.kill();
                panic!("local-env did not become ready; its output:\n{}", logs.lock().unwrap().join("\n"));
            }
        };
        LocalEnv { child, ready, logs }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.ready["api"].as_str().unwrap())
    }

    /// An HTTP client that sends the local API key with every request, as API clients must.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        let key = self.ready["apiKey"].as_str().unwrap();
        headers.insert("x-api-key", key.parse().unwrap());
        reqwest::Client::builder().default_headers(headers).build().unwrap()
    }

    pub fn moto(&self) -> &str {
        self.ready["moto"].as_str().unwrap()
    }

    /// The Lambda Invoke API's endpoint (what `AWS_ENDPOINT_URL_LAMBDA` names).
    pub fn lambda(&self) -> &str {
        self.ready["lambda"].as_str().unwrap()
    }

    /// The Lambda Invoke API's URL for a function.
    pub fn invoke_url(&self, function: &str) -> String {
        format!("{}/2015-03-31/functions/{function}/invocations", self.ready["lambda"].as_str().unwrap())
    }

    /// What a logical id became (`reference`: name or URL; `arn`).
    pub fn resource(&self, logical_id: &str, field: &str) -> String {
        self.ready["resources"][logical_id][field].as_str().unwrap().to_owned()
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    /// `scripts/local <args>` against this environment; its output, and whether it succeeded.
    pub fn local(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(workspace().join("scripts/local"))
            .args(args)
            .env("LOCAL_ENV_CONTROL", self.ready["control"].as_str().unwrap())
            .env("LOCAL_ENV_BIN", bin_dir().join("local-env"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    }

    /// `scripts/local <args>`, which must succeed with a JSON answer.
    pub fn local_json(&self, args: &[&str]) -> Value {
        let (ok, text) = self.local(args);
        assert!(ok, "scripts/local {args:?} failed: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("scripts/local {args:?}: {e}: {text}"))
    }

    /// The invocation log so far (`scripts/local invocations`).
    pub fn invocations(&self) -> Vec<Value> {
        let (ok, text) = self.local(&["invocations"]);
        assert!(ok, "{text}");
        text.lines().filter(|l| !l.is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect()
    }

    /// Every event the probe function `function` received, in order: (request id, event).
    pub fn probe_events(&self, function: &str) -> Vec<(String, Value)> {
        let prefix = format!("[{function}] ");
        self.logs()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("probe").is_some())
            .map(|v| (v["probe"]["requestId"].as_str().unwrap_or_default().to_owned(), v["event"].clone()))
            .collect()
    }

    /// SDK configuration for this environment's moto.
    pub async fn aws(&self) -> aws_config::SdkConfig {
        local_env::provision::emulator_config(self.moto()).await
    }
}

impl LocalEnv {
    /// The sum of an EMF metric over every document `function` wrote so far.
    pub fn metric_total(&self, function: &str, metric: &str) -> u64 {
        let prefix = format!("[{function}] ");
        self.logs()
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("_aws").is_some())
            .filter_map(|v| v.get(metric).and_then(Value::as_u64))
            .sum()
    }
}

impl Drop for LocalEnv {
    fn drop(&mut self) {
        // A log check over everything this environment wrote (its own lines and every
        // function's): no phone number or email unmasked.
        if !std::thread::panicking() {
            let logs = self.logs();
            let leaks = testkit::unmasked_contact_details(&logs);
            if !leaks.is_empty() {
                let _ = self.child.kill();
                panic!(
                    "{} log lines carry contact details unmasked, e.g.:\n{:?}",
                    leaks.len(),
                    &leaks[..leaks.len().min(5)]
                );
            }
        }
        // SIGTERM lets local-env stop moto and the functions it started.
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

/// Starts local-env on `template` expecting it to refuse to start; returns what it said.
pub fn refused_at_start(template: &std::path::Path) -> String {
    let bin_dir = bin_dir();
    let state_dir = std::env::temp_dir().join(format!("local-env-{}", uuid::Uuid::new_v4().simple()));
    let output = Command::new(bin_dir.join("local-env"))
        .current_dir(workspace())
        .args(["--no-build", "--api-port", "0", "--moto-port", "0", "--lambda-port", "0", "--control-port", "0"])
        .arg("--state-dir")
        .arg(&state_dir)
        .arg("--bin-dir")
        .arg(&bin_dir)
        .arg("--template")
        .arg(template)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "local-env started on {}:\n{said}", template.display());
    said
}

/// An SQS client on the environment's moto.
pub async fn aws_sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = local_env::provision::emulator_config(endpoint).await;
    aws_sdk_sqs::Client::new(&config)
}

/// Every message now in a queue, read without deleting (each stays invisible briefly).
pub async fn queue_messages(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let received = sqs.receive_message().queue_url(url).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for message in messages {
            out.push(serde_json::from_str(message.body.as_deref().unwrap_or("null")).unwrap_or(Value::Null));
        }
    }
}
