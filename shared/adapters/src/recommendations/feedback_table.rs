//! The feedback table, owned by the recommender: each recommendation given (the tags
//! asked for, the products offered) and the product the consumer then chose, kept for a
//! while under TTL. The retrainer reads it (read-only) to learn what consumers prefer.
//!
//! | pk           | sk                       | what |
//! |--------------|--------------------------|------|
//! | `STORE#<id>` | `REC#<recommendationId>` | tags, offered product ids, model version, chosen product |
//!
//! Recommendation ids are UUIDv7, so a store's feedback reads newest first from one query.
//! DynamoDB deletes expired items only eventually (typically within days): reads here
//! treat an item past its expiry as gone already.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use domain::recommendations::{Feedback, StoreId};
use time::{Duration, OffsetDateTime};

use crate::Error;
use crate::dynamo::{Item, TTL_ATTRIBUTE, UNEXPIRED, epoch, get_opt_s, is_expired, n, s};

/// How long feedback is kept unless the deployment says otherwise (the
/// `FEEDBACK_RETENTION_DAYS` setting): recent enough to follow what consumers like now.
pub const FEEDBACK_RETENTION: Duration = Duration::days(30);

#[derive(Debug, Clone)]
pub struct FeedbackTable {
    client: Client,
    name: String,
    /// How long a recommendation's feedback is kept after it was given.
    retention: Duration,
}

/// A recommendation as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Given<'a> {
    pub recommendation_id: &'a str,
    pub tags: &'a [String],
    pub offered: &'a [String],
    pub model_version: Option<u64>,
}

/// What recording a choice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    Recorded,
    /// The same product was recorded before: nothing changed.
    Again,
    /// Another product was chosen for this recommendation before.
    Different(String),
    /// The recommendation did not offer that product.
    NotOffered,
    /// No such recommendation (or it has expired).
    Unknown,
}

fn partition(store: &StoreId) -> String {
    format!("STORE#{store}")
}

fn strings(item: &Item, name: &str) -> Vec<String> {
    match item.get(name) {
        Some(AttributeValue::L(values)) => values.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    }
}

fn list(values: &[String]) -> AttributeValue {
    AttributeValue::L(values.iter().map(s).collect())
}

impl FeedbackTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), retention: FEEDBACK_RETENTION }
    }

    /// Keeps feedback recorded from now on for `retention`.
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self { retention, ..self }
    }

    pub async fn record(&self, store: &StoreId, given: &Given<'_>, now: OffsetDateTime) -> Result<(), Error> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", s(partition(store)))
            .item("sk", s(format!("REC#{}", given.recommendation_id)))
            .item("tags", list(given.tags))
            .item("offered", list(given.offered))
            .item(TTL_ATTRIBUTE, epoch(now + self.retention));
        if let Some(version) = given.model_version {
            put = put.item("modelVersion", n(version));
        }
        put.send().await.map_err(|e| Error::dynamo("PutItem", e))?;
        Ok(())
    }

    /// Records the consumer's choice for a recommendation, once, while it is kept.
    pub async fn choose(
        &self,
        store: &StoreId,
        recommendation_id: &str,
        product_id: &str,
        now: OffsetDateTime,
    ) -> Result<Chosen, Error> {
        let update = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("pk", s(partition(store)))
            .key("sk", s(format!("REC#{recommendation_id}")))
            .update_expression("SET chosen = :product")
            .condition_expression(format!(
                "attribute_exists(sk) AND {UNEXPIRED} AND contains(offered, :product) AND attribute_not_exists(chosen)"
            ))
            .expression_attribute_names("#expires", TTL_ATTRIBUTE)
            .expression_attribute_values(":product", s(product_id))
            .expression_attribute_values(":now", epoch(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match update {
            Ok(_) => return Ok(Chosen::Recorded),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(refused)) => refused.item.clone(),
                _ => return Err(Error::dynamo("UpdateItem", err)),
            },
        };
        let Some(existing) = existing.filter(|item| !item.is_empty() && !is_expired(item, now)) else {
            return Ok(Chosen::Unknown);
        };
        Ok(match get_opt_s(&existing, "chosen") {
            Some(chosen) if chosen == product_id => Chosen::Again,
            Some(chosen) => Chosen::Different(chosen.to_owned()),
            None => Chosen::NotOffered,
        })
    }

    /// The store's most recent feedback still kept at `now`, newest first, at most `limit`.
    pub async fn recent(&self, store: &StoreId, limit: usize, now: OffsetDateTime) -> Result<Vec<Feedback>, Error> {
        let mut feedback = Vec::new();
        let mut start = None;
        loop {
            let page = i32::try_from((limit - feedback.len()).min(1000)).unwrap_or(1000);
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(partition(store)))
                .expression_attribute_values(":prefix", s("REC#"))
                .filter_expression(UNEXPIRED)
                .expression_attribute_names("#expires", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", epoch(now))
                .projection_expression("tags, chosen")
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .limit(page)
                .send()
                .await
                .map_err(|e| Error::dynamo("Query", e))?;
            feedback.extend(out.items.unwrap_or_default().iter().map(|item| Feedback {
                tags: strings(item, "tags"),
                chosen: get_opt_s(item, "chosen").map(str::to_owned),
            }));
            start = out.last_evaluated_key;
            if start.is_none() || feedback.len() >= limit {
                return Ok(feedback);
            }
        }
    }
}
