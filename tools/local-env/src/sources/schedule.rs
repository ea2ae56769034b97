//! `Type: Schedule` (an EventBridge rule with a schedule expression) and `Type:
//! ScheduleV2` (EventBridge Scheduler): `rate(...)`, `cron(...)` and, for the Scheduler,
//! `at(...)`, fired on their cadence by the environment's clock (so `scripts/local
//! advance` brings the next firing forward), and on demand by `scripts/local fire
//! Function.Event`. Each firing invokes the function asynchronously.
//!
//! The payload is what AWS sends: for a rule, the `Input` if given, else the "Scheduled
//! Event" with the rule's ARN; for the Scheduler, the `Input` with its context attributes
//! (`<aws.scheduler.scheduled-time>` and friends) filled in, else its default event,
//! whose `detail` is the string `"{}"`.

use futures::future::BoxFuture;
use hyper::body::Bytes;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{SourceContext, Subscription};
use crate::Error;
use crate::aws::ACCOUNT;
use crate::schedule_expression::ScheduleExpression;

/// Which service fires the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rule,
    Scheduler,
}

pub fn start_rule<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(start(sub, ctx, Kind::Rule))
}

pub fn start_scheduler<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(start(sub, ctx, Kind::Scheduler))
}

async fn start(sub: Subscription<'_>, ctx: &SourceContext, kind: Kind) -> Result<(), Error> {
    let props = &sub.props;
    props.deployment_only(&["Description", "RetryPolicy", "DeadLetterConfig"]);
    let (expression_key, enabled) = match kind {
        Kind::Rule => ("Schedule", props.boolean("Enabled")?.unwrap_or(true)),
        Kind::Scheduler => {
            props.deployment_only(&[
                "FlexibleTimeWindow",
                "GroupName",
                "KmsKeyArn",
                "OmitName",
                "PermissionsBoundary",
                "RoleArn",
            ]);
            if let Some(zone) = props.string("ScheduleExpressionTimezone")?
                && !matches!(zone.as_str(), "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT")
            {
                return Err(props.error(format!(
                    "ScheduleExpressionTimezone {zone}: the local environment fires schedules in UTC only"
                )));
            }
            for bound in ["StartDate", "EndDate"] {
                if props.raw(bound).is_some() {
                    return Err(props.error(format!("{bound} is not supported by the local environment")));
                }
            }
            ("ScheduleExpression", true)
        }
    };
    let text = props.required_string(expression_key)?;
    let expression = ScheduleExpression::parse(&text).map_err(|e| props.error(e))?;
    if kind == Kind::Rule && matches!(expression, ScheduleExpression::At(_)) {
        return Err(props.error("at(...) is a Scheduler expression; a Schedule rule takes rate(...) or cron(...)"));
    }
    let input = match props.string("Input")? {
        Some(text) if kind == Kind::Rule => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|e| props.error(format!("Input is not JSON: {e}")))?
                .to_string(),
        ),
        other => other,
    };
    let enabled = enabled && props.string("State")?.is_none_or(|s| s == "ENABLED");
    let Subscription { function, props, name } = sub;
    let rule_name = props.string("Name")?.unwrap_or_else(|| name.replace('.', "-"));
    props.finish()?;
    if !enabled {
        return Ok(());
    }
    let region = ctx.resources.region.clone();
    let arn = match kind {
        Kind::Rule => format!("arn:aws:events:{region}:{ACCOUNT}:rule/{rule_name}"),
        Kind::Scheduler => format!("arn:aws:scheduler:{region}:{ACCOUNT}:schedule/default/{rule_name}"),
    };
    let mut fired = ctx.triggers.register(&name);
    let (ctx, source) = (ctx.clone(), format!("schedule:{name}"));
    tokio::spawn(async move {
        let anchor = ctx.clock.now();
        let mut after = anchor;
        let mut attempt = 0u64;
        loop {
            let next = expression.next_after(after, anchor);
            let at = tokio::select! {
                _ = async { match next { Some(at) => ctx.clock.sleep_until(at).await, None => std::future::pending().await } } => {
                    after = ctx.clock.now();
                    // The clock may have jumped past several firings: like EventBridge, fire once.
                    next.unwrap_or(after)
                }
                trigger = fired.recv() => match trigger {
                    Some(()) => ctx.clock.now(),
                    None => return,
                },
            };
            attempt += 1;
            let event = payload(kind, &arn, &region, at, attempt, input.as_deref());
            ctx.lambda.invoke_async(function.clone(), Bytes::from(event), source.clone());
        }
    });
    Ok(())
}

fn payload(kind: Kind, arn: &str, region: &str, at: OffsetDateTime, attempt: u64, input: Option<&str>) -> String {
    let time = at.replace_nanosecond(0).unwrap_or(at).format(&Rfc3339).unwrap_or_default();
    let id = uuid::Uuid::new_v4().to_string();
    match (kind, input) {
        (Kind::Rule, Some(input)) => input.to_owned(),
        (Kind::Scheduler, Some(input)) => input
            .replace("<aws.scheduler.schedule-arn>", arn)
            .replace("<aws.scheduler.scheduled-time>", &time)
            .replace("<aws.scheduler.execution-id>", &id)
            .replace("<aws.scheduler.attempt-number>", &attempt.to_string()),
        (Kind::Rule, None) => json!({
            "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
            "account": ACCOUNT, "time": time, "region": region, "resources": [arn], "detail": {},
        })
        .to_string(),
        (Kind::Scheduler, None) => json!({
            "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.scheduler",
            "account": ACCOUNT, "time": time, "region": region, "resources": [arn], "detail": "{}",
        })
        .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn payloads_as_each_service_sends_them() {
        let at = datetime!(2026-11-24 20:00:00.250 UTC);
        let rule: Value = serde_json::from_str(&payload(Kind::Rule, "arn:r", "us-east-1", at, 1, None)).unwrap();
        assert_eq!(rule["detail-type"], "Scheduled Event");
        assert_eq!(rule["time"], "2026-11-24T20:00:00Z");
        assert_eq!(rule["resources"], json!(["arn:r"]));
        let parsed: aws_lambda_events::event::eventbridge::EventBridgeEvent = serde_json::from_value(rule).unwrap();
        assert_eq!(parsed.source, "aws.events");
        let scheduler: Value =
            serde_json::from_str(&payload(Kind::Scheduler, "arn:s", "us-east-1", at, 1, None)).unwrap();
        assert_eq!((scheduler["source"].as_str(), scheduler["detail"].as_str()), (Some("aws.scheduler"), Some("{}")));
        let input = r#"{"day":"<aws.scheduler.scheduled-time>","n":<aws.scheduler.attempt-number>}"#;
        let filled: Value =
            serde_json::from_str(&payload(Kind::Scheduler, "arn:s", "us-east-1", at, 3, Some(input))).unwrap();
        assert_eq!(filled, json!({"day": "2026-11-24T20:00:00Z", "n": 3}));
        assert_eq!(payload(Kind::Rule, "arn:r", "us-east-1", at, 1, Some(r#"{"a":1}"#)), r#"{"a":1}"#);
    }
}
