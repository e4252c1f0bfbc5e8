//! Accounts, sessions, CSRF, throttling and audit rows, over HTTP, on
//! SQLite and (with TEST_DATABASE_URL) PostgreSQL.

use crate::helpers::{self, spawn_app, Backend, P_DIBAO};
use crate::staff::{self, try_login, Console, PASSWORD};
use medaid::engine::PolicySet;
use medaid::service::console::{StaffRole, ABSOLUTE_SECS, IDLE_SECS};
use medaid::service::Service;
use medaid::storage::console::{Actor, AuditFilter};

macro_rules! both {
    ($name:ident, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body(crate::helpers::Backend::Sqlite).await;
            }
            #[tokio::test]
            async fn postgres() {
                if crate::helpers::pg_url().is_none() {
                    crate::helpers::skipped(stringify!($name));
                    return;
                }
                super::$body(crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

both!(login_logout_and_roles, login_logout_and_roles_on);
both!(csrf_and_audit_of_a_month_close, csrf_and_audit_on);
both!(throttling, throttling_on);
both!(roster_import_is_audited_in_one_go, roster_import_on);
both!(policy_upload_api, policy_upload_on);
both!(sessions_expire_and_end, sessions_expire_on);

async fn audit(app: &helpers::TestApp) -> Vec<medaid::storage::console::AuditRow> {
    app.db
        .audit_log(&AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .expect("audit log")
}

async fn login_logout_and_roles_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    staff::create(&app, "lisi", "李四", StaffRole::Admin).await;

    // No session: every page sends to the login page; an API key opens none.
    for key in [None, Some(app.h1.as_str()), Some(app.admin.as_str())] {
        let mut req = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(format!("{}/console/persons", app.base));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let r = app.send(req).await;
        assert_eq!(r.status, 303, "{}", r.text);
        let to = r.headers.get("location").unwrap().to_str().unwrap();
        assert!(to.starts_with("/console/login"), "{to}");
    }

    let page = try_login(&app, "zhangsan", "wrong-password-1").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("用户名或密码不正确"));
    assert!(staff::set_cookie(&page, "medaid_console").is_none());

    let r = try_login(&app, "zhangsan", PASSWORD).await;
    assert_eq!(r.status, 303);
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("medaid_console="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");

    let centre = Console::login(&app, "zhangsan").await;
    let home = centre.get("/console").await;
    assert!(home.text.contains("张三"));
    assert!(
        !home.text.contains("/console/policies"),
        "no admin nav for the centre"
    );
    for admin_page in [
        "/console/policies",
        "/console/simulations",
        "/console/admin/users",
        "/console/admin/keys",
        "/console/admin/audit",
    ] {
        let r = centre.get(admin_page).await;
        assert_eq!(r.status, 403, "{admin_page}: {}", r.text);
    }
    for page in [
        "/console/persons",
        "/console/settlements",
        "/console/months?month=2017-05",
        "/console/registry/import",
    ] {
        let r = centre.get(page).await;
        assert_eq!(r.status, 200, "{page}: {}", r.text);
    }
    let admin = Console::login(&app, "lisi").await;
    for page in [
        "/console/policies",
        "/console/simulations",
        "/console/admin/users",
        "/console/admin/keys",
        "/console/admin/audit",
    ] {
        let r = admin.get(page).await;
        assert_eq!(r.status, 200, "{page}: {}", r.text);
    }

    // Logout needs the token, then ends the session.
    let r = centre.post("/console/logout", &[]).await;
    assert_eq!(r.status, 403);
    let r = centre
        .post("/console/logout", &[("csrf", centre.csrf.as_str())])
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(centre.get("/console").await.status, 303);
    let rows = audit(&app).await;
    assert!(rows
        .iter()
        .any(|r| r.action == "session.logout" && r.user_name == "张三"));
    let login = rows
        .iter()
        .find(|r| r.action == "session.login" && r.user_login == "lisi")
        .expect("login audited");
    // The peer's address reaches the console (per-address throttling).
    assert_eq!(login.detail.as_deref(), Some("127.0.0.1"));
}

async fn csrf_and_audit_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let id = staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    staff::create(&app, "lisi", "李四", StaffRole::Admin).await;
    let r = app
        .settle(&app.h2, &helpers::design_claim("C-1", "H0002"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let month = medaid::calendar::this_month();
    let c = Console::login(&app, "zhangsan").await;
    let path = format!("/console/months/{month}/close");
    // No token, a wrong token: refused, nothing closed.
    assert_eq!(c.post(&path, &[]).await.status, 403);
    let bad = "0".repeat(64);
    assert_eq!(c.post(&path, &[("csrf", bad.as_str())]).await.status, 403);
    let status = app
        .get(&format!("/v1/reconciliation/{month}"), Some(&app.centre))
        .await
        .json();
    assert_eq!(status["status"], "open");

    let r = c
        .post(
            &path,
            &[("csrf", c.csrf.as_str()), ("reason", "月底核对完毕")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let status = app
        .get(&format!("/v1/reconciliation/{month}"), Some(&app.centre))
        .await
        .json();
    assert_eq!(status["status"], "closed");
    let by = status["closed_by"].as_str().unwrap();
    assert!(by.contains("张三") && by.contains("zhangsan"), "{by}");
    let page = c.get(&format!("/console/months?month={month}")).await;
    assert!(page.text.contains("张三（zhangsan"), "{}", page.text);
    let rows = audit(&app).await;
    let close = rows
        .iter()
        .find(|r| r.action == "month.close")
        .expect("close audited");
    assert_eq!(close.user_id, Some(id));
    assert_eq!(close.user_name, "张三");
    assert_eq!(close.subject, month);
    assert_eq!(close.reason.as_deref(), Some("月底核对完毕"));

    // The centre may not reopen; the admin must give a reason.
    let path = format!("/console/months/{month}/reopen");
    let r = c
        .post(&path, &[("csrf", c.csrf.as_str()), ("reason", "x")])
        .await;
    assert_eq!(r.status, 403);
    let a = Console::login(&app, "lisi").await;
    let r = a
        .post(&path, &[("csrf", a.csrf.as_str()), ("reason", " ")])
        .await;
    assert_eq!(r.status, 400);
    let r = a
        .post(&path, &[("csrf", a.csrf.as_str()), ("reason", "补录一笔")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let rows = audit(&app).await;
    let reopen = rows.iter().find(|r| r.action == "month.reopen").unwrap();
    assert_eq!(reopen.user_name, "李四");
    assert_eq!(reopen.reason.as_deref(), Some("补录一笔"));
    let status = app
        .get(&format!("/v1/reconciliation/{month}"), Some(&app.centre))
        .await
        .json();
    let events = status["events"].as_array().unwrap();
    assert!(
        events[1][1].as_str().unwrap().contains("李四"),
        "{events:?}"
    );
}

async fn throttling_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    staff::create(&app, "wangwu", "王五", StaffRole::Centre).await;
    for _ in 0..5 {
        assert_eq!(
            try_login(&app, "zhangsan", "not-the-password").await.status,
            200
        );
    }
    // The account is throttled, even with the right password…
    let r = try_login(&app, "zhangsan", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.text);
    // …but another account from the same address is not, yet.
    assert_eq!(try_login(&app, "wangwu", PASSWORD).await.status, 303);
    // Failures for unknown accounts count against the address.
    for i in 0..15 {
        let r = try_login(&app, &format!("nobody{i}"), "not-the-password").await;
        assert!(r.text.contains("用户名或密码不正确"));
    }
    let r = try_login(&app, "wangwu", PASSWORD).await;
    assert_eq!(r.status, 429, "the address is throttled after 20 failures");
}

async fn roster_import_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    let c = Console::login(&app, "zhangsan").await;
    let bad = "person_id,name,category,valid_from,valid_to\n\
        411303200001010011,赵六,dibao,2017-01-01,\n\
        411303200001010022,钱七,dibao,2017-02-30,\n";
    // A file without the form's token is refused: nothing is checked or written.
    let r = c
        .post_multipart(
            "/console/registry/import",
            &[],
            &[("file", "roster.csv", bad)],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_multipart(
            "/console/registry/import",
            &[("csrf", &c.csrf)],
            &[("file", "roster.csv", bad)],
        )
        .await;
    assert!(r.text.contains("名册没有写入"), "{}", r.text);
    assert!(r.text.contains("<td class=\"num\">3</td>"), "{}", r.text);
    assert!(app
        .db
        .person_name("411303200001010011")
        .await
        .unwrap()
        .is_none());

    // A good file: preview, then confirm; import and audit row together.
    let good = format!(
        "person_id,name,category,valid_from,valid_to\n\
        411303200001010011,赵六,dibao,2017-01-01,\n\
        {P_DIBAO},测试<患者>,dibao,2016-01-01,2017-03-31\n"
    );
    let r = c
        .post_multipart(
            "/console/registry/import",
            &[("csrf", &c.csrf)],
            &[("file", "roster.csv", &good)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("新增 1 人"), "{}", r.text);
    assert!(r.text.contains("终止 1 个期间"), "{}", r.text);
    let r = c
        .post_multipart(
            "/console/registry/import/confirm",
            &[
                ("csrf", c.csrf.as_str()),
                ("name", "roster.csv"),
                ("csv", good.as_str()),
            ],
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.text.contains("名册已导入"));
    assert_eq!(
        app.db
            .person_name("411303200001010011")
            .await
            .unwrap()
            .as_deref(),
        Some("赵六")
    );
    let rows = audit(&app).await;
    let imp = rows.iter().find(|r| r.action == "registry.import").unwrap();
    assert_eq!(imp.user_name, "张三");
    assert_eq!(imp.subject, "roster.csv");
}

async fn policy_upload_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    let broken =
        std::fs::read_to_string(helpers::repo_path("fixtures/design/broken-policy.toml")).unwrap();
    let r = app
        .post_raw(
            "/v1/policies",
            Some(&app.centre),
            "application/toml",
            broken.clone(),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = app
        .post_raw("/v1/policies", Some(&app.admin), "application/toml", broken)
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let errors = r.json()["errors"].as_array().unwrap().clone();
    assert!(errors.len() > 1, "every error is listed: {errors:?}");
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().unwrap().starts_with("line ")),
        "{errors:?}"
    );
    let good =
        std::fs::read_to_string(helpers::repo_path("fixtures/policies/county-2024.toml")).unwrap();
    let r = app
        .post_raw(
            "/v1/policies",
            Some(&app.admin),
            "application/toml",
            good.clone(),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["id"], "county-2024");
    let r = app
        .post_raw("/v1/policies", Some(&app.admin), "application/toml", good)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // In force at once: the service's set holds it.
    let h = app.get("/healthz", None).await;
    assert!(h.text.contains("county-2024"), "{}", h.text);
    let rows = audit(&app).await;
    assert_eq!(
        rows.iter().filter(|r| r.action == "policy.upload").count(),
        2
    );
    // Another instance on the same database picks it up.
    let other = Service::new(app.db.clone(), PolicySet::default());
    assert_eq!(other.reload_uploaded_policies().await.unwrap(), 1);
    assert!(other.policies.by_id("county-2024").is_some());

    // A kept simulation run is readable by an admin key only.
    let id = other
        .keep_simulation(
            "t",
            "{\"from\":\"2017-01-01\"}",
            "{\"x\":1}",
            "<p>",
            &Actor::cli(),
        )
        .await
        .unwrap();
    let r = app
        .get(&format!("/v1/simulations/{id}"), Some(&app.admin))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["report"]["x"], 1);
    assert_eq!(
        app.get(&format!("/v1/simulations/{id}"), Some(&app.centre))
            .await
            .status,
        403
    );
}

async fn sessions_expire_on(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    let svc = Service::new(app.db.clone(), PolicySet::default());
    let t0 = medaid::calendar::now_china();
    let (token, _) = medaid::calendar::with_clock(t0, svc.login("zhangsan", PASSWORD, "127.0.0.9"))
        .await
        .unwrap();
    let later = |secs: i64| t0 + chrono::Duration::seconds(secs);
    // Used within the idle time: alive, and the use moves the idle clock.
    let s = medaid::calendar::with_clock(later(IDLE_SECS - 60), svc.session(&token))
        .await
        .unwrap();
    assert!(s.is_some());
    let s = medaid::calendar::with_clock(later(2 * IDLE_SECS - 120), svc.session(&token))
        .await
        .unwrap();
    assert!(s.is_some(), "activity keeps a session alive");
    // Idle too long: gone, and stays gone.
    let s = medaid::calendar::with_clock(later(3 * IDLE_SECS + 60), svc.session(&token))
        .await
        .unwrap();
    assert!(s.is_none());
    assert!(svc.session(&token).await.unwrap().is_none());

    // However busy, a session ends 12 hours after login.
    let (token, _) = medaid::calendar::with_clock(t0, svc.login("zhangsan", PASSWORD, "127.0.0.9"))
        .await
        .unwrap();
    let mut at = 0;
    while at + IDLE_SECS / 2 < ABSOLUTE_SECS {
        at += IDLE_SECS / 2;
        let s = medaid::calendar::with_clock(later(at), svc.session(&token))
            .await
            .unwrap();
        assert!(s.is_some(), "alive {at} s after login");
    }
    let s = medaid::calendar::with_clock(later(ABSOLUTE_SECS + 1), svc.session(&token))
        .await
        .unwrap();
    assert!(s.is_none(), "a session ends 12 h after login");

    // Disabling an account ends its sessions at once.
    let (token, _) = svc.login("zhangsan", PASSWORD, "127.0.0.9").await.unwrap();
    assert!(svc.session(&token).await.unwrap().is_some());
    svc.set_staff_disabled("zhangsan", true, &Actor::cli())
        .await
        .unwrap();
    assert!(svc.session(&token).await.unwrap().is_none());
    assert!(svc.login("zhangsan", PASSWORD, "127.0.0.9").await.is_err());
    // A reset password ends sessions too, and the old password fails.
    svc.set_staff_disabled("zhangsan", false, &Actor::cli())
        .await
        .unwrap();
    let (token, _) = svc.login("zhangsan", PASSWORD, "127.0.0.9").await.unwrap();
    let new = svc
        .reset_staff_password("zhangsan", None, &Actor::cli())
        .await
        .unwrap()
        .unwrap();
    assert!(svc.session(&token).await.unwrap().is_none());
    assert!(svc.login("zhangsan", PASSWORD, "127.0.0.9").await.is_err());
    assert!(svc.login("zhangsan", &new, "127.0.0.9").await.is_ok());
    let rows = audit(&app).await;
    for a in [
        "user.create",
        "user.disable",
        "user.enable",
        "user.reset_password",
    ] {
        assert!(
            rows.iter().any(|r| r.action == a && r.user_login == "cli"),
            "{a}"
        );
    }
}

/// `medaid users …` on the command line.
#[test]
fn users_on_the_command_line() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    let medaid = |args: &[&str], stdin: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_medaid"))
            .args(args)
            .args(["--database-url", &url])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            c.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let o = c.wait_with_output().unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).to_string(),
            String::from_utf8_lossy(&o.stderr).to_string(),
        )
    };
    let (ok, out, err) = medaid(
        &[
            "users", "create", "--role", "centre", "--login", "zhangsan", "--name", "张三",
        ],
        None,
    );
    assert!(ok, "{err}");
    let pw = out.trim();
    assert_eq!(
        pw.len(),
        16,
        "the one-time password alone on stdout: {out:?}"
    );
    let (ok, _, err) = medaid(
        &[
            "users",
            "create",
            "--role",
            "admin",
            "--login",
            "lisi",
            "--name",
            "李四",
            "--password-stdin",
        ],
        Some("a-long-password\n"),
    );
    assert!(ok, "{err}");
    let (ok, _, err) = medaid(
        &[
            "users", "create", "--role", "admin", "--login", "lisi", "--name", "x",
        ],
        None,
    );
    assert!(!ok && err.contains("taken"), "{err}");
    let (ok, _, err) = medaid(
        &[
            "users",
            "create",
            "--role",
            "admin",
            "--login",
            "wang",
            "--name",
            "王",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 10"), "{err}");
    let (ok, out, _) = medaid(&["users", "list"], None);
    assert!(ok);
    assert!(out.contains("1,zhangsan,张三,centre,false"), "{out}");
    assert!(out.contains("2,lisi,李四,admin,false"), "{out}");
    assert!(medaid(&["users", "disable", "zhangsan"], None).0);
    let (_, out, _) = medaid(&["users", "list"], None);
    assert!(out.contains("1,zhangsan,张三,centre,true"), "{out}");
    assert!(medaid(&["users", "disable", "zhangsan", "--enable"], None).0);
    let (ok, out, _) = medaid(&["users", "reset-password", "zhangsan"], None);
    assert!(ok);
    assert_ne!(out.trim(), pw);
    assert!(!medaid(&["users", "disable", "nobody"], None).0);
}
