//! `retraining`: how long a store's collection change takes to become the store's model,
//! end to end in the local environment, and what the retrainer's invocation cost: from
//! a `PATCH /stores/{id}/collection` answered to the recommender serving the new model
//! version, with the retrainer's duration, init and peak memory from the invocation log.
//! Then a warm recommendation's latency as a client sees it. Prints figures; asserts none.
//!
//! Options:
//!   --products N      products in the collection (default 10000)
//!   --stores N        stores, each changed three times once built (default 3)
//!   --bin-dir DIR     the function binaries (default target/release)
//!   --local-env PATH  the local environment's binary (default target/debug/local-env)

#![allow(dead_code)] // `local` serves several binaries

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../local.rs"]
mod local;

struct Options {
    products: usize,
    stores: usize,
    binaries: local::Binaries,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { products: 10_000, stores: 3, binaries: local::Binaries::default() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--products" => {
                o.products = value()?.parse().ok().filter(|n| (1..=10_000).contains(n)).ok_or("1 to 10000 products")?
            }
            "--stores" => o.stores = value()?.parse().ok().filter(|n| (1..=50).contains(n)).ok_or("1 to 50 stores")?,
            other => {
                if !o.binaries.take(other, &mut value)? {
                    return Err(format!("unknown option {other}"));
                }
            }
        }
    }
    Ok(o)
}

/// A collection of `n` products over 300 tags, a few tags each, popular tags more often.
fn collection(n: usize) -> Value {
    let products: Vec<Value> = (0..n)
        .map(|i| {
            let tags: Vec<String> = (0..1 + i % 4).map(|k| format!("tag-{}", (i * 7 + k * 13) % (1 + (i % 300)))).collect();
            json!({"productId": format!("p-{i:05}"), "name": format!("Product {i}"), "tags": tags, "available": i % 10 != 0})
        })
        .collect();
    json!({ "products": products })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The largest collection put in one request here: moto writes a few hundred items a
/// second, and a replacement must finish within the function's 28 s.
const PUT_AT_MOST: usize = 2_000;

async fn run(o: Options) -> Result<(), String> {
    let env = local::LocalEnv::start(&o.binaries, &[])?;
    let http = env.client()?;
    let products = collection(o.products);
    let all = products["products"].as_array().cloned().unwrap_or_default();
    let mut to_model = Vec::new();
    for s in 0..o.stores {
        let store = format!("bench-store-{s}");
        let url = env.api(&format!("/stores/{store}/collection"));
        // Built with one replacement and then changes of 99 products.
        let first = &all[..all.len().min(PUT_AT_MOST)];
        let put = http.put(&url).json(&json!({ "products": first })).send().await.map_err(|e| e.to_string())?;
        if put.status() != 200 {
            return Err(format!("PUT answered {}", put.status()));
        }
        for chunk in all[first.len()..].chunks(99) {
            let patch = http.patch(&url).json(&json!({ "upsert": chunk })).send().await.map_err(|e| e.to_string())?;
            if patch.status() != 200 {
                return Err(format!("PATCH answered {}", patch.status()));
            }
        }
        // Then one product changed at a time: from the change answered to its model served.
        for round in 0..3 {
            let mut product = all[round % all.len()].clone();
            product["available"] = json!(round % 2 == 0);
            let started = Instant::now();
            let patch =
                http.patch(&url).json(&json!({ "upsert": [product] })).send().await.map_err(|e| e.to_string())?;
            if patch.status() != 200 {
                return Err(format!("PATCH answered {}", patch.status()));
            }
            let version = patch.json::<Value>().await.map_err(|e| e.to_string())?["version"].as_u64().unwrap_or(0);
            let recommend = env.api(&format!("/stores/{store}/recommendations?tags=tag-1&limit=5"));
            loop {
                let answer: Value = http
                    .get(&recommend)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if answer["modelVersion"].as_u64().unwrap_or(0) >= version {
                    break;
                }
                if started.elapsed() > Duration::from_secs(120) {
                    return Err("no model after two minutes".into());
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            to_model.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    // Warm recommendations, as a client of the local API sees them (moto answers the
    // model pointer read and the feedback write).
    let url = env.api("/stores/bench-store-0/recommendations?tags=tag-1,tag-2&limit=10");
    let mut warm = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        let answer = http.get(&url).send().await.map_err(|e| e.to_string())?;
        if answer.status() != 200 {
            return Err(format!("recommendations answered {}", answer.status()));
        }
        warm.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let log = env.invocations().await?;
    let of = |source: &str| -> Vec<Value> {
        log.iter().filter(|i| i["source"] == source && i["outcome"] == "ok").cloned().collect()
    };
    let durations =
        |invocations: &[Value]| -> Vec<f64> { invocations.iter().filter_map(|i| i["durationMs"].as_f64()).collect() };
    let peak =
        |invocations: &[Value]| invocations.iter().filter_map(|i| i["peakMemoryMiB"].as_f64()).fold(0.0, f64::max);
    let retrains = of("sqs:RetrainQueue");
    let puts = of("api:PUT /stores/{storeId}/collection");
    let recommends = of("api:GET /stores/{storeId}/recommendations");
    // The last 50 are the warm loop: one store, its model cached.
    let warm_handler = durations(&recommends[recommends.len().saturating_sub(50)..]);
    let init: Vec<f64> = retrains.iter().filter_map(|i| i["initMs"].as_f64()).collect();
    println!("products per store        {}", o.products);
    println!("stores                    {} (3 single-product changes each)", o.stores);
    println!(
        "replacement (PUT) p50     {:.0} ms for {} products",
        median(&mut durations(&puts)),
        PUT_AT_MOST.min(o.products)
    );
    println!("change to model p50       {:.0} ms (PATCH answered to the new model served)", median(&mut to_model));
    println!("retrainer invocations     {} ok", retrains.len());
    println!("retrainer duration p50    {:.0} ms", median(&mut durations(&retrains)));
    println!("retrainer init            {init:?} ms");
    println!("retrainer peak memory     {:.1} MiB", peak(&retrains));
    println!("recommender warm p50      {:.1} ms (handler, model cached)", median(&mut warm_handler.clone()));
    println!("recommender peak memory   {:.1} MiB", peak(&recommends));
    println!("client round trip p50     {:.1} ms (through the local API)", median(&mut warm));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\nusage: retraining [--products N] [--stores N] [--bin-dir DIR] [--local-env PATH]");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("retraining: {err}");
            ExitCode::FAILURE
        }
    }
}
