//! AWS adapters and Lambda plumbing shared by the functions.
//!
//! Each module is one concept: building clients, one table's repository, publishing,
//! delivery records, SQS batch processing, HTTP problem responses, logging. A function
//! crate wires the pieces it needs and adds only its own logic.

pub mod alerts_table;
pub mod batch;
pub mod config;
pub mod deliveries_table;
pub mod dynamo;
pub mod error;
pub mod flights_table;
pub mod http;
pub mod logging;
pub mod problem;
pub mod publish;

pub use error::Error;
