//! Company ↔ contact links as one set with two views (a company's `contactIds`, a contact's
//! `companyIds`; CONTRACT §11 #11, issue 7 §6), and the link methods of leads, contacts and
//! companies: `crm.lead.contact.*`, `crm.contact.company.*`, `crm.company.contact.*`
//! (`fields`, `add`, `delete`, `items.get/set/delete`), shaped like `crm.deal.contact.*`.
//!
//! Changing one side rewrites the other side's list without moving its `updatedTime`: the portal
//! keeps these links in one binding table, so only the item that was written looks changed.

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out};
use crate::clock::fmt_datetime;
use crate::state::{as_i64, Portal};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The list field of a type that holds the other side of the company–contact link.
pub fn mirror_field(t: i64) -> Option<&'static str> {
    match t {
        3 => Some("companyIds"),
        4 => Some("contactIds"),
        _ => None,
    }
}

pub fn ids_of(map: &Map<String, Value>, key: &str) -> Vec<i64> {
    map.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(as_i64).collect())
        .unwrap_or_default()
}

/// The single-id field beside a link list: the primary (`companyId` of a contact, `contactId`
/// of a lead or deal; a company has none, its map has no `contactId`).
fn single_of(key: &str) -> &'static str {
    if key == "companyIds" {
        "companyId"
    } else {
        "contactId"
    }
}

/// Sets one item's link list and the primary beside it (no timestamp bump): `primary` when
/// given, else the current primary while it is still bound, else the first
/// (`Binding::selectPrimaryBoundEntity`).
fn put_ids(map: &mut Map<String, Value>, key: &str, ids: &[i64], primary: Option<i64>) {
    map.insert(key.into(), json!(ids));
    let single = single_of(key);
    if map.contains_key(single) {
        let current = map.get(single).and_then(as_i64).filter(|p| ids.contains(p));
        let chosen = primary
            .filter(|p| ids.contains(p))
            .or(current)
            .or_else(|| ids.first().copied())
            .unwrap_or(0);
        map.insert(single.into(), json!(chosen));
    }
}

/// After item `t`/`id` changed its company–contact list from `old` to `new`, adds or removes it
/// on the other side. Returns the items rewritten.
pub fn mirror(portal: &mut Portal, t: i64, id: i64, old: &[i64], new: &[i64]) -> Vec<(i64, i64)> {
    let (other, other_key) = match t {
        3 => (4, "contactIds"),
        4 => (3, "companyIds"),
        _ => return Vec::new(),
    };
    let mut touched = Vec::new();
    for o in old.iter().filter(|o| !new.contains(o)) {
        if portal.store(other).items.contains_key(o) {
            crate::write::rewrite(portal, other, *o, |m| {
                let mut ids = ids_of(m, other_key);
                ids.retain(|x| *x != id);
                put_ids(m, other_key, &ids, None);
            });
            touched.push((other, *o));
        }
    }
    for n in new.iter().filter(|n| !old.contains(n)) {
        if portal.store(other).items.contains_key(n) {
            crate::write::rewrite(portal, other, *n, |m| {
                let mut ids = ids_of(m, other_key);
                if !ids.contains(&id) {
                    ids.push(id);
                }
                put_ids(m, other_key, &ids, None);
            });
            touched.push((other, *n));
        }
    }
    touched
}

/// Makes both views agree after bulk generation: every contact listing a company is listed by
/// that company, and the other way round (a union, in id order for added entries).
pub fn reconcile(portal: &mut Portal) {
    let mut of_company: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for it in portal.store(3).items.values() {
        for co in it.links.iter() {
            of_company.entry(*co).or_default().push(it.id);
        }
    }
    let mut of_contact: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for it in portal.store(4).items.values() {
        for c in it.links.iter() {
            of_contact.entry(*c).or_default().push(it.id);
        }
    }
    for (t, key, wanted) in [(4, "contactIds", of_company), (3, "companyIds", of_contact)] {
        for (id, extra) in wanted {
            let Some(item) = portal.store(t).items.get(&id) else {
                continue;
            };
            if extra.iter().all(|x| item.links.contains(x)) {
                continue;
            }
            crate::write::rewrite(portal, t, id, |m| {
                let mut ids = ids_of(m, key);
                for x in extra {
                    if !ids.contains(&x) {
                        ids.push(x);
                    }
                }
                put_ids(m, key, &ids, None);
            });
        }
    }
}

fn empty(desc: &str) -> ApiError {
    ApiError::bad("", desc)
}

/// `(owner type, owner list field, the other side's key)` of a link method family.
fn family(m: &str) -> Option<(i64, &'static str, &'static str, &str)> {
    for (prefix, t, field, key) in [
        ("crm.lead.contact.", 1, "contactIds", "CONTACT_ID"),
        ("crm.contact.company.", 3, "companyIds", "COMPANY_ID"),
        ("crm.company.contact.", 4, "contactIds", "CONTACT_ID"),
    ] {
        if let Some(rest) = m.strip_prefix(prefix) {
            return Some((t, field, key, rest));
        }
    }
    None
}

/// Checks the owner exists and the caller may read (`write=false`) or edit it.
fn owner(call: &Call<'_>, t: i64, p: &Value, write: bool) -> Result<i64, ApiError> {
    let id = param_i64(p, "id")
        .filter(|id| *id > 0)
        .ok_or_else(|| empty("The parameter ownerEntityID is invalid or not defined."))?;
    let rights = call.portal.rights(call.user, t);
    let level = if write { rights.write } else { rights.read };
    if level == crate::state::Level::None {
        return Err(empty("Access denied."));
    }
    let item = call
        .portal
        .store(t)
        .items
        .get(&id)
        .ok_or_else(|| empty("Not found."))?;
    if !level.allows(call.user, item) {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied!"));
    }
    Ok(id)
}

/// The binding fields (`crm.deal.contact.fields` and the like).
pub fn binding_fields(key: &str) -> Value {
    let field = |ty: &str, required: bool, title: &str| {
        json!({"type": ty, "isRequired": required, "isReadOnly": false, "isImmutable": false,
            "isMultiple": false, "isDynamic": false, "title": title})
    };
    let mut m = Map::new();
    m.insert(key.into(), field("integer", true, key));
    m.insert("SORT".into(), field("integer", false, "SORT"));
    m.insert("ROLE_ID".into(), field("integer", false, "ROLE_ID"));
    m.insert("IS_PRIMARY".into(), field("char", false, "IS_PRIMARY"));
    Value::Object(m)
}

/// Writes the owner's list and its primary (bumping the owner) and mirrors it.
fn set_list(call: &mut Call<'_>, t: i64, field: &str, id: i64, ids: &[i64], primary: Option<i64>) {
    let old = call
        .portal
        .store(t)
        .items
        .get(&id)
        .map(|it| ids_of(&it.map(), field))
        .unwrap_or_default();
    let (now, user, offset) = (call.now, call.user, call.offset());
    crate::write::rewrite(call.portal, t, id, |m| {
        put_ids(m, field, ids, primary);
        m.insert("updatedTime".into(), json!(fmt_datetime(now, offset)));
        m.insert("updatedBy".into(), json!(user));
    });
    call.touched.push((t, id));
    let touched = mirror(call.portal, t, id, &old, ids);
    call.touched.extend(touched);
}

fn other_id(v: &Value, key: &str) -> Result<i64, ApiError> {
    param(v, key)
        .and_then(as_i64)
        .filter(|c| *c > 0)
        .ok_or_else(|| empty("The parameter 'fields' is not valid."))
}

/// `IS_PRIMARY` of one binding: only the exact `"Y"` counts (`EntityBinding::normalizeEntityBindings`
/// compares with `=== 'Y'`).
fn primary(v: &Value) -> bool {
    param(v, "IS_PRIMARY").is_some_and(|x| x.as_str() == Some("Y"))
}

/// Serves one link method, or `None` when `m` is not one.
pub fn dispatch(call: &mut Call<'_>, m: &str, p: &Value) -> Option<MethodResult> {
    let (t, field, key, rest) = family(m)?;
    Some(run(call, t, field, key, rest, p))
}

fn run(call: &mut Call<'_>, t: i64, field: &str, key: &str, rest: &str, p: &Value) -> MethodResult {
    let current = |call: &Call<'_>, id: i64| {
        call.portal
            .store(t)
            .items
            .get(&id)
            .map(|it| ids_of(&it.map(), field))
            .unwrap_or_default()
    };
    let primary_of = |call: &Call<'_>, id: i64| {
        call.portal
            .store(t)
            .items
            .get(&id)
            .and_then(|it| it.map().get(single_of(field)).and_then(as_i64))
    };
    match rest {
        "fields" => Ok(Out::json(binding_fields(key))),
        "items.get" => {
            let id = owner(call, t, p, false)?;
            let primary = primary_of(call, id);
            let rows: Vec<Value> = current(call, id)
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let mut row = Map::new();
                    row.insert(key.into(), json!(x));
                    row.insert("SORT".into(), json!((i as i64 + 1) * 10));
                    row.insert("ROLE_ID".into(), json!(0));
                    let yes = primary.map_or(i == 0, |p| p == *x);
                    row.insert("IS_PRIMARY".into(), json!(if yes { "Y" } else { "N" }));
                    Value::Object(row)
                })
                .collect();
            Ok(Out::json(Value::Array(rows)))
        }
        "items.set" => {
            let id = owner(call, t, p, true)?;
            let items: Vec<Value> = match param(p, "items") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::Object(o)) => o.values().cloned().collect(),
                _ => return Err(empty("The parameter items must be array.")),
            };
            let mut rows: Vec<(i64, i64, bool)> = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let x = other_id(it, key)?;
                if !rows.iter().any(|r| r.0 == x) {
                    let sort = param_i64(it, "SORT").unwrap_or((i as i64 + 1) * 10);
                    rows.push((x, sort, primary(it)));
                }
            }
            // `setItems`: the first binding marked exactly "Y" is the primary, else the first;
            // the list keeps the SORT order.
            let chosen = rows.iter().find(|r| r.2).or(rows.first()).map(|r| r.0);
            rows.sort_by_key(|r| r.1);
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            set_list(call, t, field, id, &ids, chosen);
            Ok(Out::json(json!(true)))
        }
        "items.delete" => {
            let id = owner(call, t, p, true)?;
            set_list(call, t, field, id, &[], None);
            Ok(Out::json(json!(true)))
        }
        "add" => {
            let id = owner(call, t, p, true)?;
            let fields = param(p, "fields").cloned().unwrap_or(Value::Null);
            let x = other_id(&fields, key)?;
            let mut ids = current(call, id);
            if ids.contains(&x) {
                return Ok(Out::json(json!(false)));
            }
            // Added last; the primary when so marked or when there is none yet.
            ids.push(x);
            let chosen = primary(&fields).then_some(x);
            set_list(call, t, field, id, &ids, chosen);
            Ok(Out::json(json!(true)))
        }
        "delete" => {
            let id = owner(call, t, p, true)?;
            let fields = param(p, "fields").cloned().unwrap_or(Value::Null);
            let x = other_id(&fields, key)?;
            let mut ids = current(call, id);
            if !ids.contains(&x) {
                return Ok(Out::json(json!(false)));
            }
            ids.retain(|y| *y != x);
            set_list(call, t, field, id, &ids, None);
            Ok(Out::json(json!(true)))
        }
        _ => Err(ApiError::new(
            call.cfg.method_not_found_status,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        )),
    }
}
