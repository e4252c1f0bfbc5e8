//! Amounts in words: 人民币大写 as a cashier writes it on a receipt
//! (壹拾元零伍分). Pure text; the amount itself is never recomputed.
//!
//! The rules are those of the People's Bank's 《支付结算办法》 as receipts
//! apply them: 元 after the integer part (零元 only when there is nothing
//! else), 整 when there are neither 角 nor 分, one 零 for any run of zeros
//! inside the number, 零 before 角 when the 元 digit is zero, and 零 before
//! 分 when there is no 角. Every 拾 carries its digit (壹拾元, not 拾元).

use rust_decimal::Decimal;

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const UNITS: [&str; 4] = ["", "拾", "佰", "仟"];
const GROUPS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];

/// 0..=9999 in words, with 零 for zeros inside it (none leading or
/// trailing).
fn group_words(n: u64, out: &mut String) {
    let digits = [n / 1000 % 10, n / 100 % 10, n / 10 % 10, n % 10];
    let mut zero = false;
    let mut started = false;
    for (i, d) in digits.iter().enumerate() {
        if *d == 0 {
            zero = started;
            continue;
        }
        if zero {
            out.push('零');
            zero = false;
        }
        out.push(DIGITS[*d as usize]);
        out.push_str(UNITS[3 - i]);
        started = true;
    }
}

/// The integer part in words (without 元); empty for 0.
fn integer_words(n: u64) -> String {
    let mut groups = Vec::new();
    let mut m = n;
    while m > 0 {
        groups.push(m % 10_000);
        m /= 10_000;
    }
    let mut out = String::new();
    let mut pending_zero = false;
    for (i, g) in groups.iter().enumerate().rev() {
        if *g == 0 {
            pending_zero = !out.is_empty();
            continue;
        }
        if !out.is_empty() && (pending_zero || *g < 1000) {
            out.push('零');
        }
        group_words(*g, &mut out);
        out.push_str(GROUPS[i.min(GROUPS.len() - 1)]);
        pending_zero = false;
    }
    out
}

/// An amount in fen, in words: `1005` → `壹拾元零伍分`. Negative amounts
/// are prefixed with 负.
pub fn rmb_upper_fen(fen: i64) -> String {
    let neg = fen < 0;
    let abs = fen.unsigned_abs();
    let yuan = abs / 100;
    let jiao = (abs / 10 % 10) as usize;
    let fen_digit = (abs % 10) as usize;
    let mut out = String::new();
    if neg {
        out.push('负');
    }
    if yuan == 0 && jiao == 0 && fen_digit == 0 {
        out.push_str("零元整");
        return out;
    }
    if yuan > 0 {
        out.push_str(&integer_words(yuan));
        out.push('元');
    }
    if jiao == 0 && fen_digit == 0 {
        out.push('整');
        return out;
    }
    if jiao > 0 {
        if yuan > 0 && yuan.is_multiple_of(10) {
            out.push('零');
        }
        out.push(DIGITS[jiao]);
        out.push('角');
    } else if yuan > 0 {
        out.push('零');
    }
    if fen_digit > 0 {
        out.push(DIGITS[fen_digit]);
        out.push('分');
    }
    out
}

/// A decimal amount of yuan in words (rounded to the fen, half away from
/// zero, like every amount in medaid).
pub fn rmb_upper(d: Decimal) -> String {
    rmb_upper_fen(crate::money::to_fen(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn the_cases_a_cashier_writes() {
        let cases: &[(i64, &str)] = &[
            (0, "零元整"),
            (1, "壹分"),
            (5, "伍分"),
            (10, "壹角"),
            (15, "壹角伍分"),
            (100, "壹元整"),
            (105, "壹元零伍分"),
            (110, "壹元壹角"),
            (1000, "壹拾元整"),
            (1005, "壹拾元零伍分"),
            (1010, "壹拾元零壹角"),
            (1234, "壹拾贰元叁角肆分"),
            (1500, "壹拾伍元整"),
            (10_000, "壹佰元整"),
            (10_100, "壹佰零壹元整"),
            (10_110, "壹佰零壹元壹角"),
            (100_000, "壹仟元整"),
            (100_100, "壹仟零壹元整"),
            (101_000, "壹仟零壹拾元整"),
            (168_032, "壹仟陆佰捌拾元零叁角贰分"),
            (5_958, "伍拾玖元伍角捌分"),
            (1_000_000, "壹万元整"),
            (1_000_100, "壹万零壹元整"),
            (1_001_000, "壹万零壹拾元整"),
            (1_010_000, "壹万零壹佰元整"),
            (1_100_000, "壹万壹仟元整"),
            (10_000_010, "壹拾万元零壹角"),
            (10_000_000, "壹拾万元整"),
            (10_500_000, "壹拾万伍仟元整"),
            (100_000_100, "壹佰万零壹元整"),
            (100_100_000, "壹佰万壹仟元整"),
            (120_000_000, "壹佰贰拾万元整"),
            (1_000_000_000, "壹仟万元整"),
            (10_000_000_000, "壹亿元整"),
            (10_001_000_000, "壹亿零壹万元整"),
            (10_100_000_000, "壹亿零壹佰万元整"),
            (11_000_000_000, "壹亿壹仟万元整"),
            (12_345_678_901, "壹亿贰仟叁佰肆拾伍万陆仟柒佰捌拾玖元零壹分"),
            (10_000_000_001, "壹亿元零壹分"),
            (100_000_000_000_000, "壹万亿元整"),
            (1_000_000_000_000_000, "壹拾万亿元整"),
            (-1_005, "负壹拾元零伍分"),
        ];
        for (fen, words) in cases {
            assert_eq!(&rmb_upper_fen(*fen), words, "{fen} fen");
        }
    }

    #[test]
    fn decimals_round_to_the_fen() {
        assert_eq!(rmb_upper(dec!(0.00)), "零元整");
        assert_eq!(rmb_upper(dec!(10.05)), "壹拾元零伍分");
        assert_eq!(rmb_upper(dec!(100000.10)), "壹拾万元零壹角");
        assert_eq!(rmb_upper(dec!(59.58)), "伍拾玖元伍角捌分");
        assert_eq!(rmb_upper(dec!(1663.33)), "壹仟陆佰陆拾叁元叁角叁分");
    }
}
