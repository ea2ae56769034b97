//! Publishing through SNS: alerts to the alerts topic, texts to phone numbers.

use std::future::Future;
use std::time::Duration;

use aws_sdk_sns::Client;
use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::timeout::TimeoutConfig;
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
        .map_err(|e| Error::build("SNS MessageAttributeValue", e))
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

/// The SMS queue, as its consumer sees it: where an SMS invocation whose time runs out
/// part way through a flight leaves the rest of the alert for the next invocation.
#[derive(Debug, Clone)]
pub struct SmsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SmsQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// Queues `message`, delivered after `delay` (SQS allows up to 15 minutes).
    pub async fn send(&self, message: &AlertMessage, delay: Duration) -> Result<(), Error> {
        let body = serde_json::to_string(message).map_err(|e| Error::Malformed(e.to_string()))?;
        let delay = i32::try_from(delay.as_secs().min(900)).unwrap_or(900);
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay)
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

/// Error codes with which SNS refuses a text because of its recipient (a number it will
/// not text): trying again cannot help that number. Anything else (throttling, 5xx, a
/// missing permission) is a condition of the service or the deployment, retried until it
/// is fixed, and dead-lettered under an alarm if it is not.
const RECIPIENT_REFUSALS: &[&str] = &["InvalidParameter", "InvalidParameterValue"];

/// The error code, if SNS refused the text because of its recipient.
pub fn refused_recipient(err: &Error) -> Option<&str> {
    err.code().filter(|code| RECIPIENT_REFUSALS.contains(code))
}

/// Texts through SNS `Publish` with a phone number, as transactional SMS (higher
/// delivery priority than promotional, and not subject to quiet hours).
///
/// The client makes one attempt per call, limited to a few seconds: the SMS function
/// retries itself, with jittered backoff, against its invocation's deadline, where the
/// SDK's retries would wait past it (and its retry quota gives up under sustained
/// throttling, which is exactly when retries are needed).
#[derive(Debug, Clone)]
pub struct SnsSms {
    client: Client,
}

/// How long one attempt to hand a text to SNS may take.
pub const SEND_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

impl SnsSms {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let config = aws_sdk_sns::config::Builder::from(config)
            .retry_config(RetryConfig::disabled())
            .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(SEND_ATTEMPT_TIMEOUT).build())
            .build();
        Self { client: Client::from_conf(config) }
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
