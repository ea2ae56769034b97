//! `Type: SNS` — a function subscribed to a topic, invoked asynchronously with SNS's
//! event. The subscription is made in moto (to a relay queue) with the event's
//! `FilterPolicy` and `FilterPolicyScope`, so SNS itself decides what is delivered; each
//! delivered message becomes the `Records[].Sns` event Lambda receives.

use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::relay::Relay;
use super::{SourceContext, Subscription};
use crate::Error;
use crate::provision::json_of;

pub fn start<'a>(sub: Subscription<'a>, ctx: &'a SourceContext) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        let props = &sub.props;
        props.deployment_only(&["Region"]);
        let topic = props.required_string("Topic")?;
        let topic_id = ctx.resources.logical_id_of_arn(&topic).map(str::to_owned).unwrap_or_else(|| topic.clone());
        let policy = props.raw("FilterPolicy").map(json_of);
        let scope = props.string("FilterPolicyScope")?;
        if let Some(scope) = &scope
            && scope != "MessageAttributes"
            && scope != "MessageBody"
        {
            return Err(props.error(format!("FilterPolicyScope {scope} is not MessageAttributes or MessageBody")));
        }
        for unsupported in ["SqsSubscription", "RedrivePolicy"] {
            if props.raw(unsupported).is_some() {
                return Err(props.error(format!("{unsupported} is not supported by the local environment")));
            }
        }
        let Subscription { function, props, name } = sub;
        props.finish()?;

        let relay = Relay::create(ctx, &name).await?;
        let mut subscribe = ctx
            .aws
            .sns
            .subscribe()
            .topic_arn(&topic)
            .protocol("sqs")
            .endpoint(&relay.arn)
            .attributes("RawMessageDelivery", "false");
        if let Some(policy) = policy {
            subscribe = subscribe.attributes("FilterPolicy", policy.to_string());
        }
        if let Some(scope) = scope {
            subscribe = subscribe.attributes("FilterPolicyScope", scope);
        }
        let subscription_arn =
            subscribe.send().await.map_err(|e| Error::aws("SNS", "Subscribe", e))?.subscription_arn.unwrap_or_default();
        relay.spawn(ctx.clone(), function, format!("sns:{topic_id}"), move |body| sns_event(body, &subscription_arn));
        Ok(())
    })
}

/// The Lambda event for one SNS notification, from the envelope SNS puts on SQS.
fn sns_event(body: &str, subscription_arn: &str) -> Option<Value> {
    let envelope: Value = serde_json::from_str(body).ok()?;
    let field = |name: &str| envelope.get(name).cloned().unwrap_or(Value::Null);
    let unsubscribe =
        format!("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}");
    Some(json!({"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": field("Type"),
            "MessageId": field("MessageId"),
            "TopicArn": field("TopicArn"),
            "Subject": field("Subject"),
            "Message": field("Message"),
            "Timestamp": field("Timestamp"),
            "SignatureVersion": field("SignatureVersion"),
            "Signature": field("Signature"),
            // Lambda's event spells these "Url"; the SQS envelope "URL".
            "SigningCertUrl": field("SigningCertURL"),
            "UnsubscribeUrl": unsubscribe,
            "MessageAttributes": envelope.get("MessageAttributes").cloned().unwrap_or_else(|| json!({})),
        }
    }]}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_becomes_lambdas_sns_event() {
        let body = r#"{"Type":"Notification","MessageId":"m1","TopicArn":"arn:aws:sns:us-east-1:123456789012:t",
            "Message":"hello","Timestamp":"2026-11-24T19:53:25.697Z","SignatureVersion":"1","Signature":"s",
            "SigningCertURL":"https://x/cert.pem","MessageAttributes":{"color":{"Type":"String","Value":"red"}}}"#;
        let event = sns_event(body, "arn:aws:sns:us-east-1:123456789012:t:sub").unwrap();
        let parsed: aws_lambda_events::event::sns::SnsEvent = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(parsed.records[0].sns.message, "hello");
        assert_eq!(parsed.records[0].sns.message_attributes["color"].value, "red");
        assert!(event["Records"][0]["Sns"]["UnsubscribeUrl"].as_str().unwrap().ends_with("t:sub"));
    }
}
