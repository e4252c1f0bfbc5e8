//! The console's page frame: header, navigation by role, and the pieces
//! every page uses (CSRF field, report tables, messages).

use crate::engine::codes::printed_payer;
use crate::recon::report::{ColType, Report};
use crate::service::console::Session;
use maud::{html, Markup, DOCTYPE};

/// Navigation entries: (path, label, admin only).
const NAV: &[(&str, &str, bool)] = &[
    ("/console", "首页", false),
    ("/console/persons", "救助对象名册", false),
    ("/console/settlements", "结算查询", false),
    ("/console/months", "月度对账", false),
    ("/console/policies", "政策", true),
    ("/console/simulations", "测算", true),
    ("/console/admin/users", "用户与密钥", true),
];

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
            title { (title) " · medaid 工作台" }
            link rel="icon" href="data:,";
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/htmx.min.js" defer {}
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// A full page for a logged-in staff member.
pub fn page(s: &Session, active: &str, title: &str, body: Markup) -> Markup {
    let admin = s.staff.is_admin();
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body {
                header.top {
                    a.brand href="/console" { "medaid 一站式结算 · 工作台" }
                    nav {
                        @for (path, label, admin_only) in NAV {
                            @if admin || !admin_only {
                                a href=(path) class=[(*path == active).then_some("on")] { (label) }
                            }
                        }
                    }
                    div.who {
                        span { (s.staff.name) "（" (s.staff.role.label()) "）" }
                        form method="post" action="/console/logout" {
                            (csrf(s))
                            button.link type="submit" { "退出" }
                        }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// A page without navigation (login, errors before login).
pub fn bare(title: &str, text: &str) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head(title))
            body.bare {
                main.narrow {
                    h1 { (title) }
                    p { (text) }
                    p { a href="/console" { "返回工作台" } }
                }
            }
        }
    }
}

/// The login page.
pub fn login(token: &str, next: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            (head("登录"))
            body.bare {
                main.narrow {
                    h1 { "medaid 工作台 · 登录" }
                    @if let Some(m) = message {
                        p.error role="alert" { (m) }
                    }
                    form method="post" action="/console/login" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label { "用户名" input name="login" autocomplete="username" required autofocus; }
                        label { "密码" input name="password" type="password" autocomplete="current-password" required; }
                        button type="submit" { "登录" }
                    }
                    p.muted { "账号由管理员用 medaid users create 创建。接口密钥不能登录工作台。" }
                }
            }
        }
    }
}

/// The hidden CSRF field of every form.
pub fn csrf(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A success or error notice.
pub fn notice(ok: bool, text: &str) -> Markup {
    html! {
        p class=(if ok { "ok" } else { "error" }) role=(if ok { "status" } else { "alert" }) { (text) }
    }
}

/// A report's tables as HTML.
pub fn report(r: &Report) -> Markup {
    html! {
        @if !r.params.is_empty() {
            p.muted {
                @for (k, v) in &r.params {
                    span.param { (param_label(k)) "：" (param_value(k, v)) }
                }
            }
        }
        @for t in &r.tables {
            h3 { (t.title) }
            @if t.rows.is_empty() {
                p.muted { "（无）" }
            } @else {
                div.scroll {
                    table {
                        thead { tr { @for c in &t.columns { th class=[num(c.ty)] { (c.label) } } } }
                        tbody {
                            @for row in &t.rows {
                                tr { @for (c, v) in t.columns.iter().zip(row) { td class=[num(c.ty)] { (cell_text(&c.key, v)) } } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn num(t: ColType) -> Option<&'static str> {
    match t {
        ColType::Text => None,
        _ => Some("num"),
    }
}

fn param_label(k: &str) -> &str {
    match k {
        "month" => "月份",
        "hospital" => "医院",
        "status" => "状态",
        "closed_at" => "月结时间",
        "from" => "起",
        "to" => "止",
        "group" => "病种",
        "mode" => "方式",
        "result" => "核对结果",
        "fields" => "不符项目",
        "settlements" => "笔数",
        other => other,
    }
}

fn param_value(k: &str, v: &str) -> String {
    match (k, v) {
        ("status", "open") => "未月结".into(),
        ("status", "closed") => "已月结".into(),
        ("hospital", "all") => "全部".into(),
        ("mode", "preview") => "预览（未写入）".into(),
        ("result", "differs") => "有差异".into(),
        ("result", "match" | "matches" | "ok") => "一致".into(),
        ("mode", "confirmed") => "已重新结算".into(),
        (_, v) if v.len() > 19 && v.as_bytes().get(10) == Some(&b'T') => when(v),
        _ => v.to_string(),
    }
}

/// A stored timestamp as a clerk reads it: `2026-12-02 05:16:56`.
pub fn when(t: &str) -> String {
    t.get(..19).unwrap_or(t).replacen('T', " ", 1)
}

/// A report cell as a clerk reads it: the codes the report keeps for files
/// and machines (`settlement`, `differs`, `aid`) in words.
fn cell_text(key: &str, v: &crate::recon::report::Value) -> String {
    let t = v.to_text();
    let words = match (key, t.as_str()) {
        ("section" | "kind", "settlement") => "结算",
        ("section" | "kind", "reversal") => "冲红",
        ("section" | "kind", "total") => "合计",
        ("section" | "kind", "net") => "净额",
        ("status" | "result", "missing_in_hospital") => "医院缺少",
        ("status" | "result", "missing_in_centre") => "中心缺少",
        ("status" | "result", "differs") => "金额不符",
        ("status" | "result", "duplicate") => "医院重复",
        ("status" | "result", "match" | "matches" | "ok") => "一致",
        ("payer", p) if printed_payer(p).is_some() => printed_payer(p).unwrap_or(p),
        ("applied", "true") => "是",
        ("applied", "false") => "否",
        _ => return t,
    };
    words.to_string()
}
