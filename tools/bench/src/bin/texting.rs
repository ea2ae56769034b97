//! `texting`: how long the application takes to text every passenger of a large flight,
//! end to end in the local environment: from `POST /flights/{id}/events` answered to the
//! last text recorded by moto. Prints figures; asserts none. See BENCHMARKS.md.
//!
//! Options:
//!   --passengers N    passengers on the flight, each with a number of their own (default 2000)
//!   --rate R          the account's SMS rate, texts per second (the SmsTextsPerSecond
//!                     parameter; default 20, the template's default)
//!   --bin-dir DIR     the function binaries (default target/release)
//!   --local-env PATH  the local environment's binary (default target/debug/local-env)

#![allow(dead_code)] // `local` serves several binaries

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../local.rs"]
mod local;

struct Options {
    passengers: usize,
    rate: f64,
    binaries: local::Binaries,
}

fn parse_args() -> Result<Options, String> {
    let mut o = Options { passengers: 2000, rate: 20.0, binaries: local::Binaries::default() };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--passengers" => {
                o.passengers = value()?.parse().ok().filter(|n| (1..=5000).contains(n)).ok_or("1 to 5000 passengers")?
            }
            "--rate" => o.rate = value()?.parse().ok().filter(|r: &f64| *r >= 1.0).ok_or("a rate of at least 1")?,
            other => {
                if !o.binaries.take(other, &mut value)? {
                    return Err(format!("unknown option {other}"));
                }
            }
        }
    }
    Ok(o)
}

/// Texts moto has recorded to numbers starting with `prefix`.
async fn texts_to(moto: &str, prefix: &str) -> Result<usize, String> {
    let data: Value = reqwest::get(format!("{moto}/moto-api/data.json"))
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    Ok(data["sns"]["SMS"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|sms| sms["phone_number"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .count())
}

async fn run(o: Options) -> Result<(), String> {
    let env = local::LocalEnv::start(&o.binaries, &[format!("SmsTextsPerSecond={}", o.rate)])?;
    let (api, moto) = (env.api(""), env.moto().to_owned());
    let http = env.client()?;

    let date = (time::OffsetDateTime::now_utc() + time::Duration::days(30)).date();
    let date = format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day());
    let passengers: Vec<Value> = (0..o.passengers)
        .map(|i| json!({"name": format!("Passenger {i}"), "email": format!("p{i}@example.com"), "mobile": format!("+1415{:07}", 7_000_000 + i)}))
        .collect();
    let flight = json!({
        "carrier": "TX", "flightNumber": "1", "date": date, "origin": "SFO", "destination": "JFK",
        "scheduledDeparture": format!("{date}T08:00:00-08:00"), "passengers": passengers
    });
    let registered = http.post(format!("{api}/flights")).json(&flight).send().await.map_err(|e| e.to_string())?;
    if registered.status() != 201 {
        return Err(format!("registration answered {}", registered.status()));
    }
    let started = Instant::now();
    let posted = http
        .post(format!("{api}/flights/TX1-{date}/events"))
        .json(&json!({"type": "cancellation", "reason": "Météo: neige à Zürich"}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if posted.status() != 202 {
        return Err(format!("the event answered {}", posted.status()));
    }
    let text =
        posted.json::<Value>().await.map_err(|e| e.to_string())?["message"].as_str().unwrap_or_default().to_owned();
    let accepted = started.elapsed();
    let mut first = None;
    loop {
        let sent = texts_to(&moto, "+14157").await?;
        if sent > 0 && first.is_none() {
            first = Some(started.elapsed());
        }
        if sent >= o.passengers {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let all = started.elapsed();
    let segments = domain::flight_alerts::sms_text::segments(&text);
    println!("passengers            {}", o.passengers);
    println!("account SMS rate      {} texts/s (each of the 2 environments: {})", o.rate, o.rate / 2.0);
    println!("event accepted        {:.2} s", accepted.as_secs_f64());
    println!("first text            {:.2} s", first.unwrap_or(all).as_secs_f64());
    println!(
        "every text            {:.1} s ({:.1} texts/s)",
        all.as_secs_f64(),
        o.passengers as f64 / all.as_secs_f64()
    );
    println!("text                  {text:?}");
    println!("segments              {segments} per text, {} in all", segments * o.passengers);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("{msg}\nusage: texting [--passengers N] [--rate R] [--bin-dir DIR] [--local-env PATH]");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("texting: {err}");
            ExitCode::FAILURE
        }
    }
}
