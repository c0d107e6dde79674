//! REST method dispatch: the call context, results, errors and parameter helpers.

use crate::config::Config;
use crate::state::{as_i64, Portal};
use serde_json::{json, Value};
use std::sync::Arc;

/// The context of one REST method call.
pub struct Call<'a> {
    pub portal: &'a mut Portal,
    pub cfg: &'a Config,
    /// Virtual time, unix seconds.
    pub now: i64,
    pub user: i64,
    /// The credential code or token that made the call (`None` for `/_emu/act`).
    pub credential: Option<String>,
    /// Set when the call changed stored data (for persistence).
    pub touched: Vec<(i64, i64)>,
    pub dirty: bool,
}

impl Call<'_> {
    pub fn offset(&self) -> i32 {
        self.cfg.portal_offset
    }

    /// The caller's personal time zone while the portal uses time zones (`CTimeZone::Enabled`).
    pub fn user_zone(&self) -> Option<chrono_tz::Tz> {
        if !self.cfg.use_time_zones {
            return None;
        }
        self.cfg.user_zones.get(&self.user).copied()
    }

    /// The portal's zone and this call's time, for converting written dates.
    pub fn dates(&self) -> crate::clock::Dates {
        crate::clock::Dates {
            zone: self.cfg.zone(),
            now: self.now,
        }
    }
}

/// A method's `result` value.
#[derive(Debug, Clone)]
pub enum Res {
    Json(Value),
    /// `{"items": [...]}` with each item already rendered.
    Items(Vec<Arc<str>>),
}

impl Res {
    pub fn write(&self, out: &mut String) {
        match self {
            Res::Json(v) => out.push_str(&v.to_string()),
            Res::Items(items) => {
                out.push_str("{\"items\":[");
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(it);
                }
                out.push_str("]}");
            }
        }
    }

    /// Follows a `$result[key][a][b]` path into this result.
    pub fn resolve(&self, path: &[String]) -> Option<Value> {
        match self {
            Res::Json(v) => walk(v, path),
            Res::Items(items) => {
                let (first, rest) = path.split_first()?;
                if first != "items" {
                    return None;
                }
                let Some((idx, rest)) = rest.split_first() else {
                    let all: Vec<Value> = items
                        .iter()
                        .filter_map(|s| serde_json::from_str(s).ok())
                        .collect();
                    return Some(Value::Array(all));
                };
                let n: usize = idx.parse().ok()?;
                let v: Value = serde_json::from_str(items.get(n)?).ok()?;
                walk(&v, rest)
            }
        }
    }
}

fn walk(v: &Value, path: &[String]) -> Option<Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Object(m) => m.get(p)?,
            Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur.clone())
}

#[derive(Debug, Clone)]
pub struct Out {
    pub result: Res,
    pub total: Option<i64>,
    pub next: Option<i64>,
}

impl Out {
    pub fn json(v: Value) -> Out {
        Out {
            result: Res::Json(v),
            total: None,
            next: None,
        }
    }
    pub fn paged(result: Res, total: i64, next: Option<i64>) -> Out {
        Out {
            result,
            total: Some(total),
            next,
        }
    }
}

/// An error answer: HTTP status, `error` (string or number) and `error_description`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub code: Value,
    pub desc: String,
}

impl ApiError {
    pub fn new(status: u16, code: &str, desc: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: Value::String(code.into()),
            desc: desc.into(),
        }
    }
    pub fn bad(code: &str, desc: impl Into<String>) -> ApiError {
        ApiError::new(400, code, desc)
    }
    pub fn numeric(status: u16, code: i64, desc: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code: json!(code),
            desc: desc.into(),
        }
    }
    pub fn body(&self) -> Value {
        json!({"error": self.code, "error_description": self.desc})
    }
}

pub type MethodResult = Result<Out, ApiError>;

/// Reads a parameter by name, falling back to a case-insensitive match.
pub fn param<'v>(p: &'v Value, name: &str) -> Option<&'v Value> {
    let m = p.as_object()?;
    m.get(name).or_else(|| {
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

pub fn param_i64(p: &Value, name: &str) -> Option<i64> {
    param(p, name).and_then(as_i64)
}

pub fn param_str(p: &Value, name: &str) -> Option<String> {
    param(p, name).map(crate::values::scalar_text)
}

/// `Y`/`1`/`true` → true.
pub fn param_flag(p: &Value, name: &str) -> Option<bool> {
    param(p, name).map(|v| match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().unwrap_or(0.0) != 0.0,
        Value::String(s) => matches!(s.to_ascii_uppercase().as_str(), "Y" | "1" | "TRUE"),
        _ => false,
    })
}

/// The scopes of the demo webhooks and of a test webhook made without naming any: exactly what
/// the README asks a person to tick.
pub const WEBHOOK_SCOPES: &[&str] = &["crm", "user_brief", "department"];

/// The scope a method needs (`basic` is always granted).
pub fn scope_of(method: &str) -> &'static str {
    if method == "user.admin" || method == "user.access" {
        "basic"
    } else if method.starts_with("crm.") {
        "crm"
    } else if method.starts_with("user.") {
        "user_brief"
    } else if method.starts_with("department.") {
        "department"
    } else {
        "basic"
    }
}

/// Runs one REST method (not `batch`).
pub fn dispatch(call: &mut Call<'_>, method: &str, p: &Value) -> MethodResult {
    let m = method.to_ascii_lowercase();
    match m.as_str() {
        "profile" => crate::users::profile(call),
        "user.current" => crate::users::current(call),
        "user.get" => crate::users::get(call, p),
        "user.admin" => crate::users::admin(call),
        "user.fields" => crate::users::fields(),
        "department.get" => crate::users::department_get(call, p),
        "server.time" => Ok(Out::json(json!(crate::clock::fmt_datetime(
            call.now,
            call.offset()
        )))),
        "crm.item.fields" => crate::items::fields(call, p),
        "crm.item.list" => crate::items::list(call, p),
        "crm.item.get" => crate::items::get(call, p),
        "crm.item.add" => crate::write::add(call, p),
        "crm.item.update" => crate::write::update(call, p),
        "crm.item.delete" => crate::write::delete(call, p),
        "crm.status.list" => crate::lists::status_list(call, p),
        "crm.category.list" => crate::lists::category_list(call, p),
        "crm.stagehistory.list" => crate::lists::stagehistory_list(call, p),
        _ if m.starts_with("crm.deal.contact.") => crate::links::dispatch(call, &m, p),
        _ if m.starts_with("crm.timeline.") => crate::timeline::dispatch(call, &m, p),
        _ => match crate::company_links::dispatch(call, &m, p)
            .or_else(|| crate::reference_edit::dispatch(call, &m, p))
            .or_else(|| crate::legacy::dispatch(call, &m, p))
        {
            Some(r) => r,
            None => Err(ApiError::new(
                call.cfg.method_not_found_status,
                "ERROR_METHOD_NOT_FOUND",
                "Method not found!",
            )),
        },
    }
}
