//! PHP `http_build_query` encoding for `batch` commands (CONTRACT §4).
//!
//! Choices, made to match what PHP itself produces so the portal decodes exactly what we meant:
//! - nested objects use brackets (`filter[%3Eid]=5`), lists use indexes (`select[0]=id`);
//! - brackets stay literal, every key segment and value is percent-encoded except `A–Z a–z 0–9 - _ . ~`,
//!   so `+`, `&`, `=`, `%`, `#`, `$`, `[`, `]` and spaces survive PHP's `urldecode`
//!   (`+79161234567` → `%2B79161234567`; a space becomes `%20`, never `+`);
//! - `true`/`false` become `1`/`0`, as in PHP. Bitrix24 flags are `"Y"`/`"N"` strings: pass those
//!   as strings. (Boolean UFs are *filtered* with `1`/`0`, which is exactly what a bool gives.)
//! - `null` and empty lists/objects produce nothing, as in PHP: they cannot be expressed in a batch.
//! - whole floats are printed without a fraction (`5.0` → `5`), as PHP prints them.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

/// Everything except the RFC 3986 unreserved characters.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Encodes `params` (an object, or a list whose indexes become keys) as a PHP query string.
/// A scalar at the top level has no key and encodes to the empty string.
pub fn encode_php_query(params: &Value) -> String {
    let mut pairs: Vec<String> = Vec::new();
    match params {
        Value::Object(o) => {
            for (k, v) in o {
                push(&mut pairs, &encode(k), v);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                push(&mut pairs, &i.to_string(), v);
            }
        }
        _ => {}
    }
    pairs.join("&")
}

fn push(pairs: &mut Vec<String>, key: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Bool(b) => pairs.push(format!("{key}={}", if *b { "1" } else { "0" })),
        Value::Number(n) => pairs.push(format!("{key}={}", number_text(n))),
        Value::String(s) => pairs.push(format!("{key}={}", encode(s))),
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                push(pairs, &format!("{key}[{i}]"), item);
            }
        }
        Value::Object(o) => {
            for (k, item) in o {
                push(pairs, &format!("{key}[{}]", encode(k)), item);
            }
        }
    }
}

fn number_text(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        _ => n.to_string(),
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use percent_encoding::percent_decode_str;
    use serde_json::json;

    /// PHP's `urldecode`: `+` is a space, then `%XX`.
    fn php_urldecode(s: &str) -> String {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    }

    #[test]
    fn key_set_list_command_matches_the_contract_example() {
        let q = encode_php_query(&json!({
            "entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["id", "updatedTime"],
            "filter": {">id": 1200}, "order": {"id": "ASC"}, "start": -1
        }));
        assert_eq!(
            q,
            "entityTypeId=2&useOriginalUfNames=Y&select[0]=id&select[1]=updatedTime&filter[%3Eid]=1200&order[id]=ASC&start=-1"
        );
    }

    #[test]
    fn plus_in_a_phone_number_survives_php_decoding() {
        let q = encode_php_query(&json!({"filter": {"=phone": "+79161234567"}}));
        assert_eq!(q, "filter[%3Dphone]=%2B79161234567");
        let value = q.split_once('=').map(|(_, v)| v).unwrap_or_default();
        assert_eq!(php_urldecode(value), "+79161234567");
    }

    #[test]
    fn reserved_characters_and_unicode_round_trip_through_php_decoding() {
        let tricky = "a&b=c%d#e f+g $result[c0][items][49][id] Иван ~._-";
        let q = encode_php_query(&json!({ "v": tricky }));
        let value = q.strip_prefix("v=").unwrap_or_default();
        assert!(
            !value.contains(['&', '=', '+', ' ', '#', '$', '[']),
            "{value}"
        );
        assert_eq!(php_urldecode(value), tricky);
    }

    #[test]
    fn nested_multi_field_update_uses_index_and_key_brackets() {
        let q = encode_php_query(&json!({
            "id": 5,
            "fields": {"fm": {"n0": {"typeId": "PHONE", "value": "+7 916"}}, "UF_CRM_1": ["a", "b"]}
        }));
        assert_eq!(
            q,
            "id=5&fields[fm][n0][typeId]=PHONE&fields[fm][n0][value]=%2B7%20916&fields[UF_CRM_1][0]=a&fields[UF_CRM_1][1]=b"
        );
    }

    #[test]
    fn or_filter_nests_logic_groups() {
        let q = encode_php_query(
            &json!({"filter": {"0": {"logic": "OR", "0": {">updatedTime": "2026-03-01T09:00:00+03:00"}}}}),
        );
        assert_eq!(
            q,
            "filter[0][logic]=OR&filter[0][0][%3EupdatedTime]=2026-03-01T09%3A00%3A00%2B03%3A00"
        );
    }

    #[test]
    fn booleans_become_one_and_zero_and_nulls_and_empty_lists_vanish_as_in_php() {
        let q = encode_php_query(
            &json!({"a": true, "b": false, "c": null, "d": [], "e": {}, "f": 1.0, "g": 999.9}),
        );
        assert_eq!(q, "a=1&b=0&f=1&g=999.9");
    }

    #[test]
    fn scalars_at_the_top_have_no_key_and_lists_use_indexes() {
        assert_eq!(encode_php_query(&json!("x")), "");
        assert_eq!(encode_php_query(&json!(["x", 2])), "0=x&1=2");
    }
}
