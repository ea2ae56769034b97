//! Daily roll-up reports in the results bucket, under `rollups/daily/`. A report is
//! written only when no report for the day exists with the same bytes, so running the
//! roll-up twice for a day leaves one version of it (the bucket is versioned); a report
//! that changed (rows archived late) replaces the old one. The write is conditional on
//! what was compared (`If-None-Match: *` for a new report, `If-Match` its ETag for a
//! replacement), so two runs of one day at once write it once: the loser compares again.

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
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

/// Conditional writes lost to other writers before giving up (the run is retried).
const ATTEMPTS: usize = 5;

impl DailyReports {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub async fn write(&self, key: &str, report: Vec<u8>) -> Result<Written, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let existing = self.read(key).await?;
            if existing.as_ref().is_some_and(|(bytes, _)| bytes.as_slice() == report.as_slice()) {
                return Ok(Written::Unchanged);
            }
            let put = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type("application/json")
                .body(ByteStream::from(report.clone()));
            let put = match &existing {
                None => put.if_none_match("*"),
                Some((_, etag)) => put.if_match(etag),
            };
            match put.send().await {
                Ok(_) => return Ok(if existing.is_some() { Written::Replaced } else { Written::New }),
                // Another run wrote in between: compare with what it wrote.
                Err(err) if attempt < ATTEMPTS && lost_race(&err) => continue,
                Err(err) => return Err(Error::aws("S3", "PutObject", err)),
            }
        }
    }

    /// The report's bytes and ETag, if there is one.
    async fn read(&self, key: &str) -> Result<Option<(Vec<u8>, String)>, Error> {
        match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => {
                let etag = out.e_tag.clone().unwrap_or_default();
                let bytes = out.body.collect().await.map_err(|e| Error::Malformed(format!("{key}: {e}")))?.into_bytes();
                Ok(Some((bytes.to_vec(), etag)))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(Error::aws("S3", "GetObject", err)),
        }
    }
}

/// A conditional write refused because the object changed since it was read.
fn lost_race<E: ProvideErrorMetadata, R>(err: &aws_sdk_s3::error::SdkError<E, R>) -> bool {
    err.as_service_error().and_then(ProvideErrorMetadata::code).is_some_and(|code| {
        // 412 when the condition failed; 409 when another conditional write was in flight.
        code == "PreconditionFailed" || code == "ConditionalRequestConflict"
    })
}
