//! 救助对象名册: search, a person's page, roster import (validation report,
//! preview, confirm) and the 应退应补 it causes.

use super::layout::{self, csrf, notice};
use super::{
    category_label, check_csrf, hospital_name, html, medical_type_label, nonempty, yuan, PageError,
    Staff, Upload,
};
use crate::engine::codes::{printed_payer, Status, HOSPITAL_WAIVER};
use crate::http::ApiContext;
use crate::service::roster::RosterPreview;
use crate::storage::console::SettlementQuery;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Form;
use chrono::Datelike;
use maud::{html, Markup};
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    pub q: Option<String>,
}

fn results(ctx_hits: &[(String, String)], q: &str) -> Markup {
    html! {
        div #results {
            @if q.is_empty() {
                p.muted { "输入身份证号（或前几位）或姓名。" }
            } @else if ctx_hits.is_empty() {
                p { "没有找到 “" (q) "”。" }
            } @else {
                table {
                    thead { tr { th { "身份证号" } th { "姓名" } } }
                    tbody {
                        @for (id, name) in ctx_hits {
                            tr { td { a href={"/console/persons/" (id)} { (id) } } td { (name) } }
                        }
                    }
                }
            }
        }
    }
}

pub async fn search(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    headers: HeaderMap,
    Query(q): Query<SearchQuery>,
) -> Result<Response, PageError> {
    let q = nonempty(&q.q).unwrap_or_default();
    let hits = if q.is_empty() {
        Vec::new()
    } else {
        ctx.service.db.search_registry(&q, 50).await?
    };
    // htmx asks for the results alone as one types.
    if headers.contains_key("hx-request") {
        return Ok(html(StatusCode::OK, results(&hits, &q)));
    }
    let body = html! {
        form.inline method="get" action="/console/persons" role="search" {
            label { "身份证号或姓名"
                input type="search" name="q" value=(q) autofocus
                    hx-get="/console/persons" hx-trigger="input changed delay:300ms, search" hx-target="#results" hx-select="#results" hx-swap="outerHTML";
            }
            button type="submit" { "查询" }
            a.button.secondary href="/console/registry/import" { "导入名册" }
        }
        (results(&hits, &q))
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", "救助对象名册", body),
    ))
}

#[derive(Debug, Deserialize, Default)]
pub struct YearQuery {
    pub year: Option<i32>,
}

pub async fn person(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path(id): Path<String>,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let rows = ctx
        .service
        .db
        .registry_rows(std::slice::from_ref(&id))
        .await?;
    let year = q
        .year
        .unwrap_or_else(|| crate::calendar::now_china().year());
    let acc = match ctx.service.accumulators(&id, year).await {
        Ok(a) => Some(a),
        Err(crate::service::ServiceError::NotFound) => None,
        Err(e) => return Err(e.into()),
    };
    if rows.is_empty() && acc.is_none() {
        return Err(PageError::NotFound(format!("名册中没有 {id}")));
    }
    let name = rows.last().map(|r| r.name.clone()).unwrap_or_default();
    let region = rows
        .iter()
        .rev()
        .find_map(|r| r.region.clone())
        .unwrap_or_else(|| "（未登记）".into());
    let (list, total) = ctx
        .service
        .db
        .console_settlements(&SettlementQuery {
            person: Some(id.clone()),
            limit: 200,
            ..Default::default()
        })
        .await?;
    let hs = ctx.service.db.hospitals().await?;
    let acc_table = |title: &str, lines: &[crate::service::AccumulatorLine]| {
        html! {
            @if !lines.is_empty() {
                h3 { (title) }
                table {
                    thead { tr { th { "名称" } th.num { "起付线已用" } th.num { "累计政策内费用" } th.num { "已支付" } th.num { "年度限额" } th.num { "剩余" } } }
                    tbody {
                        @for l in lines {
                            tr {
                                td { (l.name.clone().unwrap_or_else(|| l.id.clone())) }
                                td.num { (l.deductible_used) }
                                td.num { (l.eligible_cum) }
                                td.num { (l.paid) }
                                td.num { (l.cap.clone().unwrap_or_else(|| "不设".into())) }
                                td.num { (l.remaining.clone().unwrap_or_else(|| "—".into())) }
                            }
                        }
                    }
                }
            }
        }
    };
    let body = html! {
        section.card {
            p { "姓名：" strong { (name) } " · 身份证号：" (id) " · 参保地：" (region) }
            h2 { "救助类别（按时间）" }
            table {
                thead { tr { th { "类别" } th { "起始" } th { "终止" } th { "参保地" } th { "登记姓名" } } }
                tbody {
                    @for r in &rows {
                        tr {
                            td { (category_label(&ctx, &r.category)) }
                            td { (r.valid_from) }
                            td { (r.valid_to.clone().unwrap_or_else(|| "长期".into())) }
                            td { (r.region.clone().unwrap_or_default()) }
                            td { (r.name) }
                        }
                    }
                }
            }
        }
        section.card {
            h2 { (year) " 年累计" }
            form.inline.noprint method="get" {
                label { "年度" input type="number" name="year" value=(year) min="2000" max="2100"; }
                button type="submit" { "查看" }
            }
            @match &acc {
                Some(a) => {
                    p.muted { "按政策 " (a.policy_id.clone().unwrap_or_else(|| "（无）".into())) " 显示" }
                    (acc_table("各层累计", &a.layers))
                    (acc_table("共用限额", &a.pools))
                    (acc_table("按病种限额", &a.per_disease))
                }
                None => p.muted { "该年度没有累计。" }
            }
        }
        section.card {
            h2 { "结算记录（" (total) " 笔）" }
            (settlement_table(&ctx, &hs, &list))
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", &format!("救助对象 {name}"), body),
    ))
}

/// The console's settlement table (shared with 结算查询).
pub fn settlement_table(
    ctx: &ApiContext,
    hs: &[crate::storage::Hospital],
    list: &[crate::storage::console::ConsoleSettlement],
) -> Markup {
    html! {
        @if list.is_empty() {
            p.muted { "没有结算。" }
        } @else {
            div.scroll {
                table {
                    thead { tr {
                        th { "出院日期" } th { "医院" } th { "身份证号" } th { "就诊号" } th { "类别" }
                        th.num { "总费用" } th.num { "基金支付" } th.num { "个人自付" } th { "记账月" } th { "状态" } th { "结算单" }
                    } }
                    tbody {
                        @for x in list {
                            tr {
                                td { (x.discharged_on) }
                                td { (hospital_name(hs, &x.hospital)) }
                                td { a href={"/console/persons/" (x.person_id)} { (x.person_id) } }
                                td { a href={"/console/settlements/" (x.id)} { (x.claim_id) } }
                                td { (medical_type_label(ctx, &x.medical_type)) }
                                td.num { (yuan(x.total)) }
                                td.num { (yuan(x.fund_paid)) }
                                td.num { (yuan(x.patient_payable)) }
                                td { (x.booked_month) }
                                td {
                                    @if x.cancelled_at.is_some() {
                                        span.tag.cancelled { (Status::Cancelled.label()) }
                                        @if x.replaced_by.is_some() { " " span.tag { "已重算" } }
                                    } @else {
                                        span.tag.settled { (Status::Settled.label()) }
                                    }
                                }
                                td { a href={"/console/settlements/" (x.id) "/slip"} target="_blank" { "结算单" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn import_form_body(s: &crate::service::console::Session) -> Markup {
    html! {
        section.card {
            p { "CSV 文件，首行为表头：" code { "person_id,name,category,valid_from,valid_to" } "，可再加一列 " code { "region" } "（参保地 6 位代码）。每行一个类别期间；valid_to 为空表示长期有效。" }
            p.muted { "上传后先逐行检查并预览新增、变更和终止的人员，确认后才写入名册。" }
            form method="post" action="/console/registry/import" enctype="multipart/form-data" {
                (csrf(s))
                label { "名册文件 " input type="file" name="file" accept=".csv,text/csv" required; }
                button type="submit" { "检查" }
            }
        }
    }
}

pub async fn import_form(Staff(s): Staff) -> Response {
    html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", "导入名册", import_form_body(&s)),
    )
}

fn preview_body(ctx: &ApiContext, p: &RosterPreview) -> Markup {
    html! {
        @for w in &p.warnings { p.warn { (w) } }
        p { "共 " (p.rows.len()) " 行有效：新增 " (p.added.len()) " 人，变更 " (p.changed.len()) " 人，终止 " (p.ended.len()) " 个期间，未变 " (p.unchanged) " 行。" }
        @if !p.added.is_empty() {
            h3 { "新增" }
            table { thead { tr { th { "身份证号" } th { "姓名" } } }
                tbody { @for (id, n) in &p.added { tr { td { (id) } td { (n) } } } } }
        }
        @if !p.changed.is_empty() {
            h3 { "变更" }
            table { thead { tr { th { "身份证号" } th { "姓名" } th { "变更内容" } } }
                tbody { @for (id, n, w) in &p.changed { tr { td { (id) } td { (n) } td { (w) } } } } }
        }
        @if !p.ended.is_empty() {
            h3 { "终止" }
            table { thead { tr { th { "身份证号" } th { "姓名" } th { "类别" } th { "终止日期" } } }
                tbody { @for (id, n, c, t) in &p.ended { tr { td { (id) } td { (n) } td { (category_label(ctx, c)) } td { (t) } } } } }
        }
    }
}

pub async fn import_check(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    m: Multipart,
) -> Result<Response, PageError> {
    let u = Upload::read(m).await?;
    check_csrf(&s, u.field("csrf"))?;
    let Some((name, text)) = u.file("file") else {
        return Err(PageError::BadRequest("请选择名册文件".into()));
    };
    let p = ctx.service.roster_preview(text).await?;
    let body = html! {
        section.card {
            h2 { "检查结果：" (name) }
            @if !p.errors.is_empty() {
                (notice(false, &format!("有 {} 行不正确，名册没有写入。请改正后重新上传。", p.errors.len())))
                table.errors {
                    thead { tr { th.num { "行号" } th { "问题" } } }
                    tbody { @for e in &p.errors { tr { td.num { (e.line) } td { (e.message) } } } }
                }
            } @else {
                (preview_body(&ctx, &p))
                // multipart: the file's text goes back as it came (a
                // url-encoded form would triple every Chinese character).
                form method="post" action="/console/registry/import/confirm" enctype="multipart/form-data" {
                    (csrf(&s))
                    input type="hidden" name="name" value=(name);
                    textarea name="csv" hidden readonly { (text) }
                    button type="submit" { "确认导入" }
                    " "
                    a href="/console/registry/import" { "取消" }
                }
            }
        }
        @if !p.errors.is_empty() { (import_form_body(&s)) }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", "导入名册", body),
    ))
}

pub async fn import_confirm(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    m: Multipart,
) -> Result<Response, PageError> {
    let u = Upload::read(m).await?;
    check_csrf(&s, u.field("csrf"))?;
    let name = u.field("name").unwrap_or("roster.csv").to_string();
    let csv = u.field("csv").unwrap_or("");
    let applied = ctx
        .service
        .roster_import(csv, &name, &s.staff.actor())
        .await?;
    let persons = applied.persons();
    let resettle = if persons.is_empty() {
        None
    } else {
        Some(ctx.service.resettle_preview(&persons).await?)
    };
    let hs = ctx.service.db.hospitals().await?;
    let resettle = resettle.map(|r| in_words(&ctx, &hs, r));
    let count = resettle
        .as_ref()
        .and_then(|r| r.tables.first())
        .map_or(0, |t| t.rows.len());
    let body = html! {
        (notice(true, &format!("名册已导入：{} 行（{}）。", applied.rows.len(), name)))
        section.card {
            (preview_body(&ctx, &applied))
        }
        section.card {
            h2 { "应退应补" }
            @if count == 0 {
                p { "这次导入不影响已有的结算。" }
            } @else {
                p { "以下 " (count) " 笔结算的人员类别已变，需按新类别重新结算（预览，尚未写入）：" }
                @if let Some(r) = &resettle { (layout::report(r)) }
                form method="post" action="/console/registry/resettle" {
                    (csrf(&s))
                    input type="hidden" name="persons" value=(persons.join(","));
                    label { "说明（可选）" input name="reason" size="40"; }
                    button type="submit" { "确认重新结算" }
                }
            }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", "导入名册", body),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ResettleForm {
    pub csrf: Option<String>,
    pub persons: String,
    pub reason: Option<String>,
}

pub async fn resettle(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Form(f): Form<ResettleForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let persons: Vec<String> = f
        .persons
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect();
    if persons.is_empty() {
        return Err(PageError::BadRequest("没有人员".into()));
    }
    let r = ctx.service.resettle_confirm(&persons).await?;
    let hs = ctx.service.db.hospitals().await?;
    let r = in_words(&ctx, &hs, r);
    let n = r.tables.first().map_or(0, |t| t.rows.len());
    ctx.service
        .audit(
            &s.staff.actor(),
            "registry.resettle",
            &persons.join(","),
            nonempty(&f.reason).as_deref(),
            Some(&format!("重新结算 {n} 笔")),
        )
        .await?;
    let body = html! {
        (notice(true, &format!("已重新结算 {n} 笔。")))
        section.card { (layout::report(&r)) }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/persons", "应退应补", body),
    ))
}

/// The 应退应补 report with hospital names and category labels in place of
/// codes and ids (the report itself keeps ids for files and machines).
fn in_words(
    ctx: &ApiContext,
    hs: &[crate::storage::Hospital],
    mut r: crate::recon::report::Report,
) -> crate::recon::report::Report {
    use crate::recon::report::Value;
    for t in &mut r.tables {
        let cols: Vec<(usize, String)> = t
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c.key.clone()))
            .collect();
        for row in &mut t.rows {
            for (i, key) in &cols {
                let Some(Value::Text(v)) = row.get(*i) else {
                    continue;
                };
                let new = match key.as_str() {
                    "hospital" => hospital_name(hs, v),
                    "payer" => match v.as_str() {
                        p if printed_payer(p).is_some() => printed_payer(p).unwrap_or(p),
                        "hospital_waived" => HOSPITAL_WAIVER,
                        "patient_payable" => "个人自付",
                        other => other,
                    }
                    .to_string(),
                    "old_categories" | "new_categories" => v
                        .split(',')
                        .filter(|c| !c.is_empty())
                        .map(|c| category_label(ctx, c))
                        .collect::<Vec<_>>()
                        .join("、"),
                    _ => continue,
                };
                row[*i] = Value::Text(new);
            }
        }
    }
    r
}
