//! What a recommendation answers, and the top-k selection every ranker shares.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Which evidence ordered a ranking, so a caller (and the logs) can tell a learned answer
/// from a fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The model's learned scores: at least one requested tag has recorded choices.
    Learned,
    /// No requested tag was ever seen in feedback: products carrying the most requested
    /// tags first, then the most chosen.
    TagOverlap,
    /// No requested tag is known to the store: the most chosen products.
    Popularity,
}

/// One recommended product and the score that placed it; scores compare only within
/// one ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub product: String,
    pub score: f32,
}

/// Available products, best first, and the basis of their order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    pub items: Vec<Scored>,
    pub basis: Basis,
}

impl Ranking {
    /// The product ids alone, best first.
    pub fn product_ids(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|item| item.product.as_str())
    }
}

/// The `k` best of `candidates`, best first. `better` must be a total order (break ties on
/// the index), so equal scores always come out in the same order.
pub(crate) fn top_k(mut candidates: Vec<u32>, k: usize, better: impl Fn(u32, u32) -> Ordering) -> Vec<u32> {
    if k == 0 {
        return Vec::new();
    }
    // A partial selection first: k is a handful, the candidates up to 10,000.
    if candidates.len() > k {
        candidates.select_nth_unstable_by(k - 1, |a, b| better(*a, *b));
        candidates.truncate(k);
    }
    candidates.sort_unstable_by(|a, b| better(*a, *b));
    candidates
}

/// Higher score first, then the lower index (products are indexed in id order).
pub(crate) fn by_score(scores: &[f32]) -> impl Fn(u32, u32) -> Ordering + '_ {
    |a, b| scores[b as usize].total_cmp(&scores[a as usize]).then(a.cmp(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_orders_by_score_then_index() {
        let scores = [1.0, 3.0, 3.0, 2.0, 0.5];
        let all: Vec<u32> = (0..5).collect();
        assert_eq!(top_k(all.clone(), 3, by_score(&scores)), vec![1, 2, 3]);
        assert_eq!(top_k(all.clone(), 10, by_score(&scores)), vec![1, 2, 3, 0, 4]);
        assert!(top_k(all, 0, by_score(&scores)).is_empty());
        assert!(top_k(Vec::new(), 3, by_score(&scores)).is_empty());
    }
}
