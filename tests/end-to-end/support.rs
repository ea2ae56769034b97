// Each test binary compiles this module and uses a different part of it.
#![allow(dead_code)]

//! The local environment as the end-to-end tests use it: started as the README's
//! command starts it (on free ports), its output collected, stopped on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// The local environment, started as the README's command starts it, stopped on drop.
pub struct LocalEnv {
    child: Child,
    pub ready: Value,
    logs: Arc<Mutex<Vec<String>>>,
}

impl LocalEnv {
    pub fn start(extra_args: &[&str]) -> Self {
        let exe = std::env::current_exe().unwrap();
        let bin_dir = exe.parent().and_then(|deps| deps.parent()).unwrap().to_path_buf();
        let local_env = bin_dir.join("local-env");
        assert!(local_env.exists(), "{} missing: run the tests with scripts/test", local_env.display());
        let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let state_dir = std::env::temp_dir().join(format!("local-env-{}", uuid::Uuid::new_v4().simple()));
        let mut child = Command::new(local_env)
            .current_dir(workspace)
            .args(["--no-build", "--api-port", "0", "--moto-port", "0", "--lambda-port", "0", "--control-port", "0"])
            .arg("--state-dir")
            .arg(&state_dir)
            .arg("--bin-dir")
            .arg(&bin_dir)
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

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }
}

impl Drop for LocalEnv {
    fn drop(&mut self) {
        // SIGTERM lets local-env stop moto, the emulator and the functions it started.
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

/// An SQS client on the environment's moto.
pub async fn aws_sqs(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = local_env::provision::emulator_config(endpoint).await;
    aws_sdk_sqs::Client::new(&config)
}
