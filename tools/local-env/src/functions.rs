//! The template's functions as the local Lambda service runs them: binary, environment,
//! timeout, memory, concurrency, and asynchronous-invocation settings, each function's
//! properties read strictly.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::Error;
use crate::aws::Aws;
use crate::lambda::destinations::Destination;
use crate::lambda::environment::Launch;
use crate::lambda::{AsyncConfig, FunctionConfig};
use crate::properties::Props;
use crate::provision::function_environment;
use crate::resources::Resources;
use crate::template::FunctionSpec;

/// Properties that only matter once deployed.
const DEPLOYMENT_ONLY: &[&str] = &[
    "Runtime",
    "Architectures",
    "Handler",
    "Tracing",
    "Description",
    "LoggingConfig",
    "Policies",
    "Role",
    "Tags",
    "VpcConfig",
    "KmsKeyArn",
    "AutoPublishAlias",
    "DeploymentPreference",
    "ProvisionedConcurrencyConfig",
    "EphemeralStorage",
    "RuntimeManagementConfig",
    "PermissionsBoundary",
    "FunctionName",
    "CodeSigningConfigArn",
];

pub struct LocalFunction {
    pub config: FunctionConfig,
    pub async_config: AsyncConfig,
}

/// `spec` ready to run: its binary in `bin_dir`, its AWS calls sent to `aws_endpoint`.
pub async fn configure(
    spec: &FunctionSpec,
    resources: &Resources,
    aws: &Aws,
    workspace: &Path,
    bin_dir: &Path,
    aws_endpoint: &str,
    default_concurrency: usize,
) -> Result<LocalFunction, Error> {
    let props = Props::new(&spec.logical_id, &spec.properties, resources);
    props.deployment_only(DEPLOYMENT_ONLY);
    // Read elsewhere: the binary, the environment, the events.
    props.deployment_only(&["CodeUri", "Environment", "Events"]);
    if let Some(kind) = props.string("PackageType")?
        && kind != "Zip"
    {
        return Err(props.error(format!("PackageType {kind}: the local environment runs zip (binary) functions")));
    }
    for unsupported in ["Layers", "FunctionUrlConfig", "SnapStart", "FileSystemConfigs", "ImageUri", "InlineCode"] {
        if props.raw(unsupported).is_some() {
            return Err(props.error(format!("{unsupported} is not supported by the local environment")));
        }
    }
    let timeout = props.integer("Timeout", 1..=900)?.unwrap_or(3);
    let memory = props.integer("MemorySize", 128..=10_240)?.unwrap_or(128);
    let reserved = props.integer("ReservedConcurrentExecutions", 0..=1000)?;
    let mut async_config = AsyncConfig::default();
    if let Some(config) = props.nested("EventInvokeConfig") {
        if let Some(retries) = config.integer("MaximumRetryAttempts", 0..=2)? {
            async_config.maximum_retry_attempts = u32::try_from(retries).unwrap_or(2);
        }
        if let Some(age) = config.integer("MaximumEventAgeInSeconds", 60..=21_600)? {
            async_config.maximum_event_age = Duration::from_secs(u64::try_from(age).unwrap_or(21_600));
        }
        if let Some(destinations) = config.nested("DestinationConfig") {
            for (key, slot) in
                [("OnSuccess", &mut async_config.on_success), ("OnFailure", &mut async_config.on_failure)]
            {
                if let Some(target) = destinations.nested(key) {
                    target.deployment_only(&["Type"]);
                    let arn = target.required_string("Destination")?;
                    target.finish()?;
                    *slot = Some(
                        Destination::from_arn(&arn, &["sqs", "sns", "lambda", "events"], aws)
                            .await
                            .map_err(|e| destinations.error(e))?,
                    );
                }
            }
            destinations.finish()?;
        }
        config.finish()?;
    }
    if let Some(dlq) = props.nested("DeadLetterQueue") {
        dlq.deployment_only(&["Type"]);
        let arn = dlq.required_string("TargetArn")?;
        dlq.finish()?;
        async_config.dead_letter =
            Some(Destination::from_arn(&arn, &["sqs", "sns"], aws).await.map_err(|e| props.error(e))?);
    }
    props.finish()?;

    let program = absolute(workspace, &bin_dir.join(&spec.binary));
    let config = FunctionConfig {
        name: spec.name.clone(),
        logical_id: spec.logical_id.clone(),
        arn: resources.get(&spec.logical_id)?.arn.clone(),
        launch: Launch {
            label: spec.name.clone(),
            program,
            args: Vec::new(),
            cwd: workspace.to_path_buf(),
            env: function_environment(spec, resources, aws_endpoint)?,
        },
        timeout: Duration::from_secs(u64::try_from(timeout).unwrap_or(3)),
        memory_mb: u64::try_from(memory).unwrap_or(128),
        concurrency: reserved.and_then(|r| usize::try_from(r).ok()).unwrap_or(default_concurrency),
    };
    Ok(LocalFunction { config, async_config })
}

pub fn absolute(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_path_buf() } else { base.join(path) }
}
