//! The ten amounts of a settlement (结算金额): one definition for the
//! answer, the stored row, reconciliation and the simulator.
//!
//! The engine computes them as decimals ([`Breakdown<Decimal>`]); storage
//! keeps them in integer fen ([`Breakdown<i64>`]); reports walk them in
//! [`FIELDS`] order, which is also the order of the database columns and
//! of the answer's keys. Conservation holds on every breakdown:
//! `total = hospital_waived + fund_paid + patient_payable`.

use crate::money::{from_fen, to_fen};
use rust_decimal::Decimal;

/// The amounts of one settlement (negated on a reversal).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Breakdown<T> {
    /// 医疗总费用
    pub total: T,
    /// 免收项目 (the waiver's free items)
    pub free_items: T,
    /// 费用减免 (the waiver's percentage)
    pub reduction: T,
    /// 医院减免合计 = free_items + reduction
    pub hospital_waived: T,
    /// 超限价
    pub over_limit: T,
    /// 先行自付
    pub self_pay_first: T,
    /// 全自费
    pub fully_self_pay: T,
    /// 政策范围内
    pub in_policy: T,
    /// 基金支付合计
    pub fund_paid: T,
    /// 个人自付
    pub patient_payable: T,
}

/// (key, label) of each amount, in [`Breakdown::to_array`] order: the key
/// is the database column and the answer's field.
pub const FIELDS: [(&str, &str); 10] = [
    ("total", "医疗总费用"),
    ("free_items", "免收项目"),
    ("reduction", "费用减免"),
    ("hospital_waived", "医院减免合计"),
    ("over_limit", "超限价"),
    ("self_pay_first", "先行自付"),
    ("fully_self_pay", "全自费"),
    ("in_policy", "政策范围内"),
    ("fund_paid", "基金支付合计"),
    ("patient_payable", "个人自付"),
];

impl<T: Copy> Breakdown<T> {
    /// The amounts in [`FIELDS`] order.
    pub fn to_array(&self) -> [T; 10] {
        [
            self.total,
            self.free_items,
            self.reduction,
            self.hospital_waived,
            self.over_limit,
            self.self_pay_first,
            self.fully_self_pay,
            self.in_policy,
            self.fund_paid,
            self.patient_payable,
        ]
    }

    /// The inverse of [`Breakdown::to_array`].
    pub fn from_array(a: [T; 10]) -> Self {
        let [total, free_items, reduction, hospital_waived, over_limit, self_pay_first, fully_self_pay, in_policy, fund_paid, patient_payable] =
            a;
        Breakdown {
            total,
            free_items,
            reduction,
            hospital_waived,
            over_limit,
            self_pay_first,
            fully_self_pay,
            in_policy,
            fund_paid,
            patient_payable,
        }
    }

    /// Each amount through `f`.
    pub fn map<U: Copy>(&self, f: impl Fn(T) -> U) -> Breakdown<U> {
        Breakdown::from_array(self.to_array().map(f))
    }
}

impl Breakdown<Decimal> {
    /// In fen, rounded half away from zero (the amounts are whole fen
    /// already; see [`crate::money::to_fen`]).
    pub fn to_fen(&self) -> Breakdown<i64> {
        self.map(to_fen)
    }
}

impl Breakdown<i64> {
    pub fn to_decimal(&self) -> Breakdown<Decimal> {
        self.map(from_fen)
    }

    /// Every amount negated: what a reversal (冲红) records.
    pub fn negated(&self) -> Breakdown<i64> {
        self.map(|v| -v)
    }

    /// total = hospital_waived + fund_paid + patient_payable.
    pub fn conserves(&self) -> bool {
        self.total == self.hospital_waived + self.fund_paid + self.patient_payable
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_order_is_the_field_order() {
        let b = Breakdown::from_array([1i64, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(b.total, 1);
        assert_eq!(b.hospital_waived, 4);
        assert_eq!(b.patient_payable, 10);
        assert_eq!(b.to_array(), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(FIELDS[3].0, "hospital_waived");
        assert_eq!(FIELDS[9].0, "patient_payable");
    }

    #[test]
    fn fen_and_back_and_negation() {
        let b =
            Breakdown::from_array([32500i64, 500, 3200, 3700, 2000, 3000, 0, 27000, 22842, 5958]);
        assert!(b.conserves());
        assert_eq!(b.to_decimal().total.to_string(), "325.00");
        assert_eq!(b.to_decimal().to_fen(), b);
        assert_eq!(b.negated().total, -32500);
        assert!(b.negated().conserves());
        assert!(!Breakdown { total: 1, ..b }.conserves());
    }
}
