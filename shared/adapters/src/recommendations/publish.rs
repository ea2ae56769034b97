//! Announcing collection changes: read from the collections table's stream (the outbox),
//! published to the collection changes topic.

use aws_sdk_sns::Client;
use domain::recommendations::{CollectionChanged, StoreId};

use crate::Error;
use crate::dynamo::{image_n, image_s};

/// The topic every new collection version is announced on.
#[derive(Debug, Clone)]
pub struct CollectionChangesTopic {
    client: Client,
    topic_arn: String,
}

impl CollectionChangesTopic {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }

    pub async fn publish(&self, change: &CollectionChanged) -> Result<String, Error> {
        let body = serde_json::to_string(change).map_err(|e| Error::Malformed(e.to_string()))?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .send()
            .await
            .map_err(|e| Error::aws("SNS", "Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}

/// What a collections table stream record means for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Announcement {
    /// A store's head was written: its new version is announced.
    Announce(CollectionChanged),
    /// Anything else (products, removals): nothing to announce.
    Ignore,
}

impl Announcement {
    /// Reads a stream record's event name and new image (DynamoDB JSON, `{"S": ...}`).
    pub fn from_change(event_name: &str, new_image: &serde_json::Value) -> Result<Self, Error> {
        if !matches!(event_name, "INSERT" | "MODIFY") || image_s(new_image, "sk") != Some("HEAD") {
            return Ok(Self::Ignore);
        }
        let store = image_s(new_image, "pk")
            .and_then(|pk| pk.strip_prefix("STORE#"))
            .ok_or_else(|| Error::Malformed("head image without a store key".into()))?;
        let store_id = StoreId::parse(store).map_err(Error::Malformed)?;
        let version = image_n::<u64>(new_image, "version")
            .ok_or_else(|| Error::Malformed("head image without a version".into()))?;
        Ok(Self::Announce(CollectionChanged { store_id, version }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_head_written_is_announced_and_nothing_else() {
        let head = json!({"pk": {"S": "STORE#store-1"}, "sk": {"S": "HEAD"}, "version": {"N": "7"}});
        let announced = Announcement::from_change("MODIFY", &head).unwrap();
        let expected = CollectionChanged { store_id: StoreId::parse("store-1").unwrap(), version: 7 };
        assert_eq!(announced, Announcement::Announce(expected));
        let product = json!({"pk": {"S": "STORE#store-1"}, "sk": {"S": "P#g#sku"}});
        assert_eq!(Announcement::from_change("INSERT", &product).unwrap(), Announcement::Ignore);
        assert_eq!(Announcement::from_change("REMOVE", &head).unwrap(), Announcement::Ignore);
        assert!(Announcement::from_change("INSERT", &json!({"pk": {"S": "STORE#x"}, "sk": {"S": "HEAD"}})).is_err());
    }
}
