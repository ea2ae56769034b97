//! `Type: EventBridgeRule` / `CloudWatchEvent` — a rule on an event bus whose `Pattern`
//! selects the events put on the bus; each match invokes the function asynchronously with
//! the event, or with the rule target's `Input` or the part `InputPath` selects.
//!
//! A rule in moto relays every event of the bus to a queue of the environment's; the
//! pattern is then matched here, with the same matcher as Lambda's event filtering, so
//! every operator EventBridge documents behaves the same (moto's own matcher is
//! incomplete). moto leaves `account` out of the event; it is put back.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::relay::Relay;
use super::{SourceContext, Subscription};
use crate::Error;
use crate::aws::ACCOUNT;
use crate::event_pattern::Pattern;
use crate::provision::json_of;

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        props.deployment_only(&["Target", "RetryPolicy", "DeadLetterConfig", "RuleName", "Description"]);
        let pattern_json = props.raw("Pattern").map(json_of).ok_or_else(|| props.error("Pattern is required"))?;
        let pattern = Pattern::parse(&pattern_json).map_err(|e| props.error(format!("Pattern: {e}")))?;
        let bus = match props.string("EventBusName")? {
            // A bus ARN names the bus after its last '/'.
            Some(bus) => bus.rsplit('/').next().unwrap_or(&bus).to_owned(),
            None => "default".to_owned(),
        };
        let input = props.string("Input")?.map(|text| {
            serde_json::from_str::<Value>(&text).map_err(|e| props.error(format!("Input is not JSON: {e}")))
        });
        let input = input.transpose()?;
        let input_path = props.string("InputPath")?;
        if input.is_some() && input_path.is_some() {
            return Err(props.error("Input and InputPath exclude each other"));
        }
        if props.raw("InputTransformer").is_some() {
            return Err(props.error("InputTransformer is not supported by the local environment"));
        }
        let enabled =
            props.boolean("Enabled")?.unwrap_or(true) && props.string("State")?.is_none_or(|s| s == "ENABLED");
        let Subscription { function, props, name } = sub;
        props.finish()?;
        if !enabled {
            return Ok(());
        }

        let relay = Relay::create(ctx, &name).await?;
        let rule: String = format!("local-env-{name}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
            .take(64)
            .collect();
        // Every event has a source, so this relays the whole bus.
        ctx.aws
            .events
            .put_rule()
            .name(&rule)
            .event_bus_name(&bus)
            .event_pattern(json!({"source": [{"prefix": ""}]}).to_string())
            .send()
            .await
            .map_err(|e| Error::aws("EventBridge", "PutRule", e))?;
        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("relay")
            .arn(&relay.arn)
            .build()
            .map_err(|e| Error::aws("EventBridge", "PutTargets", e))?;
        ctx.aws
            .events
            .put_targets()
            .rule(&rule)
            .event_bus_name(&bus)
            .targets(target)
            .send()
            .await
            .map_err(|e| Error::aws("EventBridge", "PutTargets", e))?;
        let region = ctx.resources.region.clone();
        relay.spawn(ctx.clone(), function, format!("eventbridge:{bus}"), move |body| {
            let mut event: Value = serde_json::from_str(body).ok()?;
            if let Some(object) = event.as_object_mut() {
                object.entry("account").or_insert_with(|| json!(ACCOUNT));
                object.entry("region").or_insert_with(|| json!(region));
            }
            if !pattern.matches(&event) {
                return None;
            }
            match (&input, &input_path) {
                (Some(input), _) => Some(input.clone()),
                (None, Some(path)) => Some(select(&event, path).unwrap_or(Value::Null)),
                (None, None) => Some(event),
            }
        });
        Ok(())
    })
}

/// The part of the event a simple JSONPath (`$`, `$.detail`, `$.detail.order.id`) selects.
fn select(event: &Value, path: &str) -> Option<Value> {
    let rest = path.strip_prefix('$')?;
    let mut current = event;
    for key in rest.split('.').filter(|k| !k.is_empty()) {
        current = current.get(key)?;
    }
    Some(current.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_path_selects_part_of_the_event() {
        let event = json!({"detail": {"order": {"id": 7}}, "source": "shop"});
        assert_eq!(select(&event, "$.detail.order"), Some(json!({"id": 7})));
        assert_eq!(select(&event, "$"), Some(event.clone()));
        assert_eq!(select(&event, "$.missing"), None);
    }
}
