//! Queuing a job's chunk tasks for the mappers, ten per call (`crate::sqs`); a task
//! queued twice by a retried split changes nothing: a mapper counts a chunk once.

use aws_sdk_sqs::Client;
use domain::analytics::job::ChunkTask;

use crate::{Error, sqs};

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
        let bodies: Vec<String> = tasks.iter().map(ChunkTask::to_json).collect();
        sqs::send_all(&self.client, &self.url, &bodies).await
    }
}
