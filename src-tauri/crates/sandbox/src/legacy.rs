//! Legacy `crm.{lead,deal,contact,company}.{fields,list,get,add,update,delete}` with their
//! UPPER_CASE shapes (numbers as strings, multi-fields as PHONE/EMAIL/WEB/IM/LINK arrays).

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out, Res};
use crate::filter::{self, split_op, Cond};
use crate::items::{scan, Scan};
use crate::schema::{type_by_slug, Field};
use crate::state::{as_i64, Item, Portal};
use crate::values::scalar_text;
use serde_json::{json, Map, Value};

/// Legacy multi-fields; `LINK` exists only on the legacy methods (CONTRACT §2.10) and has no
/// `HAS_LINK` flag.
const MULTI: [&str; 5] = ["PHONE", "EMAIL", "WEB", "IM", "LINK"];

const ADDRESS_PARTS: [&str; 8] = [
    "",
    "_2",
    "_CITY",
    "_POSTAL_CODE",
    "_REGION",
    "_PROVINCE",
    "_COUNTRY",
    "_COUNTRY_CODE",
];

fn empty(desc: &str) -> ApiError {
    ApiError::bad("", desc)
}

fn by_upper<'a>(portal: &'a Portal, t: i64, upper: &str) -> Option<&'a Field> {
    portal
        .fields(t)
        .iter()
        .find(|f| f.upper.eq_ignore_ascii_case(upper))
}

fn legacy_value(f: &Field, v: &Value) -> Value {
    match v {
        Value::Null => Value::Null,
        Value::Number(n) if !f.dynamic => {
            if f.ty == "double" {
                json!(format!("{:.2}", n.as_f64().unwrap_or(0.0)))
            } else {
                json!(n.to_string())
            }
        }
        Value::Array(a) if !f.dynamic => {
            Value::Array(a.iter().map(|x| legacy_value(f, x)).collect())
        }
        other => other.clone(),
    }
}

/// Renders an item in the legacy shape.
fn legacy_item(
    portal: &Portal,
    t: i64,
    item: &Item,
    select: &[String],
    ufs: bool,
    multi: bool,
) -> Value {
    let map = item.map();
    let mut out = Map::new();
    let all = select.is_empty();
    for f in portal.fields(t) {
        if f.name == "fm" || (f.multiple && !f.dynamic) {
            continue;
        }
        let wanted = if all {
            !f.dynamic || ufs
        } else {
            select.iter().any(|s| s.eq_ignore_ascii_case(&f.upper)) || (f.dynamic && ufs)
        };
        if wanted {
            out.insert(
                f.upper.clone(),
                legacy_value(f, map.get(&f.name).unwrap_or(&Value::Null)),
            );
        }
    }
    if t != 2 {
        let fm = map
            .get("fm")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for kind in MULTI {
            let wanted = multi || select.iter().any(|s| s.eq_ignore_ascii_case(kind));
            let vals: Vec<Value> = fm
                .iter()
                .filter(|x| x["typeId"] == kind)
                .map(|x| json!({"ID": scalar_text(&x["id"]), "VALUE_TYPE": x["valueType"], "VALUE": x["value"], "TYPE_ID": kind}))
                .collect();
            let flag = kind != "LINK";
            if wanted && !vals.is_empty() {
                out.insert(kind.into(), Value::Array(vals));
                if flag {
                    out.insert(format!("HAS_{kind}"), json!("Y"));
                }
            } else if all && flag {
                out.insert(
                    format!("HAS_{kind}"),
                    json!(if vals.is_empty() { "N" } else { "Y" }),
                );
            }
        }
    }
    Value::Object(out)
}

/// Legacy `fields` (UPPER_CASE) → crm.item `fields`.
fn to_item_fields(portal: &Portal, t: i64, fields: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut fm = Map::new();
    let mut n = 0;
    for (k, v) in fields {
        let ku = k.to_ascii_uppercase();
        if MULTI.contains(&ku.as_str()) {
            let entries: Vec<&Value> = match v {
                Value::Array(a) => a.iter().collect(),
                Value::Object(o) => o.values().collect(),
                _ => vec![],
            };
            for e in entries {
                let id = e.get("ID").and_then(as_i64);
                let value = e.get("VALUE").map(scalar_text).unwrap_or_default();
                let delete = e.get("DELETE").map(scalar_text).is_some_and(|d| d == "Y");
                // without VALUE_TYPE an update keeps the stored type (a new value gets WORK)
                let mut entry = json!({"typeId": ku, "value": value});
                if let Some(vt) = e.get("VALUE_TYPE").map(scalar_text) {
                    entry["valueType"] = json!(vt);
                }
                match id {
                    Some(id) => {
                        if delete {
                            entry["value"] = json!("");
                        }
                        fm.insert(id.to_string(), entry);
                    }
                    None => {
                        fm.insert(format!("n{n}"), entry);
                        n += 1;
                    }
                }
            }
            continue;
        }
        if ku == "CONTACT_IDS" {
            out.insert("contactIds".into(), v.clone());
            continue;
        }
        if ku == "COMPANY_IDS" {
            out.insert("companyIds".into(), v.clone());
            continue;
        }
        if let Some(f) = by_upper(portal, t, &ku) {
            out.insert(f.name.clone(), v.clone());
        }
    }
    if !fm.is_empty() {
        out.insert("fm".into(), Value::Object(fm));
    }
    out
}

fn translate_errors(e: ApiError) -> ApiError {
    match e.code.as_str() {
        Some("NOT_FOUND") => empty("Not found"),
        Some("ACCESS_DENIED") => empty("Access denied"),
        _ => ApiError::bad("", e.desc),
    }
}

fn id_param(p: &Value) -> Result<i64, ApiError> {
    param_i64(p, "id")
        .filter(|i| *i > 0)
        .ok_or_else(|| empty("ID is not defined or invalid"))
}

pub fn dispatch(call: &mut Call<'_>, m: &str, p: &Value) -> Option<MethodResult> {
    let rest = m.strip_prefix("crm.")?;
    let (slug, action) = rest.split_once('.')?;
    let t = type_by_slug(slug)?;
    Some(match action {
        "fields" => fields(call, t),
        "list" => list(call, t, p),
        "get" => get(call, t, p),
        "add" => write(call, t, p, None),
        "update" => id_param(p).and_then(|id| write(call, t, p, Some(id))),
        "delete" => id_param(p).and_then(|id| {
            crate::write::delete(call, &json!({"entityTypeId": t, "id": id}))
                .map(|_| Out::json(json!(true)))
                .map_err(translate_errors)
        }),
        _ => return None,
    })
}

fn fields(call: &mut Call<'_>, t: i64) -> MethodResult {
    let mut out = Map::new();
    for f in call.portal.fields(t) {
        if f.name == "fm" {
            continue;
        }
        out.insert(
            f.upper.clone(),
            json!({"type": f.ty, "isRequired": f.required, "isReadOnly": f.read_only, "isImmutable": f.immutable,
                "isMultiple": f.multiple, "isDynamic": f.dynamic, "title": f.title}),
        );
    }
    // legacy-only fields a portal lists (addresses, logo, photo, ORIGIN_VERSION; issue 7 §9);
    // they are not stored by this sandbox
    let mut extra: Vec<String> = vec!["ORIGIN_VERSION".into()];
    if t != 2 {
        extra.push("HAS_IMOL".into());
        for part in ADDRESS_PARTS {
            extra.push(format!("ADDRESS{part}"));
        }
    }
    if t == 4 {
        for part in ADDRESS_PARTS {
            extra.push(format!("REG_ADDRESS{part}"));
        }
        extra.push("LOGO".into());
    }
    if t == 3 {
        extra.push("PHOTO".into());
    }
    for k in extra {
        let ty = match k.as_str() {
            "LOGO" | "PHOTO" => "file",
            "HAS_IMOL" => "char",
            _ => "string",
        };
        let ro = k == "HAS_IMOL";
        out.entry(k.clone()).or_insert_with(|| {
            json!({"type": ty, "isRequired": false, "isReadOnly": ro, "isImmutable": false,
                "isMultiple": false, "isDynamic": false, "title": k})
        });
    }
    if t != 2 {
        for k in MULTI {
            out.insert(
                k.into(),
                json!({"type": "crm_multifield", "isRequired": false, "isReadOnly": false,
                "isImmutable": false, "isMultiple": true, "isDynamic": false, "title": k}),
            );
        }
    }
    Ok(Out::json(Value::Object(out)))
}

fn get(call: &mut Call<'_>, t: i64, p: &Value) -> MethodResult {
    let id = id_param(p)?;
    let item = crate::items::readable(call, t, id).map_err(translate_errors)?;
    Ok(Out::json(legacy_item(
        call.portal,
        t,
        item,
        &[],
        true,
        true,
    )))
}

fn list(call: &mut Call<'_>, t: i64, p: &Value) -> MethodResult {
    let portal: &Portal = call.portal;
    let mut filter = Map::new();
    if let Some(Value::Object(f)) = param(p, "filter") {
        for (k, v) in f {
            let (_, name) = split_op(k);
            if let Some(field) = by_upper(portal, t, name) {
                let prefix = &k[..k.len() - name.len()];
                filter.insert(format!("{prefix}{}", field.name), v.clone());
            }
        }
    }
    let mut order = Map::new();
    if let Some(Value::Object(o)) = param(p, "order") {
        for (k, v) in o {
            if let Some(field) = by_upper(portal, t, k) {
                order.insert(field.name.clone(), v.clone());
            }
        }
    }
    let resolver = |n: &str| crate::items::resolve(portal, t, n);
    let offset = call.cfg.portal_offset;
    let bad = |e: String| ApiError::bad("", e);
    let cond = filter::parse(&Value::Object(filter), &resolver, offset).map_err(bad)?;
    let order = filter::parse_order(&Value::Object(order), &resolver).map_err(bad)?;
    let select: Vec<String> = match param(p, "select") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|x| scalar_text(x).to_ascii_uppercase())
            .collect(),
        _ => vec![],
    };
    let ufs = select.iter().any(|s| s == "UF_*");
    let plain: Vec<String> = select
        .iter()
        .filter(|s| *s != "*" && *s != "UF_*")
        .cloned()
        .collect();
    let mut effective = plain.clone();
    if select.iter().any(|s| s == "*") || plain.is_empty() {
        effective.clear();
    } else if !effective.iter().any(|s| s == "ID") {
        effective.insert(0, "ID".into());
    }
    let start = param_i64(p, "start").unwrap_or(0);
    let rights = portal.rights(call.user, t).read;
    let cond: Cond = cond;
    let (page, total) = scan(
        portal,
        &Scan {
            t,
            user: call.user,
            cond: &cond,
            order: &order,
            start,
            offset,
            rights,
            shuffle: None,
        },
    );
    let rows: Vec<Value> = page
        .iter()
        .map(|it| legacy_item(portal, t, it, &effective, ufs, false))
        .collect();
    let res = Res::Json(Value::Array(rows));
    Ok(match total {
        None => Out::paged(res, 0, None),
        Some(total) => {
            let end = start.max(0) + 50;
            Out::paged(res, total, (total > end).then_some(end))
        }
    })
}

fn write(call: &mut Call<'_>, t: i64, p: &Value, id: Option<i64>) -> MethodResult {
    let fields = match param(p, "fields") {
        Some(Value::Object(f)) => f.clone(),
        _ => return Err(empty("Parameter 'fields' must be array.")),
    };
    let item_fields = to_item_fields(call.portal, t, &fields);
    let params = json!({"entityTypeId": t, "fields": item_fields, "useOriginalUfNames": "Y"});
    legacy_write(call, params, id)
}

fn legacy_write(call: &mut Call<'_>, mut params: Value, id: Option<i64>) -> MethodResult {
    match id {
        None => {
            let out = crate::write::add(call, &params).map_err(translate_errors)?;
            let new_id = match &out.result {
                Res::Json(v) => v["item"]["id"].as_i64().unwrap_or(0),
                _ => 0,
            };
            Ok(Out::json(json!(new_id)))
        }
        Some(id) => {
            params["id"] = json!(id);
            crate::write::update(call, &params).map_err(translate_errors)?;
            Ok(Out::json(json!(true)))
        }
    }
}
