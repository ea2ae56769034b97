//! The collections table, owned by the collections function: per store, a head item and
//! one item per product.
//!
//! | pk             | sk                          | what |
//! |----------------|-----------------------------|------|
//! | `STORE#<id>`   | `HEAD`                      | version, generation, product count, count of products per tag |
//! | `STORE#<id>`   | `P#<generation>#<productId>`| a product |
//! | `STORE#<id>`   | `PENDING#<generation>`      | a replacement started; expires by TTL after a day |
//!
//! The head is the commit point. A replacement writes the new products under a fresh
//! generation, then moves the head to it with a conditional write; readers only see
//! products of the head's generation, so a replacement that failed half way, or lost a
//! race, leaves nothing visible. Nothing is left behind for long either: the sweeper
//! deletes a generation's products when the head moves away from it, and when the
//! pending marker of a generation that never became the head expires ([`Retirement`]).
//! A change (up to 99 products) is one transaction: the products and the head,
//! conditional on the head's version. Every commit raises the version by one; the
//! head's stream announces it (the outbox).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest, TransactWriteItem, Update, WriteRequest,
};
use domain::recommendations::collection::{Change, MAX_TAGS, Product, StoreId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::Error;
use crate::deadline::Deadline;
use crate::dynamo::{Item, TTL_ATTRIBUTE, epoch, get_n, get_opt_s, get_s, image_s, n, s, write_all};

/// How long a replacement's pending marker lives: far longer than any replacement can
/// take (the function's timeout), so its expiry means the replacement is over.
pub const PENDING_MARKER_LIFETIME: time::Duration = time::Duration::days(1);

#[derive(Debug, Clone)]
pub struct CollectionsTable {
    client: Client,
    name: String,
}

/// A store's head: what is visible now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub version: u64,
    pub generation: String,
    pub products: u64,
    /// How many products carry each tag (tags with none are absent).
    pub tag_counts: BTreeMap<String, u64>,
    pub updated_at: String,
}

/// One page of a store's products, in product id order.
#[derive(Debug)]
pub struct ProductPage {
    pub products: Vec<Product>,
    /// The product id after which the next page starts; `None` after the last one.
    pub next: Option<String>,
}

/// The outcome of a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changed {
    Committed(Head),
    /// The store has no collection yet: a change needs one to change.
    NoCollection,
    /// The change would break a limit; nothing was written.
    OverLimit(String),
}

fn partition(store: &StoreId) -> String {
    format!("STORE#{store}")
}

fn pending_key(generation: &str) -> String {
    format!("PENDING#{generation}")
}

fn product_key(generation: &str, product_id: &str) -> String {
    format!("P#{generation}#{product_id}")
}

fn product_item(pk: &str, generation: &str, product: &Product) -> Item {
    let mut item: Item = [
        ("pk".to_owned(), s(pk)),
        ("sk".to_owned(), s(product_key(generation, &product.product_id))),
        ("productId".to_owned(), s(&product.product_id)),
        ("name".to_owned(), s(&product.name)),
        ("tags".to_owned(), AttributeValue::L(product.tags.iter().map(s).collect())),
        ("available".to_owned(), AttributeValue::Bool(product.available)),
    ]
    .into_iter()
    .collect();
    if !product.attributes.is_empty() {
        let attributes = product.attributes.iter().map(|(k, v)| (k.clone(), s(v))).collect();
        item.insert("attributes".to_owned(), AttributeValue::M(attributes));
    }
    item
}

fn read_product(item: &Item) -> Result<Product, Error> {
    let tags = match item.get("tags") {
        Some(AttributeValue::L(tags)) => tags
            .iter()
            .map(|t| t.as_s().cloned().map_err(|_| Error::Malformed("a tag is not a string".into())))
            .collect::<Result<Vec<_>, _>>()?,
        _ => return Err(Error::Malformed("product without tags".into())),
    };
    let attributes = match item.get("attributes") {
        Some(AttributeValue::M(map)) => {
            map.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect()
        }
        _ => BTreeMap::new(),
    };
    Ok(Product {
        product_id: get_s(item, "productId")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        tags,
        available: matches!(item.get("available"), Some(AttributeValue::Bool(true))),
        attributes,
    })
}

fn read_head(item: &Item) -> Result<Head, Error> {
    let tag_counts = match item.get("tagCounts") {
        Some(AttributeValue::M(map)) => map
            .iter()
            .map(|(tag, count)| {
                let count = count.as_n().ok().and_then(|c| c.parse().ok());
                count.map(|c| (tag.clone(), c)).ok_or_else(|| Error::Malformed("tag count is not a number".into()))
            })
            .collect::<Result<_, _>>()?,
        _ => BTreeMap::new(),
    };
    Ok(Head {
        version: get_n(item, "version")?,
        generation: get_s(item, "generation")?.to_owned(),
        products: get_n(item, "productCount")?,
        tag_counts,
        updated_at: get_opt_s(item, "updatedAt").unwrap_or_default().to_owned(),
    })
}

fn tag_counts<'a>(products: impl IntoIterator<Item = &'a Product>) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for product in products {
        for tag in &product.tags {
            *counts.entry(tag.clone()).or_default() += 1;
        }
    }
    counts
}

fn counts_value(counts: &BTreeMap<String, u64>) -> AttributeValue {
    AttributeValue::M(counts.iter().map(|(tag, count)| (tag.clone(), n(count))).collect())
}

fn now_text() -> String {
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

impl CollectionsTable {
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into() }
    }

    /// The store's head, read consistently; `None` when it has no collection.
    pub async fn head(&self, store: &StoreId) -> Result<Option<Head>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", s(partition(store)))
            .key("sk", s("HEAD"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| Error::dynamo("GetItem", e))?;
        out.item.map(|item| read_head(&item)).transpose()
    }

    /// Replaces the store's collection with `products` (sorted by id, within the limits):
    /// the new products under a fresh generation, then the head moved to it. Returns the
    /// new head. Last writer wins between concurrent replacements.
    pub async fn replace(&self, store: &StoreId, products: &[Product], deadline: &Deadline) -> Result<Head, Error> {
        let pk = partition(store);
        let generation = uuid::Uuid::new_v4().simple().to_string();
        let requests = products
            .iter()
            .map(|p| {
                let put = PutRequest::builder()
                    .set_item(Some(product_item(&pk, &generation, p)))
                    .build()
                    .map_err(|e| Error::build("PutRequest", e))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // Announced before any product is written: if this replacement never commits, the
        // marker's expiry tells the sweeper which products to delete.
        self.client
            .put_item()
            .table_name(&self.name)
            .item("pk", s(&pk))
            .item("sk", s(pending_key(&generation)))
            .item("generation", s(&generation))
            .item(TTL_ATTRIBUTE, epoch(OffsetDateTime::now_utc() + PENDING_MARKER_LIFETIME))
            .send()
            .await
            .map_err(|e| Error::dynamo("PutItem", e))?;
        write_all(&self.client, &self.name, requests, deadline).await?;
        let counts = tag_counts(products);
        // The head moves from whatever it is now; a change committed in between is
        // replaced, as a replacement says.
        loop {
            let before = self.head(store).await?;
            let version = before.as_ref().map_or(0, |h| h.version) + 1;
            let mut put = self
                .client
                .put_item()
                .table_name(&self.name)
                .item("pk", s(&pk))
                .item("sk", s("HEAD"))
                .item("version", n(version))
                .item("generation", s(&generation))
                .item("productCount", n(products.len()))
                .item("tagCounts", counts_value(&counts))
                .item("updatedAt", s(now_text()));
            put = match &before {
                None => put.condition_expression("attribute_not_exists(pk)"),
                Some(head) => {
                    put.condition_expression("version = :seen").expression_attribute_values(":seen", n(head.version))
                }
            };
            match put.send().await {
                Ok(_) => {
                    // The replaced generation's products are the sweeper's to delete (it
                    // reads this write from the stream), not this request's.
                    return Ok(Head {
                        version,
                        generation,
                        products: products.len() as u64,
                        tag_counts: counts,
                        updated_at: now_text(),
                    });
                }
                Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => {
                    if deadline.passed() {
                        return Err(Error::Malformed("the collection kept changing while being replaced".into()));
                    }
                }
                Err(err) => return Err(Error::dynamo("PutItem", err)),
            }
        }
    }

    /// Applies a change in one transaction with the head, conditional on the head's
    /// version; re-read and retried while other changes commit in between.
    pub async fn change(&self, store: &StoreId, change: &Change, deadline: &Deadline) -> Result<Changed, Error> {
        let pk = partition(store);
        loop {
            let Some(head) = self.head(store).await? else { return Ok(Changed::NoCollection) };
            let touched: Vec<&str> = change
                .upsert
                .iter()
                .map(|p| p.product_id.as_str())
                .chain(change.remove.iter().map(String::as_str))
                .collect();
            let current = self.get_products(store, &head.generation, &touched).await?;
            // The head's counts, moved by what the change replaces and adds.
            let mut counts = head.tag_counts.clone();
            let mut products = head.products;
            for old in current.values() {
                for tag in &old.tags {
                    if let Some(count) = counts.get_mut(tag) {
                        *count = count.saturating_sub(1);
                    }
                }
                products -= 1;
            }
            for new in &change.upsert {
                for tag in &new.tags {
                    *counts.entry(tag.clone()).or_default() += 1;
                }
                products += 1;
            }
            counts.retain(|_, count| *count > 0);
            if products > domain::recommendations::collection::MAX_PRODUCTS as u64 {
                return Ok(Changed::OverLimit(format!(
                    "a store may have at most {} products; this change would make {products}",
                    domain::recommendations::collection::MAX_PRODUCTS
                )));
            }
            if counts.len() > MAX_TAGS {
                return Ok(Changed::OverLimit(format!(
                    "a store's products may have at most {MAX_TAGS} distinct tags; this change would make {}",
                    counts.len()
                )));
            }
            let version = head.version + 1;
            let mut items = Vec::with_capacity(touched.len() + 1);
            let update = Update::builder()
                .table_name(&self.name)
                .key("pk", s(&pk))
                .key("sk", s("HEAD"))
                .update_expression(
                    "SET version = :next, productCount = :products, tagCounts = :counts, updatedAt = :at",
                )
                .condition_expression("version = :seen AND generation = :generation")
                .expression_attribute_values(":next", n(version))
                .expression_attribute_values(":products", n(products))
                .expression_attribute_values(":counts", counts_value(&counts))
                .expression_attribute_values(":at", s(now_text()))
                .expression_attribute_values(":seen", n(head.version))
                .expression_attribute_values(":generation", s(&head.generation))
                .build()
                .map_err(|e| Error::build("Update", e))?;
            items.push(TransactWriteItem::builder().update(update).build());
            for product in &change.upsert {
                let put = Put::builder()
                    .table_name(&self.name)
                    .set_item(Some(product_item(&pk, &head.generation, product)))
                    .build()
                    .map_err(|e| Error::build("Put", e))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
            for id in change.remove.iter().filter(|id| current.contains_key(id.as_str())) {
                let delete = Delete::builder()
                    .table_name(&self.name)
                    .key("pk", s(&pk))
                    .key("sk", s(product_key(&head.generation, id)))
                    .build()
                    .map_err(|e| Error::build("Delete", e))?;
                items.push(TransactWriteItem::builder().delete(delete).build());
            }
            let written = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
            match written {
                Ok(_) => {
                    let head = Head { version, products, tag_counts: counts, updated_at: now_text(), ..head };
                    return Ok(Changed::Committed(head));
                }
                Err(err) if err.as_service_error().is_some_and(|e| e.is_transaction_canceled_exception()) => {
                    // Another change committed first (or is committing): read again.
                    if deadline.passed() {
                        return Err(Error::Malformed("the collection kept changing while being changed".into()));
                    }
                }
                Err(err) => return Err(Error::dynamo("TransactWriteItems", err)),
            }
        }
    }

    /// The products with these ids in a generation, read consistently.
    async fn get_products(
        &self,
        store: &StoreId,
        generation: &str,
        ids: &[&str],
    ) -> Result<BTreeMap<String, Product>, Error> {
        let pk = partition(store);
        let mut found = BTreeMap::new();
        for chunk in ids.chunks(100) {
            let keys = chunk
                .iter()
                .map(|id| [("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(product_key(generation, id)))].into())
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| Error::build("KeysAndAttributes", e))?,
            );
            while let Some(keys) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.name, keys)
                    .send()
                    .await
                    .map_err(|e| Error::dynamo("BatchGetItem", e))?;
                for item in out.responses.unwrap_or_default().remove(&self.name).unwrap_or_default() {
                    let product = read_product(&item)?;
                    found.insert(product.product_id.clone(), product);
                }
                request = out.unprocessed_keys.and_then(|mut m| m.remove(&self.name)).filter(|k| !k.keys.is_empty());
            }
        }
        Ok(found)
    }

    /// One page of a generation's products, in id order, after `after`.
    pub async fn products(
        &self,
        store: &StoreId,
        generation: &str,
        after: Option<&str>,
        limit: i32,
    ) -> Result<ProductPage, Error> {
        let pk = partition(store);
        let prefix = product_key(generation, "");
        let start =
            after.map(|id| [("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(product_key(generation, id)))].into());
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(&pk))
            .expression_attribute_values(":prefix", s(&prefix))
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .limit(limit)
            .send()
            .await
            .map_err(|e| Error::dynamo("Query", e))?;
        let products = out.items.unwrap_or_default().iter().map(read_product).collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) => Some(get_s(&key, "sk")?.trim_start_matches(&prefix).to_owned()),
            None => None,
        };
        Ok(ProductPage { products, next })
    }

    /// Every product of the head's generation.
    pub async fn all_products(&self, store: &StoreId, head: &Head) -> Result<Vec<Product>, Error> {
        let mut products = Vec::with_capacity(usize::try_from(head.products).unwrap_or_default());
        let mut after = None;
        loop {
            let page = self.products(store, &head.generation, after.as_deref(), 1000).await?;
            products.extend(page.products);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(products),
            }
        }
    }

    /// Deletes a generation's products: one the head has moved away from, or one a
    /// replacement wrote and never committed. Deleting what is gone already is a no-op.
    pub async fn retire(&self, store: &StoreId, generation: &str, deadline: &Deadline) -> Result<usize, Error> {
        let pk = partition(store);
        let mut start = None;
        let mut deleted = 0;
        loop {
            // Keys only: whatever the items hold, readable or not, they go.
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":prefix", s(product_key(generation, "")))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .limit(1000)
                .send()
                .await
                .map_err(|e| Error::dynamo("Query", e))?;
            let requests = out
                .items
                .unwrap_or_default()
                .into_iter()
                .map(|key| {
                    let delete = DeleteRequest::builder()
                        .set_key(Some(key))
                        .build()
                        .map_err(|e| Error::build("DeleteRequest", e))?;
                    Ok(WriteRequest::builder().delete_request(delete).build())
                })
                .collect::<Result<Vec<_>, Error>>()?;
            deleted += requests.len();
            write_all(&self.client, &self.name, requests, deadline).await?;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(deleted);
            }
        }
    }
}

/// What a collections table stream record means for the sweeper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retirement {
    /// The head moved from `generation` to another: its products are no longer read.
    Replaced { store: StoreId, generation: String },
    /// A replacement's marker expired: its products are to go unless `generation` is the
    /// head's (the replacement committed).
    Abandoned { store: StoreId, generation: String },
    /// Anything else: nothing to delete.
    Nothing,
}

impl Retirement {
    /// Reads a stream record's event name and images (DynamoDB JSON, `{"S": ...}`).
    pub fn from_change(
        event_name: &str,
        old_image: &serde_json::Value,
        new_image: &serde_json::Value,
    ) -> Result<Self, Error> {
        let store = |image: &serde_json::Value| {
            let pk = image_s(image, "pk").unwrap_or_default();
            let id =
                pk.strip_prefix("STORE#").ok_or_else(|| Error::Malformed("an image without a store key".into()))?;
            StoreId::parse(id).map_err(Error::Malformed)
        };
        let generation = |image: &serde_json::Value| {
            image_s(image, "generation")
                .map(str::to_owned)
                .ok_or_else(|| Error::Malformed("an image without a generation".into()))
        };
        match event_name {
            "MODIFY" if image_s(new_image, "sk") == Some("HEAD") => {
                let (before, after) = (generation(old_image)?, generation(new_image)?);
                if before == after {
                    Ok(Self::Nothing)
                } else {
                    Ok(Self::Replaced { store: store(new_image)?, generation: before })
                }
            }
            "REMOVE" if image_s(old_image, "sk").is_some_and(|sk| sk.starts_with("PENDING#")) => {
                Ok(Self::Abandoned { store: store(old_image)?, generation: generation(old_image)? })
            }
            _ => Ok(Self::Nothing),
        }
    }
}
