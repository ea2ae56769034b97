//! A dead-letter queue a function writes to itself, for records that can never be
//! processed (a stream record whose image cannot be read), or that are parked before the
//! stream drops them: kept with the reason, for a person to look at (an alarm watches its
//! depth), while the stream moves on.

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::Error;
use crate::error::AwsFailure;

#[derive(Debug, Clone)]
pub struct DeadLetterQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

/// SQS's limits on one SendMessageBatch: ten messages, and 256 KiB of bodies in all.
const BATCH_MESSAGES: usize = 10;
const BATCH_BYTES: usize = 256 * 1024;

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
    /// call; succeeds only if every one was taken. A record that was taken may be sent
    /// again by a retry of the whole: whoever reads the queue tells copies apart by the
    /// record.
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
        for batch in batches(&bodies) {
            let entries = batch
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body.as_str())
                        .build()
                        .map_err(|e| Error::build("SendMessageBatchRequestEntry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| Error::aws("SQS", "SendMessageBatch", e))?;
            if let Some(failed) = out.failed.first() {
                return Err(Error::Aws(AwsFailure {
                    service: "SQS",
                    operation: "SendMessageBatch",
                    code: failed.code().to_owned(),
                    status: None,
                    request_id: None,
                    transient: !failed.sender_fault(),
                }));
            }
        }
        Ok(())
    }
}

/// The bodies cut into SendMessageBatch calls: at most ten and 256 KiB each (a body larger
/// than that alone goes alone, for SQS to refuse).
fn batches(bodies: &[String]) -> Vec<&[String]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, body) in bodies.iter().enumerate() {
        if i > start && (i - start == BATCH_MESSAGES || bytes + body.len() > BATCH_BYTES) {
            out.push(&bodies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += body.len();
    }
    if start < bodies.len() {
        out.push(&bodies[start..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_ten_messages_and_256_kib_at_most() {
        let small: Vec<String> = (0..23).map(|i| format!("m{i}")).collect();
        let sizes: Vec<usize> = batches(&small).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [10, 10, 3]);
        let big: Vec<String> = (0..5).map(|_| "x".repeat(100 * 1024)).collect();
        let sizes: Vec<usize> = batches(&big).iter().map(|b| b.len()).collect();
        assert_eq!(sizes, [2, 2, 1], "two of 100 KiB fit, three do not");
        let huge = vec!["x".repeat(300 * 1024), "y".into()];
        assert_eq!(batches(&huge).iter().map(|b| b.len()).collect::<Vec<_>>(), [1, 1]);
        assert!(batches(&[]).is_empty());
    }
}
