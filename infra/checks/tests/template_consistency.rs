//! The template, the workspace and the API contract must describe the same system: a
//! function crate that is not deployed, an operation without an integration, a setting a
//! function reads that the template does not give it, or a resource it touches without a
//! policy for it, fails here rather than in production.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use local_env::Template;
use local_env::openapi::OpenApi;
use local_env::template::{EventDefinition, FunctionSpec, Intrinsic, intrinsic};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn template() -> Template {
    Template::load(root().join("infra/template.yaml")).unwrap()
}

fn functions() -> Vec<FunctionSpec> {
    template().functions().unwrap()
}

/// All Rust source of one function crate.
fn sources(function: &str) -> String {
    fn walk(dir: &Path, out: &mut String) {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&std::fs::read_to_string(path).unwrap());
            }
        }
    }
    let mut out = String::new();
    walk(&root().join("functions").join(function).join("src"), &mut out);
    out
}

#[test]
fn every_function_crate_is_deployed_and_nothing_else_is() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let deployed: BTreeSet<String> = functions().into_iter().map(|f| f.binary).collect();
    assert_eq!(crates, deployed, "functions/ and the template's functions differ");
    for name in &crates {
        let manifest = std::fs::read_to_string(root().join("functions").join(name).join("Cargo.toml")).unwrap();
        assert!(manifest.contains(&format!("name = \"{name}\"")), "functions/{name} must build a binary named {name}");
    }
}

#[test]
fn every_operation_is_integrated_with_the_function_that_serves_it() {
    let template = template();
    let api = OpenApi::load(template.api_definition().unwrap()).unwrap();
    let functions = functions();
    let operations = api.operations();
    for op in &operations {
        let id = op
            .integration_function
            .as_deref()
            .unwrap_or_else(|| panic!("{} {} has no integration", op.method, op.path));
        let function =
            functions.iter().find(|f| f.logical_id == id).unwrap_or_else(|| panic!("{id} is not a function"));
        let route = (op.path.clone(), op.method.clone());
        assert!(
            function.events.iter().filter_map(EventDefinition::api_route).any(|r| r == route),
            "{id} has no Api event for {} {}",
            op.method,
            op.path
        );
        assert!(op.api_key_required, "{} {} is not protected by the API key", op.method, op.path);
    }
    for function in &functions {
        for event in &function.events {
            if let Some((path, method)) = event.api_route() {
                let op = operations.iter().find(|o| o.path == path && o.method == method);
                let op =
                    op.unwrap_or_else(|| panic!("{method} {path} of {} is not in openapi.yaml", function.logical_id));
                assert_eq!(op.integration_function.as_deref(), Some(function.logical_id.as_str()));
            }
        }
    }
}

#[test]
fn functions_get_every_setting_they_read_and_nothing_stale() {
    let reads = regex::Regex::new(r#"setting\("([A-Z0-9_]+)"\)"#).unwrap();
    for function in functions() {
        let read: BTreeSet<String> = reads.captures_iter(&sources(&function.binary)).map(|c| c[1].to_owned()).collect();
        let given: BTreeSet<String> = function.environment.keys().filter(|k| *k != "RUST_LOG").cloned().collect();
        assert_eq!(read, given, "settings {} reads vs. those the template gives it", function.binary);
    }
}

#[test]
fn functions_have_a_policy_for_every_resource_they_are_given_and_no_wildcards() {
    let template = template();
    for function in functions() {
        let mut touched: Vec<String> = function
            .environment
            .values()
            .filter_map(|v| match intrinsic(v) {
                Some(Intrinsic::Ref(id) | Intrinsic::GetAtt(id, _)) => Some(id),
                _ => None,
            })
            .filter(|id| template.resource_type(id).is_some())
            .collect();
        touched.sort();
        touched.dedup();
        let covered: BTreeSet<String> = function.policies.iter().flat_map(|s| s.resource_ids()).collect();
        for id in &touched {
            assert!(covered.contains(id), "{} is given {id} but no policy statement names it", function.logical_id);
        }
        for statement in &function.policies {
            for action in &statement.actions {
                assert!(!action.contains('*'), "{}: wildcard action {action}", function.logical_id);
            }
            for resource in &statement.resources {
                assert_ne!(resource.as_str(), Some("*"), "{}: Resource \"*\"", function.logical_id);
            }
            assert!(
                !statement.resources.is_empty() || !statement.not_resources.is_empty(),
                "{}: a statement without resources",
                function.logical_id
            );
        }
    }
}

#[test]
fn queues_feeding_functions_outlast_them_and_have_dead_letter_queues() {
    let template = template();
    let queues = template.queues().unwrap();
    for function in functions() {
        for event in function.events.iter().filter(|e| e.kind == "SQS") {
            {
                let queue = event.target("Queue").unwrap();
                let report_failures = event.lists("FunctionResponseTypes", "ReportBatchItemFailures");
                let spec = queues.iter().find(|q| q.logical_id == queue).unwrap();
                let visibility = spec.visibility_timeout.unwrap_or(30);
                // The longest timeout any deployment can set (a parameter's MaxValue).
                assert!(
                    visibility >= 6 * function.max_timeout,
                    "{queue}: visibility {visibility}s < 6 x {}s",
                    function.max_timeout
                );
                assert!(spec.redrive.is_some(), "{queue} has no dead-letter queue");
                assert!(report_failures, "{} must report partial batch failures", function.logical_id);
            }
        }
    }
}

#[test]
fn an_sms_claim_outlives_its_invocation_and_lapses_before_the_message_returns() {
    // A claim lasts until the claimant's deadline plus CLAIM_GRACE: whatever the timeout,
    // it outlives the invocation that made it. The message of an invocation that was cut
    // off comes back after the visibility timeout; by then its claims must have lapsed,
    // so the retry takes them over at once instead of burning a receive.
    let grace = u64::try_from(domain::flight_alerts::delivery::CLAIM_GRACE.whole_seconds()).unwrap();
    assert!(grace > 0);
    let sms = functions().into_iter().find(|f| f.logical_id == "SmsFunction").unwrap();
    let queue = template().queues().unwrap().into_iter().find(|q| q.logical_id == "SmsQueue").unwrap();
    let visibility = queue.visibility_timeout.unwrap();
    assert!(
        sms.max_timeout + grace < visibility,
        "a claim can live {}s + {grace}s, the message returns after {visibility}s",
        sms.max_timeout
    );
}

#[test]
fn the_sms_rate_is_shared_by_exactly_the_environments_that_can_run() {
    // Each environment sends SMS_TEXTS_PER_SECOND / SMS_CONCURRENCY: that keeps the whole
    // function under the account's rate only if at most SMS_CONCURRENCY environments run.
    let sms = functions().into_iter().find(|f| f.logical_id == "SmsFunction").unwrap();
    let refers_to = |value: Option<&yaml_serde::Value>| match value.and_then(local_env::template::intrinsic) {
        Some(local_env::template::Intrinsic::Ref(name)) => name,
        other => panic!("expected a !Ref, found {other:?}"),
    };
    assert_eq!(refers_to(sms.environment.get("SMS_CONCURRENCY")), "SmsConcurrency");
    assert_eq!(refers_to(sms.environment.get("SMS_TEXTS_PER_SECOND")), "SmsTextsPerSecond");
    assert_eq!(refers_to(local_env::template::get(&sms.properties, "ReservedConcurrentExecutions")), "SmsConcurrency");
    let event = sms.events.iter().find(|e| e.kind == "SQS").unwrap();
    let scaling = local_env::template::mapping(local_env::template::get(&event.properties, "ScalingConfig"));
    assert_eq!(refers_to(local_env::template::get(&scaling, "MaximumConcurrency")), "SmsConcurrency");
}

#[test]
fn the_mapper_fails_its_job_on_the_delivery_that_dead_letters_the_chunk() {
    // After CHUNK_ATTEMPTS attempts, one more delivery only marks the job failed, so a job
    // never waits for a chunk that went to the dead-letter queue, even if its last attempt
    // crashed: the redrive's count is CHUNK_ATTEMPTS + 1.
    let mapper = functions().into_iter().find(|f| f.logical_id == "MapperFunction").unwrap();
    let attempts: u64 = mapper.environment.get("CHUNK_ATTEMPTS").and_then(|v| v.as_str()).unwrap().parse().unwrap();
    let queue = template().queues().unwrap().into_iter().find(|q| q.logical_id == "ChunkQueue").unwrap();
    assert_eq!(queue.redrive, Some(("ChunkDeadLetterQueue".into(), attempts + 1)));
}
