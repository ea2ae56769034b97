//! The local environment, as the scenario benchmarks start it: on free ports with its own
//! state directory, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The binaries a scenario runs: the functions (`--bin-dir`, release builds by default)
/// and the local environment (`--local-env`).
pub struct Binaries {
    pub bin_dir: PathBuf,
    pub local_env: PathBuf,
}

impl Default for Binaries {
    fn default() -> Self {
        Self { bin_dir: "target/release".into(), local_env: "target/debug/local-env".into() }
    }
}

impl Binaries {
    /// Takes `--bin-dir` or `--local-env` with its value; `false` for any other option.
    pub fn take(&mut self, arg: &str, value: impl FnOnce() -> Result<String, String>) -> Result<bool, String> {
        match arg {
            "--bin-dir" => self.bin_dir = value()?.into(),
            "--local-env" => self.local_env = value()?.into(),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

pub struct LocalEnv {
    child: Child,
    /// The READY line: `api`, `apiKey`, `moto`, `control`, ...
    pub ready: Value,
}

impl Drop for LocalEnv {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl LocalEnv {
    /// Starts the local environment running the function binaries, with template
    /// parameter overrides (`Name=Value`).
    pub fn start(binaries: &Binaries, parameters: &[String]) -> Result<Self, String> {
        let state = std::env::temp_dir().join(format!("bench-{}", uuid::Uuid::new_v4().simple()));
        let mut command = Command::new(&binaries.local_env);
        command
            .args(["--no-build", "--api-port", "0", "--moto-port", "0", "--lambda-port", "0", "--control-port", "0"])
            .arg("--bin-dir")
            .arg(&binaries.bin_dir)
            .arg("--state-dir")
            .arg(&state);
        for parameter in parameters {
            command.args(["--parameter", parameter]);
        }
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e} (build it: cargo build -p local-env)", binaries.local_env.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(ready) = line.strip_prefix("READY ") {
                let ready = serde_json::from_str(ready).map_err(|e| e.to_string())?;
                return Ok(Self { child, ready });
            }
        }
        let _ = child.kill();
        Err("the local environment stopped before it was ready".into())
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.ready["api"].as_str().unwrap_or_default())
    }

    pub fn moto(&self) -> &str {
        self.ready["moto"].as_str().unwrap_or_default()
    }

    /// An HTTP client sending the local API key.
    pub fn client(&self) -> Result<reqwest::Client, String> {
        let mut headers = reqwest::header::HeaderMap::new();
        let key = self.ready["apiKey"].as_str().unwrap_or_default().parse().map_err(|_| "unusable API key")?;
        headers.insert("x-api-key", key);
        reqwest::Client::builder().default_headers(headers).build().map_err(|e| e.to_string())
    }

    /// The invocation log so far.
    pub async fn invocations(&self) -> Result<Vec<Value>, String> {
        let url = format!("{}/invocations", self.ready["control"].as_str().unwrap_or_default());
        let answer = reqwest::get(url).await.map_err(|e| e.to_string())?;
        answer.json::<Vec<Value>>().await.map_err(|e| format!("the invocation log: {e}"))
    }
}
