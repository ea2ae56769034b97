//! Where Lambda sends what it could not (or could) process: the destinations of
//! asynchronous invocations (`EventInvokeConfig.DestinationConfig`), a function's
//! dead-letter queue (`DeadLetterQueue`), and the on-failure destination of stream event
//! source mappings (`DestinationConfig.OnFailure`). Named by ARN, as in the template.

use std::sync::Arc;

use aws_sdk_sns::types::MessageAttributeValue as SnsAttribute;
use aws_sdk_sqs::types::MessageAttributeValue as SqsAttribute;
use hyper::body::Bytes;
use serde_json::Value;

use super::Lambda;
use crate::Error;
use crate::aws::Aws;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Sqs { arn: String, url: String },
    Sns { arn: String },
    Lambda { arn: String },
    EventBridge { arn: String },
}

impl Destination {
    /// The destination an ARN names; `allowed` lists the services the setting accepts.
    pub async fn from_arn(arn: &str, allowed: &[&str], aws: &Aws) -> Result<Self, Error> {
        let service = arn.split(':').nth(2).unwrap_or_default();
        if !allowed.contains(&service) {
            return Err(Error::Template(format!(
                "destination {arn}: a {service} destination is not possible here (allowed: {})",
                allowed.join(", ")
            )));
        }
        match service {
            "sqs" => {
                let name = arn.rsplit(':').next().unwrap_or_default();
                let url = aws
                    .sqs
                    .get_queue_url()
                    .queue_name(name)
                    .send()
                    .await
                    .map_err(|e| Error::aws("SQS", "GetQueueUrl", e))?
                    .queue_url
                    .unwrap_or_default();
                Ok(Destination::Sqs { arn: arn.to_owned(), url })
            }
            "sns" => Ok(Destination::Sns { arn: arn.to_owned() }),
            "lambda" => Ok(Destination::Lambda { arn: arn.to_owned() }),
            "events" => Ok(Destination::EventBridge { arn: arn.to_owned() }),
            other => Err(Error::Template(format!("destination {arn}: {other} destinations are not supported locally"))),
        }
    }

    pub fn arn(&self) -> &str {
        match self {
            Destination::Sqs { arn, .. }
            | Destination::Sns { arn }
            | Destination::Lambda { arn }
            | Destination::EventBridge { arn } => arn,
        }
    }

    /// Sends a destination record (an invocation record, or a stream batch's failure
    /// record); `detail_type` names it for EventBridge.
    pub async fn send_record(&self, lambda: &Arc<Lambda>, record: &Value, detail_type: &str) -> Result<(), Error> {
        let body = record.to_string();
        match self {
            Destination::Sqs { url, .. } => {
                lambda
                    .aws
                    .sqs
                    .send_message()
                    .queue_url(url)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| Error::aws("SQS", "SendMessage", e))?;
            }
            Destination::Sns { arn } => {
                lambda
                    .aws
                    .sns
                    .publish()
                    .topic_arn(arn)
                    .message(body)
                    .send()
                    .await
                    .map_err(|e| Error::aws("SNS", "Publish", e))?;
            }
            Destination::Lambda { arn } => {
                let function = lambda
                    .function(arn)
                    .ok_or_else(|| Error::Template(format!("destination {arn} is not a function of this template")))?;
                lambda.invoke_async(function, Bytes::from(body), format!("destination:{}", detail_type));
            }
            Destination::EventBridge { arn } => {
                let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(arn)
                    .source("lambda")
                    .detail_type(detail_type)
                    .detail(body)
                    .build();
                lambda
                    .aws
                    .events
                    .put_events()
                    .entries(entry)
                    .send()
                    .await
                    .map_err(|e| Error::aws("EventBridge", "PutEvents", e))?;
            }
        }
        Ok(())
    }

    /// Sends a failed event to a function's dead-letter queue or topic: the event itself as
    /// the body, and what went wrong as message attributes, as Lambda does.
    pub async fn send_dead_letter(
        &self,
        lambda: &Lambda,
        payload: &[u8],
        request_id: &str,
        error_message: &str,
    ) -> Result<(), Error> {
        let body = String::from_utf8_lossy(payload).into_owned();
        let attributes = [("RequestID", request_id), ("ErrorCode", "200"), ("ErrorMessage", error_message)];
        match self {
            Destination::Sqs { url, .. } => {
                let mut send = lambda.aws.sqs.send_message().queue_url(url).message_body(body);
                for (name, value) in attributes {
                    let value = SqsAttribute::builder()
                        .data_type("String")
                        .string_value(value)
                        .build()
                        .map_err(|e| Error::aws("SQS", "SendMessage", e))?;
                    send = send.message_attributes(name, value);
                }
                send.send().await.map_err(|e| Error::aws("SQS", "SendMessage", e))?;
            }
            Destination::Sns { arn } => {
                let mut publish = lambda.aws.sns.publish().topic_arn(arn).message(body);
                for (name, value) in attributes {
                    let value = SnsAttribute::builder()
                        .data_type("String")
                        .string_value(value)
                        .build()
                        .map_err(|e| Error::aws("SNS", "Publish", e))?;
                    publish = publish.message_attributes(name, value);
                }
                publish.send().await.map_err(|e| Error::aws("SNS", "Publish", e))?;
            }
            other => {
                return Err(Error::Template(format!("a dead-letter queue must be SQS or SNS, not {}", other.arn())));
            }
        }
        Ok(())
    }
}
