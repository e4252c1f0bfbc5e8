//! 用户与密钥 (administrators): staff accounts, API keys, the audit log.

use super::layout::{self, csrf, notice};
use super::{check_csrf, html, nonempty, Admin, PageError};
use crate::http::ApiContext;
use crate::service::console::{AccountError, Session, StaffRole};
use crate::service::keys::{self, Role};
use crate::storage::console::AuditFilter;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

fn tabs(active: &str) -> Markup {
    html! {
        nav.actions.noprint {
            @for (path, label) in [("/console/admin/users", "员工账号"), ("/console/admin/keys", "接口密钥"), ("/console/admin/audit", "审计日志")] {
                @if path == active { strong { (label) } } @else { a href=(path) { (label) } }
            }
        }
    }
}

async fn users_body(
    ctx: &ApiContext,
    s: &Session,
    extra: Option<Markup>,
) -> Result<Markup, PageError> {
    let users = ctx.service.staff_list().await?;
    Ok(html! {
        (tabs("/console/admin/users"))
        @if let Some(x) = extra { (x) }
        section.card {
            h2 { "员工账号" }
            table {
                thead { tr { th.num { "编号" } th { "用户名" } th { "姓名" } th { "角色" } th { "状态" } th { "创建时间" } th.noprint { "操作" } } }
                tbody {
                    @for u in &users {
                        tr {
                            td.num { (u.id) }
                            td { (u.login) }
                            td { (u.name) }
                            td { (StaffRole::parse(&u.role).map_or(u.role.as_str(), |r| r.label())) }
                            td { @if u.disabled { span.tag.cancelled { "已停用" } } @else { span.tag.settled { "启用" } } }
                            td { (layout::when(&u.created_at)) }
                            td.noprint {
                                div.actions {
                                    form method="post" action="/console/admin/users" {
                                        (csrf(s))
                                        input type="hidden" name="login" value=(u.login);
                                        @if u.disabled {
                                            button.secondary type="submit" name="action" value="enable" { "启用" }
                                        } @else if u.id != s.staff.id {
                                            button.danger type="submit" name="action" value="disable" data-confirm={"停用 " (u.login) "？其登录立即失效。"} { "停用" }
                                        }
                                        " "
                                        button.secondary type="submit" name="action" value="reset" data-confirm={"为 " (u.login) " 生成新密码？原密码和登录立即失效。"} { "重置密码" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "新建账号" }
            form.inline method="post" action="/console/admin/users" {
                (csrf(s))
                input type="hidden" name="action" value="create";
                label { "用户名" input name="login" required pattern="[a-z0-9_.]{1,32}" placeholder="zhangsan"; }
                label { "姓名" input name="name" required placeholder="张三"; }
                label { "角色" select name="role" { option value="centre" { "救助中心" } option value="admin" { "管理员" } } }
                button type="submit" { "创建（生成一次性密码）" }
            }
        }
    })
}

pub async fn users(State(ctx): State<ApiContext>, Admin(s): Admin) -> Result<Response, PageError> {
    let body = users_body(&ctx, &s, None).await?;
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/admin/users", "用户与密钥", body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct UserForm {
    pub csrf: Option<String>,
    pub action: String,
    pub login: Option<String>,
    pub name: Option<String>,
    pub role: Option<String>,
}

pub async fn users_post(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Form(f): Form<UserForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let login = nonempty(&f.login).unwrap_or_default();
    let by = s.staff.actor();
    let svc = &ctx.service;
    let result: Result<String, AccountError> = match f.action.as_str() {
        "create" => {
            let role = f
                .role
                .as_deref()
                .and_then(StaffRole::parse)
                .unwrap_or(StaffRole::Centre);
            let name = nonempty(&f.name).unwrap_or_default();
            svc.create_staff(&login, &name, role, None, &by).await.map(|(id, pw)| {
                format!(
                    "已创建 {login}（#{id}，{name}，{}）。一次性密码：{}（只显示这一次，请当面交给本人）",
                    role.label(),
                    pw.unwrap_or_default()
                )
            })
        }
        "disable" if login == s.staff.login => {
            Err(AccountError::Invalid("不能停用自己的账号".into()))
        }
        "disable" => svc
            .set_staff_disabled(&login, true, &by)
            .await
            .map(|()| format!("{login} 已停用，其登录已失效。")),
        "enable" => svc
            .set_staff_disabled(&login, false, &by)
            .await
            .map(|()| format!("{login} 已启用。")),
        "reset" => svc.reset_staff_password(&login, None, &by).await.map(|pw| {
            format!(
                "{login} 的新密码：{}（只显示这一次）；其原有登录已失效。",
                pw.unwrap_or_default()
            )
        }),
        other => Err(AccountError::Invalid(format!("未知操作 {other}"))),
    };
    let (status, extra) = match result {
        Ok(m) => (StatusCode::OK, notice(true, &m)),
        Err(AccountError::Service(e)) => return Err(e.into()),
        Err(e) => (StatusCode::OK, notice(false, &e.to_string())),
    };
    // A reset of one's own password ends one's own session: say so on the
    // login page instead.
    let body = users_body(&ctx, &s, Some(extra)).await?;
    Ok(html(
        status,
        layout::page(&s, "/console/admin/users", "用户与密钥", body),
    ))
}

async fn keys_body(
    ctx: &ApiContext,
    s: &Session,
    extra: Option<Markup>,
) -> Result<Markup, PageError> {
    let list = ctx.service.db.list_keys().await?;
    let hs = ctx.service.db.hospitals().await?;
    Ok(html! {
        (tabs("/console/admin/keys"))
        @if let Some(x) = extra { (x) }
        section.card {
            h2 { "接口密钥" }
            p.muted { "接口密钥供医院系统和脚本调用接口，不能登录工作台。密钥只在创建时显示一次，数据库只保存其哈希。" }
            table {
                thead { tr { th { "密钥编号" } th { "角色" } th { "医院" } th { "创建时间" } th { "状态" } th.noprint { "操作" } } }
                tbody {
                    @for k in &list {
                        tr {
                            td { code { (k.key_id) } }
                            td { (match k.role.as_str() { "hospital" => "医院", "centre" => "救助中心", "admin" => "管理员", r => r }) }
                            td { (k.hospital.as_deref().map(|h| super::hospital_name(&hs, h)).unwrap_or_default()) }
                            td { (layout::when(&k.created_at)) }
                            td { @if let Some(r) = &k.revoked_at { span.tag.cancelled { "已吊销 " (r.get(..10).unwrap_or(r)) } } @else { span.tag.settled { "有效" } } }
                            td.noprint {
                                @if k.revoked_at.is_none() {
                                    form method="post" action="/console/admin/keys" {
                                        (csrf(s))
                                        input type="hidden" name="action" value="revoke";
                                        input type="hidden" name="key_id" value=(k.key_id);
                                        button.danger type="submit" data-confirm="吊销后该密钥立即（30 秒内）失效，确定？" { "吊销" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "新建密钥" }
            form.inline method="post" action="/console/admin/keys" {
                (csrf(s))
                input type="hidden" name="action" value="create";
                label { "角色" select name="role" { option value="hospital" { "医院" } option value="centre" { "救助中心" } option value="admin" { "管理员" } } }
                label { "医院（医院密钥）" select name="hospital" { option value="" { "—" } @for h in &hs { option value=(h.code) { (h.name) } } } }
                button type="submit" { "创建" }
            }
        }
    })
}

pub async fn keys(State(ctx): State<ApiContext>, Admin(s): Admin) -> Result<Response, PageError> {
    let body = keys_body(&ctx, &s, None).await?;
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/admin/users", "用户与密钥", body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct KeyForm {
    pub csrf: Option<String>,
    pub action: String,
    pub role: Option<String>,
    pub hospital: Option<String>,
    pub key_id: Option<String>,
}

pub async fn keys_post(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Form(f): Form<KeyForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let by = s.staff.actor();
    let extra = match f.action.as_str() {
        "create" => {
            let role = match (f.role.as_deref(), nonempty(&f.hospital)) {
                (Some("hospital"), Some(h)) => Some(Role::Hospital(h)),
                (Some("centre"), _) => Some(Role::Centre),
                (Some("admin"), _) => Some(Role::Admin),
                _ => None,
            };
            match role {
                None => notice(false, "医院密钥须选择医院"),
                Some(role) => {
                    let (key, row) = keys::generate(&role);
                    ctx.service.db.insert_key(&row).await?;
                    let subject = row.key_id.clone();
                    ctx.service
                        .audit(&by, "key.create", &subject, None, Some(role.name()))
                        .await?;
                    html! {
                        p.ok role="status" {
                            "已创建密钥 " code { (row.key_id) } "。密钥全文只显示这一次：" br;
                            code.key { (key) }
                        }
                    }
                }
            }
        }
        "revoke" => {
            let id = nonempty(&f.key_id).unwrap_or_default();
            if ctx.service.db.revoke_key(&id).await? {
                ctx.service
                    .audit(&by, "key.revoke", &id, None, None)
                    .await?;
                notice(true, &format!("密钥 {id} 已吊销。"))
            } else {
                notice(false, &format!("没有有效的密钥 {id}"))
            }
        }
        other => notice(false, &format!("未知操作 {other}")),
    };
    let body = keys_body(&ctx, &s, Some(extra)).await?;
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/admin/users", "用户与密钥", body),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct AuditQuery {
    pub user: Option<String>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// Actions, in words.
pub fn action_label(a: &str) -> &str {
    match a {
        "user.create" => "新建账号",
        "user.disable" => "停用账号",
        "user.enable" => "启用账号",
        "user.reset_password" => "重置密码",
        "session.login" => "登录",
        "session.logout" => "退出",
        "registry.import" => "导入名册",
        "registry.resettle" => "应退应补重新结算",
        "month.close" => "月结",
        "month.reopen" => "重开月份",
        "policy.upload" => "上传政策",
        "simulation.run" => "运行测算",
        "key.create" => "新建密钥",
        "key.revoke" => "吊销密钥",
        "budget.set" => "设置预算",
        other => other,
    }
}

pub async fn audit(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let f = AuditFilter {
        user: nonempty(&q.user),
        action: nonempty(&q.action),
        from: nonempty(&q.from),
        to: nonempty(&q.to),
        limit: 500,
    };
    let rows = ctx.service.audit_log(&f).await?;
    const ACTIONS: &[&str] = &[
        "registry",
        "month",
        "policy",
        "simulation",
        "user",
        "key",
        "session",
        "budget",
    ];
    let body = html! {
        (tabs("/console/admin/audit"))
        form.inline method="get" action="/console/admin/audit" {
            label { "操作人" input name="user" value=[f.user.as_deref()] placeholder="姓名或用户名"; }
            label { "操作"
                select name="action" {
                    option value="" { "全部" }
                    @for a in ACTIONS {
                        option value=(a) selected[f.action.as_deref() == Some(*a)] {
                            (match *a { "registry" => "名册", "month" => "月结/重开", "policy" => "政策", "simulation" => "测算", "user" => "账号", "key" => "密钥", "session" => "登录/退出", _ => "预算" })
                        }
                    }
                }
            }
            label { "自" input type="date" name="from" value=[f.from.as_deref()]; }
            label { "至" input type="date" name="to" value=[f.to.as_deref()]; }
            button type="submit" { "筛选" }
        }
        section.card {
            p.muted { "共 " (rows.len()) " 条（最多显示 500 条，新的在前）" }
            table {
                thead { tr { th { "时间" } th { "操作人" } th { "操作" } th { "对象" } th { "原因" } th { "详情" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (layout::when(&r.at)) }
                            td { (r.user_name) "（" (r.user_login) @if let Some(id) = r.user_id { "，#" (id) } "）" }
                            td { (action_label(&r.action)) }
                            td { (r.subject) }
                            td { (r.reason.clone().unwrap_or_default()) }
                            td { (r.detail.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/admin/users", "审计日志", body),
    ))
}
