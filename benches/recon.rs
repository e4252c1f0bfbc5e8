//! The statement benchmark of issue 5: generate N settlements (and their
//! layer rows, and ~1 % reversals) straight into a SQLite database booked in
//! one month, then time the month's statement the way the service builds
//! it (sums → report → JSON/CSV/XLSX).
//!
//! cargo bench --bench recon -- /tmp/recon-bench.db 1000000
//!
//! (A bare `cargo bench` runs it without arguments: it then says how to run
//! it and does nothing, since generating a million rows takes minutes.)
//!
//! An existing database with rows is reused (generation is skipped).

use medaid::recon::{Format, Month};
use medaid::service::Service;
use medaid::storage::{ConnectOptions, Db};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::time::Instant;

const LAYERS: [(&str, &str, &str); 4] = [
    ("basic", "390100", "insurance"),
    ("critical", "390200", "insurance"),
    ("aid", "610100", "aid"),
    ("floor", "640100", "government"),
];
const CATS: [&str; 5] = [
    "dibao",
    "poverty",
    "tekun_centralized",
    "tekun_dispersed",
    "",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench` to every harness-less bench
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    if args.len() < 2 {
        println!("recon: cargo bench --bench recon -- DB_PATH [N] (generates N settlements once)");
        return Ok(());
    }
    let path = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "/tmp/recon-bench.db".into());
    let n: usize = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let month: Month = "2024-05".parse().map_err(anyhow::Error::msg)?;
    let db = Db::connect(&ConnectOptions::new(format!("sqlite://{path}"))).await?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::from_str(&format!("sqlite://{path}"))?
                .synchronous(SqliteSynchronous::Off),
        )
        .await?;
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM settlements")
        .fetch_one(&pool)
        .await?;
    if have == 0 {
        let t = Instant::now();
        let mut tx = pool.begin().await?;
        for i in 0..n {
            let reversal = i % 100 == 99;
            let id = format!("S{i:08}");
            let sign: i64 = if reversal { -1 } else { 1 };
            let total = 10_000 + (i as i64 * 7919) % 5_000_000;
            let waived = total / 20;
            let paids = [total * 6 / 10, total / 10, total / 20, total / 50];
            let fund: i64 = paids.iter().sum();
            let patient = total - waived - fund;
            let cat = CATS[i % CATS.len()];
            let day = 1 + i % 28;
            sqlx::query(
                "INSERT INTO settlements (id, kind, reverses, hospital, claim_id, person_id, medical_type, level, region,
                    categories, primary_category, admitted_on, discharged_on, year, policy_id, policy_hash, total,
                    free_items, reduction, hospital_waived, over_limit, self_pay_first, fully_self_pay, in_policy,
                    fund_paid, patient_payable, claim_hash, claim_json, answer_json, committed_at, booked_month)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'county', '411303', $8, $8, $9, $9, 2024, 'bench', 'h', $10, $11,
                    $12, $13, 0, 0, 0, $14, $15, $16, 'h', '{}', '{}', $17, $18)",
            )
            .bind(&id)
            .bind(if reversal { "reversal" } else { "settlement" })
            .bind(if reversal { Some(format!("S{:08}", i - 1)) } else { None })
            .bind(format!("H{:04}", i % 40))
            .bind(format!("C{i:08}"))
            .bind(format!("P{:07}", i % 300_000))
            .bind(if i % 7 == 0 { "outpatient_special" } else { "inpatient" })
            .bind(cat)
            .bind(format!("2024-05-{day:02}"))
            .bind(sign * total)
            .bind(sign * waived / 2)
            .bind(sign * (waived - waived / 2))
            .bind(sign * waived)
            .bind(sign * total * 9 / 10)
            .bind(sign * fund)
            .bind(sign * patient)
            .bind(format!("2024-05-{day:02}T10:00:00.000000+08:00"))
            .bind(month.to_string())
            .execute(&mut *tx)
            .await?;
            for (p, (layer, code, payer)) in LAYERS.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO settlement_layers (settlement_id, position, layer_id, fund_code, payer, applied,
                        cap_limited, base, deductible, eligible, paid) VALUES ($1, $2, $3, $4, $5, 1, 0, $6, 0, $6, $7)",
                )
                .bind(&id)
                .bind(p as i64)
                .bind(layer)
                .bind(code)
                .bind(payer)
                .bind(sign * total)
                .bind(sign * paids[p])
                .execute(&mut *tx)
                .await?;
            }
            if i % 50_000 == 49_999 {
                tx.commit().await?;
                tx = pool.begin().await?;
                eprintln!("{} rows, {:.0} s", i + 1, t.elapsed().as_secs_f64());
            }
        }
        tx.commit().await?;
        eprintln!(
            "generated {n} settlements in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    pool.close().await;
    let rows: i64 = {
        let c = db.month_cells(month, None).await?;
        c.settlements.values().map(|s| s.count).sum()
    };
    let svc = Service::new(db.clone(), Default::default());
    for run in 0..5 {
        let t = Instant::now();
        let report = svc.statement(month, None).await?;
        let built = t.elapsed();
        let json = report.render(Format::Json)?;
        let csv = report.render(Format::Csv)?;
        let xlsx = report.render(Format::Xlsx)?;
        let all = t.elapsed();
        println!(
            "run {run}: statement of {month} ({rows} rows): sums + report {:.1} ms; with JSON {} B, CSV {} B, XLSX {} B: {:.1} ms",
            built.as_secs_f64() * 1e3,
            json.len(),
            csv.len(),
            xlsx.len(),
            all.as_secs_f64() * 1e3
        );
    }
    let t = Instant::now();
    let h = svc.statement(month, Some("H0007")).await?;
    println!(
        "one hospital: {:.1} ms ({} tables)",
        t.elapsed().as_secs_f64() * 1e3,
        h.tables.len()
    );
    let t = Instant::now();
    let raw = db.month_cells_from_rows(month, None).await?;
    let stored = db.month_cells(month, None).await?;
    println!(
        "recomputed from the rows (GROUP BY, --verify): {:.0} ms; equal to the stored sums: {}",
        t.elapsed().as_secs_f64() * 1e3,
        raw == stored
    );
    Ok(())
}
