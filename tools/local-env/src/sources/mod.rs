//! Event sources: what turns activity in AWS into invocations, one module per trigger
//! type of the template's `Events:`, behind one small interface.
//!
//! Each module exports `start`, which reads its event's properties (refusing any it does
//! not support), prepares what it needs in moto, and spawns its own task. Adding a source
//! means a module and a line in [`starter`]; no other source changes. (`Api` events are
//! served together by [`crate::api_gateway`], which needs all routes at once.)

pub mod dynamodb_stream;
pub mod eventbridge;
pub mod filter;
pub mod kinesis;
pub mod relay;
pub mod s3;
pub mod schedule;
pub mod sns;
pub mod sqs;
pub mod stream;

use std::sync::Arc;

use futures::future::BoxFuture;

use crate::Error;
use crate::aws::Aws;
use crate::clock::Clock;
use crate::lambda::{Function, Lambda};
use crate::properties::Props;
use crate::resources::Resources;
use crate::triggers::Triggers;
use crate::ttl::Sweeps;

/// What every source may use.
#[derive(Clone)]
pub struct SourceContext {
    pub lambda: Arc<Lambda>,
    /// The environment's own clients, straight to moto.
    pub aws: Aws,
    pub resources: Arc<Resources>,
    pub clock: Clock,
    /// Schedules register here, so `scripts/local fire` can fire them.
    pub triggers: Arc<Triggers>,
    /// Deletions made by the TTL sweeper, which stream records are marked with.
    pub sweeps: Arc<Sweeps>,
}

/// One `Events:` entry of one function.
pub struct Subscription<'a> {
    pub function: Arc<Function>,
    /// `Function.Event`, as `scripts/local fire` and the logs name it.
    pub name: String,
    pub props: Props<'a>,
}

/// Starts a source for one subscription: validates, prepares, spawns.
pub type Start = for<'a> fn(Subscription<'a>, &'a SourceContext) -> BoxFuture<'a, Result<(), Error>>;

/// The module that runs an event type.
pub fn starter(kind: &str) -> Option<Start> {
    Some(match kind {
        "SQS" => sqs::start,
        "DynamoDB" => dynamodb_stream::start,
        "Kinesis" => kinesis::start,
        "S3" => s3::start,
        "SNS" => sns::start,
        "Schedule" => schedule::start_rule,
        "ScheduleV2" => schedule::start_scheduler,
        "EventBridgeRule" | "CloudWatchEvent" => eventbridge::start,
        _ => return None,
    })
}

/// The event types the local environment runs, for error messages.
pub const SUPPORTED: &str =
    "Api, SQS, DynamoDB, Kinesis, S3, SNS, Schedule, ScheduleV2, EventBridgeRule, CloudWatchEvent";
