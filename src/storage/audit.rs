//! The auditor (对账稽核): rebuilds what the money tables imply and reports
//! every place the stored state disagrees. The service keeps these
//! invariants under any concurrency; the auditor is how an operator proves
//! it after the fact (TigerBeetle-style: check, don't trust).

use super::{with_pool, Db, Result};
use sqlx::Row;

/// One broken invariant, in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Which invariant: `conservation`, `layers_sum`, `reversal_mirror`,
    /// `double_reversal`, `accumulator`.
    pub check: &'static str,
    /// The row concerned (settlement id, or `person/year/layer`).
    pub subject: String,
    pub detail: String,
}

/// What an audit looked at and found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditReport {
    pub settlements: i64,
    pub reversals: i64,
    pub accumulators: i64,
    pub findings: Vec<Finding>,
}

impl Db {
    /// Check every stored invariant (docs/ARCHITECTURE.md) over the whole database:
    /// conservation per row (`total = hospital_waived + fund_paid +
    /// patient_payable`, `fund_paid = Σ layers.paid`), every reversal the
    /// exact negation of its original (and at most one per original), and
    /// every accumulator equal to the sum of its person's rows.
    pub async fn audit(&self) -> Result<AuditReport> {
        let mut report = AuditReport::default();
        with_pool!(self, |pool, backend| {
            let counts = sqlx::query(
                "SELECT CAST(COUNT(*) FILTER (WHERE kind = 'settlement') AS BIGINT) AS s,
                        CAST(COUNT(*) FILTER (WHERE kind = 'reversal') AS BIGINT) AS r,
                        (SELECT CAST(COUNT(*) AS BIGINT) FROM accumulators) AS a
                 FROM settlements",
            )
            .fetch_one(pool)
            .await?;
            report.settlements = counts.try_get("s")?;
            report.reversals = counts.try_get("r")?;
            report.accumulators = counts.try_get("a")?;

            for r in sqlx::query(
                "SELECT id, total, hospital_waived, fund_paid, patient_payable FROM settlements
                 WHERE total <> hospital_waived + fund_paid + patient_payable",
            )
            .fetch_all(pool)
            .await?
            {
                report.findings.push(Finding {
                    check: "conservation",
                    subject: r.try_get("id")?,
                    detail: format!(
                        "total {} ≠ waived {} + fund {} + patient {} (fen)",
                        r.try_get::<i64, _>("total")?,
                        r.try_get::<i64, _>("hospital_waived")?,
                        r.try_get::<i64, _>("fund_paid")?,
                        r.try_get::<i64, _>("patient_payable")?
                    ),
                });
            }

            for r in sqlx::query(
                "SELECT s.id, s.fund_paid, CAST(COALESCE(SUM(l.paid), 0) AS BIGINT) AS layers
                 FROM settlements s LEFT JOIN settlement_layers l ON l.settlement_id = s.id
                 GROUP BY s.id, s.fund_paid
                 HAVING s.fund_paid <> CAST(COALESCE(SUM(l.paid), 0) AS BIGINT)",
            )
            .fetch_all(pool)
            .await?
            {
                report.findings.push(Finding {
                    check: "layers_sum",
                    subject: r.try_get("id")?,
                    detail: format!(
                        "fund_paid {} ≠ Σ layers.paid {} (fen)",
                        r.try_get::<i64, _>("fund_paid")?,
                        r.try_get::<i64, _>("layers")?
                    ),
                });
            }

            for r in sqlx::query(
                "SELECT r.id FROM settlements r JOIN settlements o ON o.id = r.reverses
                 WHERE r.kind = 'reversal' AND (
                    r.total <> -o.total OR r.hospital_waived <> -o.hospital_waived
                    OR r.fund_paid <> -o.fund_paid OR r.patient_payable <> -o.patient_payable
                    OR r.person_id <> o.person_id OR r.year <> o.year
                    OR EXISTS (SELECT 1 FROM settlement_layers lo
                               LEFT JOIN settlement_layers lr
                                 ON lr.settlement_id = r.id AND lr.position = lo.position
                               WHERE lo.settlement_id = o.id AND (lr.settlement_id IS NULL
                                 OR lr.paid <> -lo.paid OR lr.deductible <> -lo.deductible
                                 OR lr.eligible <> -lo.eligible)))",
            )
            .fetch_all(pool)
            .await?
            {
                report.findings.push(Finding {
                    check: "reversal_mirror",
                    subject: r.try_get("id")?,
                    detail: "a reversal is not the exact negation of its original".into(),
                });
            }

            for r in sqlx::query(
                "SELECT reverses, CAST(COUNT(*) AS BIGINT) AS n FROM settlements
                 WHERE kind = 'reversal' GROUP BY reverses HAVING COUNT(*) > 1",
            )
            .fetch_all(pool)
            .await?
            {
                report.findings.push(Finding {
                    check: "double_reversal",
                    subject: r.try_get("reverses")?,
                    detail: format!("reversed {} times", r.try_get::<i64, _>("n")?),
                });
            }
            let _ = backend;
            Ok::<(), super::StorageError>(())
        })?;
        for m in self.audit_accumulators().await? {
            report.findings.push(Finding {
                check: "accumulator",
                subject: format!("{}/{}/{}", m.person_id, m.year, m.layer_id),
                detail: format!(
                    "stored (deductible_used, eligible_cum, paid) {:?} ≠ sum of settlements {:?} (fen)",
                    m.stored, m.summed
                ),
            });
        }
        Ok(report)
    }
}
