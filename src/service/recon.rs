//! The medical-aid centre's side of the service: statements,
//! checks, clearing, ledgers, month close, and 应退应补 — the glue between
//! storage (rows and sums) and the pure [`crate::recon`] module.

use super::{build_settlement, new_id, CancelledAnswer, Prepared, Service, ServiceError};
use crate::calendar;
use crate::engine::codes::{Payer, Status, HOSPITAL_WAIVER};
use crate::engine::{claim, Accumulator, Answer, Claim};
use crate::money::from_fen;
use crate::recon::check::{self, check_details, check_totals, read_totals};
use crate::recon::clearing::{clearing_report, disbursement_report};
use crate::recon::ledger::{ledger_report, LedgerKind};
use crate::recon::report::{ColType, Report, Table, Value};
use crate::recon::{Cells, Labels, Month};
use crate::storage::recon::{CloseOutcome, ReopenOutcome};
use crate::storage::resettle::{ActiveSettlement, ResettleOutcome, ResettleWrite};
use crate::storage::{self, NewReversal, StorageError};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// What a closed month stores: its cells (every hospital) and its distinct
/// persons per hospital (`*` = all) and category.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    pub cells: Cells,
    pub persons: BTreeMap<String, BTreeMap<String, i64>>,
}

/// A month's state as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthStatus {
    pub month: String,
    /// `open` or `closed`.
    pub status: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    /// (action, actor, reason, at), oldest first.
    #[schema(value_type = Vec<Vec<String>>)]
    pub events: Vec<(String, String, Option<String>, String)>,
}

/// Why a close or reopen was refused.
#[derive(Debug)]
pub enum MonthError {
    AlreadyClosed(Option<String>),
    NotClosed,
    Service(ServiceError),
}

impl From<StorageError> for MonthError {
    fn from(e: StorageError) -> Self {
        MonthError::Service(e.into())
    }
}

/// One planned re-settlement.
#[derive(Debug, Clone)]
pub struct Planned {
    pub original: ActiveSettlement,
    pub old: Answer,
    pub new: Answer,
    pub old_categories: String,
    pub new_categories: String,
    pub write: ResettleWrite,
}

/// A settlement whose person's identity changed but that cannot be
/// re-settled (e.g. the person left the registry): (settlement id, why).
pub type Unresolvable = (String, String);

impl Service {
    /// Labels of every loaded policy.
    pub fn labels(&self) -> Labels {
        Labels::from_policies(self.policies.iter())
    }

    /// How reports are printed for people: the policies' labels, the
    /// hospital directory's names, and the region (the hospital's, else
    /// the loaded policies').
    pub async fn render_options(
        &self,
        hospital: Option<&str>,
        ids: bool,
    ) -> Result<crate::recon::report::RenderOptions, ServiceError> {
        let hospitals = self.db.hospitals().await?;
        let region = match hospital.and_then(|h| hospitals.iter().find(|x| x.code == h)) {
            Some(h) => h.region.clone(),
            None => {
                let mut regions: Vec<String> =
                    self.policies.iter().map(|p| p.region.clone()).collect();
                regions.sort();
                regions.dedup();
                regions.retain(|r| !r.is_empty());
                regions.join("、")
            }
        };
        Ok(crate::recon::report::RenderOptions {
            ids,
            names: crate::recon::report::Names::new(
                &self.labels(),
                hospitals.into_iter().map(|h| (h.code, h.name)),
            ),
            region: Some(region).filter(|r| !r.is_empty()),
            printed_at: None,
        })
    }

    /// The month's cells: the stored snapshot of a closed month (restricted
    /// to `hospital`), else live. Also the month's close row.
    pub async fn month_cells(
        &self,
        month: Month,
        hospital: Option<&str>,
        with_persons: bool,
    ) -> Result<
        (
            Cells,
            Option<storage::recon::MonthRow>,
            BTreeMap<String, i64>,
        ),
        ServiceError,
    > {
        let row = self.db.month_row(month).await?;
        if let Some(r) = row.as_ref().filter(|r| r.status == "closed") {
            let snap: Snapshot = serde_json::from_str(r.snapshot.as_deref().unwrap_or(""))
                .map_err(|e| ServiceError::Internal(format!("snapshot of {month}: {e}")))?;
            let mut cells = snap.cells;
            cells.hospital = hospital.map(str::to_string);
            if let Some(h) = hospital {
                cells.settlements.retain(|k, _| k.hospital == h);
                cells.layers.retain(|k, _| k.cell.hospital == h);
            }
            let persons = snap
                .persons
                .get(hospital.unwrap_or("*"))
                .cloned()
                .unwrap_or_default();
            return Ok((cells, row, persons));
        }
        let cells = self.db.month_cells(month, hospital).await?;
        let persons = if with_persons {
            self.db.month_persons(month, hospital).await?
        } else {
            BTreeMap::new()
        };
        Ok((cells, row, persons))
    }

    fn stamp(report: Report, row: &Option<storage::recon::MonthRow>) -> Report {
        match row.as_ref().filter(|r| r.status == "closed") {
            Some(r) => report
                .param("status", "closed")
                .param("closed_at", r.closed_at.clone().unwrap_or_default()),
            None => report.param("status", "open"),
        }
    }

    /// The month's statement (月结报表).
    pub async fn statement(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<Report, ServiceError> {
        let (cells, row, _) = self.month_cells(month, hospital, false).await?;
        Ok(Self::stamp(cells.statement_report(&self.labels()), &row))
    }

    /// Clearing (清算).
    pub async fn clearing(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<Report, ServiceError> {
        let (cells, row, _) = self.month_cells(month, hospital, false).await?;
        Ok(Self::stamp(clearing_report(&cells), &row))
    }

    /// The aid-disbursement report by category.
    pub async fn disbursement(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<Report, ServiceError> {
        let (cells, row, persons) = self.month_cells(month, hospital, true).await?;
        Ok(Self::stamp(
            disbursement_report(&cells, &persons, &self.labels()),
            &row,
        ))
    }

    /// 对总账 against the hospital's totals file.
    pub async fn check_totals(
        &self,
        month: Month,
        hospital: Option<&str>,
        body: &[u8],
    ) -> Result<Report, ServiceError> {
        let theirs = read_totals(body).map_err(|e| ServiceError::invalid("body", e))?;
        let (cells, row, _) = self.month_cells(month, hospital, false).await?;
        let lines = check_totals(&cells, &theirs);
        Ok(Self::stamp(check::totals_report(&cells, &lines), &row))
    }

    /// 对明细账 against the hospital's detail file.
    pub async fn check_details(
        &self,
        month: Month,
        hospital: Option<&str>,
        body: &[u8],
    ) -> Result<Report, ServiceError> {
        let records = self.db.month_records(month, month, hospital, false).await?;
        let c = check_details(&records, body, hospital)
            .map_err(|e| ServiceError::invalid("body", e))?;
        Ok(check::details_report(&c, &month.to_string(), hospital))
    }

    /// The month's detail list (what a hospital's file should say).
    pub async fn details(
        &self,
        month: Month,
        hospital: Option<&str>,
    ) -> Result<Report, ServiceError> {
        let records = self.db.month_records(month, month, hospital, false).await?;
        Ok(check::detail_list_report(
            &records,
            &month.to_string(),
            hospital,
        ))
    }

    /// A ledger (台账) over months `from..=to`.
    pub async fn ledger(
        &self,
        kind: LedgerKind,
        from: Month,
        to: Month,
        hospital: Option<&str>,
        group: Option<&str>,
    ) -> Result<Report, ServiceError> {
        let mut records = self
            .db
            .month_records(from, to, hospital, kind == LedgerKind::MajorDisease)
            .await?;
        for r in &mut records {
            if let Some(p) = self.policies.iter().find(|p| p.id == r.policy_id) {
                let mask = p.groups_of(r.primary_diagnosis.as_deref());
                r.disease_groups = p
                    .groups
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & crate::engine::policy::bit(*i) != 0)
                    .map(|(_, g)| g.id.clone())
                    .collect();
            }
        }
        let period = if from == to {
            from.to_string()
        } else {
            format!("{from}~{to}")
        };
        let mut rep = ledger_report(kind, &records, &period, group, &self.labels());
        if let Some(h) = hospital {
            rep = rep.param("hospital", h);
        }
        Ok(rep)
    }

    /// A month's state.
    pub async fn month_status(&self, month: Month) -> Result<MonthStatus, ServiceError> {
        let row = self.db.month_row(month).await?;
        let events = self.db.month_events(month).await?;
        Ok(MonthStatus {
            month: month.to_string(),
            status: row.as_ref().map_or("open".into(), |r| r.status.clone()),
            closed_at: row
                .as_ref()
                .and_then(|r| r.closed_at.clone())
                .filter(|_| row.as_ref().is_some_and(|r| r.status == "closed")),
            closed_by: row.as_ref().and_then(|r| r.closed_by.clone()),
            events,
        })
    }

    /// Close (月结) a month: its figures are stored and never change.
    pub async fn close_month(&self, month: Month, actor: &str) -> Result<MonthStatus, MonthError> {
        if let Some(r) = self.db.month_row(month).await? {
            if r.status == "closed" {
                return Err(MonthError::AlreadyClosed(r.closed_at));
            }
        }
        // The snapshot is taken inside the close's transaction: consistent
        // however many settlements commit meanwhile (they book into the next
        // open month once the close commits).
        let outcome = self
            .db
            .close_month(month, actor, |cells, persons| {
                serde_json::to_string(&Snapshot { cells, persons })
                    .map_err(|e| StorageError::Corrupt(format!("snapshot: {e}")))
            })
            .await?;
        match outcome {
            CloseOutcome::Closed { .. } => {
                tracing::info!(%month, actor, "month closed");
                self.month_status(month).await.map_err(MonthError::Service)
            }
            CloseOutcome::AlreadyClosed { closed_at } => Err(MonthError::AlreadyClosed(closed_at)),
        }
    }

    /// Reopen a closed month (admin), with a reason.
    pub async fn reopen_month(
        &self,
        month: Month,
        actor: &str,
        reason: &str,
    ) -> Result<MonthStatus, MonthError> {
        if reason.trim().is_empty() {
            return Err(MonthError::Service(ServiceError::invalid(
                "reason",
                "reopening a closed month needs a reason",
            )));
        }
        match self.db.reopen_month(month, actor, reason.trim()).await? {
            ReopenOutcome::Reopened => {
                tracing::warn!(%month, actor, reason, "month reopened");
                self.month_status(month).await.map_err(MonthError::Service)
            }
            ReopenOutcome::NotClosed => Err(MonthError::NotClosed),
        }
    }

    /// The active settlements of `persons` (all when empty) whose stored
    /// categories differ from what the registry now says for their
    /// discharge date, with the claim bound to the new identity.
    async fn changed_identities(
        &self,
        persons: &[String],
    ) -> Result<(Vec<(ActiveSettlement, Claim, Prepared)>, Vec<Unresolvable>), ServiceError> {
        let mut out = Vec::new();
        let mut bad = Vec::new();
        for s in self.db.active_settlements(persons).await? {
            let mut c = match claim::parse_json(&s.claim_json) {
                Ok(c) => c,
                Err(e) => {
                    bad.push((s.id.clone(), format!("stored claim: {}", e.message)));
                    continue;
                }
            };
            match self.prepare(&mut c, &s.hospital).await {
                Ok(p) => {
                    if p.categories.join(",") != s.categories {
                        out.push((s, c, p));
                    }
                }
                Err(ServiceError::Invalid(f)) => {
                    bad.push((
                        s.id.clone(),
                        f.iter()
                            .map(|f| format!("{}: {}", f.path, f.message))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((out, bad))
    }

    /// Plan the re-settlements of one person on `accs` (by year and layer).
    fn plan(
        cands: &[&(ActiveSettlement, Claim, Prepared)],
        accs: &HashMap<(i32, String), Accumulator>,
    ) -> Result<Vec<Planned>, StorageError> {
        let mut accs = accs.clone();
        let mut out = Vec::new();
        for (s, c, p) in cands.iter().map(|x| (&x.0, &x.1, &x.2)) {
            let year = p.resolved.year;
            for (layer, d) in &s.deltas {
                let a = accs.entry((s.year, layer.clone())).or_default();
                a.deductible_used -= from_fen(d[0]);
                a.eligible_cum -= from_fen(d[1]);
                a.paid -= from_fen(d[2]);
            }
            let layer_accs: Vec<Accumulator> = p
                .policy()
                .slots
                .iter()
                .map(|k| accs.get(&(year, k.clone())).copied().unwrap_or_default())
                .collect();
            let new = build_settlement(
                p,
                c,
                &layer_accs,
                &s.claim_json,
                &s.claim_hash,
                calendar::now_china(),
            )?;
            for l in &new.layers {
                let a = accs.entry((year, l.layer_id.clone())).or_default();
                a.deductible_used += from_fen(l.deductible);
                a.eligible_cum += from_fen(l.eligible);
                a.paid += from_fen(l.paid);
            }
            for (key, paid) in &new.extra {
                accs.entry((year, key.clone())).or_default().paid += from_fen(*paid);
            }
            let old: Answer = serde_json::from_str(&s.answer_json)
                .map_err(|e| StorageError::Corrupt(format!("answer of {}: {e}", s.id)))?;
            let new_answer: Answer = serde_json::from_str(&new.row.answer_json)
                .map_err(|e| StorageError::Corrupt(format!("answer: {e}")))?;
            let now = calendar::now_china();
            let reversal_id = new_id();
            let mut cancelled = old.clone();
            cancelled.status = Some(Status::Cancelled.code().into());
            let answer_json = serde_json::to_string(&CancelledAnswer {
                answer: cancelled,
                cancelled_at: calendar::answer_time(now),
                reversal_id: reversal_id.clone(),
            })
            .map_err(|e| StorageError::Corrupt(format!("answer: {e}")))?;
            out.push(Planned {
                original: s.clone(),
                old,
                new: new_answer,
                old_categories: s.categories.clone(),
                new_categories: p.categories.join(","),
                write: ResettleWrite {
                    original_id: s.id.clone(),
                    reversal: NewReversal {
                        id: reversal_id,
                        committed_at: calendar::timestamp_text(now),
                        booked_month: calendar::month_of(now),
                        answer_json,
                    },
                    new,
                },
            });
        }
        Ok(out)
    }

    /// 应退应补, preview: every active settlement of `persons` (all when
    /// empty) whose identity changed, re-settled under the new identity on
    /// the current accumulators; nothing is written.
    pub async fn resettle_preview(&self, persons: &[String]) -> Result<Report, ServiceError> {
        let (cands, bad) = self.changed_identities(persons).await?;
        let mut planned = Vec::new();
        for (person, group) in by_person(&cands) {
            let mut accs = HashMap::new();
            for y in group
                .iter()
                .map(|x| x.0.year)
                .chain(group.iter().map(|x| x.2.resolved.year))
            {
                for (layer, a) in self.db.accumulators(&person, y).await? {
                    accs.insert((y, layer), a);
                }
            }
            planned.extend(Self::plan(&group, &accs)?);
        }
        Ok(resettle_report(&planned, &bad, false))
    }

    /// 应退应补, confirmed: reverse and re-settle, one transaction per
    /// person, the new settlements linked to the old.
    pub async fn resettle_confirm(&self, persons: &[String]) -> Result<Report, ServiceError> {
        let mut all = Vec::new();
        let mut bad_all = Vec::new();
        for attempt in 0..3 {
            let (cands, bad) = self.changed_identities(persons).await?;
            bad_all = bad;
            let mut stale = false;
            for (person, group) in by_person(&cands) {
                let years: Vec<i32> = group
                    .iter()
                    .flat_map(|x| [x.0.year, x.2.resolved.year])
                    .collect();
                let mut layer_ids: Vec<String> = group
                    .iter()
                    .flat_map(|x| x.2.policy().slots.iter().cloned())
                    .chain(
                        group
                            .iter()
                            .flat_map(|x| x.0.deltas.iter().map(|d| d.0.clone())),
                    )
                    .collect();
                layer_ids.sort();
                layer_ids.dedup();
                let originals: Vec<String> = group.iter().map(|x| x.0.id.clone()).collect();
                let mut planned = Vec::new();
                let out = self
                    .db
                    .resettle(&person, &years, &layer_ids, &originals, |accs| {
                        planned = Self::plan(&group, accs)?;
                        Ok(planned.iter().map(|p| p.write.clone()).collect())
                    })
                    .await?;
                match out {
                    ResettleOutcome::Done(_) => {
                        tracing::info!(person = %person, n = planned.len(), "re-settled after identity change");
                        all.extend(planned);
                    }
                    ResettleOutcome::Stale(id) => {
                        tracing::warn!(settlement_id = %id, attempt, "re-settlement raced a cancellation; planning again");
                        stale = true;
                    }
                }
            }
            if !stale {
                break;
            }
        }
        Ok(resettle_report(&all, &bad_all, true))
    }
}

fn by_person(
    cands: &[(ActiveSettlement, Claim, Prepared)],
) -> BTreeMap<String, Vec<&(ActiveSettlement, Claim, Prepared)>> {
    let mut m: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for c in cands {
        m.entry(c.0.person_id.clone()).or_default().push(c);
    }
    m
}

/// The payers' codes, in the policy model's order.
const PAYERS: [&str; 4] = [
    Payer::Insurance.code(),
    Payer::Aid.code(),
    Payer::Government.code(),
    Payer::Charity.code(),
];

/// The re-settlements as a report: one row per settlement with the
/// difference per payer and for the patient, and totals per payer.
pub fn resettle_report(planned: &[Planned], bad: &[Unresolvable], done: bool) -> Report {
    let mut r = Report::new(
        "resettlement",
        if done {
            "应退应补（已重新结算）"
        } else {
            "应退应补（预览）"
        },
    )
    .param("mode", if done { "confirmed" } else { "preview" })
    .param("settlements", planned.len().to_string());
    let mut t = Table::new("resettlements", "重新结算明细")
        .col("settlement_id", "原结算编号", ColType::Text)
        .col("new_settlement_id", "新结算编号", ColType::Text)
        .col("reversal_id", "冲红编号", ColType::Text)
        .col("person_id", "人员编号", ColType::Text)
        .col("hospital", "医疗机构", ColType::Text)
        .col("claim_id", "就诊流水号", ColType::Text)
        .col("discharged_on", "出院日期", ColType::Text)
        .col("old_categories", "原类别", ColType::Text)
        .col("new_categories", "新类别", ColType::Text)
        .col("total", "医疗总费用", ColType::Money);
    for p in PAYERS {
        t.add_col(
            &format!("{p}_old"),
            &format!("{} 原", crate::recon::record::payer_label(p)),
            ColType::Money,
        );
        t.add_col(
            &format!("{p}_new"),
            &format!("{} 新", crate::recon::record::payer_label(p)),
            ColType::Money,
        );
        t.add_col(
            &format!("{p}_diff"),
            &format!("{} 差额", crate::recon::record::payer_label(p)),
            ColType::Money,
        );
    }
    for (k, l) in [
        ("hospital_waived", HOSPITAL_WAIVER),
        ("patient_payable", "个人自付"),
    ] {
        t.add_col(&format!("{k}_old"), &format!("{l} 原"), ColType::Money);
        t.add_col(&format!("{k}_new"), &format!("{l} 新"), ColType::Money);
        t.add_col(&format!("{k}_diff"), &format!("{l} 差额"), ColType::Money);
    }
    t.add_col("patient_action", "应退/应补", ColType::Text);
    let mut totals: BTreeMap<String, (Decimal, Decimal)> = BTreeMap::new();
    for p in planned {
        let mut row: Vec<Value> = vec![
            p.original.id.clone().into(),
            if done {
                p.write.new.row.id.clone()
            } else {
                String::new()
            }
            .into(),
            if done {
                p.write.reversal.id.clone()
            } else {
                String::new()
            }
            .into(),
            p.original.person_id.clone().into(),
            p.original.hospital.clone().into(),
            p.original.claim_id.clone().into(),
            p.original.discharged_on.clone().into(),
            p.old_categories.clone().into(),
            p.new_categories.clone().into(),
            p.new.total.into(),
        ];
        let mut triple = |k: &str, o: Decimal, n: Decimal| {
            let e = totals.entry(k.to_string()).or_default();
            e.0 += o;
            e.1 += n;
            row.extend([Value::Money(o), Value::Money(n), Value::Money(n - o)]);
        };
        for payer in PAYERS {
            triple(
                payer,
                p.old.paid_by_payer(payer),
                p.new.paid_by_payer(payer),
            );
        }
        triple(
            "hospital_waived",
            p.old.hospital_waived,
            p.new.hospital_waived,
        );
        triple(
            "patient_payable",
            p.old.patient_payable,
            p.new.patient_payable,
        );
        let d = p.new.patient_payable - p.old.patient_payable;
        row.push(
            if d.is_sign_negative() && !d.is_zero() {
                "应退 refund"
            } else if d.is_zero() {
                ""
            } else {
                "应补 supplement"
            }
            .into(),
        );
        t.push(row);
    }
    r.tables.push(t);
    let mut s = Table::new("by_payer", "按支付方合计")
        .col("payer", "支付方", ColType::Text)
        .col("old", "原金额", ColType::Money)
        .col("new", "新金额", ColType::Money)
        .col("difference", "差额(新−原)", ColType::Money);
    for (k, (o, n)) in &totals {
        s.push(vec![
            k.clone().into(),
            Value::Money(*o),
            Value::Money(*n),
            Value::Money(*n - *o),
        ]);
    }
    r.tables.push(s);
    let mut b = Table::new("unresolvable", "无法重新结算")
        .col("settlement_id", "结算编号", ColType::Text)
        .col("reason", "原因", ColType::Text);
    for (id, why) in bad {
        b.push(vec![id.clone().into(), why.clone().into()]);
    }
    r.tables.push(b);
    r
}
