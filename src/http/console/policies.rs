//! 政策 (administrators): the loaded policies, one as a readable table,
//! the difference of two, and uploading a new one (in force from its
//! `effective_from`, without a restart).

use super::layout::{self, csrf, notice};
use super::{check_csrf, html, Admin, PageError, Upload};
use crate::engine::policy::diff;
use crate::engine::Policy;
use crate::http::ApiContext;
use crate::service::console::Session;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;

async fn list_body(
    ctx: &ApiContext,
    s: &Session,
    extra: Option<Markup>,
) -> Result<Markup, PageError> {
    let stored = ctx.service.db.policy_listing().await?;
    let loaded = ctx.service.policies.current();
    let today = crate::calendar::now_china().date_naive();
    Ok(html! {
        @if let Some(x) = extra { (x) }
        section.card {
            h2 { "已加载的政策" }
            table {
                thead { tr { th { "政策" } th { "名称" } th { "地区" } th { "生效" } th { "失效" } th { "内容哈希" } th { "来源" } th { "状态" } } }
                tbody {
                    @for p in loaded.iter() {
                        @let up = stored.iter().find(|x| x.hash == p.hash).and_then(|x| x.uploaded_by.clone());
                        tr {
                            td { a href={"/console/policies/" (p.hash)} { (p.id) } }
                            td { (p.name) }
                            td { (p.region) }
                            td { (p.effective_from) }
                            td { (p.effective_to) }
                            td { code { (p.hash.get(..12).unwrap_or(&p.hash)) "…" } }
                            td { @if let Some(u) = up { "上传：" (u) } @else { "政策文件" } }
                            td {
                                @if p.covers(today) { span.tag.settled { "现行" } }
                                @else if p.effective_from > today { span.tag.open { "待生效" } }
                                @else { span.tag { "已过期" } }
                            }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { "比较两个政策" }
            form.inline method="get" action="/console/policies/diff" {
                label { "原政策" select name="a" { @for p in loaded.iter() { option value=(p.hash) { (p.id) } } } }
                label { "新政策" select name="b" { @for (i, p) in loaded.iter().enumerate() { option value=(p.hash) selected[i + 1 == loaded.len()] { (p.id) } } } }
                button type="submit" { "比较" }
            }
        }
        section.card {
            h2 { "上传新政策" }
            p.muted { "政策文件（TOML）先逐项检查，有错误时逐条列出（含行号），不会保存；通过后按内容哈希保存，自生效日期起用于结算，无需重启。" }
            form method="post" action="/console/policies/upload" enctype="multipart/form-data" {
                (csrf(s))
                label { "政策文件 " input type="file" name="file" accept=".toml"; }
                details {
                    summary { "或直接粘贴文本" }
                    textarea name="toml" rows="12" {}
                }
                button type="submit" { "检查并上传" }
            }
        }
    })
}

pub async fn list(State(ctx): State<ApiContext>, Admin(s): Admin) -> Result<Response, PageError> {
    let body = list_body(&ctx, &s, None).await?;
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/policies", "政策", body),
    ))
}

async fn policy_by_hash(ctx: &ApiContext, hash: &str) -> Result<(Policy, String), PageError> {
    let text = ctx.service.db.policy_text(hash).await?;
    if let Some(p) = ctx.service.policies.by_hash(hash) {
        return Ok((p.clone(), text.unwrap_or_default()));
    }
    let text = text.ok_or_else(|| PageError::NotFound(format!("没有政策 {hash}")))?;
    let p = Policy::from_toml(&text, hash).map_err(|e| {
        tracing::error!(error = %e, "stored policy does not load");
        PageError::Internal
    })?;
    Ok((p, text))
}

fn labels(list: &[(String, String)]) -> String {
    list.iter()
        .map(|(_, l)| l.as_str())
        .collect::<Vec<_>>()
        .join("、")
}

pub async fn show(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Path(hash): Path<String>,
) -> Result<Response, PageError> {
    let (p, text) = policy_by_hash(&ctx, &hash).await?;
    let body = html! {
        section.card {
            table {
                tr { th { "政策编号" } td { (p.id) } th { "名称" } td { (p.name) } }
                tr { th { "地区" } td { (p.region) } th { "有效期" } td { (p.effective_from) " 至 " (p.effective_to) } }
                tr { th { "内容哈希" } td colspan="3" { code { (p.hash) } } }
                tr { th { "救助类别" } td colspan="3" { (labels(&p.categories)) } }
                tr { th { "医院等级" } td colspan="3" { (labels(&p.levels)) } }
                tr { th { "医疗类别" } td colspan="3" { (labels(&p.medical_types)) } }
                @if !p.groups.is_empty() {
                    tr { th { "病种" } td colspan="3" { (p.groups.iter().map(|g| g.label.as_str()).collect::<Vec<_>>().join("、")) } }
                }
                tr { th { "乙类先行自付" } td colspan="3" { (crate::money::fmt_percent(p.self_pay_first_b)) } }
            }
            h2 { "各层（按支付顺序）" }
            table {
                thead { tr { th.num { "序" } th { "项目" } th { "支付方" } th { "规则" } } }
                tbody {
                    @for (i, l) in p.layers.iter().enumerate() {
                        tr {
                            td.num { (i + 1) }
                            td { (l.display_name()) }
                            td { (l.payer.printed_label()) }
                            td { (diff::describe(&p, l)) }
                        }
                    }
                }
            }
            @if !p.pools.is_empty() {
                h2 { "共用限额" }
                table {
                    thead { tr { th { "名称" } th.num { "年度限额（元）" } } }
                    tbody { @for pool in &p.pools { tr { td { (pool.display_name()) } td.num { (crate::money::fmt2(pool.amount)) } } } }
                }
            }
            details.noprint {
                summary { "政策文件原文" }
                pre { (text) }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/policies", &format!("政策 {}", p.id), body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct DiffQuery {
    pub a: String,
    pub b: String,
}

pub async fn diff(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Query(q): Query<DiffQuery>,
) -> Result<Response, PageError> {
    let (a, _) = policy_by_hash(&ctx, &q.a).await?;
    let (b, _) = policy_by_hash(&ctx, &q.b).await?;
    let changes = diff::diff(&a, &b);
    let body = html! {
        section.card {
            p { "原政策 " strong { (a.id) } " → 新政策 " strong { (b.id) } "：" (changes.len()) " 处不同" }
            @if !changes.is_empty() {
                table {
                    thead { tr { th { "说明" } th { "原" } th { "新" } th { "位置" } } }
                    tbody {
                        @for c in &changes {
                            tr {
                                td { (c.text) }
                                td { del { (c.before.clone().unwrap_or_else(|| "无".into())) } }
                                td { ins { (c.after.clone().unwrap_or_else(|| "无".into())) } }
                                td { code { (c.path) } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/policies", "政策比较", body),
    ))
}

pub async fn upload(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    m: Multipart,
) -> Result<Response, PageError> {
    let u = Upload::read(m).await?;
    check_csrf(&s, u.field("csrf"))?;
    let (name, text) = match u.file("file") {
        Some((n, t)) if !t.trim().is_empty() => (n.to_string(), t.to_string()),
        _ => match u.field("toml").filter(|t| !t.trim().is_empty()) {
            Some(t) => ("（粘贴的文本）".to_string(), t.to_string()),
            None => return Err(PageError::BadRequest("请选择政策文件或粘贴文本".into())),
        },
    };
    let (status, extra) = match ctx
        .service
        .upload_policy(&text, &name, &s.staff.actor())
        .await
    {
        Ok(up) => (
            StatusCode::OK,
            html! {
                (notice(true, &format!(
                    "政策 {} 已{}（哈希 {}…），自 {} 起用于结算。",
                    up.id,
                    if up.new { "上传" } else { "存在，未重复上传" },
                    up.hash.get(..12).unwrap_or(&up.hash),
                    up.effective_from
                )))
                @for w in &up.warnings { p.warn { "提示：" (w) } }
            },
        ),
        Err(refused) => (
            StatusCode::OK,
            html! {
                (notice(false, &format!("{name}：有 {} 处错误，政策没有保存。", refused.errors.len())))
                table.errors {
                    thead { tr { th.num { "行号" } th { "位置" } th { "问题" } } }
                    tbody {
                        @for e in &refused.errors {
                            tr {
                                td.num { (e.line.map(|l| l.to_string()).unwrap_or_else(|| "—".into())) }
                                td { code { (e.path) } }
                                td { (e.message) }
                            }
                        }
                        @for w in &refused.warnings {
                            tr.muted {
                                td.num { (w.line.map(|l| l.to_string()).unwrap_or_else(|| "—".into())) }
                                td { code { (w.path) } }
                                td { "提示：" (w.message) }
                            }
                        }
                    }
                }
            },
        ),
    };
    let body = list_body(&ctx, &s, Some(extra)).await?;
    Ok(html(
        status,
        layout::page(&s, "/console/policies", "政策", body),
    ))
}
