//! AWS adapters and Lambda plumbing shared by the functions.
//!
//! At the root, what every system uses once: building clients, batch processing with
//! partial failures, DynamoDB item helpers, HTTP problem responses, logging. Each
//! system's tables and publishers sit in a module named like its domain module. A
//! function crate wires the pieces it needs and adds only its own logic.

pub mod batch;
pub mod config;
pub mod dynamo;
pub mod error;
pub mod flight_alerts;
pub mod http;
pub mod logging;
pub mod problem;

pub use error::Error;
