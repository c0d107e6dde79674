//! Reference data and history: `crm.status.list`, `crm.category.list`, `crm.stagehistory.list`.

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out, Res};
use crate::clock::{fmt_datetime, parse_datetime};
use crate::filter::split_op;
use crate::state::{Level, StageRow, Status};
use crate::values::scalar_text;
use serde_json::{json, Map, Value};

pub fn status_json(s: &Status) -> Value {
    let sem = match s.semantics.as_str() {
        "success" => json!("S"),
        "failure" | "apology" => json!("F"),
        _ => Value::Null,
    };
    let mut v = json!({
        "ID": s.id.to_string(),
        "ENTITY_ID": s.entity_id,
        "STATUS_ID": s.status_id,
        "NAME": s.name,
        "NAME_INIT": if s.system { json!(s.name) } else { json!("") },
        "SORT": s.sort.to_string(),
        "SYSTEM": if s.system { "Y" } else { "N" },
        "CATEGORY_ID": s.category_id.map(|c| c.to_string()),
        "COLOR": if s.color.is_empty() { Value::Null } else { json!(s.color) },
        "SEMANTICS": sem,
    });
    if !s.semantics.is_empty() {
        v["EXTRA"] = json!({"SEMANTICS": s.semantics, "COLOR": s.color});
    }
    v
}

pub fn status_list(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let filter = param(p, "filter");
    if filter.is_some_and(|f| !f.is_object() && !f.is_null() && f != "") {
        return Err(ApiError::bad("Invalid parameters.", "Invalid parameters."));
    }
    let mut rows: Vec<&Status> = call
        .portal
        .statuses
        .iter()
        .filter(|s| {
            let Some(Value::Object(f)) = filter else {
                return true;
            };
            f.iter().all(|(k, v)| {
                let (_, name) = split_op(k);
                let j = status_json(s);
                let have = j
                    .get(name.to_ascii_uppercase())
                    .map(scalar_text)
                    .unwrap_or_default();
                match v {
                    Value::Array(a) => a.iter().any(|w| scalar_text(w) == have),
                    w => scalar_text(w) == have,
                }
            })
        })
        .collect();
    let order = param(p, "order").and_then(Value::as_object).cloned();
    rows.sort_by(|a, b| {
        if let Some(o) = &order {
            for (k, dir) in o {
                let desc = scalar_text(dir).eq_ignore_ascii_case("DESC");
                let ord = match k.to_ascii_uppercase().as_str() {
                    "SORT" => a.sort.cmp(&b.sort),
                    "ID" => a.id.cmp(&b.id),
                    "NAME" => a.name.cmp(&b.name),
                    "STATUS_ID" => a.status_id.cmp(&b.status_id),
                    _ => std::cmp::Ordering::Equal,
                };
                let ord = if desc { ord.reverse() } else { ord };
                if ord.is_ne() {
                    return ord;
                }
            }
            std::cmp::Ordering::Equal
        } else {
            (a.entity_id.as_str(), a.sort).cmp(&(b.entity_id.as_str(), b.sort))
        }
    });
    let list: Vec<Value> = rows.iter().map(|s| status_json(s)).collect();
    let total = list.len() as i64;
    Ok(Out::paged(Res::Json(Value::Array(list)), total, None))
}

pub fn category_list(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = param_i64(p, "entityTypeId")
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Smart process not found"))?;
    match t {
        2 => {}
        1 | 3 | 4 => {
            return Err(ApiError::bad(
                "ENTITY_TYPE_NOT_SUPPORTED",
                format!(
                    "Entity type {} is not supported",
                    crate::schema::type_name(t)
                ),
            ))
        }
        _ => return Err(ApiError::bad("NOT_FOUND", "Smart process not found")),
    }
    if call.portal.rights(call.user, 2).read == Level::None {
        return Ok(Out::paged(Res::Json(json!({"categories": []})), 0, None));
    }
    let mut sorted: Vec<&crate::state::Category> = call
        .portal
        .categories
        .iter()
        .filter(|c| c.entity_type == 2)
        .collect();
    sorted.sort_by_key(|c| (c.sort, c.id));
    let cats: Vec<Value> = sorted
        .into_iter()
        .map(|c| {
            let mut v = json!({"id": c.id, "name": c.name, "sort": c.sort, "entityTypeId": 2,
                "isDefault": if c.id == 0 { "Y" } else { "N" }});
            if c.id != 0 {
                v["originId"] = json!("");
                v["originatorId"] = json!("");
            }
            v
        })
        .collect();
    let total = cats.len() as i64;
    Ok(Out::paged(
        Res::Json(json!({"categories": cats})),
        total,
        None,
    ))
}

/// Compares two stage-history rows by one UPPER_CASE field.
fn history_key_cmp(a: &StageRow, b: &StageRow, field: &str, offset: i32) -> std::cmp::Ordering {
    match field {
        "ID" => a.id.cmp(&b.id),
        "CREATED_TIME" => a.created.cmp(&b.created),
        _ => {
            let (ja, jb) = (row_json(a, offset), row_json(b, offset));
            match (ja.get(field), jb.get(field)) {
                (Some(x), Some(y)) => match (x.as_i64(), y.as_i64()) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    _ => scalar_text(x).cmp(&scalar_text(y)),
                },
                (x, y) => x.is_some().cmp(&y.is_some()),
            }
        }
    }
}

fn row_json(r: &StageRow, offset: i32) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("ID".into(), json!(r.id));
    m.insert("TYPE_ID".into(), json!(r.type_id));
    m.insert("OWNER_ID".into(), json!(r.owner_id));
    m.insert(
        "CREATED_TIME".into(),
        json!(fmt_datetime(r.created, offset)),
    );
    if r.entity_type == 2 {
        m.insert("CATEGORY_ID".into(), json!(r.category_id));
        m.insert("STAGE_SEMANTIC_ID".into(), json!(r.semantic));
        m.insert("STAGE_ID".into(), json!(&*r.stage_id));
    } else {
        m.insert("STATUS_SEMANTIC_ID".into(), json!(r.semantic));
        m.insert("STATUS_ID".into(), json!(&*r.stage_id));
    }
    m
}

const HISTORY_FIELDS: [&str; 9] = [
    "ID",
    "TYPE_ID",
    "OWNER_ID",
    "CREATED_TIME",
    "CATEGORY_ID",
    "STAGE_SEMANTIC_ID",
    "STAGE_ID",
    "STATUS_SEMANTIC_ID",
    "STATUS_ID",
];

/// The least id a stage-history filter lets through (`>ID`, `>=ID`, `=ID` with one integer).
fn id_lower_bound(conds: &[(crate::filter::Op, String, Vec<String>)]) -> Option<i64> {
    use crate::filter::Op::*;
    conds
        .iter()
        .filter(|(_, name, vals)| name == "ID" && vals.len() == 1)
        .filter_map(|(op, _, vals)| {
            let v = vals[0].parse::<i64>().ok()?;
            match op {
                Gt => v.checked_add(1),
                Ge | Eq => Some(v),
                _ => None,
            }
        })
        .max()
}

pub fn stagehistory_list(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = param_i64(p, "entityTypeId").unwrap_or(0);
    if t != 1 && t != 2 {
        let name = if (1..=4).contains(&t) {
            crate::schema::type_name(t)
        } else {
            "UNKNOWN"
        };
        let desc = format!("{name} entity is not supported");
        return Err(if call.cfg.stagehistory_unsupported_code == "0" {
            ApiError::numeric(400, 0, desc)
        } else {
            ApiError::bad("ENTITY_TYPE_NOT_SUPPORTED", desc)
        });
    }
    let offset = call.offset();
    let invalid = |m: String| ApiError::bad("INVALID_ARG_VALUE", m);
    // filter: (op, FIELD, values)
    let mut conds: Vec<(crate::filter::Op, String, Vec<String>)> = Vec::new();
    if let Some(Value::Object(f)) = param(p, "filter") {
        for (k, v) in f {
            let (op, name) = split_op(k);
            let name = name.to_ascii_uppercase();
            if !HISTORY_FIELDS.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "Invalid filter: field '{name}' is not allowed in filter"
                )));
            }
            let vals = match v {
                Value::Array(a) => a.iter().map(scalar_text).collect(),
                other => vec![scalar_text(other)],
            };
            if name == "CREATED_TIME" && vals.iter().any(|x| parse_datetime(x, offset).is_none()) {
                return Err(invalid(format!(
                    "Invalid filter: field '{name}' has invalid value"
                )));
            }
            conds.push((op, name, vals));
        }
    }
    // the order is applied field by field as given (CONTRACT §11 #12)
    let mut order: Vec<(String, bool)> = Vec::new();
    if let Some(Value::Object(o)) = param(p, "order") {
        for (k, d) in o {
            let name = k.to_ascii_uppercase();
            if !HISTORY_FIELDS.contains(&name.as_str()) {
                return Err(invalid(format!(
                    "Invalid order: field '{k}' is not allowed in order"
                )));
            }
            order.push((name, scalar_text(d).eq_ignore_ascii_case("DESC")));
        }
    }
    let desc = order.first().is_some_and(|o| o.0 == "ID" && o.1);
    let rights = call.portal.rights(call.user, t).read;
    let store = call.portal.store(t);
    let matches = |r: &StageRow| -> bool {
        if r.entity_type != t {
            return false;
        }
        if rights != Level::All {
            match store.items.get(&r.owner_id) {
                Some(it) if rights.allows(call.user, it) => {}
                _ => return false,
            }
        }
        // Integer columns are compared without building the row's JSON: a key-set scan
        // (`>ID`) over a large portal stays cheap, as it is on a real portal's indexed table.
        let mut j = None;
        conds.iter().all(|(op, name, vals)| {
            let int = match name.as_str() {
                "ID" => Some(r.id),
                "OWNER_ID" => Some(r.owner_id),
                "TYPE_ID" => Some(r.type_id),
                _ => None,
            };
            let have_int;
            let have = match int {
                Some(v) => {
                    have_int = Value::from(v);
                    &have_int
                }
                None => match j.get_or_insert_with(|| row_json(r, offset)).get(name) {
                    Some(h) => h,
                    None => return false,
                },
            };
            let cmp = |w: &String| -> std::cmp::Ordering {
                if name == "CREATED_TIME" {
                    r.created.cmp(&parse_datetime(w, offset).unwrap_or(0))
                } else if let (Some(h), Ok(x)) = (have.as_i64(), w.parse::<i64>()) {
                    h.cmp(&x)
                } else {
                    scalar_text(have).cmp(w)
                }
            };
            use crate::filter::Op::*;
            use std::cmp::Ordering::*;
            match op {
                Eq | In => vals.iter().any(|w| cmp(w) == Equal),
                Ne | NotIn => !vals.iter().any(|w| cmp(w) == Equal),
                Gt => vals.iter().any(|w| cmp(w) == Greater),
                Ge => vals.iter().any(|w| cmp(w) != Less),
                Lt => vals.iter().any(|w| cmp(w) == Less),
                Le => vals.iter().any(|w| cmp(w) != Greater),
                _ => true,
            }
        })
    };
    let start = param_i64(p, "start").unwrap_or(0);
    let select: Option<Vec<String>> = match param(p, "select") {
        Some(Value::Array(a)) if !a.is_empty() => Some(
            a.iter()
                .map(|x| scalar_text(x).to_ascii_uppercase())
                .collect(),
        ),
        _ => None,
    };
    let rows = &call.portal.stage_history;
    let by_id_only = order.iter().all(|o| o.0 == "ID");
    let iter: Box<dyn Iterator<Item = &StageRow>> = if !by_id_only {
        let mut sorted: Vec<&StageRow> = rows.iter().filter(|r| matches(r)).collect();
        sorted.sort_by(|a, b| {
            for (f, d) in &order {
                let o = history_key_cmp(a, b, f, offset);
                let o = if *d { o.reverse() } else { o };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
            a.id.cmp(&b.id)
        });
        Box::new(sorted.into_iter())
    } else if desc {
        Box::new(rows.iter().rev())
    } else {
        // Rows are kept in id order: a key-set page (`>ID` = the last id read) starts where
        // that id lies, as the portal's primary-key index does, instead of scanning from the
        // first row (a 1M-record portal's stage history would be read 50 times a request).
        let from = id_lower_bound(&conds).map_or(0, |lo| rows.partition_point(|r| r.id < lo));
        Box::new(rows[from..].iter())
    };
    let mut page = Vec::new();
    let mut total = 0i64;
    for r in iter.filter(|r| matches(r)) {
        total += 1;
        if total > start.max(0) && page.len() < 50 {
            let mut m = row_json(r, offset);
            if let Some(sel) = &select {
                if !sel.iter().any(|s| s == "*") {
                    m.retain(|k, _| sel.contains(k));
                }
            }
            page.push(Value::Object(m));
        }
        if start < 0 && page.len() >= 50 {
            break;
        }
    }
    let res = Res::Json(json!({"items": page}));
    if start < 0 {
        return Ok(Out::paged(res, 0, None));
    }
    let end = start + 50;
    Ok(Out::paged(res, total, (total > end).then_some(end)))
}
