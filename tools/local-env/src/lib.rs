//! The whole application on one machine, wired from `infra/template.yaml`.
//!
//! moto plays AWS's services; this crate plays what moto cannot run without Docker:
//! Lambda itself (the function binaries as real processes behind the Runtime API, with
//! timeouts, concurrency, memory, retries and destinations), every event source the
//! template declares (API Gateway, SQS, DynamoDB and Kinesis streams, S3, SNS, schedules,
//! EventBridge), TTL expiry, a clock that can be moved, and fault injection between the
//! functions and moto.
//!
//! The library half (template reading and provisioning) is also what the test suites use
//! to create exactly the template's resources in moto.

pub mod api_gateway;
pub mod aws;
pub mod clock;
pub mod control;
pub mod dynamo_json;
pub mod error;
pub mod event_pattern;
pub mod faults;
pub mod functions;
pub mod gateway_responses;
pub mod invocation_log;
pub mod lambda;
pub mod openapi;
pub mod processes;
pub mod properties;
pub mod provision;
pub mod resources;
pub mod run;
pub mod schedule_expression;
pub mod sources;
pub mod template;
pub mod triggers;
pub mod ttl;
pub mod watch;

pub use error::Error;
pub use resources::Resources;
pub use template::Template;
