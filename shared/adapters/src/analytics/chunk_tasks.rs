//! Queuing a job's chunk tasks for the mappers, ten per call.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use domain::analytics::job::ChunkTask;

use crate::Error;

/// SQS's limit of messages per SendMessageBatch.
const BATCH: usize = 10;
/// Times a batch's failed entries are sent again before giving up (the splitter's
/// invocation then fails and is retried whole; duplicate tasks change nothing).
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone)]
pub struct ChunkQueue {
    client: Client,
    url: String,
}

impl ChunkQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    pub async fn send_all(&self, tasks: &[ChunkTask]) -> Result<(), Error> {
        for batch in tasks.chunks(BATCH) {
            let mut pending: Vec<(String, String)> =
                batch.iter().enumerate().map(|(i, task)| (i.to_string(), task.to_json())).collect();
            for attempt in 1..=ATTEMPTS {
                let entries = pending
                    .iter()
                    .map(|(id, body)| SendMessageBatchRequestEntry::builder().id(id).message_body(body).build())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| Error::build("SendMessageBatchRequestEntry", e))?;
                let out = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| Error::aws("SQS", "SendMessageBatch", e))?;
                let failed: Vec<&str> = out.failed().iter().map(|f| f.id()).collect();
                pending.retain(|(id, _)| failed.contains(&id.as_str()));
                if pending.is_empty() {
                    break;
                }
                if attempt == ATTEMPTS {
                    return Err(Error::Malformed(format!("{} chunk tasks were refused by SQS", pending.len())));
                }
            }
        }
        Ok(())
    }
}
