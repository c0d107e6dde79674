//! `profile`, `user.current`, `user.get`.

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out};
use crate::clock::{date_of, fmt_date, fmt_datetime};
use crate::state::User;
use crate::values::scalar_text;
use serde_json::{json, Map, Value};

fn offset_name(offset: i32) -> String {
    crate::clock::offset_of(offset).to_string()
}

/// The full user record as `user.get` renders it.
pub fn user_json(u: &User, offset: i32) -> Value {
    json!({
        "ID": u.id.to_string(),
        "XML_ID": Value::Null,
        "ACTIVE": u.active,
        "NAME": u.name,
        "LAST_NAME": u.last_name,
        "SECOND_NAME": u.second_name,
        "EMAIL": u.email,
        "LAST_LOGIN": fmt_datetime(u.registered + 86_400 * 30, offset),
        "DATE_REGISTER": fmt_date(date_of(u.registered, offset), offset),
        "IS_ONLINE": "N",
        "TIMESTAMP_X": crate::clock::fmt_locale(u.registered, offset),
        "LAST_ACTIVITY_DATE": crate::clock::fmt_plain(u.registered + 86_400 * 30, offset),
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": offset.to_string(),
        "PERSONAL_GENDER": u.gender,
        "PERSONAL_BIRTHDAY": "",
        "PERSONAL_PHOTO": Value::Null,
        "WORK_POSITION": u.position,
        "UF_DEPARTMENT": u.departments,
        "UF_EMPLOYMENT_DATE": "",
        "USER_TYPE": if u.user_type == "bot" { "employee" } else { u.user_type.as_str() },
    })
}

fn caller<'a>(call: &'a Call<'_>) -> Result<&'a User, ApiError> {
    call.portal
        .users
        .get(&call.user)
        .ok_or_else(|| ApiError::new(401, "NO_AUTH_FOUND", "Wrong authorization data"))
}

pub fn profile(call: &mut Call<'_>) -> MethodResult {
    let u = caller(call)?;
    if !u.active {
        return Ok(Out::json(json!([])));
    }
    Ok(Out::json(json!({
        "ID": u.id.to_string(),
        "ADMIN": u.admin,
        "NAME": u.name,
        "LAST_NAME": u.last_name,
        "PERSONAL_GENDER": u.gender,
        "TIME_ZONE": offset_name(call.offset()),
    })))
}

pub fn current(call: &mut Call<'_>) -> MethodResult {
    let u = caller(call)?;
    Ok(Out::json(user_json(u, call.offset())))
}

fn matches(u: &User, key: &str, v: &Value, offset: i32) -> bool {
    let rendered = user_json(u, offset);
    let (neg, key) = match key.strip_prefix('!') {
        Some(k) => (true, k),
        None => (false, key.trim_start_matches('=')),
    };
    let key = key.to_ascii_uppercase();
    let wants: Vec<String> = match v {
        Value::Array(a) => a.iter().map(scalar_text).collect(),
        other => vec![scalar_text(other)],
    };
    let hit = match key.as_str() {
        "ACTIVE" => wants.iter().any(|w| {
            let w = w.to_ascii_uppercase();
            (w == "Y" || w == "TRUE" || w == "1") == u.active
        }),
        "USER_TYPE" => wants.iter().any(|w| w.eq_ignore_ascii_case(&u.user_type)),
        "NAME_SEARCH" | "FIND" => wants.iter().any(|w| {
            let w = w.to_lowercase();
            u.name.to_lowercase().contains(&w)
                || u.last_name.to_lowercase().contains(&w)
                || u.email.to_lowercase().contains(&w)
        }),
        "UF_DEPARTMENT" => wants
            .iter()
            .any(|w| u.departments.iter().any(|d| d.to_string() == *w)),
        _ => match rendered.get(&key) {
            Some(have) => {
                let h = scalar_text(have);
                wants.iter().any(|w| w.eq_ignore_ascii_case(&h))
            }
            None => true,
        },
    };
    hit != neg
}

pub fn get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let offset = call.offset();
    let filter = param(p, "filter").cloned().unwrap_or(Value::Null);
    let mut list: Vec<&User> = call
        .portal
        .users
        .values()
        .filter(|u| u.user_type != "bot")
        .filter(|u| match &filter {
            Value::Object(m) => m.iter().all(|(k, v)| matches(u, k, v, offset)),
            _ => true,
        })
        .collect();
    // top-level ID / ACTIVE without a filter wrapper (the classic form)
    if let Some(id) = param(p, "ID") {
        list.retain(|u| matches(u, "ID", id, offset));
    }
    let sort = param(p, "sort")
        .map(scalar_text)
        .unwrap_or_else(|| "ID".into());
    let desc = param(p, "order")
        .map(scalar_text)
        .is_some_and(|o| o.eq_ignore_ascii_case("DESC"));
    list.sort_by(|a, b| {
        let o = match sort.to_ascii_uppercase().as_str() {
            "NAME" => a.name.cmp(&b.name),
            "LAST_NAME" => a.last_name.cmp(&b.last_name),
            "EMAIL" => a.email.cmp(&b.email),
            _ => a.id.cmp(&b.id),
        };
        if desc {
            o.reverse()
        } else {
            o
        }
    });
    let start = param_i64(p, "start").unwrap_or(0);
    let total = list.len() as i64;
    let select: Option<Vec<String>> = param(p, "select").and_then(|s| match s {
        Value::Array(a) => Some(a.iter().map(scalar_text).collect()),
        _ => None,
    });
    let rows: Vec<Value> = list
        .iter()
        .skip(start.max(0) as usize)
        .take(50)
        .map(|u| {
            let full = user_json(u, offset);
            match &select {
                Some(sel) if !sel.iter().any(|s| s == "*") => {
                    let mut m = Map::new();
                    m.insert("ID".into(), full["ID"].clone());
                    for s in sel {
                        let s = s.to_ascii_uppercase();
                        if s == "UF_*" {
                            for (k, v) in full.as_object().into_iter().flatten() {
                                if k.starts_with("UF_") {
                                    m.insert(k.clone(), v.clone());
                                }
                            }
                        } else if let Some(v) = full.get(&s) {
                            m.insert(s, v.clone());
                        }
                    }
                    Value::Object(m)
                }
                _ => full,
            }
        })
        .collect();
    if start < 0 {
        return Ok(Out::paged(
            crate::api::Res::Json(Value::Array(rows)),
            0,
            None,
        ));
    }
    let end = start + 50;
    Ok(Out::paged(
        crate::api::Res::Json(Value::Array(rows)),
        total,
        (total > end).then_some(end),
    ))
}

/// `department.get`: the demo portal has one department.
pub fn department_get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let _ = call;
    let row = json!({"ID": "1", "NAME": "Kartoteka", "SORT": 500, "UF_HEAD": "1"});
    let wanted = param(p, "ID").map(scalar_text);
    let rows = match wanted {
        Some(id) if id != "1" => vec![],
        _ => vec![row],
    };
    let total = rows.len() as i64;
    Ok(Out::paged(
        crate::api::Res::Json(Value::Array(rows)),
        total,
        None,
    ))
}
