//! The two rankings the model must beat, and that it falls back on: the store's most
//! chosen products, and the products carrying most of the requested tags.

use super::catalogue::{Catalogue, choice_counts};
use super::model::{Feedback, Product};
use super::ranking::{Basis, Ranking, Scored, top_k};

/// The most chosen available products, whatever the tags.
#[derive(Debug, Clone)]
pub struct MostPopular {
    catalogue: Catalogue,
    chosen: Vec<u32>,
}

impl MostPopular {
    pub fn train(products: &[Product], feedback: &[Feedback]) -> Self {
        let catalogue = Catalogue::from_products(products);
        let chosen = choice_counts(&catalogue, feedback);
        Self { catalogue, chosen }
    }

    pub fn recommend(&self, k: usize) -> Ranking {
        Ranking { items: rank_by_popularity(&self.catalogue, &self.chosen, k), basis: Basis::Popularity }
    }
}

/// Available products by how many requested tags they carry, then by how often they were
/// chosen, then by id.
#[derive(Debug, Clone)]
pub struct TagOverlap {
    catalogue: Catalogue,
    chosen: Vec<u32>,
}

impl TagOverlap {
    pub fn train(products: &[Product], feedback: &[Feedback]) -> Self {
        let catalogue = Catalogue::from_products(products);
        let chosen = choice_counts(&catalogue, feedback);
        Self { catalogue, chosen }
    }

    pub fn recommend(&self, tags: &[&str], k: usize) -> Ranking {
        let selected = self.catalogue.resolve(tags);
        Ranking { items: rank_by_overlap(&self.catalogue, &self.chosen, &selected, k), basis: Basis::TagOverlap }
    }
}

/// Scored by choice count.
pub(super) fn rank_by_popularity(catalogue: &Catalogue, chosen: &[u32], k: usize) -> Vec<Scored> {
    let best =
        top_k(catalogue.available_products(), k, |a, b| chosen[b as usize].cmp(&chosen[a as usize]).then(a.cmp(&b)));
    best.into_iter().map(|p| Scored { product: catalogue.id(p).to_owned(), score: chosen[p as usize] as f32 }).collect()
}

/// Scored by the number of `selected` tags carried; ties (equal scores) in popularity order.
pub(super) fn rank_by_overlap(catalogue: &Catalogue, chosen: &[u32], selected: &[u32], k: usize) -> Vec<Scored> {
    let mut overlap = vec![0u32; catalogue.len()];
    for &t in selected {
        for &p in catalogue.tag_products(t) {
            overlap[p as usize] += 1;
        }
    }
    let best = top_k(catalogue.available_products(), k, |a, b| {
        let (a_, b_) = (a as usize, b as usize);
        overlap[b_].cmp(&overlap[a_]).then(chosen[b_].cmp(&chosen[a_])).then(a.cmp(&b))
    });
    best.into_iter()
        .map(|p| Scored { product: catalogue.id(p).to_owned(), score: overlap[p as usize] as f32 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(id: &str, tags: &[&str], available: bool) -> Product {
        Product { id: id.into(), tags: tags.iter().map(|t| t.to_string()).collect(), available }
    }

    fn chose(id: &str) -> Feedback {
        Feedback { tags: vec!["any".into()], chosen: Some(id.into()) }
    }

    fn ids(ranking: &Ranking) -> Vec<&str> {
        ranking.product_ids().collect()
    }

    fn store() -> (Vec<Product>, Vec<Feedback>) {
        let products = vec![
            product("a", &["x", "y"], true),
            product("b", &["x"], true),
            product("c", &["y"], true),
            product("d", &["x", "y"], false),
            product("e", &[], true),
        ];
        let feedback = vec![chose("c"), chose("c"), chose("b"), chose("d"), chose("d"), chose("d"), chose("gone")];
        (products, feedback)
    }

    #[test]
    fn most_popular_counts_choices_of_available_products() {
        let (products, feedback) = store();
        let ranking = MostPopular::train(&products, &feedback).recommend(10);
        assert_eq!(ids(&ranking), ["c", "b", "a", "e"]);
        assert_eq!(ranking.items[0].score, 2.0);
    }

    #[test]
    fn tag_overlap_counts_tags_then_popularity_then_id() {
        let (products, feedback) = store();
        let model = TagOverlap::train(&products, &feedback);
        assert_eq!(ids(&model.recommend(&["x", "y"], 10)), ["a", "c", "b", "e"]);
        assert_eq!(ids(&model.recommend(&["x"], 2)), ["b", "a"]);
        assert_eq!(ids(&model.recommend(&["unknown"], 2)), ["c", "b"]);
        assert!(model.recommend(&["x"], 0).items.is_empty());
    }
}
