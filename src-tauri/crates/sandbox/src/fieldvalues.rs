//! Converting written field values (`crm.item.add/update` `fields`) into stored values.

use crate::api::ApiError;
use crate::clock::{fmt_date_in, fmt_datetime, input_date, parse_datetime, Dates};
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

/// The largest amount a `DECIMAL(18,2)` column holds, 9 999 999 999 999 999.99, as a double.
const AMOUNT_MAX: f64 = 1e16;

/// An integer as a portal keeps it. MySQL runs with an empty `sql_mode`
/// (`CSiteCheckerTest::check_mysql_mode`), so a number beyond its column is cut to the column's
/// limit, not refused: an integer user field is an `INT` (`IntegerType::getDbColumnType`). The
/// probability is moved into 0–100 (`Field\Percentage::processLogic`).
fn kept_integer(f: &Field, n: i64) -> i64 {
    if f.dynamic {
        n.clamp(i32::MIN.into(), i32::MAX.into())
    } else if f.name == "probability" {
        n.clamp(0, 100)
    } else {
        n
    }
}

/// A double as a portal keeps it: amounts rounded to cents (`FloatField::cast`, scale 2, half
/// away from zero as PHP's `round`) and cut to `DECIMAL(18,2)`; what is not finite is 0
/// (`CUserTypeManager::Update`, `SqlHelper::convertToDbFloat`).
fn kept_double(f: &Field, x: f64) -> f64 {
    if !x.is_finite() {
        return 0.0;
    }
    if !f.dynamic && matches!(f.name.as_str(), "opportunity" | "taxValue") {
        return ((x * 100.0).round() / 100.0).clamp(-AMOUNT_MAX, AMOUNT_MAX);
    }
    x
}

/// One scalar written to a field of this type; `None` when the portal silently does not set it
/// (an unparseable date or datetime, CONTRACT §11 #4).
pub fn scalar(f: &Field, v: &Value, dates: Dates) -> Result<Option<Value>, ApiError> {
    let text = crate::values::scalar_text(v);
    let empty = v.is_null() || text.is_empty();
    let is_link = matches!(
        f.ty.as_str(),
        "crm_company" | "crm_contact" | "crm_lead" | "crm_quote" | "crm_category"
    );
    Ok(Some(match f.ty.as_str() {
        "integer" | "user" | "employee" | "crm_company" | "crm_contact" | "crm_lead"
        | "crm_quote" | "crm_category" | "location" => {
            if empty {
                if is_link {
                    json!(0)
                } else {
                    Value::Null
                }
            } else {
                let n = as_i64(v)
                    .filter(|_| text.trim().parse::<f64>().is_ok())
                    .ok_or_else(|| not_valid(&f.name))?;
                json!(kept_integer(f, n))
            }
        }
        "double" => {
            if empty {
                Value::Null
            } else {
                num(kept_double(
                    f,
                    text.trim().parse::<f64>().map_err(|_| not_valid(&f.name))?,
                ))
            }
        }
        // `crm/lib/controller/item.php` `prepareBooleanFieldValue`, for every field of type
        // boolean, user fields included: only `true`, "true", "y", "Y" are yes; anything else
        // (`1`, "1" — what a JSON `true` becomes in a `batch` query string) is no, never an error.
        "boolean" => match v {
            Value::Bool(true) => json!("Y"),
            Value::String(s) if matches!(s.as_str(), "true" | "y" | "Y") => json!("Y"),
            _ => json!("N"),
        },
        "date" => {
            if empty {
                Value::Null
            } else {
                // `CRestUtil::unConvertDate` in, `CRestUtil::ConvertDate` out (stored rendered).
                match input_date(&text, dates.zone, dates.now) {
                    Some(d) => json!(fmt_date_in(d, dates.zone, dates.now)),
                    None => return Ok(None),
                }
            }
        }
        "datetime" => {
            if empty {
                Value::Null
            } else {
                match parse_datetime(&text, dates.offset()) {
                    Some(t) => json!(fmt_datetime(t, dates.offset())),
                    None => return Ok(None),
                }
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
    }))
}

/// A value written to a field: multiple fields take arrays (or PHP index objects).
/// Returns `None` when the write must be ignored (`[]` on a multiple enumeration, §2.6).
pub fn field_value(f: &Field, v: &Value, dates: Dates) -> Result<Option<Value>, ApiError> {
    if !f.multiple {
        return scalar(f, v, dates);
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
        if let Some(x) = scalar(f, it, dates)?.filter(|x| !x.is_null()) {
            out.push(x);
        }
    }
    Ok(Some(Value::Array(out)))
}

/// Reads one key of an `fm` element in any case (`typeId`, `TYPE_ID`, `type_id`).
fn fm_key<'v>(v: &'v Value, camel: &str) -> Option<&'v Value> {
    let upper = crate::items::upper_snake(camel);
    let o = v.as_object()?;
    o.get(camel)
        .or_else(|| o.get(upper.as_str()))
        .or_else(|| o.get(upper.to_ascii_lowercase().as_str()))
}

/// `typeId` and `value` of an element, or `None` when either is missing: such an element is
/// ignored (CONTRACT §11 #2: `{"typeId":"PHONE","DELETE":"Y"}` deletes nothing).
fn fm_parts(v: &Value) -> Option<(String, String)> {
    let type_id = fm_key(v, "typeId").map(crate::values::scalar_text)?;
    let value = fm_key(v, "value").map(crate::values::scalar_text)?;
    Some((type_id, value))
}

/// One stored entry. `typeId` and `valueType` are stored as given (CONTRACT §11 #3); without a
/// `valueType` a changed entry keeps its old one and a new entry gets `WORK`.
fn fm_entry(id: i64, type_id: &str, value: &str, v: &Value, old: Option<&Value>) -> Value {
    let value_type = fm_key(v, "valueType")
        .map(crate::values::scalar_text)
        .or_else(|| {
            old.and_then(|o| o.get("valueType"))
                .map(crate::values::scalar_text)
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "WORK".into());
    json!({"id": id, "typeId": type_id, "valueType": value_type, "value": value})
}

/// Applies an `fm` write to the current list as the portal's multi-field assembler does
/// (CONTRACT §11 #2, #3): an array adds every element (an `id` inside is ignored); an object
/// keyed by entry id changes that entry (`value: ""` deletes it), `n…` keys and ids that no longer
/// exist add; elements without `typeId` or `value` and a non-collection `fm` are ignored.
pub fn apply_fm(current: &[Value], v: &Value, next_id: &mut i64) -> Vec<Value> {
    let mut list: Vec<Value> = current.to_vec();
    let ops: Vec<(Option<i64>, &Value)> = match v {
        Value::Array(a) => a.iter().map(|x| (None, x)).collect(),
        Value::Object(o) => o.iter().map(|(k, x)| (k.parse::<i64>().ok(), x)).collect(),
        _ => return list,
    };
    for (key, op) in ops {
        let Some((type_id, value)) = fm_parts(op) else {
            continue;
        };
        let pos = key.and_then(|id| {
            list.iter()
                .position(|x| x.get("id").and_then(as_i64) == Some(id))
        });
        match (pos, key) {
            (Some(pos), Some(id)) => {
                if value.is_empty() {
                    list.remove(pos);
                } else {
                    let updated = fm_entry(id, &type_id, &value, op, list.get(pos));
                    list[pos] = updated;
                }
            }
            _ => {
                if value.is_empty() {
                    continue;
                }
                *next_id += 1;
                list.push(fm_entry(*next_id, &type_id, &value, op, None));
            }
        }
    }
    list
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
