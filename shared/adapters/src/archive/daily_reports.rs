//! Daily roll-up reports in the results bucket, under `rollups/daily/`. A report is
//! written only when no report for the day exists with the same bytes, so running the
//! roll-up twice for a day leaves one version of it (the bucket is versioned); a report
//! that changed (rows archived late) replaces the old one.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::Error;

#[derive(Debug, Clone)]
pub struct DailyReports {
    client: Client,
    bucket: String,
}

/// What writing a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    New,
    Replaced,
    Unchanged,
}

impl DailyReports {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn write(&self, key: &str, report: Vec<u8>) -> Result<Written, Error> {
        let existing = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                Some(out.body.collect().await.map_err(|e| Error::Malformed(format!("{key}: {e}")))?.into_bytes())
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => None,
            Err(err) => return Err(Error::aws("S3", "GetObject", err)),
        };
        if existing.as_deref() == Some(report.as_slice()) {
            return Ok(Written::Unchanged);
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(report))
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutObject", e))?;
        Ok(if existing.is_some() { Written::Replaced } else { Written::New })
    }
}
