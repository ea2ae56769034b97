//! The Lambda service, locally: every function of the template as real processes behind
//! the Runtime API, invoked synchronously (API Gateway, event source mappings, the Invoke
//! API) or asynchronously (S3, SNS, EventBridge, schedules), with Lambda's timeouts,
//! concurrency limits, retries and destinations. Every invocation is written to the
//! invocation log, and a `REPORT` line like Lambda's follows the function's own logs.

pub mod asynchronous;
pub mod destinations;
pub mod environment;
pub mod function;
pub mod invoke_api;
pub mod runtime_api;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Bytes;

pub use asynchronous::AsyncConfig;
pub use function::{Function, FunctionConfig, Invocation, Outcome};

use crate::aws::Aws;
use crate::invocation_log::{self, InvocationLog};

/// How long after an invocation its report waits for the function's last output lines.
const OUTPUT_SETTLES: Duration = Duration::from_millis(50);

pub struct Lambda {
    functions: Vec<Arc<Function>>,
    async_configs: BTreeMap<String, AsyncConfig>,
    pub log: Arc<InvocationLog>,
    pub aws: Aws,
    /// Multiplies the waits AWS puts between attempts (see `Settings::retry_scale`).
    retry_scale: f64,
}

impl Lambda {
    pub fn new(aws: Aws, log: Arc<InvocationLog>, retry_scale: f64) -> Self {
        Self { functions: Vec::new(), async_configs: BTreeMap::new(), log, aws, retry_scale }
    }

    pub fn add(&mut self, config: FunctionConfig, async_config: AsyncConfig) -> Arc<Function> {
        self.async_configs.insert(config.name.clone(), async_config);
        let function = Function::new(config);
        self.functions.push(function.clone());
        function
    }

    pub fn functions(&self) -> &[Arc<Function>] {
        &self.functions
    }

    /// A function by name, logical id or ARN (a `:$LATEST` qualifier is accepted).
    pub fn function(&self, name: &str) -> Option<Arc<Function>> {
        let name = name.strip_suffix(":$LATEST").unwrap_or(name);
        self.functions
            .iter()
            .find(|f| f.config.name == name || f.config.logical_id == name || f.config.arn == name)
            .cloned()
    }

    pub fn async_config(&self, function: &str) -> AsyncConfig {
        self.async_configs.get(function).cloned().unwrap_or_default()
    }

    /// A wait AWS would make, at the environment's retry scale.
    pub fn scaled(&self, wait: Duration) -> Duration {
        wait.mul_f64(self.retry_scale)
    }

    /// Invokes `function` and waits for the outcome; `source` and `attempt` go to the
    /// invocation log.
    pub async fn invoke(&self, function: &Arc<Function>, payload: Bytes, source: &str, attempt: u32) -> Invocation {
        self.invoke_with_context(function, payload, None, source, attempt).await
    }

    /// [`Lambda::invoke`] with the caller's client context (the Invoke API passes it on).
    pub async fn invoke_with_context(
        &self,
        function: &Arc<Function>,
        payload: Bytes,
        client_context: Option<String>,
        source: &str,
        attempt: u32,
    ) -> Invocation {
        let invocation = function.invoke(payload.clone(), client_context).await;
        self.report(function.clone(), source.to_owned(), attempt, payload, invocation.clone());
        invocation
    }

    /// Queues an asynchronous invocation and returns at once, as `InvocationType: Event`.
    pub fn invoke_async(self: &Arc<Self>, function: Arc<Function>, payload: Bytes, source: String) {
        tokio::spawn(asynchronous::run(self.clone(), function, payload, source));
    }

    /// Logs the invocation: the `REPORT` line and the invocation log entry. Written a
    /// moment after the invocation ends, once the function's own output (read
    /// concurrently) has arrived, so the correlation ids it logged are all there.
    fn report(&self, function: Arc<Function>, source: String, attempt: u32, payload: Bytes, invocation: Invocation) {
        let log = self.log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(OUTPUT_SETTLES).await;
            let config = &function.config;
            let name = &config.name;
            let id = &invocation.request_id;
            match &invocation.outcome {
                Outcome::Throttled => {
                    eprintln!("[{name}] {id} throttled: {} invocations already running", config.concurrency)
                }
                Outcome::Timeout => {
                    eprintln!("[{name}] {id} Task timed out after {:.2} seconds", config.timeout.as_secs_f64())
                }
                Outcome::Crashed { error_type, message } => eprintln!("[{name}] {id} {error_type}: {message}"),
                _ => {}
            }
            if !matches!(invocation.outcome, Outcome::Throttled) {
                let init = invocation.init.map(|d| format!(" Init Duration: {:.2} ms", d.as_secs_f64() * 1000.0));
                let duration = invocation.duration.as_secs_f64() * 1000.0;
                eprintln!(
                    "[{name}] REPORT RequestId: {id} Duration: {duration:.2} ms Billed Duration: {} ms Memory Size: {} MB Max Memory Used: {} MB{}",
                    duration.ceil(),
                    config.memory_mb,
                    invocation.peak_memory_kib.map_or(0, |kib| kib.div_ceil(1024)),
                    init.unwrap_or_default()
                );
            }
            let correlation_ids = function.correlations.take(id);
            log.record(invocation_log::entry(config, &source, attempt, &payload, &invocation, &correlation_ids));
        });
    }
}
