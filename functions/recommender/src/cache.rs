//! Models kept in the warm execution environment, by store, each with the version it was
//! trained from: a request reads the store's model pointer (one small read) and loads the
//! model itself only when that version changed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use domain::recommendations::{Model, StoreId};

/// Stores whose models one environment keeps: at 10,000 products a model takes a few MiB
/// loaded, so a few dozen fit the function's memory with room to spare.
pub const CAPACITY: usize = 32;

#[derive(Debug, Default)]
pub struct ModelCache {
    models: Mutex<HashMap<StoreId, (u64, Arc<Model>)>>,
}

impl ModelCache {
    /// The store's model, if the cached one is of `version`.
    pub fn get(&self, store: &StoreId, version: u64) -> Option<Arc<Model>> {
        let models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        models.get(store).filter(|(v, _)| *v == version).map(|(_, model)| model.clone())
    }

    pub fn put(&self, store: &StoreId, version: u64, model: Arc<Model>) {
        let mut models = self.models.lock().unwrap_or_else(|e| e.into_inner());
        if models.len() >= CAPACITY && !models.contains_key(store) {
            // Any store makes room: a store evicted by mistake costs one load.
            if let Some(evicted) = models.keys().next().cloned() {
                models.remove(&evicted);
            }
        }
        models.insert(store.clone(), (version, model));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_served_for_its_version_only_and_the_cache_stays_bounded() {
        let cache = ModelCache::default();
        let store = StoreId::parse("s").unwrap();
        cache.put(&store, 3, Arc::new(Model::train(&[], &[])));
        assert!(cache.get(&store, 3).is_some());
        assert!(cache.get(&store, 4).is_none(), "a newer version means a reload");
        for i in 0..CAPACITY + 5 {
            cache.put(&StoreId::parse(&format!("s{i}")).unwrap(), 1, Arc::new(Model::train(&[], &[])));
        }
        assert_eq!(cache.models.lock().unwrap().len(), CAPACITY);
    }
}
