//! `profile`, `user.current`, `user.get`.

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out};
use crate::clock::{date_of, fmt_date, fmt_datetime};
use crate::state::User;
use crate::values::scalar_text;
use serde_json::{json, Map, Value};

/// The full user record as `user.get` renders it.
/// A user's personal time zone name as `TIME_ZONE` shows it (`""` when none is set).
fn zone_name(cfg: &crate::config::Config, id: i64) -> String {
    cfg.user_zones
        .get(&id)
        .map(|z| z.name().to_string())
        .unwrap_or_default()
}

pub fn user_json(u: &User, offset: i32, zone: &str) -> Value {
    json!({
        "ID": u.id.to_string(),
        // a string on live portals (issue 7 §9)
        "XML_ID": "",
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
        "TIME_ZONE": zone,
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
        // the user's zone name, or "" when the user has none; never an offset (issue 7 §9)
        "TIME_ZONE": zone_name(call.cfg, u.id),
    })))
}

pub fn current(call: &mut Call<'_>) -> MethodResult {
    let u = caller(call)?;
    Ok(Out::json(user_json(
        u,
        call.offset(),
        &zone_name(call.cfg, u.id),
    )))
}

fn matches(u: &User, key: &str, v: &Value, offset: i32) -> bool {
    let rendered = user_json(u, offset, "");
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
            let full = user_json(u, offset, &zone_name(call.cfg, u.id));
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

/// `department.get`: the demo departments (`crate::reference::DEPARTMENTS`), filtered by any of
/// `ID`, `NAME`, `SORT`, `PARENT`, `UF_HEAD` given as top-level parameters; 50 a page.
pub fn department_get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let _ = call;
    let rows: Vec<Value> = crate::reference::DEPARTMENTS
        .iter()
        .map(|(id, name, parent, head)| {
            let mut row = json!({"ID": id.to_string(), "NAME": name, "SORT": 500,
                "UF_HEAD": head.to_string()});
            if *parent > 0 {
                row["PARENT"] = json!(parent.to_string());
            }
            row
        })
        .filter(|row| {
            ["ID", "NAME", "SORT", "PARENT", "UF_HEAD"]
                .iter()
                .all(|k| match param(p, k) {
                    None => true,
                    Some(want) => {
                        let have = row.get(*k).map(scalar_text).unwrap_or_default();
                        match want {
                            Value::Array(a) => a.iter().any(|w| scalar_text(w) == have),
                            w => scalar_text(w) == have,
                        }
                    }
                })
        })
        .collect();
    let start = param_i64(p, "start").unwrap_or(0).max(0) as usize;
    let total = rows.len();
    let page: Vec<Value> = rows.into_iter().skip(start).take(50).collect();
    Ok(Out::paged(
        crate::api::Res::Json(Value::Array(page)),
        total as i64,
        (total > start + 50).then_some((start + 50) as i64),
    ))
}

/// `user.admin`: whether the caller is a portal administrator.
pub fn admin(call: &mut Call<'_>) -> MethodResult {
    let u = caller(call)?;
    Ok(Out::json(json!(u.admin)))
}

/// `user.fields`: the user fields and their titles.
pub fn fields() -> MethodResult {
    Ok(Out::json(json!({
        "ID": "ID", "XML_ID": "XML_ID", "ACTIVE": "Активность", "NAME": "Имя",
        "LAST_NAME": "Фамилия", "SECOND_NAME": "Отчество", "EMAIL": "E-Mail",
        "LAST_LOGIN": "Последняя авторизация", "DATE_REGISTER": "Дата регистрации",
        "IS_ONLINE": "Онлайн", "TIME_ZONE": "Часовой пояс",
        "TIME_ZONE_OFFSET": "Смещение часового пояса", "TIMESTAMP_X": "Дата изменения",
        "LAST_ACTIVITY_DATE": "Последняя активность", "PERSONAL_GENDER": "Пол",
        "PERSONAL_BIRTHDAY": "Дата рождения", "PERSONAL_PHOTO": "Фотография",
        "WORK_POSITION": "Должность", "UF_DEPARTMENT": "Подразделения",
        "UF_EMPLOYMENT_DATE": "Дата принятия на работу", "USER_TYPE": "Тип пользователя",
    })))
}

/// Every scope the sandbox knows (`scope` with `full`).
const ALL_SCOPES: &[&str] = &["crm", "user", "user_brief", "user_basic", "department"];

/// `scope`: the caller's scopes as its credential was made with; with `full`, every scope of the
/// portal (`rest/classes/general/rest_provider.php` `scopeList`).
pub fn scope(granted: &[String], p: &Value) -> Out {
    let full = crate::api::param_flag(p, "full").unwrap_or(false);
    let list: Vec<Value> = if full {
        ALL_SCOPES.iter().map(|s| json!(s)).collect()
    } else {
        granted.iter().map(|s| json!(s)).collect()
    };
    Out::json(Value::Array(list))
}
