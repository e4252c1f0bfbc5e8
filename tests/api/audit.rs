//! The auditor (`medaid audit`, `Db::audit`): silent on a healthy
//! database, and it names each invariant that a tampered row breaks.

use crate::helpers::*;

on_both!(audit_finds_what_was_tampered);

async fn exec(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query(sql).execute(&mut c).await.expect("tamper");
    } else {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query(sql).execute(&mut c).await.expect("tamper");
    }
}

async fn audit_finds_what_was_tampered(app: TestApp) {
    // settle three, cancel one: every invariant holds
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = app
            .settle(&app.h2, &design_claim(&format!("AUD-{i}"), "H0002"))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["settlement_id"].as_str().unwrap().to_string());
    }
    assert_eq!(app.cancel(&app.h2, &ids[1]).await.status, 200);
    let report = app.db.audit().await.expect("audit");
    assert_eq!(report.settlements, 3);
    assert_eq!(report.reversals, 1);
    assert!(report.accumulators > 0);
    assert!(report.findings.is_empty(), "{:?}", report.findings);

    // one fen too many on an accumulator is found and named
    app.skip_audit();
    exec(
        &app._fresh.url,
        "UPDATE accumulators SET paid = paid + 1 WHERE layer_id = 'basic'",
    )
    .await;
    let report = app.db.audit().await.expect("audit");
    assert_eq!(report.findings.len(), 1, "{:?}", report.findings);
    assert_eq!(report.findings[0].check, "accumulator");
    assert!(report.findings[0].subject.ends_with("/2017/basic"));
}
