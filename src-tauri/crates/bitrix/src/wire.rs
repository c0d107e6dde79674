//! The REST envelope on the wire (CONTRACT §2.1, §4, §5.1): success and error bodies, the `time`
//! block, batch results. Every quirk is absorbed here: `error` as string or number, optional `time`
//! keys, integer-or-float times, `[]` for empty maps, numbers sent as strings.

use crate::error::{ApiError, BitrixError};
use chrono::DateTime;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The `time` block. Every key is optional (§2.1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimeInfo {
    pub start: Option<f64>,
    pub finish: Option<f64>,
    pub duration: Option<f64>,
    pub processing: Option<f64>,
    pub date_start: Option<String>,
    pub date_finish: Option<String>,
    /// When the oldest operating-time basket of this method expires, as unix seconds. Read from an
    /// integer, a float, a numeric string or an ISO datetime string.
    pub operating_reset_at: Option<f64>,
    /// Seconds of execution time this method has used in the last ten minutes.
    pub operating: Option<f64>,
}

impl TimeInfo {
    pub fn from_value(v: &Value) -> Option<TimeInfo> {
        let o = v.as_object()?;
        Some(TimeInfo {
            start: o.get("start").and_then(lenient_f64),
            finish: o.get("finish").and_then(lenient_f64),
            duration: o.get("duration").and_then(lenient_f64),
            processing: o.get("processing").and_then(lenient_f64),
            date_start: o.get("date_start").and_then(non_empty_str),
            date_finish: o.get("date_finish").and_then(non_empty_str),
            operating_reset_at: o.get("operating_reset_at").and_then(lenient_unix_time),
            operating: o.get("operating").and_then(lenient_f64),
        })
    }
}

/// A successful call: `result`, plus paging and timing when present.
#[derive(Debug, Clone, PartialEq)]
pub struct CallResult {
    pub result: Value,
    pub total: Option<u64>,
    pub next: Option<u64>,
    pub time: Option<TimeInfo>,
}

/// One command of a `batch` request. `params` is encoded with [`crate::encode_php_query`].
#[derive(Debug, Clone, PartialEq)]
pub struct BatchCommand {
    pub key: String,
    pub method: String,
    pub params: Value,
}

impl BatchCommand {
    pub fn new(key: impl Into<String>, method: impl Into<String>, params: Value) -> Self {
        BatchCommand {
            key: key.into(),
            method: method.into(),
            params,
        }
    }

    /// `method?query`, as the `cmd` map wants it.
    pub fn encode(&self) -> String {
        let query = crate::php_query::encode_php_query(&self.params);
        if query.is_empty() {
            self.method.clone()
        } else {
            format!("{}?{query}", self.method)
        }
    }
}

/// The outcome of a `batch` request, command by command.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchResult {
    pub results: BTreeMap<String, Value>,
    pub errors: BTreeMap<String, ApiError>,
    pub totals: BTreeMap<String, u64>,
    pub nexts: BTreeMap<String, u64>,
    pub times: BTreeMap<String, TimeInfo>,
}

impl BatchResult {
    /// The command's result, or its error; `None` when it never ran (after a halt).
    pub fn outcome(&self, key: &str) -> Option<Result<&Value, &ApiError>> {
        if let Some(e) = self.errors.get(key) {
            return Some(Err(e));
        }
        self.results.get(key).map(Ok)
    }
}

/// An error body seen in a response: `{"error": …, "error_description": …}`.
pub(crate) fn error_from_body(body: &Map<String, Value>) -> Option<ApiError> {
    let code = body.get("error")?;
    Some(ApiError {
        code: normalize_error_code(code),
        description: body
            .get("error_description")
            .map(value_text)
            .unwrap_or_default(),
    })
}

/// `error` may be a string, an empty string, an integer or a numeric string (§5.1); all become text.
pub fn normalize_error_code(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        other => value_text(other).trim().to_string(),
    }
}

/// Parses a decoded success envelope into a [`CallResult`].
pub(crate) fn call_result_from_body(
    body: Map<String, Value>,
    http_status: u16,
) -> Result<CallResult, BitrixError> {
    let mut body = body;
    let result = body
        .remove("result")
        .ok_or_else(|| BitrixError::MalformedResponse {
            http_status,
            reason: "the envelope has no 'result'".into(),
        })?;
    Ok(CallResult {
        result,
        total: body.get("total").and_then(lenient_u64),
        next: body.get("next").and_then(lenient_u64),
        time: body.get("time").and_then(TimeInfo::from_value),
    })
}

/// Parses `result` of a `batch` call: five maps, each of which may be `{}`, `[]` or a list
/// (PHP serializes a map with keys 0..n as a list).
/// The commands' results move into the [`BatchResult`] (a pull's batch carries 2,500 items).
pub(crate) fn batch_result_from(result: Value) -> Result<BatchResult, BitrixError> {
    let Value::Object(mut o) = result else {
        return Err(BitrixError::MalformedResponse {
            http_status: 200,
            reason: "batch result is not an object".into(),
        });
    };
    let mut out = BatchResult::default();
    match o.remove("result") {
        Some(Value::Object(m)) => out.results.extend(m),
        Some(Value::Array(a)) => out
            .results
            .extend(a.into_iter().enumerate().map(|(i, v)| (i.to_string(), v))),
        _ => {}
    }
    for (k, v) in php_map(o.get("result_error")) {
        let err = v
            .as_object()
            .and_then(error_from_body)
            .unwrap_or_else(|| ApiError {
                code: String::new(),
                description: value_text(v),
            });
        out.errors.insert(k, err);
    }
    for (k, v) in php_map(o.get("result_total")) {
        if let Some(n) = lenient_u64(v) {
            out.totals.insert(k, n);
        }
    }
    for (k, v) in php_map(o.get("result_next")) {
        if let Some(n) = lenient_u64(v) {
            out.nexts.insert(k, n);
        }
    }
    for (k, v) in php_map(o.get("result_time")) {
        if let Some(t) = TimeInfo::from_value(v) {
            out.times.insert(k, t);
        }
    }
    Ok(out)
}

/// A PHP associative array as JSON: an object, or a list whose keys are the indexes, or nothing.
pub(crate) fn php_map(v: Option<&Value>) -> Vec<(String, &Value)> {
    match v {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => Vec::new(),
    }
}

/// A PHP list as JSON: a list, or an object whose values are the items (keys in order), or nothing.
pub(crate) fn php_list(v: Option<&Value>) -> Vec<&Value> {
    match v {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(Value::Object(o)) => o.values().collect(),
        _ => Vec::new(),
    }
}

/// A number from a JSON number or a numeric string.
pub fn lenient_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A non-negative integer from a number (integer or whole float) or a numeric string.
pub fn lenient_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64().or_else(|| {
            n.as_f64()
                .filter(|f| *f >= 0.0 && f.fract() == 0.0)
                .map(|f| f as u64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer id from a number or a numeric string (`"ID": "410"`).
pub fn lenient_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Unix seconds from a number, a numeric string or an ISO 8601 datetime string.
pub fn lenient_unix_time(v: &Value) -> Option<f64> {
    if let Some(n) = lenient_f64(v) {
        return Some(n);
    }
    let s = v.as_str()?.trim();
    DateTime::parse_from_rfc3339(s)
        .ok()
        .or_else(|| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z").ok())
        .map(|d| d.timestamp() as f64)
}

/// Text of a scalar: strings as they are, numbers and booleans printed, `null` empty, others as JSON.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn non_empty_str(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operating_reset_at_is_read_from_int_float_numeric_string_or_iso_text() {
        let reset = |v: Value| {
            TimeInfo::from_value(&json!({ "operating_reset_at": v }))
                .and_then(|t| t.operating_reset_at)
        };
        assert_eq!(reset(json!(1_773_232_373)), Some(1_773_232_373.0));
        assert_eq!(reset(json!(1_773_232_373.5)), Some(1_773_232_373.5));
        assert_eq!(reset(json!("1773232373")), Some(1_773_232_373.0));
        assert_eq!(
            reset(json!("2026-03-11T15:32:53+02:00")),
            Some(1_773_235_973.0)
        );
        assert_eq!(reset(json!("soon")), None);
    }

    #[test]
    fn every_time_key_is_optional() {
        let t = TimeInfo::from_value(&json!({})).unwrap_or_default();
        assert_eq!(t, TimeInfo::default());
        assert_eq!(
            TimeInfo::from_value(&json!([])),
            None,
            "a non-object time block is ignored"
        );
    }

    #[test]
    fn numeric_batch_keys_may_come_back_as_lists() {
        let r = batch_result_from(json!({
            "result": [{"items": []}, {"items": [{"id": 1}]}],
            "result_error": {},
            "result_total": [0, 1],
            "result_next": [],
            "result_time": {}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.results.keys().collect::<Vec<_>>(), vec!["0", "1"]);
        assert_eq!(r.totals.get("1"), Some(&1));
        assert!(batch_result_from(json!("nope")).is_err());
    }

    #[test]
    fn paging_numbers_may_be_strings_or_whole_floats() {
        let body = json!({"result": [], "total": "120", "next": 50.0});
        let r = call_result_from_body(body.as_object().cloned().unwrap_or_default(), 200)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.total, r.next, r.time), (Some(120), Some(50), None));
    }

    #[test]
    fn batch_commands_encode_as_method_and_php_query() {
        let c = BatchCommand::new("c0", "crm.item.get", json!({"entityTypeId": 2, "id": 5}));
        assert_eq!(c.encode(), "crm.item.get?entityTypeId=2&id=5");
        assert_eq!(
            BatchCommand::new("p", "profile", json!({})).encode(),
            "profile"
        );
    }
}
