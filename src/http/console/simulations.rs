//! 测算 (administrators): a baseline policy and a date range of stored
//! claims, a scenario changed in the form (a layer's ratio by category,
//! deductible, cap, a pool's amount) or uploaded as a file, a budget; the
//! report, and the earlier runs kept in the database.

use super::layout::{self, csrf, notice};
use super::{check_csrf, html, Admin, PageError, Upload};
use crate::http::ApiContext;
use crate::service::console::Session;
use crate::service::simulation::{self, SimulationError, SimulationRequest};
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};
use serde_json::json;

/// What the form's structured change edits.
const FIELDS: &[(&str, &str)] = &[
    ("ratio_by_category", "某类别的报销比例"),
    ("ratio", "报销比例（统一）"),
    ("deductible", "起付线（元）"),
    ("cap", "年度封顶线（元）"),
    ("pool", "共用限额（元）"),
];

async fn form(ctx: &ApiContext, s: &Session, extra: Option<Markup>) -> Result<Markup, PageError> {
    let policies = ctx.service.policies.current();
    let runs = ctx.service.db.simulation_runs(50).await?;
    // The baseline offered first: the policy whose period holds the most
    // stored claims (the first one when none holds any).
    let mut first = policies.first();
    let mut most = 0;
    for p in policies.iter() {
        let n = ctx
            .service
            .db
            .count_active_claims(&crate::storage::DischargeRange {
                from: Some(p.effective_from.to_string()),
                to: Some(p.effective_to.to_string()),
            })
            .await?;
        if n > most {
            most = n;
            first = Some(p);
        }
    }
    let first_id = first.map(|p| p.id.as_str());
    // Its first aid layer (the usual thing to change), and its first
    // category.
    let default_layer = first.and_then(|p| {
        p.layers
            .iter()
            .find(|l| l.payer == crate::engine::policy::Payer::Aid)
            .map(|l| l.id.as_str())
    });
    let default_category = first.and_then(|p| p.categories.first().map(|(id, _)| id.as_str()));
    let (from, to) = first.map_or(("".to_string(), "".to_string()), |p| {
        (p.effective_from.to_string(), p.effective_to.to_string())
    });
    Ok(html! {
        @if let Some(x) = extra { (x) }
        section.card {
            h2 { "新的测算" }
            form method="post" action="/console/simulations" enctype="multipart/form-data" {
                (csrf(s))
                div.row {
                    label { "基准政策 "
                        select name="baseline" {
                            @for p in policies.iter() {
                                option value=(p.id) data-from=(p.effective_from) data-to=(p.effective_to) selected[Some(p.id.as_str()) == first_id] { (p.id) "（" (p.name) "）" }
                            }
                        }
                    }
                    label { " 出院日期自 " input type="date" name="from" value=(from) required; }
                    label { " 至 " input type="date" name="to" value=(to) required; }
                }
                fieldset {
                    legend { "方案：在基准政策上改一项" }
                    div.row {
                    label { "层级或限额 "
                        select name="layer" {
                            @for p in policies.iter() {
                                optgroup label=(p.id) {
                                    @for l in &p.layers {
                                        option value=(l.id) selected[Some(p.id.as_str()) == first_id && Some(l.id.as_str()) == default_layer] { (l.display_name()) "（" (l.id) "）" }
                                    }
                                    @for pool in &p.pools { option value={"pool:" (pool.id)} { (pool.display_name()) } }
                                }
                            }
                        }
                    }
                    label { " 改动 "
                        select name="field" { @for (k, l) in FIELDS { option value=(k) { (l) } } }
                    }
                    label { " 类别（按类别比例时） "
                        select name="category" {
                            option value="" { "—" }
                            @for p in policies.iter() {
                                optgroup label=(p.id) { @for (id, l) in &p.categories { option value=(id) selected[Some(p.id.as_str()) == first_id && Some(id.as_str()) == default_category] { (l) } } }
                            }
                        }
                    }
                    label { " 新值 " input name="value" size="10" placeholder="0.85 或 20000"; }
                    }
                    p.muted { "或上传一个完整的方案政策文件（TOML），上传时忽略上面的改动：" input type="file" name="scenario" accept=".toml"; }
                }
                div.row {
                    label { "医疗救助年度预算（元，可选） " input name="budget" size="12" inputmode="decimal"; }
                    label { " 区间估计重抽样次数 " input type="number" name="bootstrap" value="200" min="0" max="1000"; }
                }
                button type="submit" { "运行测算" }
            }
        }
        section.card {
            h2 { "以往的测算" }
            @if runs.is_empty() {
                p.muted { "还没有。" }
            } @else {
                table {
                    thead { tr { th { "时间" } th { "测算" } th { "操作人" } } }
                    tbody {
                        @for r in &runs {
                            tr {
                                td { (layout::when(&r.created_at)) }
                                td { a href={"/console/simulations/" (r.id)} { (r.title) } }
                                td { (r.created_by) }
                            }
                        }
                    }
                }
            }
        }
    })
}

pub async fn page(State(ctx): State<ApiContext>, Admin(s): Admin) -> Result<Response, PageError> {
    let body = form(&ctx, &s, None).await?;
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/simulations", "测算", body),
    ))
}

/// Apply one structured change to a policy's text; the scenario gets its
/// own id. Errors are for the person at the form.
pub fn edit_policy(
    text: &str,
    layer: &str,
    field: &str,
    category: &str,
    value: &str,
) -> Result<(String, String), String> {
    let mut doc: toml_edit::DocumentMut =
        text.parse().map_err(|e| format!("基准政策无法读取：{e}"))?;
    let v = value.trim().replace([',', '，'], "");
    let num: rust_decimal::Decimal = v
        .parse()
        .map_err(|_| format!("新值应为数字，实为 {value:?}"))?;
    if num.is_sign_negative() {
        return Err("新值不能为负".into());
    }
    let is_ratio = matches!(field, "ratio" | "ratio_by_category");
    if is_ratio && num > rust_decimal::Decimal::ONE {
        return Err("比例应在 0 到 1 之间，如 0.85".into());
    }
    let val = toml_edit::value(num.normalize().to_string());
    let what;
    if let Some(pool) = layer.strip_prefix("pool:") {
        if field != "pool" {
            return Err("共用限额只能改“共用限额（元）”".into());
        }
        let t = doc
            .get_mut("pools")
            .and_then(|p| p.get_mut(pool))
            .and_then(|p| p.as_table_like_mut())
            .ok_or_else(|| format!("基准政策没有共用限额 {pool}"))?;
        t.insert("amount", val);
        what = format!("共用限额 {pool} = {v} 元");
    } else {
        let layers = doc
            .get_mut("layers")
            .and_then(|l| l.as_array_of_tables_mut())
            .ok_or("基准政策没有 [[layers]]")?;
        let t = layers
            .iter_mut()
            .find(|t| t.get("id").and_then(|i| i.as_str()) == Some(layer))
            .ok_or_else(|| format!("基准政策没有层级 {layer}"))?;
        match field {
            "ratio" => {
                t.insert("ratio", val);
                what = format!("{layer} 比例 {v}");
            }
            "ratio_by_category" => {
                if category.is_empty() {
                    return Err("按类别改比例时请选择类别".into());
                }
                let entry = t
                    .entry("ratio_by_category")
                    .or_insert_with(|| toml_edit::value(toml_edit::InlineTable::new()));
                let tl = entry
                    .as_table_like_mut()
                    .ok_or("ratio_by_category 不是表")?;
                tl.insert(category, val);
                what = format!("{layer} {category} 比例 {v}");
            }
            "deductible" | "cap" => {
                let entry = t.entry(field).or_insert_with(|| {
                    let mut it = toml_edit::InlineTable::new();
                    it.insert("per", "year".into());
                    toml_edit::value(it)
                });
                let tl = entry
                    .as_table_like_mut()
                    .ok_or_else(|| format!("{field} 不是表"))?;
                tl.insert("amount", val);
                what = format!(
                    "{layer} {} {v} 元",
                    if field == "cap" {
                        "封顶线"
                    } else {
                        "起付线"
                    }
                );
            }
            _ => return Err(format!("不能改 {field}")),
        }
    }
    let policy = doc
        .get_mut("policy")
        .and_then(|p| p.as_table_like_mut())
        .ok_or("基准政策没有 [policy]")?;
    let id = policy
        .get("id")
        .and_then(|i| i.as_str())
        .unwrap_or("policy")
        .to_string();
    policy.insert("id", toml_edit::value(format!("{id}-scenario")));
    Ok((doc.to_string(), what))
}

pub async fn run(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    m: Multipart,
) -> Result<Response, PageError> {
    let u = Upload::read(m).await?;
    check_csrf(&s, u.field("csrf"))?;
    let field = |n: &str| u.field(n).unwrap_or("").trim().to_string();
    let baseline = field("baseline");
    let (ctxr, sr) = (&ctx, &s);
    let refuse = move |msg: String| async move {
        let body = form(ctxr, sr, Some(notice(false, &msg))).await?;
        Ok::<Response, PageError>(html(
            StatusCode::OK,
            layout::page(sr, "/console/simulations", "测算", body),
        ))
    };
    let words = |what: String| -> String {
        // The change in the words of the baseline policy (names, labels).
        let Some(p) = ctx.service.policies.by_id(&baseline) else {
            return what;
        };
        let layer = field("layer");
        let name = match layer.strip_prefix("pool:") {
            Some(pool) => p
                .pools
                .iter()
                .find(|x| x.id == pool)
                .map(|x| x.display_name().to_string()),
            None => p
                .layers
                .iter()
                .find(|l| l.id == layer)
                .map(|l| l.display_name().to_string()),
        }
        .unwrap_or(layer);
        let cat = field("category");
        let cat = p
            .categories
            .iter()
            .find(|(k, _)| *k == cat)
            .map_or(cat.clone(), |(_, l)| l.clone());
        let v = field("value");
        match field("field").as_str() {
            "ratio_by_category" => format!("{name} {cat} 比例 {v}"),
            "ratio" => format!("{name} 比例 {v}"),
            "deductible" => format!("{name} 起付线 {v} 元"),
            "cap" => format!("{name} 封顶线 {v} 元"),
            "pool" => format!("{name} {v} 元"),
            _ => what,
        }
    };
    let (scenario, what) = match u.file("scenario").filter(|(_, t)| !t.trim().is_empty()) {
        Some((name, text)) => (text.to_string(), format!("方案文件 {name}")),
        None => {
            let Some(text) = ctx.service.db.policy_source(&baseline).await? else {
                return refuse(format!("没有找到基准政策 {baseline} 的原文")).await;
            };
            match edit_policy(
                &text,
                &field("layer"),
                &field("field"),
                &field("category"),
                &field("value"),
            ) {
                Ok((text, what)) => (text, words(what)),
                Err(e) => return refuse(e).await,
            }
        }
    };
    let mut budget = serde_json::Map::new();
    let b = field("budget").replace([',', '，'], "");
    if !b.is_empty() {
        budget.insert("aid".into(), json!(b));
    }
    let bootstrap: usize = field("bootstrap").parse().unwrap_or(200);
    let req_json = json!({
        "from": field("from"),
        "to": field("to"),
        "baseline": {"id": baseline},
        "scenarios": [{"toml": scenario}],
        "budget": budget,
        "bootstrap": bootstrap,
    });
    let req: SimulationRequest = match serde_json::from_value(req_json.clone()) {
        Ok(r) => r,
        Err(e) => return refuse(format!("测算参数不正确：{e}")).await,
    };
    let plan = match req.plan(&ctx.service.policies) {
        Ok(p) => p,
        Err(fields) => {
            let msg = fields
                .iter()
                .map(|f| format!("{}：{}", f.path, f.message))
                .collect::<Vec<_>>()
                .join("；");
            return refuse(format!("测算参数不正确：{msg}")).await;
        }
    };
    let (from, to) = (plan.from, plan.to);
    let report = match simulation::run(&ctx.service.db, plan).await {
        Ok(r) => r,
        Err(SimulationError::TooManyClaims(n)) => {
            return refuse(format!("区间内理赔太多（{n} 笔），请缩小日期范围")).await
        }
        Err(SimulationError::Storage(e)) => return Err(e.into()),
        Err(SimulationError::Internal(e)) => {
            tracing::error!(error = %e, "simulation failed");
            return Err(PageError::Internal);
        }
    };
    let report_json = serde_json::to_string(&report).map_err(|_| PageError::Internal)?;
    let report_html = crate::sim::html::render(&report);
    let title = format!("{baseline} {from}–{to}：{what}");
    let id = ctx
        .service
        .keep_simulation(
            &title,
            &req_json.to_string(),
            &report_json,
            &report_html,
            &s.staff.actor(),
        )
        .await?;
    Ok(Redirect::to(&format!("/console/simulations/{id}")).into_response())
}

pub async fn show(
    State(ctx): State<ApiContext>,
    Admin(s): Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let r = ctx
        .service
        .db
        .simulation_run(&id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("没有测算 {id}")))?;
    let body = html! {
        section.card {
            p { strong { (r.title) } }
            p.muted { (r.created_by) " · " (layout::when(&r.created_at)) " · 编号 " (r.id) }
            div.actions.noprint {
                a.button href={"/console/simulations/" (r.id) "/report"} target="_blank" { "在新窗口打开报告（可打印）" }
                a href="/console/simulations" { "返回测算" }
            }
        }
        iframe.report src={"/console/simulations/" (r.id) "/report"} title="测算报告" {}
    };
    Ok(html(
        StatusCode::OK,
        layout::page(&s, "/console/simulations", "测算报告", body),
    ))
}

pub async fn report_html(
    State(ctx): State<ApiContext>,
    Admin(_s): Admin,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let r = ctx
        .service
        .db
        .simulation_run(&id)
        .await?
        .ok_or_else(|| PageError::NotFound(format!("没有测算 {id}")))?;
    let mut resp = (StatusCode::OK, r.report_html).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp.headers_mut().insert(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("SAMEORIGIN"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::edit_policy;

    const P: &str = include_str!("../../../fixtures/design/policy.toml");

    #[test]
    fn a_form_change_edits_one_key() {
        let (t, what) = edit_policy(P, "aid", "ratio_by_category", "dibao", "0.8").unwrap();
        let p = crate::engine::Policy::from_toml(&t, "x").unwrap();
        assert_eq!(p.id, "wolong-2017-scenario");
        assert!(what.contains("dibao"));
        let (t, _) = edit_policy(P, "basic", "cap", "", "200000").unwrap();
        crate::engine::Policy::from_toml(&t, "x").unwrap();
        let (t, _) = edit_policy(P, "critical", "deductible", "", "12000").unwrap();
        crate::engine::Policy::from_toml(&t, "x").unwrap();
        assert!(edit_policy(P, "nope", "ratio", "", "0.5").is_err());
        assert!(edit_policy(P, "aid", "ratio", "", "1.5").is_err());
    }
}
