//! Sending many messages to a queue: ten to a SendMessageBatch call and at most 256 KiB of
//! bodies, and the entries SQS refuses sent again a few times before giving up.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;

use crate::Error;
use crate::error::AwsFailure;

/// SQS's limits on one SendMessageBatch: ten messages, and 256 KiB of bodies in all.
const BATCH_MESSAGES: usize = 10;
const BATCH_BYTES: usize = 256 * 1024;
/// Times a batch's refused entries are sent again before giving up (the caller then
/// fails, and is retried: a message taken twice is one its readers tell apart).
const ATTEMPTS: usize = 3;

/// Sends every body as one message; succeeds only if SQS took them all.
pub async fn send_all(client: &Client, url: &str, bodies: &[String]) -> Result<(), Error> {
    for batch in batches(bodies) {
        let mut pending: Vec<(String, &str)> =
            batch.iter().enumerate().map(|(i, body)| (i.to_string(), body.as_str())).collect();
        for attempt in 1..=ATTEMPTS {
            let entries = pending
                .iter()
                .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(*body).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Error::build("SendMessageBatchRequestEntry", e))?;
            let out = client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| Error::aws("SQS", "SendMessageBatch", e))?;
            let Some(refused) = out.failed().first() else { break };
            if attempt == ATTEMPTS {
                return Err(Error::Aws(AwsFailure {
                    service: "SQS",
                    operation: "SendMessageBatch",
                    code: refused.code().to_owned(),
                    status: None,
                    request_id: None,
                    transient: !refused.sender_fault(),
                }));
            }
            let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
            pending.retain(|(id, _)| failed.contains(&id.as_str()));
        }
    }
    Ok(())
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
