//! Key revocation: a revoked key is refused (401), the others still work.

use crate::helpers::*;
use crate::on_both;
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
