//! The coded values a settlement carries, each with its code (as stored,
//! sent and read) and its Chinese label, defined once: who pays a layer
//! (支付方), the national platform's fund codes (基金类型) and a settlement's
//! status. Storage keeps the codes in its rows; pages, slips and reports
//! print the labels.

/// The hospital's share of a bill (医院减免: its waivers), as printed.
pub const HOSPITAL_WAIVER: &str = "医院减免";

/// Who pays a layer (支付方).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Payer {
    Insurance,
    Aid,
    Government,
    Charity,
}

impl Payer {
    pub const ALL: [Payer; 4] = [
        Payer::Insurance,
        Payer::Aid,
        Payer::Government,
        Payer::Charity,
    ];

    /// The code in the policy file, the answer and the stored layer rows.
    pub const fn code(self) -> &'static str {
        match self {
            Payer::Insurance => "insurance",
            Payer::Aid => "aid",
            Payer::Government => "government",
            Payer::Charity => "charity",
        }
    }

    /// The same as [`Payer::code`], under the name the simulator uses.
    pub fn as_str(self) -> &'static str {
        self.code()
    }

    /// The payer named by `code`, if any.
    pub fn from_code(code: &str) -> Option<Payer> {
        Payer::ALL.into_iter().find(|p| p.code() == code)
    }

    /// The short name, as the policy diff and the simulator's reports
    /// write it.
    pub fn label(self) -> &'static str {
        match self {
            Payer::Insurance => "医疗保险",
            Payer::Aid => "医疗救助",
            Payer::Government => "政府兜底",
            Payer::Charity => "慈善",
        }
    }

    /// The name printed on the slip and the console's pages, where a
    /// charity's share is called 慈善救助.
    pub fn printed_label(self) -> &'static str {
        match self {
            Payer::Charity => "慈善救助",
            p => p.label(),
        }
    }

    /// The fund a layer of this payer reports under when the policy names
    /// none. Insurance layers take basic, critical-illness and
    /// supplementary in file order (`nth_insurance` counts from 0).
    pub fn default_fund(self, nth_insurance: usize) -> Fund {
        match self {
            Payer::Insurance => [
                Fund::ResidentBasic,
                Fund::ResidentCritical,
                Fund::ResidentSupplementary,
            ][nth_insurance.min(2)],
            Payer::Aid => Fund::MedicalAid,
            Payer::Government => Fund::Government,
            Payer::Charity => Fund::Charity,
        }
    }
}

/// The printed name of a stored payer code (`payer` of a layer row or an
/// answer's layer), or `None` for a code that is not a payer.
pub fn printed_payer(code: &str) -> Option<&'static str> {
    Payer::from_code(code).map(Payer::printed_label)
}

/// A fund type of the national platform (基金类型, `fund_pay_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fund {
    /// 职工基本医疗保险统筹基金
    EmployeeBasic,
    /// 职工大额医疗费用补助
    EmployeeLargeAmount,
    /// 公务员医疗补助
    CivilServant,
    /// 城乡居民基本医疗保险基金
    ResidentBasic,
    /// 城乡居民大病保险
    ResidentCritical,
    /// 城乡居民大病补充保险
    ResidentSupplementary,
    /// 医疗救助基金
    MedicalAid,
    /// 医院减免: the hospital's waivers, which are not a fund the platform
    /// pays from.
    HospitalWaiver,
    /// 政府兜底
    Government,
    /// Charity: no national code; medaid reports it under 999997.
    Charity,
}

impl Fund {
    pub const ALL: [Fund; 10] = [
        Fund::EmployeeBasic,
        Fund::EmployeeLargeAmount,
        Fund::CivilServant,
        Fund::ResidentBasic,
        Fund::ResidentCritical,
        Fund::ResidentSupplementary,
        Fund::MedicalAid,
        Fund::HospitalWaiver,
        Fund::Government,
        Fund::Charity,
    ];

    /// The platform's code (`390100`, …).
    pub fn code(self) -> &'static str {
        match self {
            Fund::EmployeeBasic => "310100",
            Fund::EmployeeLargeAmount => "320100",
            Fund::CivilServant => "340100",
            Fund::ResidentBasic => "390100",
            Fund::ResidentCritical => "390200",
            Fund::ResidentSupplementary => "390300",
            Fund::MedicalAid => "610100",
            Fund::HospitalWaiver => "630100",
            Fund::Government => "640100",
            Fund::Charity => "999997",
        }
    }

    /// The fund with this code, if the platform (or medaid) defines it.
    pub fn from_code(code: &str) -> Option<Fund> {
        Fund::ALL.into_iter().find(|f| f.code() == code)
    }

    /// The platform's name of the fund (`fund_pay_type_name`); `None` for
    /// charity, which the platform does not name.
    pub fn label(self) -> Option<&'static str> {
        Some(match self {
            Fund::EmployeeBasic => "职工基本医疗保险统筹基金",
            Fund::EmployeeLargeAmount => "职工大额医疗费用补助",
            Fund::CivilServant => "公务员医疗补助",
            Fund::ResidentBasic => "城乡居民基本医疗保险基金",
            Fund::ResidentCritical => "城乡居民大病保险",
            Fund::ResidentSupplementary => "城乡居民大病补充保险",
            Fund::MedicalAid => "医疗救助基金",
            Fund::HospitalWaiver => HOSPITAL_WAIVER,
            Fund::Government => "政府兜底",
            Fund::Charity => return None,
        })
    }

    /// Basic medical insurance (基本医疗保险), of employees or residents:
    /// its deductible and ratio are the platform's `act_pay_dedc` and
    /// `pool_prop_selfpay`.
    pub fn is_basic(self) -> bool {
        matches!(self, Fund::EmployeeBasic | Fund::ResidentBasic)
    }

    /// The setlinfo column the fund pays into; `oth_pay` for the rest.
    pub fn nhsa_column(self) -> &'static str {
        match self {
            Fund::EmployeeBasic | Fund::ResidentBasic => "hifp_pay",
            Fund::ResidentCritical => "hifmi_pay",
            Fund::EmployeeLargeAmount => "hifob_pay",
            Fund::CivilServant => "cvlserv_pay",
            Fund::MedicalAid => "maf_pay",
            _ => "oth_pay",
        }
    }
}

/// Whether a fund code (as a layer reports it) is basic medical insurance.
pub fn is_basic_fund(code: &str) -> bool {
    Fund::from_code(code).is_some_and(Fund::is_basic)
}

/// Where a settlement stands (the answer's `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Committed (已结算).
    Settled,
    /// Cancelled by a reversal row (已撤销).
    Cancelled,
    /// Computed on the current accumulators, nothing stored (预结算).
    Preview,
}

impl Status {
    /// The code in the answer and the list (`settled`, …).
    pub fn code(self) -> &'static str {
        match self {
            Status::Settled => "settled",
            Status::Cancelled => "cancelled",
            Status::Preview => "preview",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Settled => "已结算",
            Status::Cancelled => "已撤销",
            Status::Preview => "预结算",
        }
    }

    /// The status of a stored settlement.
    pub fn stored(cancelled: bool) -> Status {
        if cancelled {
            Status::Cancelled
        } else {
            Status::Settled
        }
    }

    /// Whether an answer's `status` is this one.
    pub fn is(self, status: Option<&str>) -> bool {
        status == Some(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_back() {
        for p in Payer::ALL {
            assert_eq!(Payer::from_code(p.code()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.code());
        }
        for f in Fund::ALL {
            assert_eq!(Fund::from_code(f.code()), Some(f));
        }
        assert_eq!(Fund::from_code("123456"), None);
    }
}
