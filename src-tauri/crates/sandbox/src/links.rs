//! Deal–contact links: `crm.deal.contact.items.get/set/delete`, `crm.deal.contact.add/delete`.

use crate::api::{param, param_i64, ApiError, Call, MethodResult, Out};
use crate::state::{as_i64, Binding};
use crate::write::sync_deal_contacts;
use serde_json::{json, Value};

fn empty(desc: &str) -> ApiError {
    ApiError::bad("", desc)
}

/// Checks the deal exists and the caller may read (`write=false`) or edit it.
fn deal(call: &Call<'_>, p: &Value, write: bool) -> Result<i64, ApiError> {
    let id = param_i64(p, "id")
        .filter(|id| *id > 0)
        .ok_or_else(|| empty("The parameter ownerEntityID is invalid or not defined."))?;
    let rights = call.portal.rights(call.user, 2);
    let level = if write { rights.write } else { rights.read };
    if level == crate::state::Level::None {
        return Err(empty("Access denied."));
    }
    let item = call
        .portal
        .store(2)
        .items
        .get(&id)
        .ok_or_else(|| empty("Not found."))?;
    if !level.allows(call.user, item) {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied!"));
    }
    Ok(id)
}

fn binding_of(v: &Value, index: usize) -> Result<Binding, ApiError> {
    let contact_id = param_i64(v, "CONTACT_ID")
        .filter(|c| *c > 0)
        .ok_or_else(|| empty("The parameter 'fields' is not valid."))?;
    Ok(Binding {
        contact_id,
        sort: param_i64(v, "SORT").unwrap_or((index as i64 + 1) * 10),
        primary: param(v, "IS_PRIMARY").is_some_and(|x| x.as_str() == Some("Y")),
    })
}

pub fn dispatch(call: &mut Call<'_>, m: &str, p: &Value) -> MethodResult {
    match m {
        "crm.deal.contact.fields" => Ok(Out::json(crate::company_links::binding_fields(
            "CONTACT_ID",
        ))),
        "crm.deal.contact.items.get" => {
            let id = deal(call, p, false)?;
            let mut b = call.portal.bindings.get(&id).cloned().unwrap_or_default();
            b.sort_by_key(|x| (x.sort, x.contact_id));
            let rows: Vec<Value> = b
                .iter()
                .map(|x| json!({"CONTACT_ID": x.contact_id, "SORT": x.sort, "ROLE_ID": 0, "IS_PRIMARY": if x.primary {"Y"} else {"N"}}))
                .collect();
            Ok(Out::json(Value::Array(rows)))
        }
        "crm.deal.contact.items.set" => {
            let id = deal(call, p, true)?;
            let items: Vec<Value> = match param(p, "items") {
                Some(Value::Array(a)) => a.clone(),
                Some(Value::Object(o)) => o.values().cloned().collect(),
                _ => return Err(empty("The parameter items must be array.")),
            };
            let mut list = Vec::new();
            for (i, it) in items.iter().enumerate() {
                let b = binding_of(it, i)?;
                if !list.iter().any(|x: &Binding| x.contact_id == b.contact_id) {
                    list.push(b);
                }
            }
            let first_primary = list.iter().position(|x| x.primary).unwrap_or(0);
            for (i, b) in list.iter_mut().enumerate() {
                b.primary = i == first_primary;
            }
            if list.is_empty() {
                call.portal.bindings.remove(&id);
            } else {
                call.portal.bindings.insert(id, list);
            }
            sync_deal_contacts(call, id);
            Ok(Out::json(json!(true)))
        }
        "crm.deal.contact.items.delete" => {
            let id = deal(call, p, true)?;
            call.portal.bindings.remove(&id);
            sync_deal_contacts(call, id);
            Ok(Out::json(json!(true)))
        }
        "crm.deal.contact.add" => {
            let id = deal(call, p, true)?;
            let fields = param(p, "fields").cloned().unwrap_or(Value::Null);
            let existing = call.portal.bindings.get(&id).map(Vec::len).unwrap_or(0);
            let mut b = binding_of(&fields, existing)?;
            let list = call.portal.bindings.entry(id).or_default();
            if list.iter().any(|x| x.contact_id == b.contact_id) {
                return Ok(Out::json(json!(false)));
            }
            if param(&fields, "IS_PRIMARY").is_none() && !list.iter().any(|x| x.primary) {
                b.primary = true;
            }
            if b.primary {
                list.iter_mut().for_each(|x| x.primary = false);
            }
            list.push(b);
            sync_deal_contacts(call, id);
            Ok(Out::json(json!(true)))
        }
        "crm.deal.contact.delete" => {
            let id = deal(call, p, true)?;
            let fields = param(p, "fields").cloned().unwrap_or(Value::Null);
            let cid = param(&fields, "CONTACT_ID")
                .and_then(as_i64)
                .filter(|c| *c > 0)
                .ok_or_else(|| empty("The parameter 'fields' is not valid."))?;
            let list = call.portal.bindings.entry(id).or_default();
            let before = list.len();
            list.retain(|x| x.contact_id != cid);
            if list.len() == before {
                return Ok(Out::json(json!(false)));
            }
            if !list.is_empty() && !list.iter().any(|x| x.primary) {
                list.sort_by_key(|x| (x.sort, x.contact_id));
                list[0].primary = true;
            }
            sync_deal_contacts(call, id);
            Ok(Out::json(json!(true)))
        }
        _ => Err(ApiError::new(
            call.cfg.method_not_found_status,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        )),
    }
}
