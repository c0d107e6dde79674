//! Small helpers for item values.

use crate::schema::Field;
use serde_json::{Map, Number, Value};

/// A JSON number without a trailing `.0` for whole values (`19000`, `999.9`).
pub fn num(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// An item with every field present: `null`, `[]` for multiple fields, `0` for links.
pub fn blank_item(fields: &[Field]) -> Map<String, Value> {
    let mut m = Map::with_capacity(fields.len());
    for f in fields {
        let v = if f.multiple {
            Value::Array(vec![])
        } else if matches!(
            f.ty.as_str(),
            "crm_company" | "crm_contact" | "crm_lead" | "crm_quote"
        ) || f.name == "categoryId"
        {
            Value::from(0)
        } else if f.dynamic && f.ty == "boolean" {
            Value::from("N")
        } else {
            Value::Null
        };
        m.insert(f.name.clone(), v);
    }
    m
}

/// Sets `hasPhone`/`hasEmail` (where the type has them) from the item's `fm`.
pub fn set_contact_flags(map: &mut Map<String, Value>) {
    for (flag, ty) in [("hasPhone", "PHONE"), ("hasEmail", "EMAIL")] {
        if !map.contains_key(flag) {
            continue;
        }
        let has = map.get("fm").and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .any(|e| e.get("typeId").and_then(Value::as_str) == Some(ty))
        });
        map.insert(flag.into(), Value::from(if has { "Y" } else { "N" }));
    }
}

/// Text of a scalar as the portal compares it.
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "Y" } else { "N" }.into(),
        other => other.to_string(),
    }
}
