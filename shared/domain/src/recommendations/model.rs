//! The per-store model: for each tag, a smoothed estimate of which product a consumer who
//! selected it will choose, combined over the selected tags by naive Bayes.
//!
//! For a tag `t` and product `p`, with `n(t,p)` the recorded choices of `p` by consumers who
//! selected `t`, `n(t)` their sum, and `w(p)` = choices of `p` + α:
//!
//! ```text
//! P(p | t)     = (n(t,p) + κ·m(t,p)·w(p)) / (n(t) + κ·Z(t))     Z(t) = Σ_p m(t,p)·w(p)
//! m(t,p)       = 1 if p carries t, else ε
//! score(p | T) = Σ_{t∈T} ln P(p | t) − λ·(|T| − 1)·ln w(p)
//! ```
//!
//! The prior is the catalogue: tag overlap ordered by popularity, worth κ times each
//! product's own choices (so its weight grows with the store, not with one tag's traffic).
//! A tag with little feedback therefore ranks like tag overlap; a well-used tag follows
//! what its consumers chose, including products not tagged with it and away from products
//! whose tag misleads. The last term stops popularity from counting once per selected tag.

use serde::{Deserialize, Serialize};

use super::baselines::{rank_by_overlap, rank_by_popularity};
use super::catalogue::{Catalogue, choice_counts};
use super::ranking::{Basis, Ranking, Scored, by_score, top_k};

/// A product of the store's collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: String,
    pub tags: Vec<String>,
    /// Out of stock or hidden: kept for what its past choices teach, never recommended.
    pub available: bool,
}

/// One consumer selection and the product chosen after seeing the recommendations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub tags: Vec<String>,
    /// `None` when the consumer chose nothing.
    pub chosen: Option<String>,
}

/// The model's smoothing constants. The defaults were tuned on synthetic stores of other
/// seeds than the evaluation's (`src/evaluation`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// α: choices credited to every product, so a new one is not ranked as impossible.
    pub popularity_prior: f32,
    /// ε: prior weight of a product for a tag it does not carry, relative to one that does.
    pub untagged_weight: f32,
    /// κ: what the catalogue prior is worth against a tag's feedback, as a share of each
    /// product's own choices.
    pub prior_strength: f32,
    /// λ: how much of the popularity counted once per tag is taken back (1 = naive Bayes).
    pub popularity_correction: f32,
}

impl Default for Params {
    fn default() -> Self {
        Self { popularity_prior: 1.0, untagged_weight: 0.02, prior_strength: 0.3, popularity_correction: 1.0 }
    }
}

impl Params {
    pub(crate) fn is_valid(&self) -> bool {
        let positive = |x: f32| x.is_finite() && x > 0.0;
        positive(self.popularity_prior)
            && positive(self.untagged_weight)
            && self.untagged_weight <= 1.0
            && positive(self.prior_strength)
            && self.popularity_correction.is_finite()
            && self.popularity_correction >= 0.0
    }
}

/// A trained store model: the counts it was trained on (what is serialised) and the
/// scoring tables derived from them.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub(super) catalogue: Catalogue,
    pub(super) params: Params,
    /// Per product, how often it was chosen.
    pub(super) chosen: Vec<u32>,
    /// Per tag, `(product, n(t,p))` ascending by product, only where `n(t,p) > 0`.
    pub(super) tag_choices: Vec<Vec<(u32, u32)>>,
    derived: Derived,
}

#[derive(Debug, Clone, PartialEq)]
struct Derived {
    /// Per product, `ln w(p)`.
    log_weight: Vec<f32>,
    /// Per tag, `ln κ − ln(n(t) + κ·Z(t))`: the part of `ln P(p | t)` shared by all products.
    tag_offset: Vec<f32>,
    /// Per tag, `(product, ln(1 + n(t,p) / (κ·w(p)·m(t,p))))`: what its choices add.
    tag_boost: Vec<Vec<(u32, f32)>>,
    /// Per tag, whether any choice was recorded with it.
    tag_seen: Vec<bool>,
}

impl Model {
    /// Trains with the default constants.
    pub fn train(products: &[Product], feedback: &[Feedback]) -> Model {
        Self::train_with(products, feedback, Params::default())
    }

    /// Trains a store's model: counting, in time linear in the collection and the feedback.
    /// Constants that are not valid (see [`Params`]) are replaced by the defaults.
    pub fn train_with(products: &[Product], feedback: &[Feedback], params: Params) -> Model {
        let params = if params.is_valid() { params } else { Params::default() };
        let mut catalogue = Catalogue::from_products(products);
        let chosen = choice_counts(&catalogue, feedback);

        // (tag, product) once per session; a tag only feedback knows still teaches.
        let mut named: Vec<(&str, u32)> = Vec::new();
        for f in feedback {
            let Some(p) = f.chosen.as_deref().and_then(|id| catalogue.product(id)) else { continue };
            let start = named.len();
            for tag in &f.tags {
                if !named[start..].iter().any(|(t, _)| t == tag) {
                    named.push((tag.as_str(), p));
                }
            }
        }
        let mut unknown: Vec<&str> = named.iter().map(|&(t, _)| t).filter(|t| catalogue.tag(t).is_none()).collect();
        unknown.sort_unstable();
        unknown.dedup();
        for tag in unknown {
            catalogue.add_tag(tag);
        }
        let mut pairs: Vec<(u32, u32)> =
            named.iter().filter_map(|&(tag, p)| catalogue.tag(tag).map(|t| (t, p))).collect();
        pairs.sort_unstable();

        let mut tag_choices = vec![Vec::new(); catalogue.tag_count()];
        for (t, p) in pairs {
            let list: &mut Vec<(u32, u32)> = &mut tag_choices[t as usize];
            match list.last_mut() {
                Some((last, n)) if *last == p => *n = n.saturating_add(1),
                _ => list.push((p, 1)),
            }
        }
        Self::assemble(catalogue, params, chosen, tag_choices)
    }

    pub(super) fn assemble(
        catalogue: Catalogue,
        params: Params,
        chosen: Vec<u32>,
        tag_choices: Vec<Vec<(u32, u32)>>,
    ) -> Model {
        let derived = Derived::new(&catalogue, &params, &chosen, &tag_choices);
        Model { catalogue, params, chosen, tag_choices, derived }
    }

    /// The `k` best available products for a selection of tags. Unknown and repeated tags
    /// are ignored; see [`Basis`] for when a fallback answers instead of the learned scores.
    pub fn recommend(&self, tags: &[&str], k: usize) -> Ranking {
        let selected = self.catalogue.resolve(tags);
        if selected.is_empty() {
            return Ranking { items: rank_by_popularity(&self.catalogue, &self.chosen, k), basis: Basis::Popularity };
        }
        if !selected.iter().any(|&t| self.derived.tag_seen[t as usize]) {
            let items = rank_by_overlap(&self.catalogue, &self.chosen, &selected, k);
            return Ranking { items, basis: Basis::TagOverlap };
        }
        let scores = self.scores(&selected);
        let best = top_k(self.catalogue.available_products(), k, by_score(&scores));
        let items = best
            .into_iter()
            .map(|p| Scored { product: self.catalogue.id(p).to_owned(), score: scores[p as usize] })
            .collect();
        Ranking { items, basis: Basis::Learned }
    }

    /// `score(p | T)` for every product (up to a constant shared by all).
    fn scores(&self, selected: &[u32]) -> Vec<f32> {
        let d = &self.derived;
        let tag_count = selected.len() as f32;
        let popularity_factor = tag_count - self.params.popularity_correction * (tag_count - 1.0);
        let log_untagged = self.params.untagged_weight.ln();
        // Start every product as untagged for every selected tag, then correct.
        let base: f32 = selected.iter().map(|&t| d.tag_offset[t as usize] + log_untagged).sum();
        let mut scores: Vec<f32> = d.log_weight.iter().map(|&lw| popularity_factor * lw + base).collect();
        for &t in selected {
            for &p in self.catalogue.tag_products(t) {
                scores[p as usize] -= log_untagged;
            }
            for &(p, boost) in &d.tag_boost[t as usize] {
                scores[p as usize] += boost;
            }
        }
        scores
    }

    /// How many products the model knows, available or not.
    pub fn product_count(&self) -> usize {
        self.catalogue.len()
    }

    pub fn params(&self) -> Params {
        self.params
    }
}

impl Derived {
    fn new(catalogue: &Catalogue, params: &Params, chosen: &[u32], tag_choices: &[Vec<(u32, u32)>]) -> Self {
        let alpha = f64::from(params.popularity_prior);
        let epsilon = f64::from(params.untagged_weight);
        let kappa = f64::from(params.prior_strength);
        let weight: Vec<f64> = chosen.iter().map(|&c| f64::from(c) + alpha).collect();
        let total_weight: f64 = weight.iter().sum();

        let mut tag_offset = Vec::with_capacity(tag_choices.len());
        let mut tag_boost = Vec::with_capacity(tag_choices.len());
        for (t, choices) in tag_choices.iter().enumerate() {
            let tagged_weight: f64 = catalogue.tag_products(t as u32).iter().map(|&p| weight[p as usize]).sum();
            let z = epsilon * total_weight + (1.0 - epsilon) * tagged_weight;
            let seen: f64 = choices.iter().map(|&(_, n)| f64::from(n)).sum();
            // Positive: κ > 0, and a tag with choices has a product (so Z > 0).
            tag_offset.push((kappa.ln() - (seen + kappa * z).max(f64::MIN_POSITIVE).ln()) as f32);
            let boosts = choices
                .iter()
                .map(|&(p, n)| {
                    let carries = catalogue.product_tags(p).binary_search(&(t as u32)).is_ok();
                    let pseudo = kappa * weight[p as usize] * if carries { 1.0 } else { epsilon };
                    (p, (f64::from(n) / pseudo).ln_1p() as f32)
                })
                .collect();
            tag_boost.push(boosts);
        }
        Self {
            log_weight: weight.iter().map(|w| w.ln() as f32).collect(),
            tag_offset,
            tag_boost,
            tag_seen: tag_choices.iter().map(|c| !c.is_empty()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn product(id: &str, tags: &[&str]) -> Product {
        Product { id: id.into(), tags: tags.iter().map(|t| t.to_string()).collect(), available: true }
    }

    fn chose(tags: &[&str], id: &str) -> Feedback {
        Feedback { tags: tags.iter().map(|t| t.to_string()).collect(), chosen: Some(id.into()) }
    }

    fn ids(ranking: &Ranking) -> Vec<&str> {
        ranking.product_ids().collect()
    }

    fn shop() -> Vec<Product> {
        vec![
            product("chamomile", &["insomnia", "calm"]),
            product("melatonin", &["insomnia"]),
            product("coffee", &["energy"]),
            product("lavender", &["calm"]),
            product("magnesium", &["cramps"]),
        ]
    }

    #[test]
    fn an_empty_collection_recommends_nothing() {
        let model = Model::train(&[], &[chose(&["insomnia"], "gone")]);
        for tags in [&["insomnia"][..], &[]] {
            let ranking = model.recommend(tags, 5);
            assert!(ranking.items.is_empty());
            assert_eq!(ranking.basis, Basis::Popularity);
        }
    }

    #[test]
    fn one_product_is_always_the_answer_while_available() {
        let model = Model::train(&[product("only", &["calm"])], &[]);
        assert_eq!(ids(&model.recommend(&["calm"], 3)), ["only"]);
        assert_eq!(ids(&model.recommend(&["nothing-has-this"], 3)), ["only"]);
        let mut gone = product("only", &["calm"]);
        gone.available = false;
        assert!(Model::train(&[gone], &[]).recommend(&["calm"], 3).items.is_empty());
    }

    #[test]
    fn tags_no_product_has_fall_back_to_popularity() {
        let feedback = [chose(&["energy"], "coffee"), chose(&["energy"], "coffee"), chose(&["calm"], "lavender")];
        let ranking = Model::train(&shop(), &feedback).recommend(&["no-such-tag", "nor-this"], 3);
        assert_eq!(ranking.basis, Basis::Popularity);
        assert_eq!(ids(&ranking), ["coffee", "lavender", "chamomile"]);
    }

    #[test]
    fn a_store_without_feedback_ranks_by_tag_overlap() {
        let ranking = Model::train(&shop(), &[]).recommend(&["insomnia", "calm"], 3);
        assert_eq!(ranking.basis, Basis::TagOverlap);
        assert_eq!(ids(&ranking), ["chamomile", "lavender", "melatonin"]);
        assert_eq!(ranking.items[0].score, 2.0);
    }

    #[test]
    fn tags_never_seen_in_feedback_rank_by_tag_overlap() {
        let feedback = [chose(&["energy"], "coffee")];
        let ranking = Model::train(&shop(), &feedback).recommend(&["cramps"], 2);
        assert_eq!(ranking.basis, Basis::TagOverlap);
        // Overlap first, then the most chosen.
        assert_eq!(ids(&ranking), ["magnesium", "coffee"]);
    }

    #[test]
    fn all_products_unavailable_gives_an_empty_ranking() {
        let products: Vec<Product> = shop().into_iter().map(|p| Product { available: false, ..p }).collect();
        let model = Model::train(&products, &[chose(&["insomnia"], "melatonin")]);
        for tags in [&["insomnia"][..], &["calm"], &["unknown"]] {
            assert!(model.recommend(tags, 5).items.is_empty());
        }
    }

    #[test]
    fn unavailable_products_are_never_recommended_but_still_teach() {
        let mut products = shop();
        products[1].available = false; // melatonin
        let feedback = vec![chose(&["insomnia"], "melatonin"); 20];
        let model = Model::train(&products, &feedback);
        let ranking = model.recommend(&["insomnia"], 5);
        assert_eq!(ranking.basis, Basis::Learned);
        assert!(!ids(&ranking).contains(&"melatonin"));
        assert_eq!(ranking.items.len(), 4);
    }

    #[test]
    fn feedback_on_products_no_longer_in_the_collection_is_ignored() {
        let feedback = vec![chose(&["insomnia"], "discontinued"); 50];
        let model = Model::train(&shop(), &feedback);
        let ranking = model.recommend(&["insomnia"], 2);
        assert_eq!(ranking.basis, Basis::TagOverlap);
        assert_eq!(ids(&ranking), ["chamomile", "melatonin"]);
        assert_eq!(model.chosen.iter().sum::<u32>(), 0);
    }

    #[test]
    fn duplicate_and_unknown_tags_in_a_request_change_nothing() {
        let feedback = [chose(&["insomnia"], "melatonin"), chose(&["calm"], "lavender")];
        let model = Model::train(&shop(), &feedback);
        let once = model.recommend(&["insomnia"], 5);
        assert_eq!(model.recommend(&["insomnia", "insomnia", "unknown"], 5), once);
    }

    #[test]
    fn k_zero_returns_no_items_but_a_basis() {
        let model = Model::train(&shop(), &[chose(&["insomnia"], "melatonin")]);
        let ranking = model.recommend(&["insomnia"], 0);
        assert!(ranking.items.is_empty());
        assert_eq!(ranking.basis, Basis::Learned);
    }

    #[test]
    fn ties_are_broken_by_product_id() {
        let products = [product("b", &["x"]), product("c", &["x"]), product("a", &["x"])];
        let model = Model::train(&products, &[chose(&["x"], "zzz-gone")]);
        assert_eq!(ids(&model.recommend(&["x"], 3)), ["a", "b", "c"]);
        // Learned scores too: "d" and "e" have the same counts.
        let products = [product("e", &["x"]), product("d", &["x"])];
        let model = Model::train(&products, &[chose(&["x"], "e"), chose(&["x"], "d")]);
        assert_eq!(ids(&model.recommend(&["x"], 2)), ["d", "e"]);
    }

    #[test]
    fn learns_that_consumers_of_a_tag_choose_a_product_not_tagged_with_it() {
        // Magnesium is not tagged "insomnia"; other consumers keep the store busy.
        let mut feedback =
            vec![chose(&["insomnia"], "melatonin"), chose(&["energy"], "coffee"), chose(&["calm"], "lavender")];
        let position = |feedback: &[Feedback]| {
            let ranking = Model::train(&shop(), feedback).recommend(&["insomnia"], 5);
            assert_eq!(ranking.basis, Basis::Learned);
            ranking.product_ids().position(|id| id == "magnesium")
        };
        let mut positions = vec![position(&feedback)];
        for _ in 0..4 {
            feedback.push(chose(&["insomnia"], "magnesium"));
            positions.push(position(&feedback));
        }
        assert_eq!(positions[0], Some(4), "{positions:?}"); // last: untagged and never chosen
        assert!(positions.windows(2).all(|w| w[1] <= w[0]), "{positions:?}");
        assert_eq!(positions[4], Some(0), "{positions:?}");
    }

    #[test]
    fn learns_that_a_tag_is_misleading_for_a_product() {
        // Both carry "insomnia", but its consumers always pick melatonin.
        let feedback = vec![chose(&["insomnia"], "melatonin"); 10];
        let model = Model::train(&shop(), &feedback);
        assert_eq!(ids(&model.recommend(&["insomnia"], 2)), ["melatonin", "chamomile"]);
        let tag_overlap = Model::train(&shop(), &[]).recommend(&["insomnia"], 1);
        assert_eq!(ids(&tag_overlap), ["chamomile"]);
    }

    #[test]
    fn a_tag_only_feedback_knows_is_learned() {
        let feedback = vec![chose(&["sleep"], "melatonin"); 3];
        let ranking = Model::train(&shop(), &feedback).recommend(&["sleep"], 1);
        assert_eq!(ranking.basis, Basis::Learned);
        assert_eq!(ids(&ranking), ["melatonin"]);
    }

    #[test]
    fn training_is_deterministic_whatever_the_input_order() {
        let feedback =
            [chose(&["insomnia", "calm"], "lavender"), chose(&["energy"], "coffee"), chose(&["x"], "coffee")];
        let a = Model::train(&shop(), &feedback);
        let mut reversed = shop();
        reversed.reverse();
        let b = Model::train(&reversed, &feedback);
        assert_eq!(a, b);
        assert_eq!(a.to_bytes(), b.to_bytes());
    }

    #[test]
    fn a_duplicate_product_id_keeps_its_first_entry() {
        let products = [product("a", &["x"]), product("a", &["y"])];
        let model = Model::train(&products, &[]);
        assert_eq!(model.product_count(), 1);
        assert_eq!(model.recommend(&["y"], 1).basis, Basis::Popularity);
    }

    #[test]
    fn invalid_params_fall_back_to_the_defaults() {
        let bad = Params { prior_strength: f32::NAN, ..Params::default() };
        assert_eq!(Model::train_with(&shop(), &[], bad).params(), Params::default());
    }
}
