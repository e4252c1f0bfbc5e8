//! 月度对账: a month's statement and other reports per hospital, checks
//! against the hospital's totals or details file, downloads (the API's
//! own report endpoints), and close / reopen with who and why.

use super::layout::{self, csrf, notice};
use super::{check_csrf, hospital_name, html, nonempty, PageError, Staff, Upload};
use crate::http::auth::Caller;
use crate::http::recon::ReportQuery;
use crate::http::ApiContext;
use crate::recon::ledger::LedgerKind;
use crate::recon::report::Report;
use crate::recon::Month;
use crate::service::console::Session;
use crate::service::keys::Role;
use crate::service::recon::MonthError;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

/// Reports of a month: (kind, label).
const REPORTS: &[(&str, &str)] = &[
    ("statement", "月结报表"),
    ("details", "明细"),
    ("clearing", "清算"),
    ("disbursement", "拨付"),
    ("waivers", "七免一减台账"),
    ("major-disease", "大病救治台账"),
    ("floor", "兜底台账"),
];

const FORMATS: &[(&str, &str)] = &[
    ("csv", "CSV"),
    ("xlsx", "Excel"),
    ("xml", "XML"),
    ("json", "JSON"),
];

#[derive(Debug, Deserialize, Default)]
pub struct MonthQuery {
    pub month: Option<String>,
    pub hospital: Option<String>,
    pub view: Option<String>,
    pub done: Option<String>,
}

fn month_of(s: &str) -> Result<Month, PageError> {
    s.parse()
        .map_err(|e: String| PageError::BadRequest(format!("月份不正确：{e}")))
}

async fn report_of(
    ctx: &ApiContext,
    kind: &str,
    m: Month,
    hospital: Option<&str>,
) -> Result<Report, PageError> {
    let svc = &ctx.service;
    Ok(match kind {
        "details" => svc.details(m, hospital).await?,
        "clearing" => svc.clearing(m, hospital).await?,
        "disbursement" => svc.disbursement(m, hospital).await?,
        "waivers" | "major-disease" | "floor" => {
            let k: LedgerKind = kind.parse().map_err(PageError::BadRequest)?;
            svc.ledger(k, m, m, hospital, None).await?
        }
        _ => svc.statement(m, hospital).await?,
    })
}

#[allow(clippy::too_many_arguments)]
async fn render(
    ctx: &ApiContext,
    s: &Session,
    month: &str,
    hospital: Option<String>,
    view: &str,
    extra: Option<Markup>,
    status_code: StatusCode,
) -> Result<Response, PageError> {
    let m = month_of(month)?;
    let status = ctx.service.month_status(m).await?;
    let hs = ctx.service.db.hospitals().await?;
    let report = report_of(ctx, view, m, hospital.as_deref()).await?;
    let closed = status.status == "closed";
    let hq = hospital.clone().unwrap_or_default();
    let q = |kind: &str| {
        format!(
            "/console/months?month={month}&hospital={}&view={kind}",
            super::urlencode(&hq)
        )
    };
    let body = html! {
        @if let Some(x) = extra { (x) }
        form.inline method="get" action="/console/months" {
            label { "月份" input type="month" name="month" value=(month) required; }
            label { "医院"
                select name="hospital" {
                    option value="" { "全部医院" }
                    @for h in &hs {
                        option value=(h.code) selected[hospital.as_deref() == Some(h.code.as_str())] { (h.name) }
                    }
                }
            }
            input type="hidden" name="view" value=(view);
            button type="submit" { "查看" }
        }
        section.card {
            h2 { (month) " "
                @if closed { span.tag.closed { "已月结" } } @else { span.tag.open { "未月结" } }
            }
            @if closed {
                p { "月结：" (status.closed_by.clone().unwrap_or_default()) "，" (layout::when(status.closed_at.as_deref().unwrap_or_default())) }
            }
            @if !status.events.is_empty() {
                table {
                    thead { tr { th { "操作" } th { "操作人" } th { "原因" } th { "时间" } } }
                    tbody {
                        @for (action, actor, reason, at) in &status.events {
                            tr {
                                td { (if action == "close" { "月结" } else { "重开" }) }
                                td { (actor) }
                                td { (reason.clone().unwrap_or_default()) }
                                td { (layout::when(at)) }
                            }
                        }
                    }
                }
            }
            div.actions.noprint {
                @if !closed {
                    form.inline method="post" action={"/console/months/" (month) "/close"} {
                        (csrf(s))
                        label { "说明（可选）" input name="reason" size="30"; }
                        button type="submit" data-confirm={"月结 " (month) " 后本月数据不再变化，确定？"} { "月结" }
                    }
                } @else if s.staff.is_admin() {
                    form.inline method="post" action={"/console/months/" (month) "/reopen"} {
                        (csrf(s))
                        label { "重开原因（必填）" input name="reason" size="30" required; }
                        button.danger type="submit" { "重开" }
                    }
                } @else {
                    p.muted { "已月结的月份只能由管理员重开。" }
                }
            }
        }
        section.card {
            nav.actions.noprint {
                @for (kind, label) in REPORTS {
                    @if *kind == view { strong { (label) } } @else { a href=(q(kind)) { (label) } }
                }
                button.secondary type="button" data-print { "打印" }
            }
            p.noprint.muted { "下载本表："
                @for (f, label) in FORMATS {
                    " " a href={"/console/months/" (month) "/file/" (view) "?format=" (f) "&hospital=" (super::urlencode(&hq))} { (label) }
                }
            }
            h2 { (report.title) @if let Some(h) = &hospital { " · " (hospital_name(&hs, h)) } }
            (layout::report(&report))
        }
        section.card.noprint {
            h2 { "与医院账目核对" }
            form method="post" action={"/console/months/" (month) "/check"} enctype="multipart/form-data" {
                (csrf(s))
                input type="hidden" name="hospital" value=(hq);
                label { "核对方式 "
                    select name="kind" {
                        option value="totals" { "对总账（医院的汇总文件）" }
                        option value="details" { "对明细账（医院的明细文件）" }
                    }
                }
                label { "医院文件（CSV / JSON / XML）" input type="file" name="file" required; }
                button type="submit" { "核对" }
            }
        }
    };
    Ok(html(
        status_code,
        layout::page(s, "/console/months", "月度对账", body),
    ))
}

pub async fn page(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let month = nonempty(&q.month).unwrap_or_else(crate::calendar::this_month);
    let view = nonempty(&q.view).unwrap_or_else(|| "statement".into());
    let view = if REPORTS.iter().any(|(k, _)| *k == view) {
        view
    } else {
        "statement".into()
    };
    let extra = match q.done.as_deref() {
        Some("close") => Some(notice(true, &format!("{month} 已月结。"))),
        Some("reopen") => Some(notice(true, &format!("{month} 已重开。"))),
        _ => None,
    };
    render(
        &ctx,
        &s,
        &month,
        nonempty(&q.hospital),
        &view,
        extra,
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct ReasonForm {
    pub csrf: Option<String>,
    pub reason: Option<String>,
}

fn month_error(ctx_month: &str, e: MonthError) -> PageError {
    match e {
        MonthError::AlreadyClosed(_) => PageError::BadRequest(format!("{ctx_month} 已经月结")),
        MonthError::NotClosed => PageError::BadRequest(format!("{ctx_month} 没有月结，无需重开")),
        MonthError::Service(e) => e.into(),
    }
}

pub async fn close(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path(month): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let m = month_of(&month)?;
    let actor = s.staff.actor();
    ctx.service
        .close_month(m, &actor.label())
        .await
        .map_err(|e| month_error(&month, e))?;
    ctx.service
        .audit(
            &actor,
            "month.close",
            &month,
            nonempty(&f.reason).as_deref(),
            None,
        )
        .await?;
    Ok(Redirect::to(&format!("/console/months?month={month}&done=close")).into_response())
}

pub async fn reopen(
    State(ctx): State<ApiContext>,
    super::Admin(s): super::Admin,
    Path(month): Path<String>,
    Form(f): Form<ReasonForm>,
) -> Result<Response, PageError> {
    check_csrf(&s, f.csrf.as_deref())?;
    let m = month_of(&month)?;
    let Some(reason) = nonempty(&f.reason) else {
        return Err(PageError::BadRequest("重开已月结的月份须填写原因".into()));
    };
    let actor = s.staff.actor();
    ctx.service
        .reopen_month(m, &actor.label(), &reason)
        .await
        .map_err(|e| month_error(&month, e))?;
    ctx.service
        .audit(&actor, "month.reopen", &month, Some(&reason), None)
        .await?;
    Ok(Redirect::to(&format!("/console/months?month={month}&done=reopen")).into_response())
}

pub async fn check(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path(month): Path<String>,
    m: Multipart,
) -> Result<Response, PageError> {
    let u = Upload::read(m).await?;
    check_csrf(&s, u.field("csrf"))?;
    let mo = month_of(&month)?;
    let hospital = u
        .field("hospital")
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string);
    let Some((name, text)) = u.file("file") else {
        return Err(PageError::BadRequest("请选择医院的文件".into()));
    };
    let result = match u.field("kind") {
        Some("details") => {
            ctx.service
                .check_details(mo, hospital.as_deref(), text.as_bytes())
                .await
        }
        _ => {
            ctx.service
                .check_totals(mo, hospital.as_deref(), text.as_bytes())
                .await
        }
    };
    let extra = match result {
        Ok(r) => html! {
            section.card {
                h2 { "核对结果：" (name) }
                (layout::report(&r))
            }
        },
        Err(crate::service::ServiceError::Invalid(f)) => {
            let msg = f
                .iter()
                .map(|x| x.message.clone())
                .collect::<Vec<_>>()
                .join("；");
            notice(false, &format!("文件 {name} 无法核对：{msg}"))
        }
        Err(e) => return Err(e.into()),
    };
    render(
        &ctx,
        &s,
        &month,
        hospital,
        "statement",
        Some(extra),
        StatusCode::OK,
    )
    .await
}

#[derive(Debug, Deserialize, Default)]
pub struct FileQuery {
    pub hospital: Option<String>,
    pub format: Option<String>,
}

/// A report file, from the API's own report endpoints (read as the
/// centre).
pub async fn file(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path((month, kind)): Path<(String, String)>,
    Query(q): Query<FileQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = Caller {
        role: Role::Centre,
        key_id: format!("console:{}", s.staff.login),
    };
    let rq = ReportQuery {
        hospital: nonempty(&q.hospital),
        format: nonempty(&q.format),
        ..Default::default()
    };
    let r = match kind.as_str() {
        "statement" => {
            crate::http::recon::statement(State(ctx), caller, Path(month), Query(rq), headers).await
        }
        "details" => {
            crate::http::recon::details(State(ctx), caller, Path(month), Query(rq), headers).await
        }
        "clearing" => {
            crate::http::recon::clearing(State(ctx), caller, Path(month), Query(rq), headers).await
        }
        "disbursement" => {
            crate::http::recon::disbursement(State(ctx), caller, Path(month), Query(rq), headers)
                .await
        }
        "waivers" | "major-disease" | "floor" => {
            crate::http::recon::ledger(
                State(ctx),
                caller,
                Path((month, kind.clone())),
                Query(rq),
                headers,
            )
            .await
        }
        _ => return PageError::NotFound("没有这种报表".into()).into_response(),
    };
    let mut resp = r.into_response();
    // A download, not a page to show in the tab.
    if let Some(f) = nonempty(&q.format) {
        let ext = if f == "xlsx" { "xlsx" } else { f.as_str() };
        let name = format!("attachment; filename=\"{kind}.{ext}\"");
        if let Ok(v) = axum::http::HeaderValue::from_str(&name) {
            resp.headers_mut()
                .insert(axum::http::header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}
