//! Offline evaluation of the store recommender: synthetic stores of 1,000 and 10,000
//! products, five seeds each, the model against most-popular and tag-overlap, then timings.
//! Exits non-zero unless the model beats both baselines on every seed (on both metrics).
//!
//! `cargo run --release -p recommendations-eval [-- --seeds N]`

mod experiment;
mod generator;
mod metrics;
mod rng;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::experiment::{StoreResult, evaluate_seed, median_train_time, percentile, recommend_latencies};
use crate::generator::{StoreSpec, generate};
use crate::metrics::mean_sd;
use domain::recommendations::{Model, ModelError, Params};

const SIZES: [usize; 2] = [1_000, 10_000];

fn main() -> ExitCode {
    let seeds = match seeds_from_args() {
        Ok(seeds) => seeds,
        Err(message) => {
            eprintln!("{message}\nusage: evaluate-recommendations [--seeds N]");
            return ExitCode::from(2);
        }
    };
    let params = Params::default();

    let mut results: Vec<StoreResult> = Vec::new();
    for products in SIZES {
        for seed in 1..=seeds {
            let result = evaluate_seed(StoreSpec::sized(products), seed, params);
            eprintln!(
                "{products} products, seed {seed}: {} held-out choices, {:.0}% answered from learned scores",
                result.test_sessions,
                100.0 * result.learned_share
            );
            results.push(result);
        }
    }

    println!("## Held-out quality ({seeds} seeds per size, mean ± sd)\n");
    println!("| products | method | precision@5 | nDCG@10 |");
    println!("|---:|---|---|---|");
    for products in SIZES {
        let of_size: Vec<&StoreResult> = results.iter().filter(|r| r.products == products).collect();
        for method in 0..4 {
            let name = of_size.first().map_or("", |r| r.by_method()[method].0);
            let p5: Vec<f64> = of_size.iter().map(|r| r.by_method()[method].1.precision_at_5).collect();
            let ndcg: Vec<f64> = of_size.iter().map(|r| r.by_method()[method].1.ndcg_at_10).collect();
            println!("| {products} | {name} | {} | {} |", format_mean_sd(&p5), format_mean_sd(&ndcg));
        }
    }
    println!("\nThe ceiling ranks by the generator's hidden utility, which no recommender can see.");

    println!("\n## Per seed: model's margin over the better baseline\n");
    println!("| products | seed | Δ precision@5 | Δ nDCG@10 | model beats both |");
    println!("|---:|---:|---:|---:|---|");
    for r in &results {
        let best_p5 = r.most_popular.precision_at_5.max(r.tag_overlap.precision_at_5);
        let best_ndcg = r.most_popular.ndcg_at_10.max(r.tag_overlap.ndcg_at_10);
        println!(
            "| {} | {} | {:+.4} | {:+.4} | {} |",
            r.products,
            r.seed,
            r.model.precision_at_5 - best_p5,
            r.model.ndcg_at_10 - best_ndcg,
            if r.model_wins() { "yes" } else { "NO" }
        );
    }
    let all_win = results.iter().all(StoreResult::model_wins);
    println!("\nModel beats both baselines on every seed: {}", if all_win { "yes" } else { "NO" });

    print_timings();
    if all_win { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Timings are printed, never asserted: they depend on the machine.
fn print_timings() {
    println!("\n## Timings (this machine, one thread)\n");
    println!("| products | train (median of 9) | recommend p50 | recommend p90 | model bytes | load (from_bytes) |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for products in SIZES {
        let store = generate(StoreSpec::sized(products), 1);
        let train = median_train_time(&store, 9);
        let model = Model::train(&store.products, store.training());
        // Warm the caches once, as a warm Lambda would be.
        let _ = recommend_latencies(&model, store.held_out(), 200);
        let latencies = recommend_latencies(&model, store.held_out(), 5_000);
        let bytes = model.to_bytes();
        let load = median_load_time(&bytes, 9);
        println!(
            "| {products} ({} listed, {} training sessions) | {} | {} | {} | {} | {} |",
            store.products.len(),
            store.training().len(),
            format_duration(train),
            format_duration(percentile(&latencies, 0.5)),
            format_duration(percentile(&latencies, 0.9)),
            bytes.len(),
            load.map_or_else(|e| format!("refused: {e}"), format_duration),
        );
    }
}

/// Median time to read a stored model back (what a cold start pays).
fn median_load_time(bytes: &[u8], runs: usize) -> Result<Duration, ModelError> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let model = Model::from_bytes(bytes)?;
        times.push(start.elapsed());
        std::hint::black_box(model);
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}

fn seeds_from_args() -> Result<u64, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(5),
        [flag, n] if flag == "--seeds" => match n.parse::<u64>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("--seeds wants a positive number, not {n:?}")),
        },
        _ => Err(format!("unexpected arguments {args:?}")),
    }
}

fn format_mean_sd(values: &[f64]) -> String {
    let (mean, sd) = mean_sd(values);
    format!("{mean:.4} ± {sd:.4}")
}

fn format_duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 1_000.0 { format!("{:.2} ms", micros / 1_000.0) } else { format!("{micros:.1} µs") }
}
