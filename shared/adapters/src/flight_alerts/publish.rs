//! Publishing through SNS: alerts to the alerts topic, texts to phone numbers.

use std::future::Future;

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use domain::PhoneNumber;
use domain::flight_alerts::AlertMessage;

use crate::Error;

/// Message attribute that carries the correlation id next to the body, for subscribers
/// that filter or trace on attributes.
pub const CORRELATION_ATTRIBUTE: &str = "correlationId";

fn string_attribute(value: &str) -> Result<MessageAttributeValue, Error> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| Error::aws("SNS", "MessageAttributeValue", e))
}

/// Publishes alerts to the alerts topic.
#[derive(Debug, Clone)]
pub struct AlertPublisher {
    client: Client,
    topic_arn: String,
}

impl AlertPublisher {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }

    pub async fn publish(&self, message: &AlertMessage) -> Result<String, Error> {
        let body = serde_json::to_string(message).map_err(|e| Error::Malformed(e.to_string()))?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes(CORRELATION_ATTRIBUTE, string_attribute(&message.correlation_id)?)
            .send()
            .await
            .map_err(|e| Error::aws("SNS", "Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// A dead-letter queue a function writes to itself: for records that can never be
/// processed, kept with the reason, so a person can look (an alarm watches its depth).
#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl DeadLetterQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub async fn send(&self, reason: &str, record: &serde_json::Value) -> Result<(), Error> {
        let body = serde_json::json!({"reason": reason, "record": record}).to_string();
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| Error::aws("SQS", "SendMessage", e))?;
        Ok(())
    }
}

/// Sends one text message. A trait so that the SMS function's delivery logic can be
/// exercised against a sender that fails on purpose.
pub trait SmsSender {
    fn send(&self, to: &PhoneNumber, text: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// Texts through SNS `Publish` with a phone number, as transactional SMS (higher
/// delivery priority than promotional, and not subject to quiet hours).
#[derive(Debug, Clone)]
pub struct SnsSms {
    client: Client,
}

impl SnsSms {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl SmsSender for SnsSms {
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), Error> {
        self.client
            .publish()
            .phone_number(to.e164())
            .message(text)
            .message_attributes("AWS.SNS.SMS.SMSType", string_attribute("Transactional")?)
            .send()
            .await
            .map_err(|e| Error::aws("SNS", "Publish", e))?;
        Ok(())
    }
}
