//! Train on a store's past, rank its held-out sessions, and compare with the baselines.

use std::time::{Duration, Instant};

use domain::recommendations::{Basis, Feedback, Model, MostPopular, Params, Ranking, TagOverlap};

use crate::generator::{StoreSpec, SyntheticStore, generate};
use crate::metrics::{ndcg_at_k, precision_at_k};

/// Precision@5 and nDCG@10, averaged over held-out sessions that chose a product.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quality {
    pub precision_at_5: f64,
    pub ndcg_at_10: f64,
}

impl Quality {
    /// Strictly better on both metrics.
    pub fn beats(&self, other: &Quality) -> bool {
        self.precision_at_5 > other.precision_at_5 && self.ndcg_at_10 > other.ndcg_at_10
    }
}

/// One store's evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreResult {
    pub products: usize,
    pub seed: u64,
    pub model: Quality,
    pub most_popular: Quality,
    pub tag_overlap: Quality,
    /// The hidden truth's own ranking: the ceiling.
    pub ideal: Quality,
    /// Held-out sessions with a chosen product: the ones scored.
    pub test_sessions: usize,
    /// Share of those the model answered from learned scores rather than a fallback.
    pub learned_share: f64,
}

impl StoreResult {
    /// Every ranking's quality, named, in table order.
    pub fn by_method(&self) -> [(&'static str, Quality); 4] {
        [
            ("model", self.model),
            ("most popular", self.most_popular),
            ("tag overlap", self.tag_overlap),
            ("*hidden truth (ceiling)*", self.ideal),
        ]
    }

    pub fn model_wins(&self) -> bool {
        self.model.beats(&self.most_popular) && self.model.beats(&self.tag_overlap)
    }
}

/// Generates the store `seed` names and evaluates the model on it.
pub fn evaluate_seed(spec: StoreSpec, seed: u64, params: Params) -> StoreResult {
    let store = generate(spec, seed);
    evaluate_store(&store, spec.products, seed, params)
}

pub fn evaluate_store(store: &SyntheticStore, products: usize, seed: u64, params: Params) -> StoreResult {
    let training = store.training();
    let model = Model::train_with(&store.products, training, params);
    let most_popular = MostPopular::train(&store.products, training);
    let tag_overlap = TagOverlap::train(&store.products, training);

    let mut sums = [Quality::default(); 4];
    let mut tested = 0usize;
    let mut learned = 0usize;
    let popular = most_popular.recommend(10);
    for (tags, chosen) in held_out_choices(store.held_out()) {
        let from_model = model.recommend(&tags, 10);
        learned += usize::from(from_model.basis == Basis::Learned);
        let by_overlap = tag_overlap.recommend(&tags, 10);
        let rankings: [Vec<&str>; 4] = [
            from_model.product_ids().collect(),
            popular.product_ids().collect(),
            by_overlap.product_ids().collect(),
            store.truth.ideal(&tags, 10),
        ];
        for (sum, ids) in sums.iter_mut().zip(&rankings) {
            sum.precision_at_5 += precision_at_k(ids, &[chosen], 5);
            sum.ndcg_at_10 += ndcg_at_k(ids, &[chosen], 10);
        }
        tested += 1;
    }
    let mean = |q: Quality| {
        let n = tested.max(1) as f64;
        Quality { precision_at_5: q.precision_at_5 / n, ndcg_at_10: q.ndcg_at_10 / n }
    };
    StoreResult {
        products,
        seed,
        model: mean(sums[0]),
        most_popular: mean(sums[1]),
        tag_overlap: mean(sums[2]),
        ideal: mean(sums[3]),
        test_sessions: tested,
        learned_share: learned as f64 / tested.max(1) as f64,
    }
}

/// The held-out sessions that chose something: `(selected tags, chosen product)`.
pub fn held_out_choices(sessions: &[Feedback]) -> impl Iterator<Item = (Vec<&str>, &str)> {
    sessions.iter().filter_map(|s| s.chosen.as_deref().map(|c| (s.tags.iter().map(String::as_str).collect(), c)))
}

/// Median wall time of `runs` trainings on one thread.
pub fn median_train_time(store: &SyntheticStore, runs: usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            let model = Model::train(&store.products, store.training());
            let elapsed = start.elapsed();
            std::hint::black_box(model);
            elapsed
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// Latency of each `recommend(tags, 10)` over the held-out selections, sorted ascending.
pub fn recommend_latencies(model: &Model, sessions: &[Feedback], limit: usize) -> Vec<Duration> {
    let mut times: Vec<Duration> = sessions
        .iter()
        .take(limit)
        .map(|s| {
            let tags: Vec<&str> = s.tags.iter().map(String::as_str).collect();
            let start = Instant::now();
            let ranking: Ranking = model.recommend(&tags, 10);
            let elapsed = start.elapsed();
            std::hint::black_box(ranking);
            elapsed
        })
        .collect();
    times.sort_unstable();
    times
}

/// The value below which `share` of the sorted `times` fall.
pub fn percentile(times: &[Duration], share: f64) -> Duration {
    if times.is_empty() {
        return Duration::ZERO;
    }
    let i = ((times.len() - 1) as f64 * share).round() as usize;
    times[i.min(times.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_a_small_store_the_model_beats_both_baselines() {
        let result = evaluate_seed(StoreSpec::sized(300), 1, Params::default());
        assert!(result.test_sessions > 100, "{result:?}");
        assert!(result.model_wins(), "{result:?}");
    }

    #[test]
    fn percentiles_pick_from_sorted_times() {
        let times: Vec<Duration> = (1..=10).map(Duration::from_millis).collect();
        assert_eq!(percentile(&times, 0.5), Duration::from_millis(6));
        assert_eq!(percentile(&times, 0.9), Duration::from_millis(9));
        assert_eq!(percentile(&[], 0.5), Duration::ZERO);
    }
}
