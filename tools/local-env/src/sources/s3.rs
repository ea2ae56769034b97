//! `Type: S3` — bucket notifications to a function, invoked asynchronously.
//!
//! The subscription's events and key filter are added to the bucket's notification
//! configuration in moto (next to any the bucket declares itself), aimed at a relay queue;
//! each notification becomes an asynchronous invocation with the S3 event, completed with
//! the fields AWS sends and moto leaves out (`userIdentity`, `requestParameters`,
//! `responseElements`, the bucket owner, the object's `sequencer`).

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, NotificationConfiguration, NotificationConfigurationFilter, QueueConfiguration,
    S3KeyFilter,
};
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::relay::Relay;
use super::{SourceContext, Subscription};
use crate::Error;
use crate::properties::Props;
use crate::template::mapping;

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        let bucket_id = props
            .reference("Bucket")?
            .ok_or_else(|| props.error("Bucket is required (a !Ref to a bucket of this template)"))?;
        let bucket = ctx.resources.get(&bucket_id)?.reference.clone();
        let events: Vec<Event> = props
            .list("Events")
            .iter()
            .map(|e| {
                e.as_str()
                    .map(Event::from)
                    .ok_or_else(|| props.error("Events are event names such as s3:ObjectCreated:*"))
            })
            .collect::<Result<_, _>>()?;
        if events.is_empty() {
            return Err(props.error("Events is required"));
        }
        let filter = key_filter(props)?;
        let Subscription { function, props, name } = sub;
        props.finish()?;

        let relay = Relay::create(ctx, &name).await?;
        let current = match ctx.aws.s3.get_bucket_notification_configuration().bucket(&bucket).send().await {
            Ok(current) => current,
            // moto answers a bucket without notifications with an empty document under
            // another root element, which the SDK cannot read: that means "none yet".
            Err(err) if aws_sdk_s3::error::DisplayErrorContext(&err).to_string().contains("GetBucketNotificationResponse") => {
                aws_sdk_s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder().build()
            }
            Err(err) => return Err(Error::aws("S3", "GetBucketNotificationConfiguration", err)),
        };
        let queue = QueueConfiguration::builder()
            .id(format!("local-env-{name}"))
            .queue_arn(&relay.arn)
            .set_events(Some(events))
            .set_filter(filter)
            .build()
            .map_err(|e| Error::aws("S3", "PutBucketNotificationConfiguration", e))?;
        let configuration = NotificationConfiguration::builder()
            .set_queue_configurations(Some([current.queue_configurations.unwrap_or_default(), vec![queue]].concat()))
            .set_topic_configurations(current.topic_configurations)
            .build();
        ctx.aws
            .s3
            .put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(configuration)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutBucketNotificationConfiguration", e))?;
        relay.spawn(ctx.clone(), function, format!("s3:{bucket_id}"), completed_event);
        Ok(())
    })
}

/// `Filter: {S3Key: {Rules: [{Name: prefix|suffix, Value: ...}]}}`, as both function events
/// and a bucket's own notification configurations write it.
pub fn key_filter(props: &Props) -> Result<Option<NotificationConfigurationFilter>, Error> {
    let Some(filter) = props.nested("Filter") else { return Ok(None) };
    let key = filter.nested("S3Key").ok_or_else(|| filter.error("S3Key is required"))?;
    let mut rules = Vec::new();
    for rule in key.list("Rules") {
        let rule = mapping(Some(&rule));
        let name = crate::template::str_of(crate::template::get(&rule, "Name")).unwrap_or_default();
        let value = crate::template::str_of(crate::template::get(&rule, "Value")).unwrap_or_default();
        let name = match name.to_ascii_lowercase().as_str() {
            "prefix" => FilterRuleName::Prefix,
            "suffix" => FilterRuleName::Suffix,
            other => return Err(key.error(format!("Rules: {other} is not prefix or suffix"))),
        };
        rules.push(FilterRule::builder().name(name).value(value).build());
    }
    key.finish()?;
    filter.finish()?;
    Ok(Some(
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build(),
    ))
}

static SEQUENCER: AtomicU64 = AtomicU64::new(1);

/// The S3 event moto queued, with the fields AWS also sends; `None` for S3's test event.
fn completed_event(body: &str) -> Option<Value> {
    let mut event: Value = serde_json::from_str(body).ok()?;
    if event.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return None;
    }
    for record in event.get_mut("Records")?.as_array_mut()? {
        let Some(object) = record.as_object_mut() else { continue };
        object.entry("userIdentity").or_insert_with(|| json!({"principalId": "AWS:LOCAL"}));
        object.entry("requestParameters").or_insert_with(|| json!({"sourceIPAddress": "127.0.0.1"}));
        let id = uuid::Uuid::new_v4().simple().to_string();
        object
            .entry("responseElements")
            .or_insert_with(|| json!({"x-amz-request-id": id[..16].to_uppercase(), "x-amz-id-2": id}));
        if let Some(s3) = object.get_mut("s3").and_then(Value::as_object_mut) {
            if let Some(bucket) = s3.get_mut("bucket").and_then(Value::as_object_mut) {
                bucket.entry("ownerIdentity").or_insert_with(|| json!({"principalId": "LOCAL"}));
            }
            if let Some(object) = s3.get_mut("object").and_then(Value::as_object_mut) {
                // Keys arrive URL-encoded (a space as '+'); moto also encodes '/', AWS does not.
                if let Some(key) = object.get("key").and_then(Value::as_str) {
                    let key = key.replace("%2F", "/");
                    object.insert("key".into(), json!(key));
                }
                let sequencer = format!("{:016X}", SEQUENCER.fetch_add(1, Ordering::Relaxed));
                object.entry("sequencer").or_insert_with(|| json!(sequencer));
            }
        }
    }
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn motos_event_is_completed_and_its_test_event_dropped() {
        let body = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"2026-11-24T19:52:58.050Z",
            "s3":{"bucket":{"name":"b","arn":"arn:aws:s3:::b"},"object":{"key":"in%2Fa+b.csv","size":5}}}]}"#;
        let event = completed_event(body).unwrap();
        let record = &event["Records"][0];
        assert!(record["userIdentity"]["principalId"].is_string());
        assert!(record["s3"]["object"]["sequencer"].is_string());
        assert_eq!(record["s3"]["object"]["key"], "in/a+b.csv", "'/' as AWS writes it; the rest still encoded");
        let parsed: aws_lambda_events::event::s3::S3Event = serde_json::from_value(event).unwrap();
        assert_eq!(parsed.records.len(), 1);
        assert!(completed_event(r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"b"}"#).is_none());
    }
}
