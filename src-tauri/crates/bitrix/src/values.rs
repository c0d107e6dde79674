//! Field values in Bitrix24's spellings (CONTRACT §8): empty in all its forms, date-only fields,
//! datetimes in several formats, money, `Y`/`N` flags.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};
use serde_json::Value;

/// `null | "" | "0" | 0 | [] | {} | missing`: "empty" for a field whose type allows it (links, dates,
/// lists). Use [`kartoteka_domain::record::is_empty_value`] where `0` is a real value.
pub fn is_empty_wire(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty() || s == "0",
        Some(Value::Number(n)) => n.as_f64() == Some(0.0),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Bool(_)) => false,
    }
}

/// The calendar date of a date-only field: a portal sends 00:00 UTC of the date shown in its
/// zone (`"2024-08-29T19:00:00-05:00"` is the 30th), so the date of the nearest UTC midnight
/// ([`kartoteka_domain::calendar_date`]); `"2000-01-01"` and the locale form `"24.08.2023"` are
/// read as written. Empty forms give `None`.
pub fn date_only(v: &Value) -> Option<NaiveDate> {
    kartoteka_domain::calendar_date(v)
}

/// A datetime value: ISO 8601 with an offset (the normal form), or one of the offset-less forms
/// (`"2024-07-23 08:08:50"`, `"24.08.2023 13:19:39"`, `"2024-07-23T08:08:50"`), which are read in
/// `portal_offset`. Empty forms (`""`, `{}`, `null`) give `None`.
pub fn datetime(v: &Value, portal_offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let s = v.as_str()?.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d);
    }
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z") {
        return Some(d);
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%d.%m.%Y %H:%M:%S",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .and_then(|naive| portal_offset.from_local_datetime(&naive).single())
}

/// A datetime that carries its own offset (`updatedTime`, `createdTime`, …); `None` otherwise.
pub fn datetime_with_offset(v: &Value) -> Option<DateTime<FixedOffset>> {
    let s = v.as_str()?.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
}

/// A money amount as decimal text, never through arithmetic on a float: `19000` → `"19000"`,
/// `999.9` → `"999.9"`, `"1000000.00"` → `"1000000.00"`; empty forms give `None`.
pub fn money_amount(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => {
            let t = s.trim();
            let ok = !t.is_empty()
                && t.parse::<f64>().is_ok()
                && t.chars()
                    .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-'));
            ok.then(|| t.to_string())
        }
        _ => None,
    }
}

/// A money UF value `"300|RUB"` or `"300.50|USD"` as (amount text, currency).
pub fn money_uf(v: &Value) -> Option<(String, String)> {
    let s = v.as_str()?.trim();
    let (amount, currency) = s.split_once('|')?;
    let amount = money_amount(&Value::String(amount.to_string()))?;
    let currency = currency.trim();
    (!currency.is_empty()).then(|| (amount, currency.to_string()))
}

/// A flag: `"Y"`/`"N"` (system flags, boolean UFs), JSON booleans (`user.get`, field descriptions),
/// `1`/`0` and `"1"`/`"0"` (filters, legacy output). Anything else is `None`.
pub fn yes_no(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim() {
            "Y" | "y" | "1" | "true" => Some(true),
            "N" | "n" | "0" | "false" => Some(false),
            _ => None,
        },
        Value::Number(n) => match n.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The wire form of a flag for `crm.item` fields.
pub fn y_n(flag: bool) -> &'static str {
    if flag {
        "Y"
    } else {
        "N"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use serde_json::json;

    #[rstest]
    #[case(json!(null), true)]
    #[case(json!(""), true)]
    #[case(json!("0"), true)]
    #[case(json!(0), true)]
    #[case(json!([]), true)]
    #[case(json!({}), true)]
    #[case(json!(84), false)]
    #[case(json!("84"), false)]
    #[case(json!(false), false)]
    fn empty_values_in_all_their_forms(#[case] v: Value, #[case] empty: bool) {
        assert_eq!(is_empty_wire(Some(&v)), empty);
        assert!(is_empty_wire(None));
    }

    #[rstest]
    #[case("2000-01-01T02:00:00+02:00", "2000-01-01")]
    #[case("2026-03-13T03:00:00+01:00", "2026-03-13")]
    #[case("2024-08-30T00:00:00-05:00", "2024-08-30")]
    #[case("2024-08-29T19:00:00-05:00", "2024-08-30")]
    #[case("2026-07-09T20:00:00-04:00", "2026-07-10")]
    #[case("2024-08-30", "2024-08-30")]
    #[case("24.08.2023", "2023-08-24")]
    fn date_only_fields_are_the_day_of_the_nearest_utc_midnight(
        #[case] wire: &str,
        #[case] date: &str,
    ) {
        assert_eq!(
            date_only(&json!(wire)).map(|d| d.to_string()).as_deref(),
            Some(date)
        );
    }

    #[test]
    fn empty_dates_are_none() {
        for v in [json!(""), json!({}), json!(null), json!("x")] {
            assert_eq!(date_only(&v), None);
            assert_eq!(
                datetime(
                    &v,
                    FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!())
                ),
                None
            );
        }
    }

    #[test]
    fn datetimes_without_offset_are_read_in_the_portal_offset() {
        let msk = FixedOffset::east_opt(3 * 3600).unwrap_or_else(|| unreachable!());
        let iso = datetime(&json!("2024-07-22T18:00:08+02:00"), msk).map(|d| d.to_rfc3339());
        assert_eq!(iso.as_deref(), Some("2024-07-22T18:00:08+02:00"));
        let plain = datetime(&json!("2024-07-23 08:08:50"), msk).map(|d| d.to_rfc3339());
        assert_eq!(plain.as_deref(), Some("2024-07-23T08:08:50+03:00"));
        let locale = datetime(&json!("24.08.2023 13:19:39"), msk).map(|d| d.to_rfc3339());
        assert_eq!(locale.as_deref(), Some("2023-08-24T13:19:39+03:00"));
        assert_eq!(datetime_with_offset(&json!("2024-07-23 08:08:50")), None);
    }

    #[rstest]
    #[case(json!(19000), Some("19000"))]
    #[case(json!(999.9), Some("999.9"))]
    #[case(json!("1000000.00"), Some("1000000.00"))]
    #[case(json!(""), None)]
    #[case(json!(null), None)]
    #[case(json!("abc"), None)]
    fn money_stays_decimal_text(#[case] v: Value, #[case] text: Option<&str>) {
        assert_eq!(money_amount(&v).as_deref(), text);
    }

    #[test]
    fn money_uf_splits_amount_and_currency() {
        assert_eq!(
            money_uf(&json!("300|RUB")),
            Some(("300".into(), "RUB".into()))
        );
        assert_eq!(
            money_uf(&json!("300.50|USD")),
            Some(("300.50".into(), "USD".into()))
        );
        assert_eq!(money_uf(&json!("")), None);
        assert_eq!(money_uf(&json!("300")), None);
    }

    #[rstest]
    #[case(json!("Y"), Some(true))]
    #[case(json!("N"), Some(false))]
    #[case(json!(true), Some(true))]
    #[case(json!(false), Some(false))]
    #[case(json!(1), Some(true))]
    #[case(json!("0"), Some(false))]
    #[case(json!(""), None)]
    #[case(json!(null), None)]
    fn flags_accept_every_spelling(#[case] v: Value, #[case] flag: Option<bool>) {
        assert_eq!(yes_no(&v), flag);
    }

    #[test]
    fn flags_are_written_as_y_and_n() {
        assert_eq!(y_n(true), "Y");
        assert_eq!(y_n(false), "N");
    }
}
