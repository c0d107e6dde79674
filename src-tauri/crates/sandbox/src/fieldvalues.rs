//! Converting written field values (`crm.item.add/update` `fields`) into stored values.

use crate::api::ApiError;
use crate::clock::{fmt_date, fmt_datetime, parse_date, parse_datetime};
use crate::schema::Field;
use crate::state::as_i64;
use crate::values::num;
use serde_json::{json, Map, Value};

pub fn not_valid(name: &str) -> ApiError {
    ApiError::bad(
        "CRM_FIELD_ERROR_VALUE_NOT_VALID",
        format!("Invalid value for field \"{name}\""),
    )
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() => "integer",
        Value::Number(_) => "double",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "array",
    }
}

/// One scalar written to a field of this type.
pub fn scalar(f: &Field, v: &Value, offset: i32) -> Result<Value, ApiError> {
    let text = crate::values::scalar_text(v);
    let empty = v.is_null() || text.is_empty();
    let is_link = matches!(
        f.ty.as_str(),
        "crm_company" | "crm_contact" | "crm_lead" | "crm_quote" | "crm_category"
    );
    Ok(match f.ty.as_str() {
        "integer" | "user" | "employee" | "crm_company" | "crm_contact" | "crm_lead"
        | "crm_quote" | "crm_category" | "location" => {
            if empty {
                if is_link {
                    json!(0)
                } else {
                    Value::Null
                }
            } else {
                json!(as_i64(v)
                    .filter(|_| text.trim().parse::<f64>().is_ok())
                    .ok_or_else(|| not_valid(&f.name))?)
            }
        }
        "double" => {
            if empty {
                Value::Null
            } else {
                num(text.trim().parse::<f64>().map_err(|_| not_valid(&f.name))?)
            }
        }
        "boolean" => match text.to_ascii_uppercase().as_str() {
            "Y" | "1" | "TRUE" => json!("Y"),
            "N" | "0" | "FALSE" | "" => json!("N"),
            _ => return Err(not_valid(&f.name)),
        },
        "date" => {
            if empty {
                Value::Null
            } else {
                let d = parse_date(&text)
                    .or_else(|| {
                        parse_datetime(&text, offset).map(|t| crate::clock::date_of(t, offset))
                    })
                    .ok_or_else(|| not_valid(&f.name))?;
                json!(fmt_date(d, offset))
            }
        }
        "datetime" => {
            if empty {
                Value::Null
            } else {
                json!(fmt_datetime(
                    parse_datetime(&text, offset).ok_or_else(|| not_valid(&f.name))?,
                    offset
                ))
            }
        }
        "enumeration" => {
            if empty {
                Value::Null
            } else {
                let id = as_i64(v).ok_or_else(|| not_valid(&f.name))?;
                if !f.items.iter().any(|(i, _)| *i == id) {
                    return Err(not_valid(&f.name));
                }
                json!(id)
            }
        }
        "money" => {
            if empty {
                Value::Null
            } else {
                let (amount, cur) = text.split_once('|').unwrap_or((text.as_str(), "RUB"));
                amount
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| not_valid(&f.name))?;
                json!(format!("{}|{}", amount.trim(), cur))
            }
        }
        _ => {
            if v.is_null() {
                Value::Null
            } else {
                json!(text)
            }
        }
    })
}

/// A value written to a field: multiple fields take arrays (or PHP index objects).
/// Returns `None` when the write must be ignored (`[]` on a multiple enumeration, §2.6).
pub fn field_value(f: &Field, v: &Value, offset: i32) -> Result<Option<Value>, ApiError> {
    if !f.multiple {
        return scalar(f, v, offset).map(Some);
    }
    let items: Vec<&Value> = match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        Value::String(s) if s.is_empty() => return Ok(Some(json!([]))),
        Value::Null => return Ok(Some(json!([]))),
        other => {
            return Err(ApiError::bad(
                "100",
                format!(
                    "Expected iterable value for multiple field, but got {} instead",
                    type_name(other)
                ),
            ))
        }
    };
    if items.is_empty() && f.ty == "enumeration" {
        return Ok(None);
    }
    let mut out = Vec::new();
    for it in items {
        if crate::values::scalar_text(it).is_empty() {
            continue;
        }
        let x = scalar(f, it, offset)?;
        if !x.is_null() {
            out.push(x);
        }
    }
    Ok(Some(Value::Array(out)))
}

const FM_TYPES: [&str; 4] = ["PHONE", "EMAIL", "WEB", "IM"];

/// `LINK` is accepted only from the legacy methods (CONTRACT §2.10, §8).
fn fm_entry(id: i64, v: &Value, old: Option<&Value>, legacy: bool) -> Result<Value, ApiError> {
    let get = |k: &str| {
        v.get(k)
            .or_else(|| v.get(k.to_ascii_uppercase().as_str()))
            .map(crate::values::scalar_text)
    };
    let type_id = get("typeId")
        .or_else(|| get("type_id"))
        .or_else(|| {
            old.and_then(|o| o.get("typeId"))
                .map(crate::values::scalar_text)
        })
        .unwrap_or_default()
        .to_ascii_uppercase();
    let allowed = FM_TYPES.contains(&type_id.as_str()) || (legacy && type_id == "LINK");
    if !allowed {
        return Err(not_valid("fm"));
    }
    let value_type = get("valueType")
        .or_else(|| get("value_type"))
        .or_else(|| {
            old.and_then(|o| o.get("valueType"))
                .map(crate::values::scalar_text)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "WORK".into())
        .to_ascii_uppercase();
    let value = get("value").unwrap_or_default();
    Ok(json!({"id": id, "typeId": type_id, "valueType": value_type, "value": value}))
}

/// Applies an `fm` write to the current list (§2.5, §2.6, §10 #12).
pub fn apply_fm(
    current: &[Value],
    v: &Value,
    next_id: &mut i64,
    legacy: bool,
) -> Result<Vec<Value>, ApiError> {
    let mut list: Vec<Value> = current.to_vec();
    let ops: Vec<(Option<String>, &Value)> = match v {
        Value::Array(a) => a.iter().map(|x| (None, x)).collect(),
        Value::Object(o) => o.iter().map(|(k, x)| (Some(k.clone()), x)).collect(),
        Value::Null => return Ok(list),
        _ => return Err(not_valid("fm")),
    };
    for (key, op) in ops {
        let explicit_id = op
            .get("id")
            .or_else(|| op.get("ID"))
            .and_then(as_i64)
            .or_else(|| key.as_deref().and_then(|k| k.parse::<i64>().ok()));
        let value_empty = op
            .get("value")
            .or_else(|| op.get("VALUE"))
            .map(crate::values::scalar_text)
            .is_none_or(|s| s.is_empty());
        match explicit_id.and_then(|id| {
            list.iter()
                .position(|x| x.get("id").and_then(as_i64) == Some(id))
        }) {
            Some(pos) => {
                if value_empty {
                    list.remove(pos);
                } else {
                    let id = explicit_id.unwrap_or(0);
                    let updated = fm_entry(id, op, list.get(pos), legacy)?;
                    list[pos] = updated;
                }
            }
            None => {
                if value_empty {
                    continue;
                }
                *next_id += 1;
                list.push(fm_entry(*next_id, op, None, legacy)?);
            }
        }
    }
    Ok(list)
}

/// Reads `fields` as an object.
pub fn fields_param(p: &Value) -> Result<Map<String, Value>, ApiError> {
    match crate::api::param(p, "fields") {
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(Value::Array(a)) if a.is_empty() => Ok(Map::new()),
        _ => Err(ApiError::bad(
            "INVALID_ARG_VALUE",
            "Could not find value for parameter {fields}",
        )),
    }
}
