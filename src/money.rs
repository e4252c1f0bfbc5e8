//! Money (金额): exact decimals in memory, integer fen in the database,
//! two-decimal strings on the wire. No floats anywhere.
//!
//! Rounding is half away from zero to 0.01 and happens only at the points
//! arithmetic names (docs/policy-language.md); every helper that rounds says
//! so in its name.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serializer};
use std::str::FromStr;

/// Round half away from zero to two places (to the fen).
#[inline]
pub fn round2(d: Decimal) -> Decimal {
    let scale = d.scale();
    if scale <= 2 {
        return d; // already whole fen: the common case, and cheap to test
    }
    // Fast path: products of fen amounts and ratios have small mantissas;
    // integer division on u64 is several times quicker than the general
    // rounding routine. Same result (see `round2_fast_path_agrees`).
    let m = d.mantissa();
    let shift = (scale - 2) as usize;
    if shift < POW10.len() && m.unsigned_abs() < (1u128 << 62) {
        let a = m.unsigned_abs() as u64;
        let p = POW10[shift];
        let (q, r) = (a / p, a % p);
        let q = if r >= p - r { q + 1 } else { q };
        let q = q as i64;
        return Decimal::new(if m < 0 { -q } else { q }, 2);
    }
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

const POW10: [u64; 19] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
    100_000_000_000_000_000,
    1_000_000_000_000_000_000,
];

/// A ratio in [0, 1] as `numerator / 10^k`, to take a share of an integer
/// number of fen exactly, rounded half away from zero like
/// [`round2`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fraction {
    numerator: i128,
    denominator: i128,
}

impl Fraction {
    pub fn new(ratio: Decimal) -> Fraction {
        let r = ratio.normalize();
        Fraction {
            numerator: r.mantissa(),
            denominator: 10i128.pow(r.scale()),
        }
    }

    /// `round(fen × ratio)` in fen, or `None` if the product would not fit.
    #[inline]
    pub fn of_fen(self, fen: i64) -> Option<i64> {
        let p = (fen as i128).checked_mul(self.numerator)?;
        let (q, r) = (p / self.denominator, p % self.denominator);
        let q = if 2 * r.abs() >= self.denominator {
            q + p.signum()
        } else {
            q
        };
        i64::try_from(q).ok()
    }

    pub fn is_zero(self) -> bool {
        self.numerator == 0
    }
}

/// Round half away from zero to four places (ratios on the answer).
#[inline]
pub fn round4(d: Decimal) -> Decimal {
    if d.scale() <= 4 {
        return d;
    }
    d.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero)
}

/// `d` as a string with exactly two decimals (`"12.50"`). `d` must already be
/// a whole number of fen; callers round first.
pub fn fmt2(d: Decimal) -> String {
    let mut buf = [0u8; 48];
    fmt2_into(&mut buf, d).to_string()
}

/// Format `d` with exactly two decimals into `buf`, without allocating
/// (answers carry a dozen amounts; this is on the hot path of `settle`).
pub fn fmt2_into(buf: &mut [u8; 48], d: Decimal) -> &str {
    let r = round2(d);
    let mut m = r.mantissa();
    // bring the mantissa to scale 2 (round2 leaves scale ≤ 2)
    for _ in r.scale()..2 {
        m *= 10;
    }
    let neg = m < 0;
    let mut a = m.unsigned_abs();
    let mut i = buf.len();
    let mut digits = 0;
    while a > 0 || digits < 3 {
        if digits == 2 {
            i -= 1;
            buf[i] = b'.';
        }
        i -= 1;
        buf[i] = b'0' + (a % 10) as u8;
        a /= 10;
        digits += 1;
    }
    if neg && m != 0 {
        i -= 1;
        buf[i] = b'-';
    }
    // only ASCII digits, '.' and '-' were written
    std::str::from_utf8(&buf[i..]).unwrap_or("0.00")
}

/// A ratio as a string with at least two decimals (`"0.80"`, `"0.055"`).
pub fn fmt_ratio(d: Decimal) -> String {
    let mut r = d.normalize();
    if r.scale() < 2 {
        r.rescale(2);
    }
    r.to_string()
}

/// Percentage for explanations: `0.80` → `80%`, `0.655` → `65.5%`.
pub fn fmt_percent(d: Decimal) -> String {
    format!("{}%", (d * Decimal::ONE_HUNDRED).normalize())
}

/// Decimal yuan → integer fen (exact; `d` must have at most two decimals).
pub fn to_fen(d: Decimal) -> i64 {
    let mut r = round2(d);
    r.rescale(2);
    // mantissa of a scale-2 decimal is the number of fen
    r.mantissa() as i64
}

/// Integer fen → decimal yuan with two decimals.
pub fn from_fen(fen: i64) -> Decimal {
    Decimal::new(fen, 2)
}

/// Why a money amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    #[error("not a number: {0:?}")]
    NotANumber(String),
    #[error("negative amount {0}")]
    Negative(String),
    #[error("more than two decimals: {0}")]
    TooManyDecimals(String),
    #[error("amount too large: {0}")]
    TooLarge(String),
}

/// Largest amount we accept on one line: 10^12 yuan keeps every sum far from
/// the 96-bit mantissa and from i64 fen.
const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// Parse a money amount: a non-negative decimal with at most two decimals.
pub fn parse_amount(s: &str) -> Result<Decimal, AmountError> {
    let t = s.trim();
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+')
    {
        return Err(AmountError::NotANumber(s.to_string()));
    }
    let d = Decimal::from_str(t).map_err(|_| AmountError::NotANumber(s.to_string()))?;
    check_amount(d, t)
}

fn check_amount(d: Decimal, text: &str) -> Result<Decimal, AmountError> {
    if d.is_sign_negative() && !d.is_zero() {
        return Err(AmountError::Negative(text.to_string()));
    }
    if d.normalize().scale() > 2 {
        return Err(AmountError::TooManyDecimals(text.to_string()));
    }
    if d > Decimal::from(MAX_AMOUNT) {
        return Err(AmountError::TooLarge(text.to_string()));
    }
    Ok(d.abs())
}

/// Serde: serialize a money amount as a two-decimal string.
pub fn ser<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 48];
    s.serialize_str(fmt2_into(&mut buf, *d))
}

/// Serde: serialize a ratio as a decimal string.
pub fn ser_ratio<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&fmt_ratio(*d))
}

/// Serde: an optional ratio.
pub fn ser_opt_ratio<S: Serializer>(d: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&fmt_ratio(*d)),
        None => s.serialize_none(),
    }
}

/// A money amount as read from a claim: a string (`"12.50"`) or a JSON
/// number read from its literal, non-negative, at most two decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Amount(pub Decimal);

impl serde::Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ser(&self.0, s)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = NumberText::deserialize(d)?.0;
        parse_amount(&text)
            .map(Amount)
            .map_err(serde::de::Error::custom)
    }
}

/// The text of a number as the sender wrote it: a JSON string, or a JSON
/// number read from its literal (serde_json's `arbitrary_precision`), so
/// that `320.00000000000001` is seen as written and never passes through
/// binary floating point.
pub struct NumberText(pub String);

/// The key under which serde_json (`arbitrary_precision`) hands a number's
/// literal to a visitor.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Deserialize<'de> for NumberText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = NumberText;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a decimal number, e.g. \"12.50\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumberText, E> {
                Ok(NumberText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumberText, E> {
                Ok(NumberText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumberText, E> {
                Ok(NumberText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumberText, E> {
                // Only formats without number literals get here (never JSON).
                Err(E::custom(format!(
                    "{v} was read as a binary floating-point number; send amounts as decimal strings"
                )))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<NumberText, A::Error> {
                match map.next_key::<String>()? {
                    Some(k) if k == JSON_NUMBER_TOKEN => {
                        Ok(NumberText(map.next_value::<String>()?))
                    }
                    _ => Err(serde::de::Error::custom(
                        "expected a number, found an object",
                    )),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn fraction_rounds_like_round2() {
        for ratio in [
            dec!(0.10),
            dec!(0.155),
            dec!(0.333),
            dec!(1),
            dec!(0),
            dec!(0.0000001),
        ] {
            let f = Fraction::new(ratio);
            for fen in [0i64, 1, 5, 15, 99, 12345, 99_999_999_999] {
                let expected = to_fen(round2(from_fen(fen) * ratio));
                assert_eq!(f.of_fen(fen), Some(expected), "{fen} × {ratio}");
            }
        }
    }

    #[test]
    fn rounds_half_away_from_zero() {
        assert_eq!(round2(dec!(0.005)), dec!(0.01));
        assert_eq!(round2(dec!(0.0049)), dec!(0.00));
        assert_eq!(round2(dec!(-0.005)), dec!(-0.01));
        assert_eq!(round2(dec!(2.675)), dec!(2.68));
        assert_eq!(round4(dec!(0.81665)), dec!(0.8167));
    }

    proptest::proptest! {
        #[test]
        fn round2_fast_path_agrees(m in proptest::num::i64::ANY, scale in 0u32..=28) {
            let d = Decimal::new(m, scale);
            proptest::prop_assert_eq!(
                round2(d),
                d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn fmt2_agrees_with_decimal_display(m in -10_000_000_000_000i64..10_000_000_000_000, scale in 0u32..=6) {
            let d = Decimal::new(m, scale);
            let mut r = round2(d);
            r.rescale(2);
            let expected = if r.is_zero() { "0.00".to_string() } else { r.to_string() };
            proptest::prop_assert_eq!(fmt2(d), expected);
        }
    }

    #[test]
    fn formats_two_decimals() {
        assert_eq!(fmt2(dec!(5)), "5.00");
        assert_eq!(fmt2(dec!(5.5)), "5.50");
        assert_eq!(fmt2(dec!(-0.00)), "0.00");
        assert_eq!(fmt2(dec!(-12.5)), "-12.50");
        assert_eq!(fmt2(dec!(0.07)), "0.07");
        assert_eq!(fmt2(dec!(1234567.891)), "1234567.89");
        assert_eq!(fmt_ratio(dec!(0.8)), "0.80");
        assert_eq!(fmt_ratio(dec!(0.055)), "0.055");
        assert_eq!(fmt_percent(dec!(0.65)), "65%");
    }

    #[test]
    fn parses_amounts_strictly() {
        assert_eq!(parse_amount("12.50").unwrap(), dec!(12.50));
        assert_eq!(parse_amount("12.500").unwrap(), dec!(12.5));
        assert!(matches!(
            parse_amount("-1.00"),
            Err(AmountError::Negative(_))
        ));
        assert!(matches!(
            parse_amount("1.005"),
            Err(AmountError::TooManyDecimals(_))
        ));
        assert!(matches!(
            parse_amount("abc"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(
            parse_amount("1e5"),
            Err(AmountError::NotANumber(_))
        ));
        assert!(matches!(parse_amount(""), Err(AmountError::NotANumber(_))));
    }

    #[test]
    fn fen_round_trip() {
        assert_eq!(to_fen(dec!(123.45)), 12345);
        assert_eq!(to_fen(dec!(7)), 700);
        assert_eq!(from_fen(12345), dec!(123.45));
        assert_eq!(to_fen(from_fen(-99)), -99);
    }
}

/// Serde for a money field stored as a two-decimal string (both ways).
pub mod serde_money {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        super::ser(d, s)
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let s = String::deserialize(d)?;
        Decimal::from_str(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde for a ratio with exactly four decimals (`"0.8167"`).
pub mod serde_ratio4 {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serializer};
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(d: &Decimal, s: S) -> Result<S::Ok, S::Error> {
        let mut r = super::round4(*d);
        r.rescale(4);
        s.serialize_str(&r.to_string())
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
        let s = String::deserialize(d)?;
        Decimal::from_str(&s).map_err(serde::de::Error::custom)
    }
}
