//! The archive bucket: one gzip-compressed JSON Lines object per run of a stream batch
//! (`domain::archive::partition` names them), read back a day at a time by the roll-up.

use std::io::{Read, Write};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use domain::archive::ArchivedTable;
use domain::archive::partition::day_prefix;
use time::Date;

use crate::Error;

#[derive(Debug, Clone)]
pub struct ArchiveBucket {
    client: Client,
    bucket: String,
}

impl ArchiveBucket {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    /// Writes `lines` (JSON Lines, each ending in a newline) gzip-compressed under `key`,
    /// replacing what a previous delivery of the same run wrote there.
    pub async fn put_lines(&self, key: &str, lines: &str) -> Result<(), Error> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            // The object is a .gz file, not JSON sent compressed: no Content-Encoding, so
            // no client unpacks it on the way and a saved copy is still gzip.
            .content_type("application/gzip")
            .body(ByteStream::from(gzip(lines.as_bytes())))
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutObject", e))?;
        Ok(())
    }

    /// Every object of a table's day, by key.
    pub async fn day_objects(&self, table: ArchivedTable, day: Date) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(day_prefix(table, day))
                .set_continuation_token(token)
                .send()
                .await
                .map_err(|e| Error::aws("S3", "ListObjectsV2", e))?;
            keys.extend(out.contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
            match out.next_continuation_token {
                Some(next) if out.is_truncated == Some(true) => token = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// An object's lines, decompressed.
    pub async fn lines(&self, key: &str) -> Result<String, Error> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "GetObject", e))?;
        let body = out.body.collect().await.map_err(|e| Error::Malformed(format!("{key}: {e}")))?.into_bytes();
        gunzip(&body).map_err(|e| Error::Malformed(format!("{key} is not gzip-compressed text: {e}")))
    }
}

/// Gzip, so `zcat`, Athena and every JSON tool read the objects as they are.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

pub fn gunzip(bytes: &[u8]) -> Result<String, std::io::Error> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_round_trips() {
        let text = "{\"a\":1}\n{\"b\":2}\n".repeat(100);
        let packed = gzip(text.as_bytes());
        assert!(packed.len() < text.len());
        assert_eq!(&packed[..2], &[0x1f, 0x8b], "gzip magic");
        assert_eq!(gunzip(&packed).unwrap(), text);
        assert!(gunzip(b"plain").is_err());
    }
}
