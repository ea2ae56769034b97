//! A map/reduce job: its id, its status, and the task a mapper receives for one chunk.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::chunks::Chunk;
use super::report::Columns;

/// A job's id: derived from the upload it analyses (bucket, key and the S3 event's
/// `sequencer`, unique per write of a key), so a redelivered event names the same job and
/// the same file uploaded twice makes two jobs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

/// Hex digits in a job id: 96 bits, so ids of different uploads never collide by chance.
const JOB_ID_LEN: usize = 24;

impl JobId {
    pub fn for_upload(bucket: &str, key: &str, sequencer: &str) -> Self {
        let mut hash = Sha256::new();
        for part in [bucket, key, sequencer] {
            hash.update(part.len().to_be_bytes());
            hash.update(part.as_bytes());
        }
        let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Self(hex[..JOB_ID_LEN].to_owned())
    }

    /// A job id as a client wrote it; `None` for anything no job can have.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == JOB_ID_LEN && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then(|| Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for JobId {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("{raw:?} is not a job id"))
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> String {
        id.0
    }
}

/// Where a job is: `mapping` until its last chunk is in, `reducing` while the reducer that
/// claimed it works, then `done` or `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Mapping,
    Reducing,
    Done,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Mapping => "mapping",
            JobStatus::Reducing => "reducing",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "mapping" => Some(JobStatus::Mapping),
            "reducing" => Some(JobStatus::Reducing),
            "done" => Some(JobStatus::Done),
            "failed" => Some(JobStatus::Failed),
            _ => None,
        }
    }
}

/// The file a job reads: the object as it was when the job started (its ETag), so a file
/// replaced mid-job fails the job instead of mixing two files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InputFile {
    pub bucket: String,
    pub key: String,
    pub etag: String,
    pub size: u64,
}

/// What a mapper is asked to do: aggregate one chunk of one job's file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkTask {
    pub job_id: JobId,
    pub input: InputFile,
    pub chunk: Chunk,
    pub columns: Columns,
}

impl ChunkTask {
    pub fn to_json(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub fn from_json(body: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_per_upload_and_differ_between_uploads() {
        let a = JobId::for_upload("in", "input/flights.csv", "0001");
        assert_eq!(a, JobId::for_upload("in", "input/flights.csv", "0001"));
        assert_ne!(a, JobId::for_upload("in", "input/flights.csv", "0002"));
        // Parts are length-prefixed: moving a character between them is another upload.
        assert_ne!(JobId::for_upload("ab", "c", "d"), JobId::for_upload("a", "bc", "d"));
        assert_eq!(JobId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.as_str().len(), 24);
    }

    #[test]
    fn only_well_formed_ids_parse() {
        assert!(JobId::parse("0123456789abcdef01234567").is_some());
        for bad in ["", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "0123456789abcdef0123456g"] {
            assert!(JobId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in [JobStatus::Mapping, JobStatus::Reducing, JobStatus::Done, JobStatus::Failed] {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("Done"), None);
    }
}
