//! 结算查询: the settlement list with filters, a settlement's detail with
//! its explanation lines, and its slip (the API's own slip page).

use super::layout;
use super::registry::settlement_table;
use super::{hospital_name, html, medical_type_label, nonempty, PageError, Staff};
use crate::engine::codes::{printed_payer, Status};
use crate::engine::Answer;
use crate::http::auth::Caller;
use crate::http::ApiContext;
use crate::service::keys::Role;
use crate::storage::console::SettlementQuery;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    pub hospital: Option<String>,
    pub month: Option<String>,
    pub person: Option<String>,
    pub status: Option<String>,
    pub page: Option<i64>,
}

const PAGE: i64 = 50;

pub async fn list(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(1).max(1);
    let status = nonempty(&q.status).filter(|s| {
        [Status::Settled, Status::Cancelled]
            .iter()
            .any(|x| x.code() == s)
    });
    let filter = SettlementQuery {
        hospital: nonempty(&q.hospital),
        month: nonempty(&q.month),
        person: nonempty(&q.person),
        status: status.clone(),
        limit: PAGE,
        offset: (page - 1) * PAGE,
    };
    let (list, total) = ctx.service.db.console_settlements(&filter).await?;
    let hs = ctx.service.db.hospitals().await?;
    let link = |p: i64| {
        format!(
            "/console/settlements?hospital={}&month={}&person={}&status={}&page={p}",
            super::urlencode(filter.hospital.as_deref().unwrap_or("")),
            super::urlencode(filter.month.as_deref().unwrap_or("")),
            super::urlencode(filter.person.as_deref().unwrap_or("")),
            status.as_deref().unwrap_or("")
        )
    };
    let body = html! {
        form.inline method="get" action="/console/settlements" {
            label { "医院"
                select name="hospital" {
                    option value="" { "全部" }
                    @for h in &hs {
                        option value=(h.code) selected[filter.hospital.as_deref() == Some(h.code.as_str())] { (h.name) }
                    }
                }
            }
            label { "记账月" input type="month" name="month" value=[filter.month.as_deref()]; }
            label { "身份证号" input name="person" size="20" value=[filter.person.as_deref()]; }
            label { "状态"
                select name="status" {
                    option value="" { "全部" }
                    option value=(Status::Settled.code()) selected[Status::Settled.is(status.as_deref())] { (Status::Settled.label()) }
                    option value=(Status::Cancelled.code()) selected[Status::Cancelled.is(status.as_deref())] { (Status::Cancelled.label()) }
                }
            }
            button type="submit" { "查询" }
        }
        p.muted { "共 " (total) " 笔" }
        (settlement_table(&ctx, &hs, &list))
        div.pager {
            @if page > 1 { a href=(link(page - 1)) { "上一页" } }
            @if page * PAGE < total { a href=(link(page + 1)) { "下一页" } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/settlements", "结算查询", body),
    ))
}

pub async fn detail(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let st = ctx
        .service
        .db
        .settlement(&id)
        .await?
        .filter(|x| x.kind == "settlement")
        .ok_or_else(|| PageError::NotFound(format!("没有结算 {id}")))?;
    let a: Answer = serde_json::from_str(&st.current_answer_json).map_err(|e| {
        tracing::error!(error = %e, "stored answer does not parse");
        PageError::Internal
    })?;
    let hs = ctx.service.db.hospitals().await?;
    let name = ctx
        .service
        .db
        .person_name(&st.person_id)
        .await?
        .unwrap_or_default();
    let cancelled: Option<(String, String)> =
        serde_json::from_str::<serde_json::Value>(&st.current_answer_json)
            .ok()
            .and_then(|v| {
                Some((
                    v.get("cancelled_at")?.as_str()?.to_string(),
                    v.get("reversal_id")?.as_str()?.to_string(),
                ))
            });
    let audits = ctx
        .service
        .audit_log(&crate::storage::console::AuditFilter {
            limit: 20,
            ..Default::default()
        })
        .await?
        .into_iter()
        .filter(|r| r.subject.contains(&st.person_id) && r.action == "registry.resettle")
        .collect::<Vec<_>>();
    let m = crate::money::fmt2;
    let body = html! {
        section.card {
            div.actions.noprint {
                a.button href={"/console/settlements/" (id) "/slip"} target="_blank" { "打开结算单（可打印）" }
                a href={"/console/persons/" (st.person_id)} { "该人员" }
            }
            table {
                tr { th { "患者" } td { (name) } th { "身份证号" } td { (st.person_id) } }
                tr { th { "医院" } td { (hospital_name(&hs, &st.hospital)) } th { "就诊号" } td { (a.claim_id) } }
                tr { th { "医疗类别" } td { (medical_type_label(&ctx, &a.medical_type)) } th { "政策" } td { (a.policy_id) } }
                tr { th { "结算时间" } td { (layout::when(a.settled_at.as_deref().unwrap_or_default())) } th { "状态" } td {
                    @if let Some((at, rid)) = &cancelled {
                        span.tag.cancelled { (Status::Cancelled.label()) } " " (at) " · 由 " (hospital_name(&hs, &st.hospital)) " 通过接口撤销（冲红 " (rid) "）"
                        @for r in &audits { br; "重新结算：" (r.user_name) "（" (r.user_login) "）" (layout::when(&r.at)) }
                    } @else {
                        span.tag.settled { (Status::Settled.label()) }
                    }
                } }
            }
            h2 { "费用与支付" }
            table {
                tr { th { "医疗总费用" } td.num { (m(a.total)) } th { "政策范围内" } td.num { (m(a.in_policy)) } }
                tr { th { "医院减免" } td.num { (m(a.hospital_waived)) } th { "基金支付合计" } td.num { (m(a.fund_paid)) } }
                tr { th { "个人自付" } td.num { strong { (m(a.patient_payable)) } } th { "报销比例" } td.num { (crate::money::fmt_percent(a.reimbursement_ratio)) } }
            }
            h2 { "各层支付" }
            table {
                thead { tr { th { "项目" } th { "支付方" } th.num { "支付" } } }
                tbody {
                    @for l in &a.layers {
                        tr { td { (l.name) } td { (printed_payer(&l.payer).unwrap_or("其他")) } td.num { (m(l.paid)) } }
                    }
                }
            }
            h2 { "计算说明" }
            ol { @for e in &a.explanation { li { (e) } } }
        }
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/settlements", "结算详情", body),
    ))
}

/// The printable slip: the API's own slip page, read as the centre.
pub async fn slip(
    State(ctx): State<ApiContext>,
    Staff(s): Staff,
    Path(id): Path<String>,
) -> Response {
    crate::http::settlements::slip::slip(
        State(ctx),
        Caller {
            role: Role::Centre,
            key_id: format!("console:{}", s.staff.login),
        },
        Path(id),
    )
    .await
    .into_response()
}
