//! Login, logout and 首页 (this month at a glance).

use super::layout::{self, csrf};
use super::{
    check_csrf, cookie, html, secure, set_cookie, yuan, Admin, PageError, Staff, COOKIE,
    LOGIN_COOKIE,
};
use crate::http::ApiContext;
use crate::service::console::{random_token, LoginError, ABSOLUTE_SECS};
use crate::storage::console::{AuditEntry, AuditFilter};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::Extensions;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    pub next: Option<String>,
}

/// Only paths inside the console are followed after login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/console") && !n.starts_with("//") && !n.contains("://") => {
            n.to_string()
        }
        _ => "/console".into(),
    }
}

fn login_response(
    status: StatusCode,
    headers: &HeaderMap,
    next: &str,
    msg: Option<&str>,
) -> Response {
    let token = random_token();
    let mut r = html(status, layout::login(&token, next, msg));
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, &token, Some(3600), secure(headers)),
    );
    r
}

pub async fn login_page(headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    login_response(
        StatusCode::OK,
        &headers,
        &safe_next(q.next.as_deref()),
        None,
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    pub login: String,
    pub password: String,
    pub csrf: Option<String>,
    pub next: Option<String>,
}

/// The client's address: the socket's (a proxy in front should be trusted
/// to pass X-Forwarded-For only when configured; we do not read it).
fn address(ext: &Extensions) -> String {
    ext.get::<ConnectInfo<SocketAddr>>()
        .map_or("unknown".into(), |c| c.0.ip().to_string())
}

pub async fn login(
    State(ctx): State<ApiContext>,
    ext: Extensions,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    let expected = cookie(&headers, LOGIN_COOKIE);
    let good_token =
        matches!((expected, f.csrf.as_deref()), (Some(a), Some(b)) if !a.is_empty() && a == b);
    if !good_token {
        return login_response(
            StatusCode::OK,
            &headers,
            &next,
            Some("登录表单已过期，请重新输入。"),
        );
    }
    match ctx
        .service
        .login(&f.login, &f.password, &address(&ext))
        .await
    {
        Ok((token, _)) => {
            let mut r = Redirect::to(&next).into_response();
            let sec = secure(&headers);
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(COOKIE, &token, Some(ABSOLUTE_SECS), sec),
            );
            r.headers_mut().append(
                header::SET_COOKIE,
                set_cookie(LOGIN_COOKIE, "", Some(0), sec),
            );
            r
        }
        // The page says what went wrong; a 4xx would only add a console
        // error in the browser.
        Err(LoginError::Wrong) => login_response(
            StatusCode::OK,
            &headers,
            &next,
            Some("用户名或密码不正确。"),
        ),
        Err(LoginError::Throttled) => login_response(
            StatusCode::TOO_MANY_REQUESTS,
            &headers,
            &next,
            Some("登录失败次数过多，请 15 分钟后再试。"),
        ),
        Err(LoginError::Service(e)) => PageError::from(e).into_response(),
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

pub async fn logout(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    ctx.service.logout(&s).await?;
    let mut r = Redirect::to("/console/login").into_response();
    r.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(COOKIE, "", Some(0), secure(&headers)),
    );
    Ok(r)
}

/// The setting that holds the year's aid budget (yuan).
pub fn budget_key(year: &str) -> String {
    format!("aid_budget:{year}")
}

pub async fn page(State(ctx): State<ApiContext>, Staff(s): Staff) -> Result<Response, PageError> {
    let month = crate::calendar::this_month();
    let year = &month[..4];
    let g = ctx.service.db.glance(&month).await?;
    let budget: Option<rust_decimal::Decimal> = ctx
        .service
        .db
        .console_setting(&budget_key(year))
        .await?
        .and_then(|v| v.parse().ok());
    let paid = crate::money::from_fen(g.aid_paid_year);
    let share = budget
        .filter(|b| !b.is_zero())
        .map(|b| (paid / b * rust_decimal::Decimal::from(100)).round_dp(1));
    let width = share
        .map(|p| {
            p.min(rust_decimal::Decimal::from(100))
                .max(rust_decimal::Decimal::ZERO)
        })
        .unwrap_or_default();
    let imports = ctx
        .service
        .audit_log(&AuditFilter {
            action: Some("registry.import".into()),
            limit: 5,
            ..Default::default()
        })
        .await?;
    let body = html! {
        div.grid {
            section.card {
                h2 { (month) " 结算" }
                p.big { (g.settlements) " 笔" }
                p.muted { "撤销 " (g.cancellations) " 笔 · 基金支付净额 " (yuan(g.fund_paid)) " 元" }
                p { a href={"/console/settlements?month=" (month)} { "查看本月结算" } }
            }
            section.card {
                h2 { (year) " 年医疗救助支出" }
                p.big { (yuan(g.aid_paid_year)) " 元" }
                @if let (Some(b), Some(p)) = (budget, share) {
                    div.bar role="img" aria-label={"已用预算 " (p) "%"} {
                        span class=[(p > rust_decimal::Decimal::from(100)).then_some("over")] style={"width:" (width) "%"} {}
                    }
                    p.muted { "年度预算 " (crate::money::fmt2(b)) " 元，已用 " (p) "%" }
                } @else {
                    p.muted { "尚未设置年度救助预算。" }
                }
                @if s.staff.is_admin() {
                    form.inline method="post" action="/console/budget" {
                        (csrf(&s))
                        input type="hidden" name="year" value=(year);
                        label { "年度救助预算（元）" input name="budget" inputmode="decimal" size="12" value=[budget.map(crate::money::fmt2)]; }
                        button type="submit" { "保存预算" }
                    }
                }
            }
            section.card {
                h2 { "未月结的月份" }
                @if g.open_months.is_empty() {
                    p.muted { "没有。" }
                } @else {
                    ul.plain {
                        @for m in &g.open_months {
                            li { a href={"/console/months?month=" (m)} { (m) } " " span.tag.open { "未月结" } }
                        }
                    }
                }
            }
            section.card {
                h2 { "最近的名册导入" }
                @if imports.is_empty() {
                    p.muted { "还没有从工作台导入过名册。" }
                } @else {
                    ul.plain {
                        @for i in &imports {
                            li { (layout::when(&i.at)) " · " (i.user_name) " · " (i.subject) br; span.muted { (i.detail.clone().unwrap_or_default()) } }
                        }
                    }
                }
                p { a href="/console/registry/import" { "导入名册" } }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console", "首页", body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct BudgetForm {
    pub csrf: Option<String>,
    pub year: String,
    pub budget: String,
}

pub async fn set_budget(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Form(f): Form<BudgetForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let b: rust_decimal::Decimal = f
        .budget
        .trim()
        .replace([',', '，'], "")
        .parse()
        .map_err(|_| PageError::BadRequest(format!("预算应为金额，实为 {:?}", f.budget)))?;
    if b.is_sign_negative() || f.year.len() != 4 || !f.year.bytes().all(|c| c.is_ascii_digit()) {
        return Err(PageError::BadRequest("预算或年份不正确".into()));
    }
    let key = budget_key(&f.year);
    let value = crate::money::fmt2(b);
    let actor = s.staff.actor();
    ctx.service
        .db
        .set_console_setting(
            &key,
            &value,
            &AuditEntry {
                actor: &actor,
                action: "budget.set",
                subject: &key,
                reason: None,
                detail: Some(&value),
            },
        )
        .await?;
    Ok(Redirect::to("/console").into_response())
}
