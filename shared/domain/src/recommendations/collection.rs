//! A store's collection: the products a store offers, with their tags and availability.
//! What a valid collection, product and change are, and the limits that bound what one
//! store can cost to keep and to train on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validation::{Collector, Invalid, text};

/// Most products one store may have.
pub const MAX_PRODUCTS: usize = 10_000;
/// Most distinct tags across one store's products.
pub const MAX_TAGS: usize = 300;
/// Most tags one product may carry.
pub const MAX_TAGS_PER_PRODUCT: usize = 20;
/// Most attributes one product may carry.
pub const MAX_ATTRIBUTES: usize = 20;
/// Most products one change may add, change or remove: a change commits in one DynamoDB
/// transaction (100 actions, one of them the store's head). More is a replacement.
pub const MAX_CHANGES: usize = 99;

/// A store's id: 1 to 64 lower-case letters, digits and hyphens, not starting with one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StoreId(String);

impl StoreId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=64).contains(&raw.len())
            && raw.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-');
        if ok { Ok(Self(raw.to_owned())) } else { Err("must be 1 to 64 lower-case letters, digits or hyphens".into()) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StoreId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A product's id within its store: 1 to 64 letters, digits, `.`, `_` or `-`.
pub fn product_id(raw: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(raw.to_owned()) } else { Err("must be 1 to 64 letters, digits, '.', '_' or '-'".into()) }
}

/// A tag, as consumers select it: 1 to 40 lower-case letters, digits and hyphens. Tags
/// are compared as written after trimming and lower-casing, so `Insomnia` is `insomnia`.
pub fn tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim().to_lowercase();
    let ok = (1..=40).contains(&tag.len())
        && tag.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !tag.starts_with('-');
    if ok { Ok(tag) } else { Err("must be 1 to 40 letters, digits or hyphens".into()) }
}

/// One product as sent in a collection or a change.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductRequest {
    pub product_id: Option<String>,
    pub name: Option<String>,
    pub tags: Option<Vec<String>>,
    pub available: Option<bool>,
    pub attributes: Option<BTreeMap<String, String>>,
}

/// A validated product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_id: String,
    pub name: String,
    /// Distinct, sorted.
    pub tags: Vec<String>,
    pub available: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

impl ProductRequest {
    fn validate(self, at: &str, c: &mut Collector) -> Option<Product> {
        let id = c.required(&format!("{at}.productId"), self.product_id, |s| product_id(&s));
        let name = c.required(&format!("{at}.name"), self.name, |s| text(s, 1, 200));
        let tags = c.required(&format!("{at}.tags"), self.tags, |list| {
            if list.is_empty() || list.len() > MAX_TAGS_PER_PRODUCT {
                return Err(format!("must list 1 to {MAX_TAGS_PER_PRODUCT} tags"));
            }
            let mut tags = BTreeSet::new();
            for (i, raw) in list.iter().enumerate() {
                tags.insert(tag(raw).map_err(|e| format!("[{i}] {e}"))?);
            }
            Ok(tags.into_iter().collect::<Vec<_>>())
        });
        let available = c.required(&format!("{at}.available"), self.available, Ok);
        let attributes = match self.attributes {
            None => Some(BTreeMap::new()),
            Some(map) if map.len() > MAX_ATTRIBUTES => {
                c.push(&format!("{at}.attributes"), format!("must have at most {MAX_ATTRIBUTES} entries"));
                None
            }
            Some(map) => {
                let mut checked = BTreeMap::new();
                for (key, value) in map {
                    let key_ok = (1..=40).contains(&key.len())
                        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                    if !key_ok {
                        c.push(&format!("{at}.attributes"), "keys must be 1 to 40 letters, digits, '_' or '-'");
                        continue;
                    }
                    if let Some(value) = c.check(&format!("{at}.attributes.{key}"), text(value, 0, 200)) {
                        checked.insert(key, value);
                    }
                }
                Some(checked)
            }
        };
        Some(Product { product_id: id?, name: name?, tags: tags?, available: available?, attributes: attributes? })
    }
}

/// `PUT /stores/{storeId}/collection`: the whole collection.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CollectionRequest {
    pub products: Option<Vec<ProductRequest>>,
}

/// `PATCH /stores/{storeId}/collection`: products to add or change, product ids to remove.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangeRequest {
    pub upsert: Option<Vec<ProductRequest>>,
    pub remove: Option<Vec<String>>,
}

/// A validated replacement collection, its products sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collection {
    pub products: Vec<Product>,
}

/// A validated change: no product both upserted and removed, none twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub upsert: Vec<Product>,
    pub remove: Vec<String>,
}

/// How big a collection is, as the limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Size {
    pub products: usize,
    pub tags: usize,
}

fn distinct_tags<'a>(products: impl IntoIterator<Item = &'a Product>) -> BTreeSet<&'a str> {
    products.into_iter().flat_map(|p| p.tags.iter().map(String::as_str)).collect()
}

/// The limits a whole collection must meet.
fn check_limits(products: usize, tags: usize, c: &mut Collector, field: &str) {
    if products > MAX_PRODUCTS {
        c.push(field, format!("a store may have at most {MAX_PRODUCTS} products; this would make {products}"));
    }
    if tags > MAX_TAGS {
        c.push(field, format!("a store's products may have at most {MAX_TAGS} distinct tags; this would make {tags}"));
    }
}

fn validate_products(list: Vec<ProductRequest>, at: &str, c: &mut Collector) -> Vec<Product> {
    let mut products = Vec::with_capacity(list.len());
    let mut seen = BTreeSet::new();
    for (i, raw) in list.into_iter().enumerate() {
        // A repeated id is a problem of its own, whatever else is wrong with either product.
        let repeated = raw.product_id.as_ref().is_some_and(|id| !seen.insert(id.clone()));
        let product = raw.validate(&format!("{at}[{i}]"), c);
        if repeated {
            c.push(&format!("{at}[{i}].productId"), "appears twice");
        }
        products.extend(product);
    }
    products.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    products
}

impl Collection {
    pub fn validate(req: CollectionRequest) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let products = match req.products {
            None => {
                c.push("products", "is required");
                Vec::new()
            }
            Some(list) if list.len() > MAX_PRODUCTS => {
                c.push("products", format!("must list at most {MAX_PRODUCTS} products"));
                Vec::new()
            }
            Some(list) => validate_products(list, "products", &mut c),
        };
        if c.is_empty() {
            check_limits(products.len(), distinct_tags(&products).len(), &mut c, "products");
        }
        c.finish(|| Some(Collection { products }))
    }

    pub fn size(&self) -> Size {
        Size { products: self.products.len(), tags: distinct_tags(&self.products).len() }
    }
}

impl Change {
    pub fn validate(req: ChangeRequest) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let upsert = req.upsert.unwrap_or_default();
        let remove = req.remove.unwrap_or_default();
        if upsert.is_empty() && remove.is_empty() {
            c.push("upsert", "a change must upsert or remove at least one product");
        }
        if upsert.len() + remove.len() > MAX_CHANGES {
            c.push(
                "upsert",
                format!("a change may touch at most {MAX_CHANGES} products; replace the collection instead"),
            );
        }
        let upsert = validate_products(upsert, "upsert", &mut c);
        let mut removed = BTreeSet::new();
        for (i, raw) in remove.iter().enumerate() {
            if let Some(id) = c.check(&format!("remove[{i}]"), product_id(raw)) {
                if upsert.iter().any(|p| p.product_id == id) {
                    c.push(&format!("remove[{i}]"), "is also upserted by this change");
                } else if !removed.insert(id) {
                    c.push(&format!("remove[{i}]"), "appears twice");
                }
            }
        }
        c.finish(|| Some(Change { upsert, remove: removed.into_iter().collect() }))
    }
}

/// The collection a change leads to, checked against the limits: `current` is the whole
/// collection now.
pub fn apply(current: &[Product], change: &Change) -> Result<Vec<Product>, Invalid> {
    let mut products: BTreeMap<&str, &Product> = current.iter().map(|p| (p.product_id.as_str(), p)).collect();
    for id in &change.remove {
        products.remove(id.as_str());
    }
    for product in &change.upsert {
        products.insert(&product.product_id, product);
    }
    let after: Vec<Product> = products.into_values().cloned().collect();
    let mut c = Collector::new();
    check_limits(after.len(), distinct_tags(&after).len(), &mut c, "upsert");
    c.finish(|| Some(after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn product(id: &str, tags: &[&str]) -> serde_json::Value {
        json!({"productId": id, "name": format!("Product {id}"), "tags": tags, "available": true})
    }

    fn collection(products: Vec<serde_json::Value>) -> Result<Collection, Invalid> {
        Collection::validate(serde_json::from_value(json!({ "products": products })).unwrap())
    }

    fn fields(invalid: &Invalid) -> Vec<&str> {
        invalid.0.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn a_collection_is_sorted_with_tags_normalised() {
        let c = collection(vec![product("b-2", &["Sleep", "calm", "sleep"]), product("a-1", &["insomnia"])]).unwrap();
        let ids: Vec<&str> = c.products.iter().map(|p| p.product_id.as_str()).collect();
        assert_eq!(ids, ["a-1", "b-2"]);
        assert_eq!(c.products[1].tags, ["calm", "sleep"]);
        assert_eq!(c.size(), Size { products: 2, tags: 3 });
        assert!(collection(vec![]).is_ok(), "an empty collection is a collection");
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let invalid = collection(vec![
            json!({"productId": "ok", "name": "", "tags": [], "available": true}),
            json!({"productId": "has space", "name": "x", "tags": ["-bad"], "available": true}),
            product("ok", &["a"]),
        ])
        .unwrap_err();
        assert_eq!(
            fields(&invalid),
            [
                "products[0].name",
                "products[0].tags",
                "products[1].productId",
                "products[1].tags",
                "products[2].productId"
            ]
        );
    }

    #[test]
    fn limits_hold_for_products_and_distinct_tags() {
        let too_many_tags: Vec<_> = (0..MAX_TAGS + 1).map(|i| product(&format!("p{i}"), &[&format!("t{i}")])).collect();
        let invalid = collection(too_many_tags).unwrap_err();
        assert!(invalid.0[0].detail.contains("300 distinct tags"), "{invalid:?}");
        let just_enough: Vec<_> = (0..MAX_TAGS).map(|i| product(&format!("p{i}"), &[&format!("t{i}")])).collect();
        assert!(collection(just_enough).is_ok());
    }

    #[test]
    fn a_change_upserts_and_removes_within_the_limits() {
        let current = collection(vec![product("a", &["x"]), product("b", &["y"])]).unwrap().products;
        let change = Change::validate(
            serde_json::from_value(json!({"upsert": [product("c", &["z"]), product("a", &["w"])], "remove": ["b"]}))
                .unwrap(),
        )
        .unwrap();
        let after = apply(&current, &change).unwrap();
        let summary: Vec<(&str, &str)> = after.iter().map(|p| (p.product_id.as_str(), p.tags[0].as_str())).collect();
        assert_eq!(summary, [("a", "w"), ("c", "z")]);

        let full: Vec<_> = (0..MAX_TAGS).map(|i| product(&format!("p{i}"), &[&format!("t{i}")])).collect();
        let full = collection(full).unwrap().products;
        let one_more =
            Change::validate(serde_json::from_value(json!({"upsert": [product("new", &["brand-new"])]})).unwrap())
                .unwrap();
        assert!(apply(&full, &one_more).is_err(), "the 301st tag is refused");
        let removing_unknown = Change::validate(serde_json::from_value(json!({"remove": ["nope"]})).unwrap()).unwrap();
        assert_eq!(apply(&current, &removing_unknown).unwrap(), current, "removing what is not there changes nothing");
    }

    #[test]
    fn a_change_must_say_something_and_nothing_twice() {
        let empty = Change::validate(serde_json::from_value(json!({})).unwrap()).unwrap_err();
        assert_eq!(fields(&empty), ["upsert"]);
        let both = Change::validate(
            serde_json::from_value(json!({"upsert": [product("a", &["x"])], "remove": ["a", "b", "b"]})).unwrap(),
        )
        .unwrap_err();
        assert_eq!(fields(&both), ["remove[0]", "remove[2]"]);
    }

    #[test]
    fn ids_and_tags_have_a_form() {
        assert!(StoreId::parse("store-42").is_ok());
        for bad in ["", "Store", "-x", "a b", &"x".repeat(65)] {
            assert!(StoreId::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(tag(" Insomnia ").unwrap(), "insomnia");
        assert!(tag("sleep aid").is_err() && tag("").is_err());
        assert!(product_id("SKU_1.2-b").is_ok() && product_id("a/b").is_err());
    }
}
