//! A dead-letter queue a function writes to itself, for records that can never be
//! processed (a stream record whose image cannot be read): kept with the reason, for a
//! person to look at (an alarm watches its depth), while the stream moves on.

use crate::Error;

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
