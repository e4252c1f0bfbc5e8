//! Hardening: what a hostile or careless client, or a bad day in
//! the machine room, must not get through — on SQLite and on PostgreSQL.

use crate::helpers::*;
use medaid::http::limits::Limits;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

on_both!(
    hardening_unlabelled_bodies_are_415,
    hardening_hospital_keys_see_only_their_own,
    hardening_storage_fault_is_503_and_heals,
    hardening_reverse_by_claim_id,
    hardening_reverse_races_settle,
    hardening_close_under_load,
    hardening_access_record,
    hardening_verify_recomputes_everything,
);

/// Run `$test(backend)` (which spawns its own app) on both databases.
macro_rules! on_both_backends {
    ($($test:ident),* $(,)?) => {$(
        mod $test {
            use crate::helpers::{pg_url, Backend};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$test(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if pg_url().is_some() {
                    super::$test(Backend::Postgres).await;
                } else {
                    crate::helpers::skipped(stringify!($test));
                }
            }
        }
    )*};
}

on_both_backends!(
    hardening_rate_limit_is_429,
    hardening_slow_clients_are_dropped,
    hardening_deadline_covers_database_waits,
    hardening_shutdown_has_a_deadline,
);

async fn hardening_unlabelled_bodies_are_415(app: TestApp) {
    let claim = design_claim("CT-1", "H0002").to_string();
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        for path in ["/v1/settlements", "/v1/settlements/preview"] {
            let mut req = app
                .client
                .post(format!("{}{path}", app.base))
                .bearer_auth(&app.h2)
                .body(claim.clone());
            if let Some(ct) = ct {
                req = req.header("Content-Type", ct);
            }
            let r = app.send(req).await;
            assert_eq!(r.status, 415, "{ct:?} {path}: {}", r.text);
            assert_eq!(r.content_type, "application/problem+json");
            assert_eq!(r.error_paths(), vec!["Content-Type"], "{}", r.text);
        }
    }
    // Other JSON bodies too.
    let r = app
        .post_raw(
            "/v1/reconciliation/2017-05/reopen",
            Some(&app.admin),
            "text/plain",
            r#"{"reason":"x"}"#,
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(app.count_settlements().await, 0);
    // Fuzzing found an XML claim that made the deserializer panic (a 500):
    // now a 400, and the service keeps answering.
    for xml in [
        include_str!("../fuzz-corpus/xml/doctype-in-text.xml"),
        include_str!("../fuzz-corpus/xml/comment-in-text.xml"),
        include_str!("../fuzz-corpus/xml/pi-in-text.xml"),
    ] {
        let r = app
            .post_raw("/v1/settlements", Some(&app.h2), "application/xml", xml)
            .await;
        assert!(
            r.status == 400 || r.status == 422,
            "{}: {}",
            r.status,
            r.text
        );
    }
    // Control characters in ids and filters never reach the database.
    for path in [
        "/v1/settlements/a%00b",
        "/v1/settlements?person=41%00",
        "/v1/settlements?claim_id=%1b",
        "/v1/persons/%7F/accumulators?year=2017",
    ] {
        let r = app.get(path, Some(&app.centre)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
    }
    // JSON with a charset, and an empty POST without a type, still work.
    let r = app
        .post_raw(
            "/v1/settlements",
            Some(&app.h2),
            "application/json; charset=utf-8",
            claim,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["settlement_id"].as_str().unwrap().to_string();
    let r = app
        .send(
            app.client
                .post(format!("{}/v1/settlements/{id}/cancel", app.base))
                .bearer_auth(&app.h2),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn hardening_hospital_keys_see_only_their_own(app: TestApp) {
    let r = app.settle(&app.h2, &design_claim("HK-1", "H0002")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let month = r.json()["settled_at"].as_str().unwrap()[..7].to_string();
    let close = app
        .post_raw(
            &format!("/v1/reconciliation/{month}/close"),
            Some(&app.centre),
            "application/json",
            "",
        )
        .await;
    assert_eq!(close.status, 200, "{}", close.text);
    let reopen = app
        .post_json(
            &format!("/v1/reconciliation/{month}/reopen"),
            &app.admin,
            &json!({"reason": "H0002 秘密 reason"}),
        )
        .await;
    assert_eq!(reopen.status, 200, "{}", reopen.text);
    // Who closed and why is the centre's.
    let state = app
        .get(&format!("/v1/reconciliation/{month}"), Some(&app.h2))
        .await;
    assert_eq!(state.status, 403, "{}", state.text);
    assert!(!state.text.contains("秘密"));
    let state = app
        .get(&format!("/v1/reconciliation/{month}"), Some(&app.centre))
        .await;
    assert_eq!(state.status, 200, "{}", state.text);
    assert!(state.text.contains("秘密"), "{}", state.text);
    assert!(state.text.contains("centre key"), "{}", state.text);
    // Centre-only endpoints.
    for path in [
        format!("/v1/reconciliation/{month}/disbursement"),
        format!("/v1/reconciliation/{month}/ledgers/waivers"),
        "/v1/registry/resettlements".to_string(),
        "/v1/access-log".to_string(),
    ] {
        let r = app.get(&path, Some(&app.h2)).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
    for (path, body) in [
        (format!("/v1/reconciliation/{month}/close"), json!({})),
        (
            format!("/v1/reconciliation/{month}/reopen"),
            json!({"reason": "x"}),
        ),
        ("/v1/registry/match".to_string(), json!({"a": "", "b": ""})),
        ("/v1/registry/resettlements".to_string(), json!({})),
        ("/v1/simulations".to_string(), json!({})),
    ] {
        let r = app.post_json(&path, &app.h2, &body).await;
        assert_eq!(r.status, 403, "{path}: {}", r.text);
    }
    // What the README grants: the hospital's own statement.
    let own = app
        .get(
            &format!("/v1/reconciliation/{month}/statement"),
            Some(&app.h2),
        )
        .await;
    assert_eq!(own.status, 200, "{}", own.text);
}

/// The URL of the app's database, for a side connection.
fn db_url(app: &TestApp) -> String {
    app._fresh.url.clone()
}

async fn side_exec(app: &TestApp, backend: Backend, sql: &[&str]) {
    use sqlx::Connection;
    match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db_url(app))
                .await
                .expect("side connection");
            for s in sql {
                sqlx::query(s).execute(&mut c).await.expect(s);
            }
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db_url(app))
                .await
                .expect("side connection");
            for s in sql {
                sqlx::query(s).execute(&mut c).await.expect(s);
            }
        }
    }
}

fn backend_of(app: &TestApp) -> Backend {
    if app._fresh.url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    }
}

/// A storage fault under the service: every write fails at the database
/// (on SQLite the fault aborts the whole transaction underneath the
/// driver, as an I/O error at COMMIT does, which used to leave pooled
/// connections inside a transaction for good). Every answer is 503 with
/// Retry-After, nothing is written; once the fault is repaired the service
/// settles again without a restart.
async fn hardening_storage_fault_is_503_and_heals(app: TestApp) {
    let backend = backend_of(&app);
    match backend {
        Backend::Sqlite => {
            side_exec(
                &app,
                backend,
                &["CREATE TRIGGER fault BEFORE INSERT ON settlements BEGIN SELECT RAISE(ROLLBACK, 'injected storage fault'); END"],
            )
            .await
        }
        Backend::Postgres => {
            side_exec(
                &app,
                backend,
                &[
                    "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected storage fault' USING ERRCODE = '58030'; END $$",
                    "CREATE TRIGGER fault BEFORE INSERT ON settlements FOR EACH ROW EXECUTE FUNCTION fault()",
                ],
            )
            .await
        }
    }
    // More attempts than the pool has connections, several at once.
    let mut tasks = Vec::new();
    for i in 0..24 {
        let client = app.client.clone();
        let url = format!("{}/v1/settlements", app.base);
        let key = app.h2.clone();
        let claim = design_claim(&format!("F-{i}"), "H0002");
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .bearer_auth(key)
                .json(&claim)
                .send()
                .await
                .expect("request");
            let retry = r.headers().get("retry-after").is_some();
            (
                r.status().as_u16(),
                retry,
                r.text().await.unwrap_or_default(),
            )
        }));
    }
    for t in tasks {
        let (status, retry, text) = t.await.expect("task");
        assert_eq!(status, 503, "{text}");
        assert!(retry, "503 without Retry-After");
        assert!(
            !text.contains("injected"),
            "the database's text leaked: {text}"
        );
    }
    assert_eq!(app.count_settlements().await, 0);
    app.assert_ledger_balanced().await;
    // Repaired: the same pool settles again, every connection of it.
    let repair = match backend {
        Backend::Sqlite => "DROP TRIGGER fault",
        Backend::Postgres => "DROP TRIGGER fault ON settlements",
    };
    side_exec(&app, backend, &[repair]).await;
    for i in 0..24 {
        let r = app
            .settle(&app.h2, &design_claim(&format!("F-{i}"), "H0002"))
            .await;
        assert_eq!(r.status, 201, "after the repair, attempt {i}: {}", r.text);
    }
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    let h = app.get("/readyz", None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    app.assert_ledger_balanced().await;
}

async fn hardening_reverse_by_claim_id(app: TestApp) {
    let settled = app.settle(&app.h2, &design_claim("R-1", "H0002")).await;
    assert_eq!(settled.status, 201, "{}", settled.text);
    let id = settled.json()["settlement_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Did my claim settle?
    let q = app.get("/v1/settlements?claim_id=R-1", Some(&app.h2)).await;
    assert_eq!(q.status, 200, "{}", q.text);
    assert_eq!(q.json()["total"], 1);
    assert_eq!(q.json()["items"][0]["settlement_id"], id.as_str());
    let other = app.get("/v1/settlements?claim_id=R-1", Some(&app.h1)).await;
    assert_eq!(other.json()["total"], 0, "another hospital's claim");
    // 冲正 of a settled claim: cancelled, idempotent.
    let r = app
        .post_json(
            "/v1/settlements/reverse",
            &app.h2,
            &json!({"claim_id": "R-1"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "cancelled");
    assert_eq!(r.json()["settlement_id"], id.as_str());
    let again = app
        .post_json(
            "/v1/settlements/reverse",
            &app.h2,
            &json!({"claim_id": "R-1"}),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.text, r.text);
    let acc = app.accumulators(P_DIBAO, 2017).await;
    assert_eq!(acc_field(&acc, "aid", "paid"), "0.00", "{acc}");
    // 冲正 of a claim that never arrived: recorded; the late original is 409.
    let v = app
        .post_json(
            "/v1/settlements/reverse",
            &app.h2,
            &json!({"claim_id": "R-2"}),
        )
        .await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.json()["status"], "voided");
    let v2 = app
        .post_json(
            "/v1/settlements/reverse",
            &app.h2,
            &json!({"claim_id": "R-2"}),
        )
        .await;
    assert_eq!(v2.status, 200);
    assert_eq!(v2.json()["voided_at"], v.json()["voided_at"]);
    let late = app.settle(&app.h2, &design_claim("R-2", "H0002")).await;
    assert_eq!(late.status, 409, "{}", late.text);
    assert_eq!(late.error_paths(), vec!["claim_id"]);
    let q = app.get("/v1/settlements?claim_id=R-2", Some(&app.h2)).await;
    assert_eq!(q.json()["total"], 0);
    // Another hospital's claim id space is its own.
    let h1 = app
        .settle(&app.h1, &json!({
            "claim_id": "R-2", "hospital": "H0001", "person_id": P_DIBAO, "medical_type": "inpatient",
            "admitted_on": "2017-05-01", "discharged_on": "2017-05-10", "diagnoses": ["C34.9"],
            "items": [{"code": "1", "name": "x", "kind": "treatment", "class": "A", "amount": "100.00"}]
        }))
        .await;
    assert_eq!(h1.status, 201, "{}", h1.text);
    // Only hospital keys reverse; bad bodies are refused.
    let r = app
        .post_json(
            "/v1/settlements/reverse",
            &app.centre,
            &json!({"claim_id": "R-1"}),
        )
        .await;
    assert_eq!(r.status, 403);
    for bad in [
        json!({}),
        json!({"claim_id": ""}),
        json!({"claim_id": "a\u{1}b"}),
        json!({"claim_id": "x", "extra": 1}),
    ] {
        let r = app
            .post_json("/v1/settlements/reverse", &app.h2, &bad)
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text);
    }
    app.assert_ledger_balanced().await;
}

/// A settle and its 冲正 racing: either the settlement is cancelled, or
/// the claim is voided and the settlement refused — never settled and
/// voided.
async fn hardening_reverse_races_settle(app: TestApp) {
    let mut tasks = Vec::new();
    for i in 0..16 {
        let claim = design_claim(&format!("RR-{i}"), "H0002");
        let (c1, c2) = (app.client.clone(), app.client.clone());
        let (b1, b2) = (app.base.clone(), app.base.clone());
        let (k1, k2) = (app.h2.clone(), app.h2.clone());
        let cid = format!("RR-{i}");
        tasks.push(tokio::spawn(async move {
            let settle = async move {
                let r = c1
                    .post(format!("{b1}/v1/settlements"))
                    .bearer_auth(k1)
                    .json(&claim)
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            };
            let reverse = async move {
                let r = c2
                    .post(format!("{b2}/v1/settlements/reverse"))
                    .bearer_auth(k2)
                    .json(&json!({"claim_id": cid}))
                    .send()
                    .await
                    .unwrap();
                let s = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                (s, v["status"].as_str().unwrap_or("").to_string())
            };
            tokio::join!(settle, reverse)
        }));
    }
    for t in tasks {
        let (settle, (rev, what)) = t.await.unwrap();
        assert_eq!(rev, 200);
        match what.as_str() {
            "cancelled" => assert_eq!(settle, 201),
            "voided" => assert_eq!(settle, 409),
            other => panic!("reverse answered {other:?}"),
        }
    }
    // Nothing stays settled.
    let r = app.get("/v1/settlements?per_page=100", Some(&app.h2)).await;
    for item in r.json()["items"].as_array().unwrap() {
        assert_eq!(item["status"], "cancelled", "{item}");
    }
    app.assert_ledger_balanced().await;
}

/// Closing the current month while hospitals settle: the close succeeds,
/// and its stored snapshot is exactly the month's rows.
async fn hardening_close_under_load(app: TestApp) {
    let month = medaid::calendar::this_month();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (client, base, key) = (app.client.clone(), app.base.clone(), app.h2.clone());
        let stop = stop.clone();
        workers.push(tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || i < 3 {
                let claim = big_claim(
                    &format!("L-{w}-{i}"),
                    "H0002",
                    &cap_person(w),
                    1 + (i % 27) as u32,
                    "100.00",
                );
                let r = client
                    .post(format!("{base}/v1/settlements"))
                    .bearer_auth(&key)
                    .json(&claim)
                    .send()
                    .await
                    .unwrap();
                statuses.push(r.status().as_u16());
                i += 1;
            }
            statuses
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let close = app
        .post_raw(
            &format!("/v1/reconciliation/{month}/close"),
            Some(&app.centre),
            "application/json",
            "",
        )
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut n = 0;
    for w in workers {
        for s in w.await.unwrap() {
            assert_eq!(s, 201);
            n += 1;
        }
    }
    assert_eq!(close.status, 200, "{}", close.text);
    assert_eq!(close.json()["status"], "closed");
    // The snapshot holds exactly the rows booked in the month; the rest
    // went to the next one.
    let m: medaid::recon::Month = month.parse().unwrap();
    let booked = app.db.month_row_count(m).await.unwrap();
    let next = app
        .db
        .month_row_count(
            medaid::calendar::next_month(&month)
                .unwrap()
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(booked + next, n, "every settlement is booked in a month");
    let stored = app
        .get(
            &format!("/v1/reconciliation/{month}/statement"),
            Some(&app.centre),
        )
        .await;
    assert_eq!(stored.status, 200, "{}", stored.text);
    let reopen = app
        .post_json(
            &format!("/v1/reconciliation/{month}/reopen"),
            &app.admin,
            &json!({"reason": "compare with the live figures"}),
        )
        .await;
    assert_eq!(reopen.status, 200, "{}", reopen.text);
    let live = app
        .get(
            &format!("/v1/reconciliation/{month}/statement"),
            Some(&app.centre),
        )
        .await;
    assert_eq!(
        stored.json()["tables"],
        live.json()["tables"],
        "the stored snapshot differs from the month's rows"
    );
    app.assert_ledger_balanced().await;
}

async fn hardening_access_record(app: TestApp) {
    let s = app.settle(&app.h2, &design_claim("A-1", "H0002")).await;
    assert_eq!(s.status, 201);
    let id = s.json()["settlement_id"].as_str().unwrap().to_string();
    let p = app
        .post_json(
            "/v1/settlements/preview",
            &app.h2,
            &design_claim("A-2", "H0002"),
        )
        .await;
    assert_eq!(p.status, 200);
    assert_eq!(app.cancel(&app.h2, &id).await.status, 200);
    let r = app
        .post_json(
            "/v1/settlements/reverse",
            &app.h2,
            &json!({"claim_id": "A-3"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let refused = app.get("/v1/reconciliation/2017-05", Some(&app.h2)).await;
    assert_eq!(refused.status, 403);
    let close = app
        .post_raw(
            "/v1/reconciliation/2017-05/close",
            Some(&app.centre),
            "application/json",
            "",
        )
        .await;
    assert_eq!(close.status, 200);
    let log = app
        .get("/v1/access-log?per_page=1000", Some(&app.centre))
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    let items = log.json()["items"].as_array().unwrap().clone();
    let find = |action: &str| {
        items
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {items:?}"))
            .clone()
    };
    let settle = find("settle");
    assert_eq!(settle["status"], 201);
    assert_eq!(settle["role"], "hospital");
    assert_eq!(settle["hospital"], "H0002");
    assert_eq!(settle["detail"], format!("/v1/settlements/{id}"));
    assert!(settle["key_id"]
        .as_str()
        .is_some_and(|k| app.h2.contains(k)));
    assert_eq!(find("preview")["status"], 200);
    assert_eq!(
        find("cancel")["target"],
        format!("/v1/settlements/{id}/cancel")
    );
    assert_eq!(find("reverse")["status"], 200);
    assert_eq!(find("close")["role"], "centre");
    assert!(items
        .iter()
        .any(|e| e["action"] == "read" && e["status"] == 403));
    // Filters.
    let only = app
        .get("/v1/access-log?action=settle", Some(&app.admin))
        .await;
    assert_eq!(only.status, 200);
    assert_eq!(only.json()["total"], 1, "{}", only.text);
    let hosp = app
        .get(
            "/v1/access-log?hospital=H0002&per_page=1000",
            Some(&app.admin),
        )
        .await;
    assert!(hosp.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["hospital"] == "H0002"));
    // Append-only.
    let backend = backend_of(&app);
    use sqlx::Connection;
    let refused = match backend {
        Backend::Sqlite => {
            let mut c = sqlx::SqliteConnection::connect(&db_url(&app))
                .await
                .unwrap();
            sqlx::query("DELETE FROM access_log")
                .execute(&mut c)
                .await
                .is_err()
        }
        Backend::Postgres => {
            let mut c = sqlx::PgConnection::connect(&db_url(&app)).await.unwrap();
            sqlx::query("DELETE FROM access_log")
                .execute(&mut c)
                .await
                .is_err()
        }
    };
    assert!(refused, "the access record can be deleted");
}

async fn hardening_rate_limit_is_429(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Limits {
            rate_per_key: 1,
            burst_per_key: 3,
            ..Limits::default()
        },
    )
    .await
    .expect("app");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        let r = app.get("/v1/settlements", Some(&app.h2)).await;
        if r.status == 429 {
            assert!(r.headers.get("retry-after").is_some());
        }
        statuses.push(r.status);
    }
    assert_eq!(statuses[..3], [200, 200, 200], "{statuses:?}");
    assert_eq!(statuses[3..], [429, 429], "{statuses:?}");
    // Per key: another key is not limited.
    assert_eq!(app.get("/v1/settlements", Some(&app.h1)).await.status, 200);
}

async fn raw(app: &TestApp) -> tokio::net::TcpStream {
    tokio::net::TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Read until the server closes (or `within` passes): what it sent.
async fn read_to_close(s: &mut tokio::net::TcpStream, within: Duration) -> Option<String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(String::from_utf8_lossy(&buf).to_string()),
        Err(_) => None,
    }
}

async fn hardening_slow_clients_are_dropped(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Limits {
            header_read_timeout: Duration::from_millis(800),
            body_read_timeout: Duration::from_millis(800),
            max_connections: 6,
            ..Limits::default()
        },
    )
    .await
    .expect("app");
    // Half a request head: dropped.
    let started = Instant::now();
    let mut s = raw(&app).await;
    s.write_all(b"POST /v1/settlements HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(got.is_some(), "a half-sent head was kept open");
    assert!(started.elapsed() < Duration::from_secs(4));
    // Half a body: 408.
    let mut s = raw(&app).await;
    let head = format!(
        "POST /v1/settlements HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"claim_id\"",
        app.h2
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(5))
        .await
        .expect("a half-sent body was kept open");
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    // Bounded connections: idle ones fill the slots, one more is told 503,
    // and once they time out the service answers again.
    let mut idle = Vec::new();
    for _ in 0..6 {
        idle.push(raw(&app).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut extra = raw(&app).await;
    let got = read_to_close(&mut extra, Duration::from_secs(2))
        .await
        .expect("over the limit, the connection is closed");
    assert!(got.starts_with("HTTP/1.1 503"), "{got}");
    assert!(got.contains("Retry-After"), "{got}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let h = app.get("/healthz", None).await;
    assert_eq!(h.status, 200, "{}", h.text);
    drop(idle);
}

/// The request deadline includes waiting for the database: a write lock
/// held elsewhere makes the settlement answer 503 with Retry-After in
/// time, having written nothing; once the lock goes, it settles.
async fn hardening_deadline_covers_database_waits(backend: Backend) {
    let app = spawn_app_with(
        backend,
        Limits {
            request_deadline: Duration::from_millis(1500),
            ..Limits::default()
        },
    )
    .await
    .expect("app");
    use sqlx::Connection;
    let url = app._fresh.url.clone();
    let (locked_tx, locked_rx) = tokio::sync::oneshot::channel::<()>();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let holder = tokio::spawn(async move {
        match backend {
            Backend::Sqlite => {
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN EXCLUSIVE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let _ = locked_tx.send(());
                let _ = release_rx.await;
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
            Backend::Postgres => {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                sqlx::query("BEGIN").execute(&mut c).await.unwrap();
                sqlx::query("LOCK TABLE settlements IN ACCESS EXCLUSIVE MODE")
                    .execute(&mut c)
                    .await
                    .unwrap();
                let _ = locked_tx.send(());
                let _ = release_rx.await;
                sqlx::query("ROLLBACK").execute(&mut c).await.unwrap();
            }
        }
    });
    locked_rx.await.unwrap();
    let started = Instant::now();
    let r = app.settle(&app.h2, &design_claim("D-1", "H0002")).await;
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());
    assert!(took < Duration::from_secs(3), "held for {took:?}");
    release_tx.send(()).unwrap();
    holder.await.unwrap();
    // Nothing was written: the retry settles it now, once.
    let r = app.settle(&app.h2, &design_claim("D-1", "H0002")).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(app.count_settlements().await, 1);
    app.assert_ledger_balanced().await;
}

/// SIGTERM's path: stop accepting, finish what is in flight, drop stalled
/// clients once the grace period has passed.
async fn hardening_shutdown_has_a_deadline(backend: Backend) {
    let Some(fresh) = fresh_db(backend).await else {
        return;
    };
    let db = medaid::storage::Db::connect(&medaid::storage::ConnectOptions::new(&fresh.url))
        .await
        .unwrap();
    seed(&db).await;
    let policies = medaid::service::Service::load_policies(&db, &[policy_path()])
        .await
        .unwrap();
    let key =
        medaid::cli::setup::create_key(&db, &medaid::service::keys::Role::Hospital("H0002".into()))
            .await
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = medaid::http::ApiContext::new(medaid::service::Service::new(db.clone(), policies))
        .with_limits(Limits {
            shutdown_grace: Duration::from_millis(1500),
            header_read_timeout: Duration::from_secs(60),
            ..Limits::default()
        });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(medaid::http::serve(listener, ctx, async move {
        let _ = stop_rx.await;
    }));
    // A stalled client (half a head) and a kept-alive one.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let r = client
        .post(format!("http://{addr}/v1/settlements"))
        .bearer_auth(&key)
        .json(&design_claim("S-1", "H0002"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A settlement in flight when the signal comes finishes.
    let inflight = {
        let client = client.clone();
        let key = key.clone();
        tokio::spawn(async move {
            client
                .post(format!("http://{addr}/v1/settlements"))
                .bearer_auth(&key)
                .json(&design_claim("S-2", "H0002"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("shutdown waited for a stalled client")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    if let Ok(Ok(status)) = inflight.await {
        assert_eq!(status, 201, "an accepted settlement must finish");
    }
    // No new connections.
    assert!(reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .is_err());
    drop(stalled);
}

/// `medaid verify`: every stored settlement recomputes to what is stored;
/// a changed accumulator or policy text is reported.
async fn hardening_verify_recomputes_everything(app: TestApp) {
    // Settlements that move a cap, a cancellation in between, and a
    // settlement after it (which saw the restored accumulators).
    let mut ids = Vec::new();
    for i in 0..5 {
        let r = app
            .settle(
                &app.h2,
                &big_claim(
                    &format!("V-{i}"),
                    "H0002",
                    &cap_person(0),
                    1 + i,
                    "30000.00",
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["settlement_id"].as_str().unwrap().to_string());
    }
    assert_eq!(app.cancel(&app.h2, &ids[1]).await.status, 200);
    let r = app
        .settle(
            &app.h2,
            &big_claim("V-9", "H0002", &cap_person(0), 20, "30000.00"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        app.settle(&app.h2, &design_claim("V-D", "H0002"))
            .await
            .status,
        201
    );
    let report = medaid::service::verify::verify(&app.db)
        .await
        .expect("verify");
    assert_eq!(report.settlements, 7);
    assert_eq!(report.reversals, 1);
    assert!(report.differences.is_empty(), "{:?}", report.differences);
    // A moved accumulator and a changed policy text are found (so the
    // audit at the end would find them too).
    app.skip_audit();
    let backend = backend_of(&app);
    side_exec(
        &app,
        backend,
        &[
            "UPDATE accumulators SET paid = paid + 1 WHERE layer_id = (SELECT MIN(layer_id) FROM accumulators WHERE paid > 0)",
            "UPDATE policies SET source = source || ' '",
        ],
    )
    .await;
    let report = medaid::service::verify::verify(&app.db)
        .await
        .expect("verify");
    let checks: Vec<&str> = report
        .differences
        .iter()
        .map(|d| d.check.as_str())
        .collect();
    assert!(checks.contains(&"accumulator"), "{:?}", report.differences);
    assert_eq!(
        checks.iter().filter(|c| **c == "policy").count(),
        7,
        "{:?}",
        report.differences
    );
}
