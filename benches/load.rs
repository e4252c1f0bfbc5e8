//! Load generator for `medaid serve`: settles distinct generated claims at
//! a chosen concurrency and prints settlements/s and latency percentiles.
//! `benches/load.sh` sets up a database and a server and runs it.
//!
//! ```text
//! cargo run --release --example load -- --base http://127.0.0.1:8080 \
//!     --keys KEY_H0001,KEY_H0002,KEY_H0003 --concurrency 32 --total 5000 --persons 1000
//! ```
//!
//! `--rate N` paces the requests at N per second overall (open loop), for
//! latency at a given fraction of the maximum throughput.
//!
//! Claim `i` is for person `41130320000101` + `i % persons` (zero-padded),
//! at hospital `H000{1 + i % 3}` with the `i % 3`-th key, discharged in
//! 2017, with 3–12 items of varied classes and amounts.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Args {
    base: String,
    /// The endpoint: `/v1/settlements`, or the bare echo's `/echo`.
    path: String,
    /// Stop sending after this long (the settlements already sent finish).
    seconds: Option<f64>,
    keys: Vec<String>,
    concurrency: usize,
    total: usize,
    persons: usize,
    run: String,
    /// Open-loop pacing: request `i` is due at `i / rate` s after the start
    /// and its latency counts from then (so a server that falls behind
    /// shows it, instead of slowing the sender down).
    rate: Option<f64>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        base: "http://127.0.0.1:8080".into(),
        path: "/v1/settlements".into(),
        seconds: None,
        keys: Vec::new(),
        concurrency: 16,
        total: 2000,
        persons: 1000,
        run: format!("{:x}", std::process::id()),
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut val = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = val()?,
            "--keys" => a.keys = val()?.split(',').map(str::to_string).collect(),
            "--concurrency" => {
                a.concurrency = val()?.parse().map_err(|e| format!("--concurrency: {e}"))?
            }
            "--total" => a.total = val()?.parse().map_err(|e| format!("--total: {e}"))?,
            "--persons" => a.persons = val()?.parse().map_err(|e| format!("--persons: {e}"))?,
            "--run" => a.run = val()?,
            "--path" => a.path = val()?,
            "--seconds" => a.seconds = Some(val()?.parse().map_err(|e| format!("--seconds: {e}"))?),
            "--rate" => a.rate = Some(val()?.parse().map_err(|e| format!("--rate: {e}"))?),
            // `cargo bench` passes this to every harness-less bench
            "--bench" => {}
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.keys.is_empty() {
        // run by a plain `cargo bench`: the load test needs a server
        println!("load: needs a running server and keys; run benches/load.sh");
        std::process::exit(0);
    }
    if a.keys.len() != 3 {
        return Err("--keys needs three keys, for H0001, H0002 and H0003".into());
    }
    Ok(a)
}

/// Claim `i`: deterministic, distinct, realistic in shape.
fn claim(run: &str, i: usize, persons: usize) -> String {
    let h = i % 3;
    let person = format!("41130320000101{:04}", i % persons);
    // A cheap deterministic mix (no float, no RNG dependency).
    let mut x = (i as u64)
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |m: u64| {
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x % m
    };
    let month = 1 + next(12);
    let day = 1 + next(28);
    // 15–25 items: about 20, a realistic inpatient bill
    let n_items = 15 + next(11) as usize;
    let classes = ["A", "A", "A", "B", "B", "C"];
    let kinds = [
        "drug",
        "treatment",
        "registration",
        "injection",
        "bed",
        "test",
    ];
    let mut items = Vec::with_capacity(n_items);
    for k in 0..n_items {
        let fen = 500 + next(800_000);
        let class = classes[next(classes.len() as u64) as usize];
        let kind = kinds[next(kinds.len() as u64) as usize];
        let limit = if class == "B" && next(3) == 0 {
            format!(r#","limit_amount":"{}.{:02}""#, fen * 9 / 1000, 0)
        } else {
            String::new()
        };
        items.push(format!(
            r#"{{"code":"{k:06}","name":"项目{k}","kind":"{kind}","class":"{class}","amount":"{}.{:02}"{limit}}}"#,
            fen / 100,
            fen % 100
        ));
    }
    let diagnosis = if next(4) == 0 { "C34.9" } else { "J18.9" };
    format!(
        r#"{{"claim_id":"LOAD-{run}-{i:07}","hospital":"H000{}","person_id":"{person}","medical_type":"inpatient","admitted_on":"2017-{month:02}-01","discharged_on":"2017-{month:02}-{day:02}","diagnoses":["{diagnosis}"],"items":[{}]}}"#,
        h + 1,
        items.join(",")
    )
}

/// The `p`-th per-mille latency (990 = p99, 999 = p99.9).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = (sorted.len() * p)
        .div_ceil(1000)
        .saturating_sub(1)
        .min(sorted.len() - 1);
    sorted[idx]
}

#[tokio::main]
async fn main() {
    let a = match args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..a.concurrency {
        let (a, client, next) = (a.clone(), client.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= a.total
                    || a.seconds
                        .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
                {
                    break;
                }
                let body = claim(&a.run, i, a.persons);
                let t = match a.rate {
                    Some(rate) => {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let r = client
                    .post(format!("{}{}", a.base, a.path))
                    .bearer_auth(&a.keys[i % 3])
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(r) if matches!(r.status().as_u16(), 200 | 201) => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed());
                    }
                    Ok(r) => errors.push(format!(
                        "{}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::with_capacity(a.total);
    let mut errors = Vec::new();
    for w in workers {
        let (l, e) = w.await.expect("worker");
        lat.extend(l);
        errors.extend(e);
    }
    let elapsed = started.elapsed();
    lat.sort_unstable();
    let ms = |d: Duration| d.as_micros() as f64 / 1000.0;
    println!(
        "{} {} claims ({} errors) at concurrency {} in {:.2} s: {:.0}/s, p50 {:.1} ms, p99 {:.1} ms, p99.9 {:.1} ms, max {:.1} ms",
        a.path,
        lat.len(),
        errors.len(),
        a.concurrency,
        elapsed.as_secs_f64(),
        lat.len() as f64 / elapsed.as_secs_f64(),
        ms(percentile(&lat, 500)),
        ms(percentile(&lat, 990)),
        ms(percentile(&lat, 999)),
        ms(lat.last().copied().unwrap_or_default()),
    );
    for e in errors.iter().take(5) {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
