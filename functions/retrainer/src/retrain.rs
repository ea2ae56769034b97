//! Retraining one store: its collection as committed now, its recent feedback, the model
//! trained from both, published only if no newer one is current.

use std::time::Instant;

use adapters::metrics::Metrics;
use adapters::recommendations::collections_table::CollectionsTable;
use adapters::recommendations::feedback_table::FeedbackTable;
use adapters::recommendations::models::{ModelStore, Published};
use domain::recommendations::{CollectionChanged, Model, model};
use time::OffsetDateTime;

/// How much feedback a model learns from: the newest choices, enough to follow what a
/// store's consumers like now, bounded so a busy store retrains as fast as a quiet one.
pub const FEEDBACK_LIMIT: usize = 20_000;

/// The metrics this function emits.
pub const METRICS: &[&str] = &[MODELS_TRAINED, RETRAINS_SKIPPED, STALE_MODELS, crate::handler::BATCH_ITEM_FAILURES];
/// Models trained and made current.
pub const MODELS_TRAINED: &str = "ModelsTrained";
/// Changes whose version the current model already had: no training needed.
pub const RETRAINS_SKIPPED: &str = "RetrainsSkipped";
/// Models trained but not made current, because a newer one was already.
pub const STALE_MODELS: &str = "StaleModels";

pub struct Retrainer {
    /// Read only: the collections function owns this table.
    pub collections: CollectionsTable,
    /// Read only: the recommender owns this table.
    pub feedback: FeedbackTable,
    pub models: ModelStore,
    pub metrics: Metrics,
}

/// What retraining a store did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retrained {
    /// A model of this collection version (or a newer one) is current already.
    UpToDate { current: u64 },
    /// A new model of `version` is current.
    Published { version: u64, products: usize, feedback: usize, bytes: u64 },
    /// Trained, but a newer model became current meanwhile.
    Stale { version: u64, current: u64 },
    /// The store has no collection (its messages are moot).
    NoCollection,
}

impl Retrainer {
    pub async fn retrain(&self, change: &CollectionChanged) -> Result<Retrained, adapters::Error> {
        let store = &change.store_id;
        if let Some(current) = self.models.current(store).await?
            && current.version >= change.version
        {
            self.metrics.add(RETRAINS_SKIPPED, 1);
            return Ok(Retrained::UpToDate { current: current.version });
        }
        // The collection as it is now: if it moved on since the message, this trains the
        // newer version, and the messages for it find the work done.
        let Some(head) = self.collections.head(store).await? else { return Ok(Retrained::NoCollection) };
        let products = self.collections.all_products(store, &head).await?;
        let feedback = self.feedback.recent(store, FEEDBACK_LIMIT, OffsetDateTime::now_utc()).await?;
        let listed: Vec<model::Product> = products
            .iter()
            .map(|p| model::Product { id: p.product_id.clone(), tags: p.tags.clone(), available: p.available })
            .collect();
        let started = Instant::now();
        let model = Model::train(&listed, &feedback);
        let bytes = model.to_bytes();
        let training_ms = started.elapsed().as_secs_f64() * 1000.0;
        let size = bytes.len() as u64;
        match self.models.publish(store, head.version, bytes, OffsetDateTime::now_utc()).await? {
            Published::Current(_) => {
                self.metrics.add(MODELS_TRAINED, 1);
                tracing::info!(store_id = %store, version = head.version, products = listed.len(), feedback = feedback.len(), bytes = size, training_ms, "model published");
                Ok(Retrained::Published {
                    version: head.version,
                    products: listed.len(),
                    feedback: feedback.len(),
                    bytes: size,
                })
            }
            Published::Stale { current } => {
                self.metrics.add(STALE_MODELS, 1);
                tracing::info!(store_id = %store, version = head.version, current, "a newer model is current; this one is not used");
                Ok(Retrained::Stale { version: head.version, current })
            }
        }
    }
}
