//! Editing reference data, and the descriptions other client libraries call (issue 7 §9):
//! `crm.status.fields/get/add/update/delete`, `crm.status.entity.types/items`,
//! `crm.category.fields/get/add/update/delete` and `crm.multifield.fields`.
//!
//! Changes need a portal administrator (CRM settings); the legacy `crm.status.*` answer errors
//! with an empty code, `crm.category.*` with `crm.item`-style codes.

use crate::api::{param, param_i64, param_str, ApiError, Call, MethodResult, Out};
use crate::lists::status_json;
use crate::state::Category;
use serde_json::{json, Map, Value};

fn empty(desc: &str) -> ApiError {
    ApiError::bad("", desc)
}

fn is_admin(call: &Call<'_>) -> bool {
    call.portal.users.get(&call.user).is_some_and(|u| u.admin)
}

/// A legacy field description.
fn describe(ty: &str, required: bool, read_only: bool, title: &str) -> Value {
    json!({"type": ty, "isRequired": required, "isReadOnly": read_only, "isImmutable": false,
        "isMultiple": false, "isDynamic": false, "title": title})
}

fn described(rows: &[(&str, &str, bool, bool)]) -> Value {
    let mut m = Map::new();
    for (name, ty, required, ro) in rows {
        m.insert((*name).into(), describe(ty, *required, *ro, name));
    }
    Value::Object(m)
}

/// Serves one method of this module, or `None`.
pub fn dispatch(call: &mut Call<'_>, m: &str, p: &Value) -> Option<MethodResult> {
    Some(match m {
        "crm.multifield.fields" => Ok(Out::json(described(&[
            ("ID", "integer", false, true),
            ("TYPE_ID", "string", false, true),
            ("VALUE", "string", true, false),
            ("VALUE_TYPE", "string", true, false),
        ]))),
        "crm.status.fields" => Ok(Out::json(described(&[
            ("ID", "integer", false, true),
            ("ENTITY_ID", "string", true, false),
            ("STATUS_ID", "string", true, false),
            ("SORT", "integer", false, false),
            ("NAME", "string", true, false),
            ("NAME_INIT", "string", false, true),
            ("SYSTEM", "char", false, true),
            ("CATEGORY_ID", "integer", false, true),
            ("COLOR", "string", false, false),
            ("SEMANTICS", "string", false, true),
            ("EXTRA", "crm_status_extra", false, false),
        ]))),
        "crm.status.get" => status_get(call, p),
        "crm.status.add" => status_add(call, p),
        "crm.status.update" => status_update(call, p),
        "crm.status.delete" => status_delete(call, p),
        "crm.status.entity.types" => Ok(entity_types(call)),
        "crm.status.entity.items" => entity_items(call, p),
        "crm.category.fields" => Ok(Out::json(json!({"fields": {
            "id": {"type": "integer", "isRequired": false, "isReadOnly": true, "isImmutable": false, "isMultiple": false, "isDynamic": false, "title": "ID"},
            "name": {"type": "string", "isRequired": true, "isReadOnly": false, "isImmutable": false, "isMultiple": false, "isDynamic": false, "title": "Название"},
            "sort": {"type": "integer", "isRequired": false, "isReadOnly": false, "isImmutable": false, "isMultiple": false, "isDynamic": false, "title": "Сортировка"},
            "entityTypeId": {"type": "integer", "isRequired": false, "isReadOnly": true, "isImmutable": false, "isMultiple": false, "isDynamic": false, "title": "Тип"},
            "isDefault": {"type": "boolean", "isRequired": false, "isReadOnly": false, "isImmutable": false, "isMultiple": false, "isDynamic": false, "title": "По умолчанию"},
        }}))),
        "crm.category.get" => category_get(call, p),
        "crm.category.add" => category_add(call, p),
        "crm.category.update" => category_update(call, p),
        "crm.category.delete" => category_delete(call, p),
        _ => return None,
    })
}

fn status_index(call: &Call<'_>, p: &Value) -> Result<usize, ApiError> {
    let id = param_i64(p, "id")
        .filter(|i| *i > 0)
        .ok_or_else(|| empty("The parameter id is invalid or not defined."))?;
    call.portal
        .statuses
        .iter()
        .position(|s| s.id == id)
        .ok_or_else(|| empty("Not found."))
}

fn status_get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let i = status_index(call, p)?;
    Ok(Out::json(status_json(&call.portal.statuses[i])))
}

fn status_add(call: &mut Call<'_>, p: &Value) -> MethodResult {
    if !is_admin(call) {
        return Err(empty("Access denied."));
    }
    let f = param(p, "fields").cloned().unwrap_or(Value::Null);
    let text = |k: &str| param_str(&f, k).filter(|s| !s.is_empty());
    let (Some(entity), Some(status_id), Some(name)) =
        (text("ENTITY_ID"), text("STATUS_ID"), text("NAME"))
    else {
        return Err(empty("Required fields: ENTITY_ID, STATUS_ID, NAME."));
    };
    let known = call.portal.statuses.iter().find(|s| s.entity_id == entity);
    let Some(template) = known.cloned() else {
        return Err(empty("The entity ENTITY_ID is not found."));
    };
    if call
        .portal
        .statuses
        .iter()
        .any(|s| s.entity_id == entity && s.status_id == status_id)
    {
        return Err(empty("The status STATUS_ID already exists."));
    }
    let sort = param_i64(&f, "SORT").unwrap_or(10);
    call.portal.next_status += 1;
    let id = call.portal.next_status;
    call.portal.statuses.push(crate::state::Status {
        id,
        entity_id: entity,
        status_id,
        name,
        sort,
        system: false,
        category_id: template.category_id,
        color: text("COLOR").unwrap_or_default(),
        semantics: if template.semantics.is_empty() {
            String::new()
        } else {
            "process".into()
        },
    });
    call.dirty = true;
    Ok(Out::json(json!(id)))
}

fn status_update(call: &mut Call<'_>, p: &Value) -> MethodResult {
    if !is_admin(call) {
        return Err(empty("Access denied."));
    }
    let i = status_index(call, p)?;
    let f = param(p, "fields").cloned().unwrap_or(Value::Null);
    let s = &mut call.portal.statuses[i];
    if let Some(n) = param_str(&f, "NAME").filter(|n| !n.is_empty()) {
        s.name = n;
    }
    if let Some(x) = param_i64(&f, "SORT") {
        s.sort = x;
    }
    if let Some(c) = param_str(&f, "COLOR") {
        s.color = c;
    }
    call.dirty = true;
    Ok(Out::json(json!(true)))
}

fn status_delete(call: &mut Call<'_>, p: &Value) -> MethodResult {
    if !is_admin(call) {
        return Err(empty("Access denied."));
    }
    let i = status_index(call, p)?;
    if call.portal.statuses[i].system {
        return Err(empty("A system status cannot be deleted."));
    }
    call.portal.statuses.remove(i);
    call.dirty = true;
    Ok(Out::json(json!(true)))
}

fn entity_name(eid: &str) -> String {
    match eid {
        "STATUS" => "Статусы".into(),
        "SOURCE" => "Источники".into(),
        "CONTACT_TYPE" => "Тип контакта".into(),
        "COMPANY_TYPE" => "Тип компании".into(),
        "DEAL_TYPE" => "Тип сделки".into(),
        "DEAL_STAGE" => "Стадии сделки".into(),
        "INDUSTRY" => "Сфера деятельности".into(),
        "EMPLOYEES" => "Кол-во сотрудников".into(),
        "HONORIFIC" => "Обращения".into(),
        other => other.to_string(),
    }
}

fn entity_types(call: &Call<'_>) -> Out {
    let mut seen: Vec<&str> = Vec::new();
    for s in &call.portal.statuses {
        if !seen.contains(&s.entity_id.as_str()) {
            seen.push(&s.entity_id);
        }
    }
    let rows: Vec<Value> = seen
        .iter()
        .map(|eid| {
            let mut row = json!({"ID": eid, "NAME": entity_name(eid)});
            if let Some(cat) = eid.strip_prefix("DEAL_STAGE_") {
                let name = cat
                    .parse::<i64>()
                    .ok()
                    .and_then(|c| call.portal.categories.iter().find(|x| x.id == c))
                    .map(|c| c.name.clone())
                    .unwrap_or_default();
                row["NAME"] = json!(format!("Стадии сделки ({name})"));
                row["PARENT_ID"] = json!("DEAL_STAGE");
                row["CATEGORY_ID"] = json!(cat);
                row["ENTITY_TYPE_ID"] = json!(2);
            } else if *eid == "DEAL_STAGE" {
                row["ENTITY_TYPE_ID"] = json!(2);
            } else if *eid == "STATUS" {
                row["ENTITY_TYPE_ID"] = json!(1);
            }
            row
        })
        .collect();
    Out::json(Value::Array(rows))
}

fn entity_items(call: &Call<'_>, p: &Value) -> MethodResult {
    let eid = param_str(p, "entityId")
        .filter(|s| !s.is_empty())
        .ok_or_else(|| empty("The parameter entityId is not defined."))?;
    let mut rows: Vec<&crate::state::Status> = call
        .portal
        .statuses
        .iter()
        .filter(|s| s.entity_id == eid)
        .collect();
    rows.sort_by_key(|s| (s.sort, s.id));
    Ok(Out::json(Value::Array(
        rows.iter()
            .map(|s| json!({"NAME": s.name, "SORT": s.sort, "STATUS_ID": s.status_id}))
            .collect(),
    )))
}

fn category_json(c: &Category) -> Value {
    let mut v = json!({"id": c.id, "name": c.name, "sort": c.sort, "entityTypeId": c.entity_type,
        "isDefault": if c.id == 0 { "Y" } else { "N" }});
    if c.id != 0 {
        v["originId"] = json!("");
        v["originatorId"] = json!("");
    }
    v
}

/// Only deals have pipelines here (as `crm.category.list`).
fn deal_type(p: &Value) -> Result<i64, ApiError> {
    match param_i64(p, "entityTypeId") {
        Some(2) => Ok(2),
        Some(t @ 1..=4) => Err(ApiError::bad(
            "ENTITY_TYPE_NOT_SUPPORTED",
            format!(
                "Entity type {} is not supported",
                crate::schema::type_name(t)
            ),
        )),
        _ => Err(ApiError::bad("NOT_FOUND", "Smart process not found")),
    }
}

fn category_index(call: &Call<'_>, p: &Value) -> Result<usize, ApiError> {
    let t = deal_type(p)?;
    let id = param_i64(p, "id").unwrap_or(-1);
    call.portal
        .categories
        .iter()
        .position(|c| c.id == id && c.entity_type == t)
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Category not found"))
}

fn category_get(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let i = category_index(call, p)?;
    Ok(Out::json(
        json!({"category": category_json(&call.portal.categories[i])}),
    ))
}

fn category_add(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = deal_type(p)?;
    if !is_admin(call) {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied"));
    }
    let f = param(p, "fields").cloned().unwrap_or(Value::Null);
    let name = param_str(&f, "name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad("CRM_FIELD_ERROR_REQUIRED", "The \"Name\" field is required")
        })?;
    let id = call
        .portal
        .categories
        .iter()
        .map(|c| c.id)
        .max()
        .unwrap_or(0)
        + 1;
    let c = Category {
        id,
        name,
        sort: param_i64(&f, "sort").unwrap_or(500),
        entity_type: t,
    };
    let v = category_json(&c);
    call.portal.categories.push(c);
    let stage = |s: &str| format!("C{id}:{s}");
    let (new, work, won, lose) = (
        stage("NEW"),
        stage("EXECUTING"),
        stage("WON"),
        stage("LOSE"),
    );
    crate::reference::push(
        call.portal,
        &format!("DEAL_STAGE_{id}"),
        Some(id),
        &[
            (new.as_str(), "Новая", "process", "#39A8EF"),
            (work.as_str(), "В работе", "process", "#2FC6F6"),
            (won.as_str(), "Сделка успешна", "success", "#7BD500"),
            (lose.as_str(), "Сделка провалена", "failure", "#FF5752"),
        ],
    );
    call.dirty = true;
    Ok(Out::json(json!({"category": v})))
}

fn category_update(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let i = category_index(call, p)?;
    if !is_admin(call) {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied"));
    }
    let f = param(p, "fields").cloned().unwrap_or(Value::Null);
    let c = &mut call.portal.categories[i];
    if let Some(n) = param_str(&f, "name").filter(|n| !n.is_empty()) {
        c.name = n;
    }
    if let Some(s) = param_i64(&f, "sort") {
        c.sort = s;
    }
    let v = category_json(c);
    call.dirty = true;
    Ok(Out::json(json!({"category": v})))
}

fn category_delete(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let i = category_index(call, p)?;
    if !is_admin(call) {
        return Err(ApiError::bad("ACCESS_DENIED", "Access denied"));
    }
    let id = call.portal.categories[i].id;
    if id == 0 {
        return Err(ApiError::bad("", "The default pipeline cannot be deleted"));
    }
    let in_use = call
        .portal
        .store(2)
        .items
        .values()
        .any(|it| it.map().get("categoryId").and_then(crate::state::as_i64) == Some(id));
    if in_use {
        return Err(ApiError::bad(
            "",
            "The pipeline has deals and cannot be deleted",
        ));
    }
    call.portal.categories.remove(i);
    let eid = format!("DEAL_STAGE_{id}");
    call.portal.statuses.retain(|s| s.entity_id != eid);
    call.dirty = true;
    Ok(Out::json(Value::Null))
}
