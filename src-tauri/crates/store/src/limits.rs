//! What a portal's columns hold, so that a number it would change is refused at save time, in
//! words, instead of being queued. A portal runs MySQL with an empty `sql_mode` (the site
//! checker, `CSiteCheckerTest::check_mysql_mode`, reports any other mode as an error), so a
//! value beyond a column is not refused there but silently cut to the column's limit, and the
//! ORM rounds away decimals beyond a field's scale first. Either way the portal would keep
//! another number than the one written.
//!
//! - Amounts (`opportunity`, `taxValue`): `FieldRepository::getOpportunity`/`getTaxValue` are
//!   `FloatField`s with `configureScale(2)` (`FloatField::cast` rounds to two decimals), stored in
//!   `DECIMAL(18,2)` columns (`PrototypeItem::getMap` declares them `DecimalField` with precision
//!   18, scale 2; `b_crm_deal`/`b_crm_lead` as the BI connector's mappings describe them):
//!   at most 16 integer digits and 2 decimals.
//! - The probability: `Field\Percentage::processLogic` moves anything above 100 to 100 and below
//!   0 to 0 (a `TINYINT` column).
//! - Integer user fields: `IntegerType::getDbColumnType` is the SQL helper's type for an
//!   `IntegerField` of size 4, MySQL `INT` (−2 147 483 648 … 2 147 483 647); multiple values
//!   also go to `b_utm_*.VALUE_INT` (`CUserTypeManager::Update`).
//! - Double user fields: a MySQL `DOUBLE` (`DoubleType::getDbColumnType`); what is not a finite
//!   number is stored as 0 (`CUserTypeManager::Update` turns a non-finite `doubleval` into 0).

use kartoteka_domain::{FieldMeta, FieldType};
use serde_json::Value;

/// The largest amount a `DECIMAL(18,2)` holds, as text: 16 integer digits.
const AMOUNT_INT_DIGITS: usize = 16;
const AMOUNT_DECIMALS: usize = 2;
/// 9 999 999 999 999 999.99 as the nearest `f64` (a JSON number cannot be closer to it).
const AMOUNT_MAX_F64: f64 = 1e16;
const INT_MIN: f64 = i32::MIN as f64;
const INT_MAX: f64 = i32::MAX as f64;

/// What is wrong with one number for the field `meta` on a portal: `(Russian, English)`, or
/// `None` when the portal stores it as written. Only called for values of the right shape.
pub(crate) fn number_problem(meta: &FieldMeta, v: &Value) -> Option<(String, String)> {
    let label = &meta.label;
    if is_amount(meta) {
        return amount_problem(v).map(|p| match p {
            Amount::TooLarge => (
                format!(
                    "«{label}»: не больше 9 999 999 999 999 999,99 по модулю — больше портал не хранит"
                ),
                format!(
                    "\"{label}\" can be at most 9,999,999,999,999,999.99 either way: the portal stores no more"
                ),
            ),
            Amount::TooPrecise => (
                format!("«{label}»: не больше двух знаков после запятой — остальные портал округлит"),
                format!("\"{label}\" takes at most two decimal places: the portal rounds away the rest"),
            ),
        });
    }
    let n = as_number(v)?;
    match meta.field_type {
        FieldType::Integer if !meta.is_custom && meta.name == "probability" => {
            (!(0.0..=100.0).contains(&n)).then(|| {
                (
                    format!("«{label}»: целое число от 0 до 100"),
                    format!("\"{label}\" is a whole number from 0 to 100"),
                )
            })
        }
        FieldType::Integer if meta.is_custom => (!(INT_MIN..=INT_MAX).contains(&n)).then(|| {
            (
                format!(
                    "«{label}»: целое число от −2 147 483 648 до 2 147 483 647 — больше портал не хранит"
                ),
                format!(
                    "\"{label}\" is a whole number from -2,147,483,648 to 2,147,483,647: the portal stores no more"
                ),
            )
        }),
        FieldType::Double if !n.is_finite() => Some((
            format!("«{label}»: слишком большое число или не число"),
            format!("\"{label}\": the number is too large or not a number"),
        )),
        _ => None,
    }
}

/// [`number_problem`] for a field's whole value (each of a multiple field's values); values of
/// another shape are left to the save's own checks.
pub(crate) fn value_problem(meta: &FieldMeta, v: &Value) -> Option<(String, String)> {
    match v {
        Value::Array(items) => items.iter().find_map(|x| number_problem(meta, x)),
        other => number_problem(meta, other),
    }
}

/// The `DECIMAL(18,2)` amounts of a record (the `…Account` copies are the portal's own).
fn is_amount(meta: &FieldMeta) -> bool {
    !meta.is_custom
        && meta.field_type == FieldType::Double
        && matches!(meta.name.as_str(), "opportunity" | "taxValue")
}

enum Amount {
    TooLarge,
    TooPrecise,
}

fn amount_problem(v: &Value) -> Option<Amount> {
    let (text, in_range) = match v {
        // A JSON number with a fraction is an `f64`: its size compared as one (the largest
        // amount is 1e16 there), its decimals as written.
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64()?;
            if !x.is_finite() || x.abs() > AMOUNT_MAX_F64 {
                return Some(Amount::TooLarge);
            }
            (n.to_string(), true)
        }
        Value::Number(n) => (n.to_string(), false),
        Value::String(s) => (s.clone(), false),
        _ => return None,
    };
    let (int, frac) = decimal_digits(&text)?;
    if !in_range && int.len() > AMOUNT_INT_DIGITS {
        Some(Amount::TooLarge)
    } else if frac.len() > AMOUNT_DECIMALS {
        Some(Amount::TooPrecise)
    } else {
        None
    }
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A number written in decimal (`-1500.50`, `1.5e3`) as its integer digits without leading
/// zeros and its fraction digits without trailing zeros; `None` when it is no such number.
fn decimal_digits(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    let s = s.strip_prefix(['-', '+']).unwrap_or(s);
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i64>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Where the point falls after the exponent moves it; past either end the digits are zeros.
    // An exponent beyond ±400 changes no answer (far too large, or far too many decimals).
    let point = int.len() as i64 + exp.clamp(-400, 400);
    let digit = |i: i64| {
        usize::try_from(i)
            .ok()
            .and_then(|i| digits.get(i))
            .map_or('0', |d| char::from(*d))
    };
    let int: String = (0..point).map(digit).collect();
    let frac: String = (point.min(0)..digits.len() as i64)
        .filter(|i| *i >= point)
        .map(digit)
        .collect();
    Some((
        int.trim_start_matches('0').to_string(),
        frac.trim_end_matches('0').to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_read_as_written_with_exponents_moving_the_point() {
        let d = |s: &str| decimal_digits(s).map(|(i, f)| format!("{i}|{f}"));
        assert_eq!(d("1500.50").as_deref(), Some("1500|5"));
        assert_eq!(d("-0012.3400").as_deref(), Some("12|34"));
        assert_eq!(d("1.5e3").as_deref(), Some("1500|"));
        assert_eq!(d("15E-3").as_deref(), Some("|015"));
        assert_eq!(d("1e18").as_deref(), Some("1000000000000000000|"));
        assert_eq!(d(".5").as_deref(), Some("|5"));
        assert_eq!(d("7.").as_deref(), Some("7|"));
        assert_eq!(decimal_digits("1e999999").map(|(i, _)| i.len()), Some(401));
        for no in ["", "-", "1,5", "abc", "1e", "1.2.3", "0x10", "inf"] {
            assert_eq!(d(no), None, "{no}");
        }
    }
}
