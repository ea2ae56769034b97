//! JSON logs, one object per line, as CloudWatch Logs Insights expects.
//!
//! The Lambda runtime opens a span per invocation carrying `requestId`; handlers open a
//! span carrying `correlation_id`. Both appear on every line through the span list. The
//! level comes from `RUST_LOG` (default `info`). Never log a phone number or an email
//! unmasked: the domain's contact types print masked.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .flatten_event(true)
        .with_target(false)
        // CloudWatch stamps every line itself.
        .without_time()
        .init();
}
