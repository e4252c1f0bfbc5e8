//! Names for what reports hold as ids: hospitals, categories, medical
//! types, layers, payers, statuses and parameters.

use super::Report;
use std::collections::BTreeMap;

/// Names for ids: from the policies (categories, medical types, layers)
/// and the hospital directory.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pub hospitals: BTreeMap<String, String>,
    pub categories: BTreeMap<String, String>,
    pub medical_types: BTreeMap<String, String>,
    pub layers: BTreeMap<String, String>,
}

impl Names {
    /// From the policies' labels and the hospital directory.
    pub fn new(
        labels: &crate::recon::Labels,
        hospitals: impl IntoIterator<Item = (String, String)>,
    ) -> Names {
        Names {
            hospitals: hospitals.into_iter().collect(),
            categories: labels.categories.clone(),
            medical_types: labels.medical_types.clone(),
            layers: labels.layers.clone(),
        }
    }

    /// The report's title with its hospital code replaced by the name.
    pub fn title(&self, r: &Report) -> String {
        match r.param_value("hospital") {
            Some(h) if h != "all" && !h.is_empty() => match self.hospitals.get(&h) {
                Some(name) => r.title.replace(&format!("（{h}）"), &format!("（{name}）")),
                None => r.title.clone(),
            },
            _ => r.title.replace("（all）", "（全部医疗机构）"),
        }
    }

    pub(super) fn hospital_scope(&self, h: &str) -> String {
        if h.is_empty() || h == "all" {
            return "全部".into();
        }
        match self.hospitals.get(h) {
            Some(n) => format!("{n}（{h}）"),
            None => h.to_string(),
        }
    }

    pub(super) fn param_value(&self, key: &str, v: &str) -> String {
        match key {
            "hospital" => self.hospital_scope(v),
            _ => self.value(key, v).unwrap_or_else(|| v.to_string()),
        }
    }

    /// The name of `v` in a column `key`, where one is known.
    pub fn value(&self, key: &str, v: &str) -> Option<String> {
        let fixed = match (key, v) {
            ("section" | "kind", "settlement") => "结算",
            ("section" | "kind", "reversal") => "冲红",
            ("section" | "kind", "net") => "净额",
            ("payer", p) => return Some(payer_label_or(p).to_string()),
            ("kind", "payer") => "支付方",
            ("kind", "layer") => "支付层",
            ("kind", "fund") => "基金合计",
            ("status" | "result", "match") => "一致",
            ("status" | "result", "differs") => "不一致",
            ("status" | "result", "not_reported") => "医院未报",
            ("status" | "result", "unknown") => "中心无此项",
            ("status" | "result", "missing_in_hospital") => "医院缺少",
            ("status" | "result", "missing_in_centre") => "中心缺少",
            ("status" | "result", "duplicate") => "医院重复",
            ("status" | "result", "in_both") => "两边都有",
            ("status" | "result", "only_a") => "仅在甲名单",
            ("status" | "result", "only_b") => "仅在乙名单",
            ("status" | "result", "conflict") => "信息不一致",
            ("status", "open") => "未结账",
            ("status", "closed") => "已结账",
            ("ledger", "waivers") => "七免一减",
            ("ledger", "major-disease") => "大病救治",
            ("ledger", "floor") => "兜底保障",
            ("mode", "preview") => "预览（未执行）",
            ("mode", "confirmed") => "已执行",
            ("action", "close") => "结账",
            ("action", "reopen") => "重新开账",
            ("category" | "primary_category" | "categories", c) => {
                if c.is_empty() {
                    return None;
                }
                return Some(
                    c.split(',')
                        .map(|x| {
                            self.categories
                                .get(x)
                                .cloned()
                                .unwrap_or_else(|| x.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join("、"),
                );
            }
            ("medical_type", m) => return self.medical_types.get(m).cloned(),
            ("layer_id" | "layer", l) => return self.layers.get(l).cloned(),
            (k, t) if k == "at" || k.ends_with("_at") => {
                // Stored timestamps: China time, to the minute.
                return chrono::DateTime::parse_from_rfc3339(t).ok().map(|x| {
                    x.with_timezone(&crate::calendar::china_offset())
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                });
            }
            _ => return None,
        };
        Some(fixed.to_string())
    }
}

/// The payer's name as printed.
pub fn payer_label(payer: &str) -> &'static str {
    match payer {
        "insurance" => "医疗保险",
        "aid" => "医疗救助",
        "government" => "政府兜底",
        "charity" => "慈善救助",
        "hospital" => "医院减免",
        "fund" => "基金合计",
        "patient" => "个人自付",
        _ => "其他",
    }
}

/// A payer's name, or the text itself when it names no payer.
pub fn payer_label_or(p: &str) -> &str {
    match payer_label(p) {
        "其他" => p,
        l => l,
    }
}

pub(super) fn param_label(k: &str) -> &str {
    match k {
        "month" => "月份",
        "to" => "截至月份",
        "from" => "起始",
        "hospital" => "医疗机构",
        "result" => "结果",
        "group" => "病种组",
        "on" => "比对日期",
        "kind" => "类型",
        "status" => "状态",
        "persons" => "人员",
        "period" => "期间",
        "ledger" => "台账",
        "mode" => "方式",
        "settlements" => "结算笔数",
        "fields" => "比对项目",
        "closed_at" => "结账时间",
        "a" => "甲名单",
        "b" => "乙名单",
        _ => k,
    }
}
