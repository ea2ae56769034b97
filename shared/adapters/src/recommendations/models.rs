//! Where trained models live, owned by the retrainer: each model an immutable S3 object,
//! and per store a pointer item naming the current one.
//!
//! A model of a 10,000-product store does not fit a DynamoDB item (400 KB) with room to
//! spare, so models go to S3 whatever their size (one path, not two) under a key no other
//! model uses, and the pointer is flipped by a conditional write on the collection version
//! the model was trained from: a reader sees the old model or the new one, never half of
//! one, and a retrain that finishes late never replaces a newer model.
//!
//! | pk           | sk          | what |
//! |--------------|-------------|------|
//! | `STORE#<id>` | `CURRENT`   | the current model: version, S3 key, size |
//! | `STORE#<id>` | `V#<version>` | an earlier model, for rollback; expires by TTL |
//!
//! A replaced model's object is tagged `superseded` (and copied onto itself, so its age
//! starts then); the bucket's lifecycle rule deletes such objects after the rollback
//! window, as the history items expire. The window is the
//! retrainer's `MODEL_VERSIONS_RETENTION_DAYS` setting; the `CURRENT` pointer never expires,
//! and nothing reads the `V#` history yet (a rollback would have to skip expired ones).

use aws_sdk_dynamodb::Client as DynamoClient;
use aws_sdk_dynamodb::types::ReturnValue;
use aws_sdk_s3::Client as S3Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{MetadataDirective, TaggingDirective};
use domain::recommendations::StoreId;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::dynamo::{Item, TTL_ATTRIBUTE, epoch, get_n, get_s, n, s};

/// How long a replaced model stays available for rollback, unless the deployment says otherwise.
pub const ROLLBACK_WINDOW: Duration = Duration::days(7);
/// The object tag the bucket's lifecycle rule expires.
pub const SUPERSEDED_TAG: (&str, &str) = ("lifecycle", "superseded");

#[derive(Debug, Clone)]
pub struct ModelStore {
    dynamo: DynamoClient,
    table: String,
    s3: S3Client,
    bucket: String,
    /// How long a replaced model's history item is kept.
    rollback_window: Duration,
}

/// The pointer to a store's current model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPointer {
    /// The collection version the model was trained from.
    pub version: u64,
    pub key: String,
    pub bytes: u64,
    pub trained_at: String,
}

/// The outcome of publishing a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// It is the store's current model now.
    Current(ModelPointer),
    /// A model of this or a newer collection version was current already: this one is
    /// not used (and its object is marked superseded).
    Stale { current: u64 },
}

fn partition(store: &StoreId) -> String {
    format!("STORE#{store}")
}

fn read_pointer(item: &Item) -> Result<ModelPointer, Error> {
    Ok(ModelPointer {
        version: get_n(item, "version")?,
        key: get_s(item, "key")?.to_owned(),
        bytes: get_n(item, "bytes")?,
        trained_at: get_s(item, "trainedAt")?.to_owned(),
    })
}

impl ModelStore {
    pub fn new(dynamo: DynamoClient, table: impl Into<String>, s3: S3Client, bucket: impl Into<String>) -> Self {
        Self { dynamo, table: table.into(), s3, bucket: bucket.into(), rollback_window: ROLLBACK_WINDOW }
    }

    /// Keeps the models replaced from now on available for rollback for `retention`.
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { rollback_window: retention, ..self }
    }

    /// The store's current model, if it has one.
    pub async fn current(&self, store: &StoreId) -> Result<Option<ModelPointer>, Error> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key("pk", s(partition(store)))
            .key("sk", s("CURRENT"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        out.item.map(|item| read_pointer(&item)).transpose()
    }

    /// A model's bytes.
    pub async fn load(&self, pointer: &ModelPointer) -> Result<Vec<u8>, Error> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&pointer.key)
            .send()
            .await
            .map_err(|e| Error::aws("S3", "GetObject", e))?;
        let body = out.body.collect().await.map_err(|e| Error::Malformed(format!("model object unreadable: {e}")))?;
        Ok(body.into_bytes().to_vec())
    }

    /// Stores a model trained from collection `version` and makes it current, unless a
    /// model of this or a newer version already is.
    pub async fn publish(
        &self,
        store: &StoreId,
        version: u64,
        model: Vec<u8>,
        now: OffsetDateTime,
    ) -> Result<Published, Error> {
        let key = format!("{store}/{version:012}-{}.model", uuid::Uuid::new_v4().simple());
        let bytes = model.len() as u64;
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .body(ByteStream::from(model))
            .content_type("application/octet-stream")
            .send()
            .await
            .map_err(|e| Error::aws("S3", "PutObject", e))?;
        let trained_at = now.format(&Rfc3339).unwrap_or_default();
        let pointer = ModelPointer { version, key: key.clone(), bytes, trained_at: trained_at.clone() };
        let flip = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .item("pk", s(partition(store)))
            .item("sk", s("CURRENT"))
            .item("version", n(version))
            .item("key", s(&key))
            .item("bytes", n(bytes))
            .item("trainedAt", s(&trained_at))
            .condition_expression("attribute_not_exists(pk) OR version < :version")
            .expression_attribute_values(":version", n(version))
            // The pointer this write replaced, exactly: another retrain may have flipped
            // it since this one started.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let previous = match flip {
            Ok(out) => out.attributes.filter(|item| !item.is_empty()).map(|item| read_pointer(&item)).transpose()?,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                self.supersede(&key).await?;
                let current = self.current(store).await?.map_or(version, |p| p.version);
                return Ok(Published::Stale { current });
            }
            Err(err) => return Err(Error::dynamo("PutItem", err)),
        };
        // The model it replaced stays for the rollback window.
        if let Some(previous) = previous.filter(|p| p.key != key) {
            self.dynamo
                .put_item()
                .table_name(&self.table)
                .item("pk", s(partition(store)))
                .item("sk", s(format!("V#{:012}", previous.version)))
                .item("version", n(previous.version))
                .item("key", s(&previous.key))
                .item("bytes", n(previous.bytes))
                .item("trainedAt", s(&previous.trained_at))
                .item(TTL_ATTRIBUTE, epoch(now + self.rollback_window))
                .send()
                .await
                .map_err(|e| Error::dynamo("PutItem", e))?;
            self.supersede(&previous.key).await?;
        }
        Ok(Published::Current(pointer))
    }

    /// Marks a model object for the lifecycle rule, and starts its age now: S3 counts a
    /// rule's days from the object's creation, so the object is copied onto itself (with
    /// the tag), which creates it anew. A model current for months thus stays the whole
    /// rollback window once replaced, as its history item does.
    async fn supersede(&self, key: &str) -> Result<(), Error> {
        // The copy source is URL-encoded, segment by segment.
        let source: Vec<String> = std::iter::once(self.bucket.as_str())
            .chain(key.split('/'))
            .map(|segment| url::form_urlencoded::byte_serialize(segment.as_bytes()).collect())
            .collect();
        self.s3
            .copy_object()
            .bucket(&self.bucket)
            .key(key)
            .copy_source(source.join("/"))
            // Copying an object onto itself is allowed only when something changes: its
            // tags here, and its metadata set anew as the model was written.
            .metadata_directive(MetadataDirective::Replace)
            .content_type("application/octet-stream")
            .tagging_directive(TaggingDirective::Replace)
            .tagging(format!("{}={}", SUPERSEDED_TAG.0, SUPERSEDED_TAG.1))
            .send()
            .await
            .map_err(|e| Error::aws("S3", "CopyObject", e))?;
        Ok(())
    }
}
