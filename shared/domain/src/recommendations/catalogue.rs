//! The store's collection with products and tags numbered: products in id order (so the
//! lower index wins a tie, which is the lower id) and tags with their product lists.

use std::collections::{BTreeSet, HashMap};

use super::model::{Feedback, Product};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Catalogue {
    ids: Vec<String>,
    available: Vec<bool>,
    /// Per product, its tags' numbers, ascending.
    product_tags: Vec<Vec<u32>>,
    tags: Vec<String>,
    /// Per tag, the products carrying it, ascending; empty for a tag seen only in feedback.
    tag_products: Vec<Vec<u32>>,
    product_index: HashMap<String, u32>,
    tag_index: HashMap<String, u32>,
}

impl Catalogue {
    /// Numbers a collection. A product id listed twice keeps its first entry, and a tag
    /// listed twice on a product counts once.
    pub(crate) fn from_products(products: &[Product]) -> Self {
        let mut sorted: Vec<&Product> = products.iter().collect();
        // Stable, so the first of two entries with one id survives the dedup.
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        sorted.dedup_by(|later, earlier| later.id == earlier.id);

        let vocabulary: BTreeSet<&str> = sorted.iter().flat_map(|p| p.tags.iter().map(String::as_str)).collect();
        let tags: Vec<String> = vocabulary.into_iter().map(str::to_owned).collect();
        let tag_index: HashMap<String, u32> = tags.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let product_tags = sorted
            .iter()
            .map(|p| {
                let mut numbers: Vec<u32> = p.tags.iter().filter_map(|t| tag_index.get(t).copied()).collect();
                numbers.sort_unstable();
                numbers.dedup();
                numbers
            })
            .collect();
        let ids = sorted.iter().map(|p| p.id.clone()).collect();
        let available = sorted.iter().map(|p| p.available).collect();
        Self::assemble(ids, available, product_tags, tags)
    }

    /// Rebuilds a catalogue from its stored parts, checking what `from_products` guarantees.
    pub(crate) fn from_parts(
        ids: Vec<String>,
        available: Vec<bool>,
        product_tags: Vec<Vec<u32>>,
        tags: Vec<String>,
    ) -> Result<Self, &'static str> {
        if ids.len() != available.len() || ids.len() != product_tags.len() {
            return Err("product fields of different lengths");
        }
        if ids.windows(2).any(|w| w[0] >= w[1]) {
            return Err("product ids not strictly ascending");
        }
        if tags.iter().collect::<BTreeSet<_>>().len() != tags.len() {
            return Err("duplicate tag");
        }
        let tag_count = tags.len() as u64;
        for numbers in &product_tags {
            if numbers.windows(2).any(|w| w[0] >= w[1]) || numbers.iter().any(|&t| u64::from(t) >= tag_count) {
                return Err("product tags not ascending known tags");
            }
        }
        Ok(Self::assemble(ids, available, product_tags, tags))
    }

    fn assemble(ids: Vec<String>, available: Vec<bool>, product_tags: Vec<Vec<u32>>, tags: Vec<String>) -> Self {
        let mut tag_products = vec![Vec::new(); tags.len()];
        for (p, numbers) in product_tags.iter().enumerate() {
            for &t in numbers {
                tag_products[t as usize].push(p as u32);
            }
        }
        let product_index = ids.iter().enumerate().map(|(i, id)| (id.clone(), i as u32)).collect();
        let tag_index = tags.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        Self { ids, available, product_tags, tags, tag_products, product_index, tag_index }
    }

    /// Adds a tag that no product carries (consumers selected it; it may have left the
    /// catalogue) and returns its number; a known tag keeps its number.
    pub(crate) fn add_tag(&mut self, name: &str) -> u32 {
        if let Some(&t) = self.tag_index.get(name) {
            return t;
        }
        let t = self.tags.len() as u32;
        self.tags.push(name.to_owned());
        self.tag_products.push(Vec::new());
        self.tag_index.insert(name.to_owned(), t);
        t
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn id(&self, p: u32) -> &str {
        &self.ids[p as usize]
    }

    pub(crate) fn is_available(&self, p: u32) -> bool {
        self.available[p as usize]
    }

    pub(crate) fn product_tags(&self, p: u32) -> &[u32] {
        &self.product_tags[p as usize]
    }

    pub(crate) fn tag_count(&self) -> usize {
        self.tags.len()
    }

    pub(crate) fn tag_name(&self, t: u32) -> &str {
        &self.tags[t as usize]
    }

    pub(crate) fn tag_products(&self, t: u32) -> &[u32] {
        &self.tag_products[t as usize]
    }

    pub(crate) fn product(&self, id: &str) -> Option<u32> {
        self.product_index.get(id).copied()
    }

    pub(crate) fn tag(&self, name: &str) -> Option<u32> {
        self.tag_index.get(name).copied()
    }

    /// The known tags among `names`, each once, ascending; unknown ones are dropped.
    pub(crate) fn resolve<S: AsRef<str>>(&self, names: &[S]) -> Vec<u32> {
        let mut numbers: Vec<u32> = names.iter().filter_map(|n| self.tag(n.as_ref())).collect();
        numbers.sort_unstable();
        numbers.dedup();
        numbers
    }

    /// The products a consumer can be offered now.
    pub(crate) fn available_products(&self) -> Vec<u32> {
        (0..self.ids.len() as u32).filter(|&p| self.available[p as usize]).collect()
    }
}

/// How often each product was chosen in `feedback`; choices of products no longer in the
/// collection are dropped.
pub(crate) fn choice_counts(catalogue: &Catalogue, feedback: &[Feedback]) -> Vec<u32> {
    let mut counts = vec![0u32; catalogue.len()];
    for p in feedback.iter().filter_map(|f| f.chosen.as_deref()).filter_map(|id| catalogue.product(id)) {
        counts[p as usize] = counts[p as usize].saturating_add(1);
    }
    counts
}
