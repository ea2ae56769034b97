//! Synthetic stores with a hidden ground truth that is deliberately *not* tag overlap, so
//! an evaluation can tell a model that learns from feedback from one that reads tags.
//!
//! The truth: every product has a latent quality (Zipf-like: the r-th best has weight
//! about r^-0.9) and a relevance strength for some tags. Most of its catalogue tags are
//! strong, some weak, some misleading (barely better than an unrelated tag), and some
//! products suit a tag they do not carry. A consumer selects 1–3 tags (popular tags more
//! often) and chooses among the products available at that moment by a softmax over
//! `quality + Σ relevance(selected tag)`, or chooses nothing. Products come and go: some
//! are retired, some are out of stock by the end, some are launched late.

use std::collections::HashMap;

use domain::recommendations::Feedback;
use domain::recommendations::model::Product;

use crate::rng::{Rng, Weighted};

/// The size of a synthetic store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSpec {
    /// Products ever listed, including the retired ones missing from the final collection.
    pub products: usize,
    pub tags: usize,
    pub sessions: usize,
}

impl StoreSpec {
    /// A store of about `products` products with tags and traffic in proportion: 85 tags
    /// at 1,000 products, 300 from 9,600.
    pub fn sized(products: usize) -> Self {
        Self { products, tags: (60 + products / 40).min(300), sessions: (4 * products).max(2_000) }
    }
}

/// A store's collection at the end of its history, and that history.
#[derive(Debug, Clone)]
pub struct SyntheticStore {
    pub products: Vec<Product>,
    /// Chronological.
    pub sessions: Vec<Feedback>,
    /// `sessions[..train_sessions]` is the past a model is trained on; the rest is held out.
    pub train_sessions: usize,
    /// What the consumers really want, for the evaluation's ceiling.
    pub truth: HiddenTruth,
}

/// The generator's ground truth, which no recommender sees.
#[derive(Debug, Clone)]
pub struct HiddenTruth {
    ids: Vec<String>,
    tags: HashMap<String, usize>,
    quality: Vec<f64>,
    relevance: Vec<Vec<(usize, f64)>>,
    /// Products available at the end of the history.
    available: Vec<usize>,
}

impl HiddenTruth {
    /// The `k` available products a consumer selecting `tags` is most likely to choose:
    /// the best any recommender could rank.
    pub fn ideal(&self, tags: &[&str], k: usize) -> Vec<&str> {
        let mut utility = self.quality.clone();
        for tag in tags {
            let Some(&t) = self.tags.get(*tag) else { continue };
            for &(p, r) in &self.relevance[t] {
                utility[p] += r;
            }
        }
        let mut ranked = self.available.clone();
        ranked.sort_by(|&a, &b| utility[b].total_cmp(&utility[a]).then(a.cmp(&b)));
        ranked.into_iter().take(k).map(|p| self.ids[p].as_str()).collect()
    }
}

impl SyntheticStore {
    pub fn training(&self) -> &[Feedback] {
        &self.sessions[..self.train_sessions]
    }

    pub fn held_out(&self) -> &[Feedback] {
        &self.sessions[self.train_sessions..]
    }
}

/// Share of the history used for training (the rest is the chronological hold-out).
const TRAIN_SHARE: f64 = 0.8;

fn split_at(sessions: usize) -> usize {
    (TRAIN_SHARE * sessions as f64) as usize
}

/// The hidden truth about one product.
struct Truth {
    quality: f64,
    /// Sessions during which it can be chosen: `[from, until)`.
    from: usize,
    until: usize,
}

/// Builds the store `seed` names for `spec`: the same inputs give the same store.
pub fn generate(spec: StoreSpec, seed: u64) -> SyntheticStore {
    let mut rng = Rng::seeded(seed);
    let tag_count = spec.tags.max(1);
    let sessions = spec.sessions;

    // Tags: how often products carry them, and (related but noisier) how often consumers ask.
    let tag_names: Vec<String> = (0..tag_count).map(|t| format!("tag-{t:03}")).collect();
    let tag_frequency: Vec<f64> = (0..tag_count).map(|t| ((t + 1) as f64).powf(-0.9)).collect();
    let tag_draw = Weighted::new(tag_frequency.iter().copied());
    let demand = Weighted::new(tag_frequency.iter().map(|&f| f.powf(0.8) * (0.5 * rng.normal()).exp()));

    let mut quality_rank: Vec<usize> = (1..=spec.products).collect();
    rng.shuffle(&mut quality_rank);

    let mut truths = Vec::with_capacity(spec.products);
    let mut products = Vec::with_capacity(spec.products);
    // Per tag, (product, relevance strength) for every product with a relation to it.
    let mut relevance: Vec<Vec<(usize, f64)>> = vec![Vec::new(); tag_count];
    for (i, &rank) in quality_rank.iter().enumerate() {
        let wanted = tag_count_for(&mut rng).min(tag_count);
        let carried = distinct_tags(&mut rng, &tag_draw, wanted, &[]);
        // Strengths add to utility (in nats); an unrelated tag adds 0. Strong 65%, weak 20%,
        // misleading 15%, so a carried tag is only a hint.
        for &t in &carried {
            let kind = rng.unit();
            let strength = if kind < 0.65 {
                rng.between(5.0, 7.0)
            } else if kind < 0.85 {
                rng.between(2.0, 4.0)
            } else {
                rng.between(0.0, 1.5)
            };
            relevance[t].push((i, strength));
        }
        // Tags it suits without carrying them: what only feedback can reveal.
        let hidden = usize::from(rng.chance(0.3)) + usize::from(rng.chance(0.08));
        for t in distinct_tags(&mut rng, &tag_draw, hidden.min(tag_count - carried.len()), &carried) {
            relevance[t].push((i, rng.between(5.0, 7.0)));
        }

        let quality = -0.9 * (rank as f64).ln() + 0.3 * rng.normal();
        let at = |share: f64| (share * sessions as f64) as usize;
        let (end, split) = (sessions, split_at(sessions));
        let life = rng.unit();
        let (from, until, listed, available) = if life < 0.06 {
            (0, at(rng.between(0.2, TRAIN_SHARE)), false, false) // retired
        } else if life < 0.14 {
            (0, at(rng.between(0.4, TRAIN_SHARE)).min(split), true, false) // out of stock by now
        } else if life < 0.20 {
            (at(rng.between(0.5, 0.95)), end, true, true) // launched late
        } else {
            (0, end, true, true)
        };
        truths.push(Truth { quality, from, until });
        if listed {
            let tags = carried.iter().map(|&t| tag_names[t].clone()).collect();
            products.push(Product { id: product_id(i), tags, available });
        }
    }

    let history = simulate(&mut rng, &truths, &relevance, &demand, sessions);
    let truth = HiddenTruth {
        ids: (0..truths.len()).map(product_id).collect(),
        tags: tag_names.iter().enumerate().map(|(t, name)| (name.clone(), t)).collect(),
        quality: truths.iter().map(|t| t.quality).collect(),
        available: truths.iter().enumerate().filter(|(_, t)| t.until == sessions).map(|(p, _)| p).collect(),
        relevance,
    };
    let sessions_out = history
        .into_iter()
        .map(|(tags, chosen)| Feedback {
            tags: tags.into_iter().map(|t| tag_names[t].clone()).collect(),
            chosen: chosen.map(product_id),
        })
        .collect();
    SyntheticStore { products, sessions: sessions_out, train_sessions: split_at(sessions), truth }
}

fn product_id(p: usize) -> String {
    format!("p{p:05}")
}

/// 1–6 tags, most products 2–4.
fn tag_count_for(rng: &mut Rng) -> usize {
    const SHARES: [f64; 6] = [0.15, 0.25, 0.25, 0.17, 0.10, 0.08];
    let mut u = rng.unit();
    for (i, share) in SHARES.iter().enumerate() {
        if u < *share {
            return i + 1;
        }
        u -= share;
    }
    SHARES.len()
}

/// `n` different tags drawn by `draw`, none in `excluded`.
fn distinct_tags(rng: &mut Rng, draw: &Weighted, n: usize, excluded: &[usize]) -> Vec<usize> {
    let mut tags = Vec::with_capacity(n);
    // Bounded: with few tags left to pick, give up rather than loop for long.
    for _ in 0..n * 200 {
        if tags.len() == n {
            break;
        }
        if let Some(t) = draw.draw(rng)
            && !tags.contains(&t)
            && !excluded.contains(&t)
        {
            tags.push(t);
        }
    }
    tags
}

/// Consumer sessions in time order: the selected tags and the chosen product, if any.
fn simulate(
    rng: &mut Rng,
    truths: &[Truth],
    relevance: &[Vec<(usize, f64)>],
    demand: &Weighted,
    sessions: usize,
) -> Vec<(Vec<usize>, Option<usize>)> {
    let appeal: Vec<f64> = truths.iter().map(|t| t.quality.exp()).collect();
    let base = Weighted::new(appeal.iter().copied());
    let mut available: Vec<bool> = truths.iter().map(|t| t.from == 0 && t.until > 0).collect();
    let mut available_appeal: f64 = appeal.iter().zip(&available).filter(|(_, a)| **a).map(|(w, _)| w).sum();

    // Availability changes, in time order: (session, product, becomes available).
    let mut changes: Vec<(usize, usize, bool)> = Vec::new();
    for (p, t) in truths.iter().enumerate() {
        if t.from > 0 {
            changes.push((t.from, p, true));
        }
        if t.until < sessions {
            changes.push((t.until, p, false));
        }
    }
    changes.sort_unstable();
    let mut next_change = 0;

    let mut bonus = vec![0.0f64; truths.len()];
    let mut marked = vec![false; truths.len()];
    let mut touched: Vec<usize> = Vec::new();
    let session_tags = |rng: &mut Rng| {
        let wanted = match rng.unit() {
            u if u < 0.5 => 1,
            u if u < 0.85 => 2,
            _ => 3,
        };
        distinct_tags(rng, demand, wanted.min(relevance.len()), &[])
    };

    // "Nothing suits me" weighs as much as a third of a typical selection's appeal.
    let mut pilot: Vec<f64> = (0..200)
        .map(|_| {
            let tags = session_tags(rng);
            let related: f64 = tags
                .iter()
                .flat_map(|&t| &relevance[t])
                .filter(|(p, _)| available[*p])
                .map(|&(p, r)| appeal[p] * r.exp_m1())
                .sum();
            available_appeal + related
        })
        .collect();
    pilot.sort_by(f64::total_cmp);
    let nothing = 0.33 * pilot.get(pilot.len() / 2).copied().unwrap_or(1.0);

    let mut history = Vec::with_capacity(sessions);
    for s in 0..sessions {
        while let Some(&(_, p, now)) = changes.get(next_change).filter(|c| c.0 <= s) {
            if available[p] != now {
                available[p] = now;
                available_appeal += if now { appeal[p] } else { -appeal[p] };
            }
            next_change += 1;
        }

        let tags = session_tags(rng);
        for &t in &tags {
            for &(p, r) in &relevance[t] {
                if !marked[p] {
                    marked[p] = true;
                    touched.push(p);
                }
                bonus[p] += r;
            }
        }
        let live: Vec<usize> = touched.iter().copied().filter(|&p| available[p]).collect();
        let related = Weighted::new(live.iter().map(|&p| appeal[p] * bonus[p].exp()));
        let related_plain: f64 = live.iter().map(|&p| appeal[p]).sum();
        let unrelated = (available_appeal - related_plain).max(0.0);

        let u = rng.unit() * (related.total() + unrelated + nothing);
        let chosen = if u < related.total() {
            related.draw(rng).map(|i| live[i])
        } else if u < related.total() + unrelated {
            // Any available product the selection says nothing about, by appeal alone.
            (0..10_000).filter_map(|_| base.draw(rng)).find(|&p| available[p] && !marked[p])
        } else {
            None
        };
        for p in touched.drain(..) {
            marked[p] = false;
            bonus[p] = 0.0;
        }
        history.push((tags, chosen));
    }
    history
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_names_one_store() {
        let spec = StoreSpec::sized(200);
        let (a, b) = (generate(spec, 3), generate(spec, 3));
        assert_eq!(a.products, b.products);
        assert_eq!(a.sessions, b.sessions);
        assert_ne!(generate(spec, 4).sessions, a.sessions);
    }

    #[test]
    fn stores_look_like_the_spec() {
        let store = generate(StoreSpec::sized(1_000), 1);
        let listed = store.products.len();
        assert!((850..960).contains(&listed), "{listed} listed");
        assert!(store.products.iter().all(|p| (1..=6).contains(&p.tags.len())));
        assert!(store.sessions.iter().all(|s| (1..=3).contains(&s.tags.len())));
        let chose = store.sessions.iter().filter(|s| s.chosen.is_some()).count() as f64;
        let share = chose / store.sessions.len() as f64;
        assert!((0.5..0.9).contains(&share), "{share} of sessions chose");
        assert_eq!(store.training().len() + store.held_out().len(), store.sessions.len());
    }
}
