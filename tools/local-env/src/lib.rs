//! The whole application on one machine, wired from `infra/template.yaml`.
//!
//! moto plays AWS; the real function binaries run under cargo-lambda's Lambda Runtime
//! API emulator; this crate plays the parts of Lambda and API Gateway that moto cannot
//! run without Docker: it turns HTTP requests into REST API (payload v1) proxy events and
//! SQS messages into SQS batch events, honouring partial batch failures.
//!
//! The library half (template reading and provisioning) is also what the test suites use
//! to create exactly the template's tables, topics and queues in moto.

pub mod api_gateway;
pub mod emulator;
pub mod error;
pub mod openapi;
pub mod processes;
pub mod provision;
pub mod sqs_source;
pub mod template;

pub use error::Error;
pub use provision::Resources;
pub use template::Template;
