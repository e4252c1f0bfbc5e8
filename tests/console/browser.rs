//! The console in a real browser (Debian's chromium through chromedriver):
//! what a centre clerk and an administrator do on a working day. Each
//! test saves screenshots under `target/console-screenshots/` and fails
//! on any error in the browser's console. Without chromium and
//! chromedriver the tests say so and pass (CI installs both).

use crate::helpers::{self, spawn_app, Backend, TestApp, P_DIBAO};
use crate::staff::{self, PASSWORD};
use crate::webdriver::{browser, Browser};
use medaid::service::console::StaffRole;

/// One browser at a time (2 cores).
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn skip(name: &str) -> bool {
    match browser() {
        Ok(_) => false,
        Err(why) => {
            assert!(
                std::env::var_os("MEDAID_REQUIRE_BROWSER").is_none(),
                "MEDAID_REQUIRE_BROWSER is set (CI) but {why}"
            );
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "skipped browser test {name}: {why}");
            true
        }
    }
}

/// An app with a settled claim, a centre clerk 张三 and an admin 李四.
async fn app() -> TestApp {
    let app = spawn_app(Backend::Sqlite).await.expect("app");
    staff::create(&app, "zhangsan", "张三", StaffRole::Centre).await;
    staff::create(&app, "lisi", "李四", StaffRole::Admin).await;
    let r = app
        .settle(&app.h2, &helpers::design_claim("H0002-0001", "H0002"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    app
}

async fn login(b: &mut Browser, app: &TestApp, login: &str) {
    b.goto(&format!("{}/console", app.base)).await;
    b.wait_text("登录").await;
    b.type_in("input[name=login]", login).await;
    b.type_in("input[name=password]", PASSWORD).await;
    b.click("form button[type=submit]").await;
    b.wait_text("退出").await;
}

fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test]
async fn a_clerk_logs_in_finds_a_person_and_opens_the_slip() {
    if skip("a_clerk_logs_in_finds_a_person_and_opens_the_slip") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app().await;
    let mut b = Browser::start("login-search-slip").await;
    b.goto(&format!("{}/console", app.base)).await;
    b.wait_text("用户名").await;
    b.screenshot("1-login").await;
    // A wrong password is said so.
    b.type_in("input[name=login]", "zhangsan").await;
    b.type_in("input[name=password]", "wrong-password").await;
    b.click("form button[type=submit]").await;
    b.wait_text("用户名或密码不正确").await;
    login(&mut b, &app, "zhangsan").await;
    b.wait_text("张三").await;
    b.screenshot("2-home").await;
    assert!(
        !b.exists("a[href='/console/policies']").await,
        "no admin pages for the centre"
    );

    b.click("nav a[href='/console/persons']").await;
    // Results come as one types (htmx), without submitting the form…
    b.type_in("input[name=q]", &P_DIBAO[..10]).await;
    b.wait_text(P_DIBAO).await;
    assert!(
        b.url().await.ends_with("/console/persons"),
        "the page stayed"
    );
    // …and the form works as a plain GET too.
    b.click("form[role=search] button[type=submit]").await;
    b.wait_text(P_DIBAO).await;
    b.screenshot("3-search").await;
    b.click(&format!("a[href='/console/persons/{P_DIBAO}']"))
        .await;
    b.wait_text("救助类别").await;
    b.wait_text("低保对象").await;
    b.goto(&format!("{}/console/persons/{P_DIBAO}?year=2017", app.base))
        .await;
    b.wait_text("民政医疗救助").await;
    b.wait_text("结算记录（1 笔）").await;
    b.screenshot("4-person").await;
    let slip = b
        .script(
            "return document.querySelector('a[href$=\"/slip\"]').getAttribute('href')",
            serde_json::json!([]),
        )
        .await;
    b.goto(&format!("{}{}", app.base, slip.as_str().unwrap()))
        .await;
    b.wait_text("一站式结算单").await;
    b.screenshot("5-slip").await;

    // The settlement's own page, from 结算查询.
    b.goto(&format!(
        "{}/console/settlements?month=&status=settled",
        app.base
    ))
    .await;
    b.click("a[href^='/console/settlements/']").await;
    b.wait_text("计算说明").await;
    b.screenshot("6-settlement").await;
    b.assert_no_errors().await;
}

#[tokio::test]
async fn a_roster_with_a_bad_line_writes_nothing_then_a_good_one_is_imported() {
    if skip("roster import") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app().await;
    let dir = tempfile::tempdir().unwrap();
    let mut b = Browser::start("roster-import").await;
    login(&mut b, &app, "zhangsan").await;
    b.goto(&format!("{}/console/registry/import", app.base))
        .await;
    let bad = file(
        &dir,
        "roster-bad.csv",
        "person_id,name,category,valid_from,valid_to\n\
         411303200001010011,赵六,dibao,2017-01-01,\n\
         411303200001010022,钱七,dibao,2017-02-30,\n",
    );
    b.upload("input[name=file]", &bad).await;
    b.click("main form[action='/console/registry/import'] button[type=submit]")
        .await;
    b.wait_text("有 1 行不正确，名册没有写入").await;
    b.wait_text("2017-02-30").await;
    b.screenshot("1-bad-line").await;
    assert!(app
        .db
        .person_name("411303200001010011")
        .await
        .unwrap()
        .is_none());

    // A good file: 赵六 is added, and the test person's 低保 ends on
    // 2017-03-31 — before the settled claim's discharge, which must then
    // be settled again (应退应补).
    let good = file(
        &dir,
        "roster-good.csv",
        &format!(
            "person_id,name,category,valid_from,valid_to\n\
             411303200001010011,赵六,dibao,2017-01-01,\n\
             {P_DIBAO},测试<患者>,dibao,2016-01-01,2017-03-31\n"
        ),
    );
    b.upload("input[name=file]", &good).await;
    b.click("main form[action='/console/registry/import'] button[type=submit]")
        .await;
    b.wait_text("新增 1 人").await;
    b.screenshot("2-preview").await;
    b.click("form[action='/console/registry/import/confirm'] button[type=submit]")
        .await;
    b.wait_text("名册已导入").await;
    b.wait_text("应退应补").await;
    b.screenshot("3-imported").await;
    assert_eq!(
        app.db
            .person_name("411303200001010011")
            .await
            .unwrap()
            .as_deref(),
        Some("赵六")
    );
    b.click("form[action='/console/registry/resettle'] button[type=submit]")
        .await;
    b.wait_text("已重新结算 1 笔").await;
    b.screenshot("4-resettled").await;
    b.assert_no_errors().await;
}

#[tokio::test]
async fn a_clerk_closes_the_month_and_sees_who_closed_it() {
    if skip("month close") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app().await;
    let month = medaid::calendar::this_month();
    let mut b = Browser::start("month-close").await;
    login(&mut b, &app, "zhangsan").await;
    b.goto(&format!("{}/console/months?month={month}", app.base))
        .await;
    b.wait_text("月结报表").await;
    b.screenshot("1-open").await;
    b.type_in("input[name=reason]", "本月核对完毕").await;
    b.click_confirming(&format!(
        "form[action='/console/months/{month}/close'] button"
    ))
    .await;
    b.wait_text("已月结").await;
    b.wait_text("张三（zhangsan").await;
    b.screenshot("2-closed").await;
    // Printed: no navigation, no forms; the statement and who closed it.
    b.print_media(true).await;
    b.screenshot("2b-closed-print").await;
    assert!(!b
        .script(
            "return getComputedStyle(document.querySelector('header.top')).display !== 'none'",
            serde_json::json!([]),
        )
        .await
        .as_bool()
        .unwrap_or(true));
    b.print_media(false).await;
    // The administrator reopens it with a reason, and sees both events.
    b.click("header form button").await;
    login(&mut b, &app, "lisi").await;
    b.goto(&format!("{}/console/months?month={month}", app.base))
        .await;
    b.type_in("input[name=reason]", "补录一笔").await;
    b.click(&format!(
        "form[action='/console/months/{month}/reopen'] button"
    ))
    .await;
    b.wait_text("已重开").await;
    b.wait_text("补录一笔").await;
    b.screenshot("3-reopened").await;
    b.goto(&format!("{}/console/admin/audit", app.base)).await;
    b.wait_text("月结").await;
    b.wait_text("张三（zhangsan").await;
    b.screenshot("4-audit").await;
    b.assert_no_errors().await;
}

#[tokio::test]
async fn an_admin_uploads_a_broken_policy_then_a_valid_one() {
    if skip("policy upload") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app().await;
    let mut b = Browser::start("policy-upload").await;
    login(&mut b, &app, "lisi").await;
    b.goto(&format!("{}/console/policies", app.base)).await;
    b.wait_text("已加载的政策").await;
    b.screenshot("1-list").await;
    b.upload(
        "input[name=file]",
        &helpers::repo_path("fixtures/design/broken-policy.toml"),
    )
    .await;
    b.click("form[action='/console/policies/upload'] button[type=submit]")
        .await;
    b.wait_text("政策没有保存").await;
    b.screenshot("2-errors").await;
    b.upload(
        "input[name=file]",
        &helpers::repo_path("fixtures/policies/county-2024.toml"),
    )
    .await;
    b.click("form[action='/console/policies/upload'] button[type=submit]")
        .await;
    b.wait_text("政策 county-2024 已上传").await;
    b.screenshot("3-uploaded").await;
    b.click("a[href^='/console/policies/']:not([href$='diff'])")
        .await;
    b.wait_text("各层（按支付顺序）").await;
    b.screenshot("4-policy").await;
    b.assert_no_errors().await;
}

#[tokio::test]
async fn an_admin_runs_a_simulation_from_the_form() {
    if skip("simulation") {
        return;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let app = app().await;
    let mut b = Browser::start("simulation").await;
    login(&mut b, &app, "lisi").await;
    b.goto(&format!("{}/console/simulations", app.base)).await;
    b.wait_text("新的测算").await;
    b.select("select[name=layer]", "aid").await;
    b.select("select[name=field]", "ratio_by_category").await;
    b.select("select[name=category]", "dibao").await;
    b.type_in("input[name=value]", "0.85").await;
    b.type_in("input[name=budget]", "100000").await;
    b.type_in("input[name=bootstrap]", "20").await;
    b.screenshot("1-form").await;
    b.click("form[action='/console/simulations'] button[type=submit]")
        .await;
    b.wait_text("测算报告").await;
    assert!(b.url().await.contains("/console/simulations/"));
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    b.screenshot("2-report").await;
    b.goto(&format!("{}/console/simulations", app.base)).await;
    b.wait_text("民政医疗救助 低保对象 比例 0.85").await;
    b.screenshot("3-runs").await;
    b.goto(&format!("{}/console/admin/users", app.base)).await;
    b.wait_text("员工账号").await;
    b.screenshot("4-users").await;
    b.assert_no_errors().await;
}
