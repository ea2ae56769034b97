//! A dead-letter queue a function writes to itself, for records that can never be
//! processed (a stream record whose image cannot be read), or that are parked before the
//! stream drops them: kept with the reason, for a person to look at (an alarm watches its
//! depth), while the stream moves on.

use crate::{Error, sqs};

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

    /// Sends many records, one message each (`{"reason", "record", ..extra}`), ten to a
    /// call (`crate::sqs`); succeeds only if every one was taken. A record that was taken
    /// may be sent again by a retry of the whole: whoever reads the queue tells copies
    /// apart by the record.
    pub async fn send_all(
        &self,
        reason: &str,
        extra: &serde_json::Map<String, serde_json::Value>,
        records: &[serde_json::Value],
    ) -> Result<(), Error> {
        let bodies: Vec<String> = records
            .iter()
            .map(|record| {
                let mut body = extra.clone();
                body.insert("reason".into(), reason.into());
                body.insert("record".into(), record.clone());
                serde_json::Value::Object(body).to_string()
            })
            .collect();
        sqs::send_all(&self.client, &self.url, &bodies).await
    }
}
