//! Budgets a simulation compares spending with: what one payer, one layer
//! or all funds may spend in the period simulated.

use super::SimError;
use rust_decimal::Decimal;

/// A budget (`--budget aid=8000000`): what one payer, one layer or all
/// funds may spend in the period simulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub target: BudgetTarget,
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetTarget {
    Payer(crate::engine::policy::Payer),
    Layer(String),
    /// Every fund together (`fund_paid`).
    Fund,
}

impl BudgetTarget {
    pub fn key(&self) -> String {
        match self {
            BudgetTarget::Payer(p) => p.as_str().to_string(),
            BudgetTarget::Layer(l) => format!("layer:{l}"),
            BudgetTarget::Fund => "fund".into(),
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            BudgetTarget::Payer(_) => "payer",
            BudgetTarget::Layer(_) => "layer",
            BudgetTarget::Fund => "fund",
        }
    }
}

impl std::str::FromStr for Budget {
    type Err = SimError;
    /// `KEY=AMOUNT`: KEY is a payer (`insurance`, `aid`, `government`,
    /// `charity`), `fund` (all funds), `layer:ID` or `payer:NAME`; a bare
    /// key that is not a payer names a layer.
    fn from_str(s: &str) -> Result<Budget, SimError> {
        let bad = |m: &str| SimError::Budget(s.to_string(), m.to_string());
        let (k, v) = s
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=AMOUNT, e.g. aid=8000000"))?;
        let amount = crate::money::parse_amount(v.trim().replace('_', "").as_str())
            .map_err(|e| bad(&e.to_string()))?;
        let k = k.trim();
        let payer = |name: &str| {
            crate::engine::policy::Payer::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
        };
        let target = if let Some(l) = k.strip_prefix("layer:") {
            BudgetTarget::Layer(l.trim().to_string())
        } else if let Some(p) = k.strip_prefix("payer:") {
            BudgetTarget::Payer(
                payer(p.trim())
                    .ok_or_else(|| bad("unknown payer (insurance, aid, government or charity)"))?,
            )
        } else if k == "fund" {
            BudgetTarget::Fund
        } else if let Some(p) = payer(k) {
            BudgetTarget::Payer(p)
        } else if k.is_empty() {
            return Err(bad("the key is empty"));
        } else {
            BudgetTarget::Layer(k.to_string())
        };
        Ok(Budget { target, amount })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn parses_budgets() {
        let b: Budget = "aid=8000000".parse().unwrap();
        assert_eq!(
            b.target,
            BudgetTarget::Payer(crate::engine::policy::Payer::Aid)
        );
        assert_eq!(b.amount, dec!(8000000));
        let b: Budget = "critical=1_000_000.50".parse().unwrap();
        assert_eq!(b.target, BudgetTarget::Layer("critical".into()));
        let b: Budget = "layer:aid=5".parse().unwrap();
        assert_eq!(b.target, BudgetTarget::Layer("aid".into()));
        assert!("aid".parse::<Budget>().is_err());
        assert!("aid=-3".parse::<Budget>().is_err());
        assert!("payer:nobody=3".parse::<Budget>().is_err());
    }
}
