//! The line items of a generated claim: a stay's or a visit's cost split
//! into the item kinds a hospital bills, in fen.

use crate::engine::claim::{Item, ItemClass};
use crate::money::Amount;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

fn fen(x: f64) -> i64 {
    (x * 100.0).round().max(0.0) as i64
}

fn item(
    code: &str,
    name: &str,
    kind: &str,
    class: ItemClass,
    amount_fen: i64,
    limit_fen: Option<i64>,
) -> Item {
    Item {
        code: code.into(),
        name: name.into(),
        kind: kind.into(),
        class,
        amount: Amount(Decimal::new(amount_fen, 2)),
        limit_amount: limit_fen.map(|l| Amount(Decimal::new(l, 2))),
        self_pay_ratio: None,
    }
}

/// Line items of an admission whose bill is about `cost` yuan.
pub(super) fn inpatient_items(
    r: &mut ChaCha8Rng,
    cost: f64,
    stay: i64,
    level: usize,
    nlevels: usize,
) -> Vec<Item> {
    let total = fen(cost);
    let mut items = Vec::with_capacity(10);
    stay_items(&mut items, total, stay, level, nlevels);
    service_items(r, &mut items, total);
    drug_and_treatment_items(r, &mut items, total);
    let used: i64 = items
        .iter()
        .map(|it| {
            (it.amount.0 * Decimal::ONE_HUNDRED)
                .trunc()
                .try_into()
                .unwrap_or(0i64)
        })
        .sum();
    // Class-A drugs take what is left, so the items add up to the bill.
    let rest = (total - used).max(100);
    items.push(item(
        "86900001",
        "甲类药品",
        "drug",
        ItemClass::A,
        rest,
        None,
    ));
    items.retain(|it| !it.amount.0.is_zero());
    items
}

/// A share of the bill between `lo` and `hi` (fen).
fn share(r: &mut ChaCha8Rng, total: i64, lo: f64, hi: f64) -> i64 {
    ((total as f64) * r.gen_range(lo..hi)) as i64
}

/// Registration and beds: by level and length of stay.
fn stay_items(items: &mut Vec<Item>, total: i64, stay: i64, level: usize, nlevels: usize) {
    let reg = [500, 1000, 1500, 2000][level.min(3)] as i64;
    items.push(item(
        "110200001",
        "挂号费",
        "registration",
        ItemClass::A,
        reg.min(total / 20),
        None,
    ));
    let bed_day = 2_000 + 1_500 * level as i64 * 4 / nlevels.max(1) as i64;
    items.push(item(
        "120100001",
        "床位费",
        "bed",
        ItemClass::A,
        (bed_day * stay).min(total / 6),
        None,
    ));
}

/// Lab, examinations, injections, sometimes dressings, an ambulance, an
/// operation and its materials.
fn service_items(r: &mut ChaCha8Rng, items: &mut Vec<Item>, total: i64) {
    let lab = share(r, total, 0.10, 0.18);
    items.push(item("250000001", "化验费", "lab", ItemClass::A, lab, None));
    let exam = share(r, total, 0.05, 0.12);
    items.push(item(
        "270000001",
        "检查费",
        "exam",
        ItemClass::A,
        exam,
        None,
    ));
    let inj = share(r, total, 0.01, 0.04);
    items.push(item(
        "120400001",
        "注射费",
        "injection",
        ItemClass::A,
        inj,
        None,
    ));
    if r.gen_bool(0.3) {
        let d = share(r, total, 0.005, 0.02);
        items.push(item(
            "120300001",
            "换药费",
            "dressing",
            ItemClass::A,
            d,
            None,
        ));
    }
    if r.gen_bool(0.04) {
        items.push(item(
            "480000001",
            "救护车费",
            "ambulance",
            ItemClass::A,
            r.gen_range(8_000..30_000),
            None,
        ));
    }
    if r.gen_bool(0.3) {
        let s = share(r, total, 0.12, 0.25);
        items.push(item(
            "330000001",
            "手术费",
            "surgery",
            ItemClass::A,
            s,
            None,
        ));
        let m = share(r, total, 0.04, 0.10);
        let class = if r.gen_bool(0.7) {
            ItemClass::B
        } else {
            ItemClass::C
        };
        items.push(item("340000001", "卫生材料费", "material", class, m, None));
    }
}

/// Class-B drugs (some with a price limit), sometimes self-paid drugs and
/// treatment.
fn drug_and_treatment_items(r: &mut ChaCha8Rng, items: &mut Vec<Item>, total: i64) {
    let b = share(r, total, 0.08, 0.18);
    let limit = if r.gen_bool(0.3) {
        Some((b as f64 * r.gen_range(0.85..0.98)) as i64)
    } else {
        None
    };
    items.push(item("86900123", "乙类药品", "drug", ItemClass::B, b, limit));
    if r.gen_bool(0.35) {
        let c = share(r, total, 0.02, 0.08);
        items.push(item("86901111", "自费药品", "drug", ItemClass::C, c, None));
    }
    if r.gen_bool(0.3) {
        let t = share(r, total, 0.03, 0.08);
        items.push(item(
            "310000001",
            "治疗费",
            "treatment",
            ItemClass::A,
            t,
            None,
        ));
    }
}

/// Line items of an outpatient visit of about `cost` yuan.
pub(super) fn outpatient_items(r: &mut ChaCha8Rng, cost: f64) -> Vec<Item> {
    let total = fen(cost).max(300);
    let reg = 500.min(total / 10);
    let lab = ((total - reg) as f64 * r.gen_range(0.0..0.25)) as i64;
    let b = ((total - reg - lab) as f64 * r.gen_range(0.1..0.5)) as i64;
    let a = total - reg - lab - b;
    let mut items = vec![item(
        "110200002",
        "门诊诊查费",
        "registration",
        ItemClass::A,
        reg,
        None,
    )];
    if lab > 0 {
        items.push(item("250000001", "化验费", "lab", ItemClass::A, lab, None));
    }
    if b > 0 {
        items.push(item("86900123", "乙类药品", "drug", ItemClass::B, b, None));
    }
    items.push(item(
        "86900001",
        "甲类药品",
        "drug",
        ItemClass::A,
        a.max(1),
        None,
    ));
    items
}
