//! The results bucket: a finished job's report (JSON and CSV) and its summary, under
//! `results/<jobId>/`.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use domain::analytics::job::JobId;

use crate::Error;
use crate::analytics::jobs_table::ResultKeys;

#[derive(Debug, Clone)]
pub struct ResultsBucket {
    client: Client,
    bucket: String,
}

impl ResultsBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Where a job's outputs go.
    pub fn keys(&self, id: &JobId) -> ResultKeys {
        ResultKeys {
            bucket: self.bucket.clone(),
            json: format!("results/{id}/report.json"),
            csv: format!("results/{id}/report.csv"),
            summary: format!("results/{id}/summary.json"),
        }
    }

    pub async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutObject", e))?;
        Ok(())
    }
}
