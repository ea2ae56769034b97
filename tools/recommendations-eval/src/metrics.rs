//! Ranking metrics with binary relevance: a held-out session has one relevant product,
//! the one its consumer chose, but the functions take any set.

/// Share of the first `k` recommendations that are relevant (a short list still counts
/// `k` slots, as the consumer was shown at most that many).
pub fn precision_at_k(ranked: &[&str], relevant: &[&str], k: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let hits = ranked.iter().take(k).filter(|item| relevant.contains(item)).count();
    hits as f64 / k as f64
}

/// Discounted cumulative gain of the first `k`, over the best achievable: 1 when every
/// relevant product leads the list, less the further down they sit, 0 when none is there.
pub fn ndcg_at_k(ranked: &[&str], relevant: &[&str], k: usize) -> f64 {
    let discount = |position: usize| 1.0 / ((position + 2) as f64).log2();
    let dcg: f64 =
        ranked.iter().take(k).enumerate().filter(|(_, item)| relevant.contains(item)).map(|(i, _)| discount(i)).sum();
    let ideal: f64 = (0..relevant.len().min(k)).map(discount).sum();
    if ideal > 0.0 { dcg / ideal } else { 0.0 }
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_sd(values: &[f64]) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, variance.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn precision_counts_hits_in_the_first_k() {
        let ranked = ["a", "b", "c", "d", "e", "f"];
        assert!(close(precision_at_k(&ranked, &["c"], 5), 0.2));
        assert!(close(precision_at_k(&ranked, &["f"], 5), 0.0));
        assert!(close(precision_at_k(&ranked, &["a", "e", "f"], 5), 0.4));
        // Two shown where five fit: the empty slots are misses.
        assert!(close(precision_at_k(&["a", "b"], &["a"], 5), 0.2));
        assert!(close(precision_at_k(&ranked, &["a"], 0), 0.0));
    }

    #[test]
    fn ndcg_matches_hand_computed_values() {
        let ranked = ["a", "b", "c", "d"];
        // One relevant item: 1 / log2(position + 1), positions from 1.
        assert!(close(ndcg_at_k(&ranked, &["a"], 10), 1.0));
        assert!(close(ndcg_at_k(&ranked, &["b"], 10), 1.0 / 3f64.log2())); // 0.6309...
        assert!(close(ndcg_at_k(&ranked, &["c"], 10), 0.5)); // 1 / log2(4)
        assert!(close(ndcg_at_k(&ranked, &["z"], 10), 0.0));
        assert!(close(ndcg_at_k(&ranked, &["d"], 3), 0.0));
        // Two relevant at positions 2 and 3: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3).
        let expected = (1.0 / 3f64.log2() + 0.5) / (1.0 + 1.0 / 3f64.log2());
        assert!(close(ndcg_at_k(&ranked, &["b", "c"], 10), expected));
    }

    #[test]
    fn mean_and_sample_sd() {
        let (mean, sd) = mean_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!(close(mean, 5.0));
        assert!(close(sd, (32.0f64 / 7.0).sqrt()));
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
        assert_eq!(mean_sd(&[]), (0.0, 0.0));
    }
}
