//! Reading an uploaded file: its size and ETag, its first bytes (the header), and byte
//! ranges streamed piece by piece, each read pinned to the ETag the job started with.

use aws_sdk_s3::Client;
use domain::analytics::job::InputFile;

use crate::Error;

#[derive(Debug, Clone)]
pub struct InputFiles {
    client: Client,
}

/// An object's size, ETag and its per-file chunk size (metadata `chunk-bytes`), if set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFacts {
    pub size: u64,
    pub etag: String,
    pub chunk_bytes: Option<u64>,
}

/// Why a read failed for good: the file is gone or was replaced since the job started.
/// (Access refused is not this: it is a deployment fault, and fails loudly.)
pub fn is_gone_or_replaced(err: &Error) -> bool {
    matches!(err.code(), Some("PreconditionFailed" | "NoSuchKey" | "NotFound"))
        || matches!(err, Error::Aws(failure) if failure.status == Some(412) || failure.status == Some(404))
}

impl InputFiles {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn facts(&self, bucket: &str, key: &str) -> Result<ObjectFacts, Error> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "HeadObject", e))?;
        let size = out.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        let etag = out.e_tag().unwrap_or_default().to_owned();
        let chunk_bytes = out.metadata().and_then(|m| m.get("chunk-bytes")).and_then(|v| v.trim().parse().ok());
        Ok(ObjectFacts { size, etag, chunk_bytes })
    }

    /// Bytes `[start, end)` of the file as it was when the job started, piece by piece as
    /// they arrive: `each` returns `false` to stop early (the rest is not read).
    pub async fn read_range(
        &self,
        file: &InputFile,
        start: u64,
        end: u64,
        mut each: impl FnMut(&[u8]) -> bool,
    ) -> Result<u64, Error> {
        if start >= end {
            return Ok(0);
        }
        let out = self
            .client
            .get_object()
            .bucket(&file.bucket)
            .key(&file.key)
            .range(format!("bytes={start}-{}", end - 1))
            .if_match(&file.etag)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "GetObject", e))?;
        let mut body = out.body;
        let mut read = 0u64;
        loop {
            match body.next().await {
                Some(Ok(bytes)) => {
                    read += bytes.len() as u64;
                    if !each(&bytes) {
                        return Ok(read);
                    }
                }
                Some(Err(_)) => {
                    return Err(Error::Aws(crate::error::AwsFailure {
                        service: "S3",
                        operation: "GetObject",
                        code: "BodyInterrupted".into(),
                        status: None,
                        request_id: None,
                        transient: true,
                    }));
                }
                None => return Ok(read),
            }
        }
    }
}
