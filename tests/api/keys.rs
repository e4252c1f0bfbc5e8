//! Key revocation: a revoked key is refused (401), the others still work.

use crate::helpers::*;
use medaid::service::keys::{key_id, Role};

on_both!(revoked_keys_are_refused);

async fn revoked_keys_are_refused(app: TestApp) {
    let key = medaid::cli::setup::create_key(&app.db, &Role::Hospital("H0002".into()))
        .await
        .expect("key");
    let id = key_id(&key).expect("key id").to_string();
    assert!(app.db.revoke_key(&id).await.expect("revoke"));
    // a second revocation finds nothing to revoke
    assert!(!app.db.revoke_key(&id).await.expect("revoke"));
    let r = app.settle(&key, &design_claim("REV-1", "H0002")).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(app.count_settlements().await, 0);
    // the hospital's other key is untouched
    let r = app.settle(&app.h2, &design_claim("REV-1", "H0002")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let listed = app.db.list_keys().await.expect("list");
    let row = listed.iter().find(|k| k.key_id == id).expect("listed");
    assert!(row.revoked_at.is_some());
    assert_eq!(row.hospital.as_deref(), Some("H0002"));
}

/// PostgreSQL: a settlement that cannot get its person's accumulator rows
/// within `lock_timeout` fails as busy (503, retry-safe) and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lock_wait_past_the_timeout_is_busy_not_a_hang() {
    use medaid::http::error::ApiError;
    use medaid::service::{Service, ServiceError};
    use medaid::storage::{ConnectOptions, Db};
    use sqlx::Connection;
    let Some(app) = spawn_app(Backend::Postgres).await else {
        skipped("a_lock_wait_past_the_timeout_is_busy_not_a_hang");
        return;
    };
    let r = app.settle(&app.h2, &design_claim("LOCK-1", "H0002")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    // another session holds the person's accumulator rows
    let mut holder = sqlx::PgConnection::connect(&app._fresh.url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
    sqlx::query("SELECT paid FROM accumulators WHERE person_id = $1 FOR UPDATE")
        .bind(P_DIBAO)
        .fetch_all(&mut holder)
        .await
        .unwrap();
    let db = Db::connect(&ConnectOptions {
        lock_timeout: std::time::Duration::from_millis(300),
        ..ConnectOptions::new(&app._fresh.url)
    })
    .await
    .unwrap();
    let policies = Service::load_policies(&db, &[policy_path()]).await.unwrap();
    let svc = Service::new(db, policies);
    let claim =
        medaid::engine::claim::parse_json(&design_claim("LOCK-2", "H0002").to_string()).unwrap();
    let err = match svc.settle(claim, "H0002").await {
        Ok(_) => panic!("settled through a held lock"),
        Err(e) => e,
    };
    assert!(
        matches!(&err, ServiceError::Storage(e) if e.is_busy()),
        "{err:?}"
    );
    assert_eq!(ApiError::from(err).status.as_u16(), 503);
    sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
    assert_eq!(app.count_settlements().await, 1, "nothing was written");
}
