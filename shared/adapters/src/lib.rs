//! AWS adapters and Lambda plumbing shared by the functions.
//!
//! At the root, what every system uses once: building clients, batch processing with
//! partial failures, DynamoDB item helpers, batched SQS sends, dead-letter queues, HTTP
//! problem responses, logging; and what
//! every at-least-once consumer needs: deadlines, leases, retries classified as transient
//! or permanent with jittered backoff, rate limits, metrics. Each
//! system's tables and publishers sit in a module named like its domain module. A
//! function crate wires the pieces it needs and adds only its own logic.

pub mod analytics;
pub mod archive;
pub mod batch;
pub mod config;
pub mod dead_letter_queue;
pub mod deadline;
pub mod dynamo;
pub mod error;
pub mod flight_alerts;
pub mod http;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod outbox;
pub mod problem;
pub mod rate_limit;
pub mod recommendations;
pub mod retry;
pub mod sqs;

pub use error::Error;
