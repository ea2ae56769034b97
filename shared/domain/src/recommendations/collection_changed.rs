//! The message that a store's collection changed: published from the collections
//! table's stream (the outbox), consumed by the retrainer.

use serde::{Deserialize, Serialize};

use crate::recommendations::collection::StoreId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CollectionChanged {
    pub store_id: StoreId,
    /// The collection's version after the change: a model trained from it (or a later
    /// one) makes this message moot.
    pub version: u64,
}

impl CollectionChanged {
    /// Reads a message body, checking the store id it carries.
    pub fn from_json(body: &str) -> Result<Self, String> {
        let message: Self = serde_json::from_str(body).map_err(|e| format!("not a collection change: {e}"))?;
        StoreId::parse(message.store_id.as_str())?;
        Ok(message)
    }

    /// The latest change of each store among `changes`: a burst of changes to one store
    /// is one retrain, of its newest version.
    pub fn latest_per_store(changes: &[CollectionChanged]) -> Vec<CollectionChanged> {
        let mut latest: std::collections::BTreeMap<&StoreId, u64> = std::collections::BTreeMap::new();
        for change in changes {
            let version = latest.entry(&change.store_id).or_default();
            *version = (*version).max(change.version);
        }
        latest
            .into_iter()
            .map(|(store_id, version)| CollectionChanged { store_id: store_id.clone(), version })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(store: &str, version: u64) -> CollectionChanged {
        CollectionChanged { store_id: StoreId::parse(store).unwrap(), version }
    }

    #[test]
    fn a_burst_of_changes_to_one_store_is_one_retrain_of_the_newest() {
        let burst = [change("a", 3), change("b", 1), change("a", 7), change("a", 5)];
        assert_eq!(CollectionChanged::latest_per_store(&burst), [change("a", 7), change("b", 1)]);
    }

    #[test]
    fn messages_round_trip_and_bad_ones_are_refused() {
        let body = serde_json::to_string(&change("store-1", 4)).unwrap();
        assert_eq!(body, r#"{"storeId":"store-1","version":4}"#);
        assert_eq!(CollectionChanged::from_json(&body).unwrap(), change("store-1", 4));
        assert!(CollectionChanged::from_json(r#"{"storeId":"Bad Store","version":1}"#).is_err());
        assert!(CollectionChanged::from_json("nope").is_err());
    }
}
