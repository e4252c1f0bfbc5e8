//! The SQLite and PostgreSQL schemas have the same tables and the same
//! columns: every storage query is written once for both. Runs on
//! PostgreSQL when `TEST_DATABASE_URL` is set (skipped, with a message,
//! otherwise).

use sqlx::Row;
use std::collections::BTreeSet;

type Columns = BTreeSet<(String, String)>;

async fn sqlite_columns(url: &str) -> Columns {
    let db = medaid::storage::Db::connect(&medaid::storage::ConnectOptions::new(url))
        .await
        .expect("sqlite");
    db.close().await;
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(url)
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut out = Columns::new();
    for t in tables {
        for r in sqlx::query(&format!("PRAGMA table_info({t})"))
            .fetch_all(&mut c)
            .await
            .unwrap()
        {
            out.insert((t.clone(), r.get::<String, _>("name")));
        }
    }
    out
}

async fn postgres_columns(base: &str) -> Columns {
    let name = format!("medaid_schema_{}", std::process::id());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(base)
        .await
        .expect("postgres");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
    let db = medaid::storage::Db::connect(&medaid::storage::ConnectOptions::new(&url))
        .await
        .expect("migrate");
    db.close().await;
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    let rows = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut c)
    .await
    .unwrap();
    drop(c);
    sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap();
    rows.iter().map(|r| (r.get("t"), r.get("c"))).collect()
}

#[tokio::test]
async fn sqlite_and_postgres_have_the_same_tables_and_columns() {
    let dir = tempfile::tempdir().unwrap();
    let lite = sqlite_columns(&format!("sqlite://{}", dir.path().join("s.db").display())).await;
    assert!(
        lite.contains(&("settlements".into(), "total".into())),
        "{lite:?}"
    );
    let Ok(base) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("skipped the PostgreSQL half: TEST_DATABASE_URL is not set");
        return;
    };
    let pg = postgres_columns(&base).await;
    // The one designed difference: SQLite keeps the month's sums in tables
    // maintained by triggers (a statement of a million rows in
    // milliseconds); PostgreSQL groups the rows instead.
    let sqlite_only_tables = ["month_cells", "month_layer_cells"];
    let lite: Columns = lite
        .into_iter()
        .filter(|(t, _)| !sqlite_only_tables.contains(&t.as_str()))
        .collect();
    let only_lite: Vec<_> = lite.difference(&pg).collect();
    let only_pg: Vec<_> = pg.difference(&lite).collect();
    assert!(
        only_lite.is_empty() && only_pg.is_empty(),
        "only on SQLite: {only_lite:?}\nonly on PostgreSQL: {only_pg:?}"
    );
}
