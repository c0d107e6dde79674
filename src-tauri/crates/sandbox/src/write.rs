//! `crm.item.add`, `crm.item.update`, `crm.item.delete`, and the shared write path.

use crate::api::{ApiError, Call, MethodResult, Out};
use crate::clock::{fmt_date_in, fmt_datetime};
use crate::fieldvalues::{apply_fm, field_value, fields_param, not_valid};
use crate::items::{entity_type, item_envelope, item_id, original_names, render, resolve, Select};
use crate::reference::first_status;
use crate::state::{as_i64, Binding, Item, Portal, StageRow};
use crate::values::blank_item;
use serde_json::{json, Map, Value};
use std::sync::Arc;

fn denied() -> ApiError {
    ApiError::bad("ACCESS_DENIED", "Access denied")
}

/// The write operation's own permission check (CONTRACT §11 #6): the controller lets the call in,
/// the operation refuses the item as it would be saved (e.g. reassigned outside one's rights).
fn operation_denied(op: &str) -> ApiError {
    let what = match op {
        "ADD" => "add",
        "DELETE" => "delete",
        _ => "update",
    };
    ApiError::bad(
        &format!("CRM_ITEM_{op}_ACCESS_DENIED"),
        format!("Access denied: you cannot {what} this item"),
    )
}

/// Applies client `fields` to a map, as the call's user at the call's time. Unknown and read-only
/// keys are ignored. Lenient switches read here: `ufBooleanOneIsYes` (a user field of type
/// boolean also takes `1` as yes) and `contactIdsOrderChoosesPrimary`.
fn apply(
    call: &mut Call<'_>,
    t: i64,
    map: &mut Map<String, Value>,
    fields: &Map<String, Value>,
) -> Result<(), ApiError> {
    let dates = call.dates();
    let uf_one_is_yes = call.cfg.uf_boolean_one_is_yes;
    let order_chooses_primary = call.cfg.contact_ids_order_chooses_primary;
    let portal = &mut *call.portal;
    // The primary contact / company before this write (the single-id field beside the list).
    let primary_before = |m: &Map<String, Value>, single: &str| m.get(single).and_then(as_i64);
    let was = [
        primary_before(map, "contactId"),
        primary_before(map, "companyId"),
    ];
    let mut written_lists: Vec<&str> = Vec::new();
    for (k, v) in fields {
        let Some(f) = resolve(portal, t, k).cloned() else {
            continue;
        };
        if f.read_only || f.name == "id" {
            continue;
        }
        if f.name == "fm" {
            let current: Vec<Value> = map
                .get("fm")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let list = apply_fm(&current, v, &mut portal.next_fm);
            map.insert("fm".into(), Value::Array(list));
            continue;
        }
        let lenient_yes = uf_one_is_yes
            && f.dynamic
            && f.ty == "boolean"
            && matches!(crate::values::scalar_text(v).as_str(), "1");
        let yes = json!("Y");
        let v = if lenient_yes { &yes } else { v };
        if let Some(val) = field_value(&f, v, dates)? {
            if f.name == "contactId" {
                // `Binding::set` of the single id: "we have nothing to do, its bound already";
                // otherwise it replaces every binding with this one.
                let id = val.as_i64().unwrap_or(0);
                let bound = crate::company_links::ids_of(map, "contactIds");
                if id > 0 && bound.contains(&id) {
                    continue;
                }
                map.insert(
                    "contactIds".into(),
                    if id > 0 { json!([id]) } else { json!([]) },
                );
                map.insert("contactId".into(), json!(id));
                continue;
            }
            if f.name == "contactIds" || f.name == "companyIds" {
                written_lists.push(if f.name == "contactIds" {
                    "contactIds"
                } else {
                    "companyIds"
                });
            }
            map.insert(f.name.clone(), val);
        }
    }
    // The primary of a rewritten list (`Binding::selectPrimaryBoundEntity`): no `IS_PRIMARY` can
    // be given here, so the current primary stays while it is still bound, else the first binding.
    // `order_chooses_primary`: the first id always wins (`EntityBinding::normalizeEntityBindings`
    // marks it in 26.250).
    for (list, single, before) in [
        ("contactIds", "contactId", was[0]),
        ("companyIds", "companyId", was[1]),
    ] {
        if !written_lists.contains(&list) || !(map.contains_key(single) || list == "companyIds") {
            continue;
        }
        let ids = crate::company_links::ids_of(map, list);
        let keep = before.filter(|p| *p > 0 && ids.contains(p) && !order_chooses_primary);
        let primary = keep.or_else(|| ids.first().copied()).unwrap_or(0);
        map.insert(single.into(), json!(primary));
    }
    Ok(())
}

/// A contact's or company's `categoryId` must name one of its type's pipelines (0 is default).
fn settle_category(portal: &Portal, t: i64, map: &Map<String, Value>) -> Result<(), ApiError> {
    if t != 3 && t != 4 {
        return Ok(());
    }
    let cat = category_of(map);
    if cat != 0
        && !portal
            .categories
            .iter()
            .any(|c| c.id == cat && c.entity_type == t)
    {
        return Err(not_valid("categoryId"));
    }
    Ok(())
}

fn stage_of(map: &Map<String, Value>) -> String {
    map.get("stageId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn category_of(map: &Map<String, Value>) -> i64 {
    map.get("categoryId").and_then(as_i64).unwrap_or(0)
}

/// Validates and normalizes stage/pipeline after a write; returns the history row type, if any.
fn settle_stage(
    portal: &Portal,
    t: i64,
    old: Option<&Map<String, Value>>,
    map: &mut Map<String, Value>,
) -> Result<Option<i64>, ApiError> {
    if t != 1 && t != 2 {
        return Ok(None);
    }
    let cat = category_of(map);
    if t == 2
        && !portal
            .categories
            .iter()
            .any(|c| c.id == cat && c.entity_type == 2)
    {
        return Err(not_valid("categoryId"));
    }
    let stages = portal.stages(t, cat);
    let old_cat = old.map(category_of);
    let old_stage = old.map(stage_of);
    let mut stage = stage_of(map);
    if stage.is_empty()
        || (old_cat.is_some_and(|c| c != cat) && old_stage.as_deref() == Some(stage.as_str()))
    {
        stage = stages
            .first()
            .map(|s| s.status_id.clone())
            .unwrap_or_default();
    }
    let Some(st) = stages.iter().find(|s| s.status_id == stage) else {
        // a stage of another pipeline is a forbidden move: the portal refuses it with an empty
        // code (CONTRACT §11 #6); a stage that exists nowhere is an invalid value
        let elsewhere = t == 2
            && portal
                .categories
                .iter()
                .filter(|c| c.entity_type == 2 && c.id != cat)
                .any(|c| portal.stages(2, c.id).iter().any(|s| s.status_id == stage));
        if elsewhere {
            return Err(ApiError::bad(
                "",
                format!("Stage \"{stage}\" cannot be set: it belongs to another pipeline"),
            ));
        }
        return Err(not_valid("stageId"));
    };
    map.insert("stageId".into(), json!(stage));
    map.insert("stageSemanticId".into(), json!(st.letter()));
    if t == 2 {
        map.insert(
            "closed".into(),
            json!(if st.letter() == "P" { "N" } else { "Y" }),
        );
    }
    Ok(match (old_cat, old_stage) {
        (None, _) => Some(1),
        (Some(c), _) if c != cat => Some(5),
        (_, Some(s)) if s != stage => Some(if st.letter() == "P" { 2 } else { 3 }),
        _ => None,
    })
}

pub fn push_history(
    portal: &mut Portal,
    t: i64,
    id: i64,
    type_id: i64,
    when: i64,
    map: &Map<String, Value>,
) {
    portal.next_stage_row += 1;
    let sem = match map.get("stageSemanticId").and_then(Value::as_str) {
        Some("S") => "S",
        Some("F") => "F",
        _ => "P",
    };
    portal.stage_history.push(StageRow {
        id: portal.next_stage_row,
        entity_type: t,
        type_id,
        owner_id: id,
        created: when,
        category_id: category_of(map),
        stage_id: Arc::from(stage_of(map).as_str()),
        semantic: sem,
    });
}

/// Rebuilds a deal's bindings from its `contactIds` (replace; SORT (i+1)*10); the primary is the
/// `contactId` [`apply`] chose.
fn bindings_from_ids(portal: &mut Portal, deal: i64, map: &Map<String, Value>) {
    let ids: Vec<i64> = map
        .get("contactIds")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(as_i64).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        portal.bindings.remove(&deal);
    } else {
        let primary = map
            .get("contactId")
            .and_then(as_i64)
            .filter(|p| ids.contains(p))
            .unwrap_or(ids[0]);
        let b = ids
            .iter()
            .enumerate()
            .map(|(i, c)| Binding {
                contact_id: *c,
                sort: (i as i64 + 1) * 10,
                primary: *c == primary,
            })
            .collect();
        portal.bindings.insert(deal, b);
    }
}

fn saved(call: &Call<'_>, t: i64, item: &Item, p: &Value) -> Out {
    let original = original_names(p);
    let rendered = render(call.portal, t, item, &Select::All, original);
    let rendered = crate::items::for_caller(call, t, rendered, original);
    Out::json(item_envelope(&rendered))
}

pub fn add(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let fields = fields_param(p)?;
    let offset = call.offset();
    let zone = call.cfg.zone();
    let (user, now) = (call.user, call.now);
    let rights = call.portal.rights(user, t);
    if rights.write == crate::state::Level::None {
        return Err(operation_denied("ADD"));
    }
    let mut map = blank_item(call.portal.fields(t));
    map.insert("assignedById".into(), json!(user));
    map.insert("opened".into(), json!("Y"));
    let defaults: [(&str, &str); 3] = match t {
        1 => [
            ("sourceId", "SOURCE"),
            ("currencyId", ""),
            ("isManualOpportunity", ""),
        ],
        2 => [
            ("sourceId", "SOURCE"),
            ("typeId", "DEAL_TYPE"),
            ("currencyId", ""),
        ],
        3 => [
            ("sourceId", "SOURCE"),
            ("typeId", "CONTACT_TYPE"),
            ("export", ""),
        ],
        _ => [
            ("typeId", "COMPANY_TYPE"),
            ("currencyId", ""),
            ("isMyCompany", ""),
        ],
    };
    for (k, list) in defaults {
        let v = match (k, list) {
            (_, l) if !l.is_empty() => first_status(call.portal, l)
                .map(Value::from)
                .unwrap_or(Value::Null),
            ("currencyId", _) => json!("RUB"),
            ("export", _) => json!("Y"),
            _ => json!("N"),
        };
        map.insert(k.into(), v);
    }
    if t == 1 || t == 2 {
        map.insert("isManualOpportunity".into(), json!("N"));
        map.insert("opportunity".into(), json!(0));
    }
    for k in [
        "isNew",
        "isRecurring",
        "isReturnCustomer",
        "isRepeatedApproach",
        "closed",
    ] {
        if map.contains_key(k) {
            map.insert(k.into(), json!(if k == "isNew" { "Y" } else { "N" }));
        }
    }
    if t == 2 {
        map.insert(
            "begindate".into(),
            json!(fmt_date_in(zone.date_at(now), zone, now)),
        );
        map.insert(
            "closedate".into(),
            json!(fmt_date_in(zone.date_at(now + 7 * 86_400), zone, now)),
        );
        map.insert("probability".into(), Value::Null);
    }
    apply(call, t, &mut map, &fields)?;
    if !rights.write.allows(user, &Item::from_map(&map)) {
        return Err(operation_denied("ADD"));
    }
    if t == 3 {
        let blank = |k: &str| {
            map.get(k)
                .map(crate::values::scalar_text)
                .unwrap_or_default()
                .is_empty()
        };
        if blank("name") && blank("lastName") {
            map.insert("name".into(), json!("Без имени"));
        }
    }
    let history = settle_stage(call.portal, t, None, &mut map)?;
    settle_category(call.portal, t, &map)?;
    crate::values::set_contact_flags(&mut map);
    let id = call.portal.store_mut(t).alloc_id();
    map.insert("id".into(), json!(id));
    if t != 3 {
        let title_empty = map
            .get("title")
            .map(crate::values::scalar_text)
            .unwrap_or_default()
            .is_empty();
        if title_empty {
            map.insert(
                "title".into(),
                json!(format!("{} #{id}", crate::schema::type_title(t))),
            );
        }
    }
    let ts = json!(fmt_datetime(now, offset));
    for k in ["createdTime", "updatedTime", "lastActivityTime"] {
        map.insert(k.into(), ts.clone());
    }
    for k in ["createdBy", "updatedBy", "lastActivityBy"] {
        map.insert(k.into(), json!(user));
    }
    if history.is_some() {
        map.insert("movedBy".into(), json!(user));
        map.insert("movedTime".into(), ts.clone());
        push_history(call.portal, t, id, 1, now, &map);
    }
    if t == 2 {
        bindings_from_ids(call.portal, id, &map);
    }
    let item = Item::from_map(&map);
    call.portal.store_mut(t).put(item.clone());
    call.touched.push((t, id));
    mirror_links(call, t, id, &Map::new(), &map);
    Ok(saved(call, t, &item, p))
}

pub fn update(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let id = item_id(p)?;
    let fields = fields_param(p)?;
    let offset = call.offset();
    let (user, now) = (call.user, call.now);
    let existing = call
        .portal
        .store(t)
        .items
        .get(&id)
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Item not found"))?
        .clone();
    let rights = call.portal.rights(user, t);
    if !rights.write.allows(user, &existing) {
        return Err(denied());
    }
    let old = existing.map();
    let mut map = old.clone();
    apply(call, t, &mut map, &fields)?;
    let history = settle_stage(call.portal, t, Some(&old), &mut map)?;
    settle_category(call.portal, t, &map)?;
    crate::values::set_contact_flags(&mut map);
    if t == 3 {
        let blank = |k: &str| {
            map.get(k)
                .map(crate::values::scalar_text)
                .unwrap_or_default()
                .is_empty()
        };
        if blank("name") && blank("lastName") {
            return Err(ApiError::bad(
                "CRM_FIELD_ERROR_REQUIRED",
                "The \"Name\" field is required",
            ));
        }
    }
    if !rights.write.allows(user, &Item::from_map(&map)) {
        return Err(operation_denied("UPDATE"));
    }
    if map == old {
        return Ok(saved(call, t, &existing, p));
    }
    let ts = json!(fmt_datetime(now, offset));
    map.insert("updatedTime".into(), ts.clone());
    map.insert("updatedBy".into(), json!(user));
    if let Some(ty) = history {
        map.insert("movedBy".into(), json!(user));
        map.insert("movedTime".into(), ts.clone());
        if ty != 1 {
            push_history(call.portal, t, id, ty, now, &map);
        }
    }
    if t == 2 && map.get("contactIds") != old.get("contactIds") {
        bindings_from_ids(call.portal, id, &map);
    }
    let item = Item::from_map(&map);
    call.portal.store_mut(t).put(item.clone());
    call.touched.push((t, id));
    mirror_links(call, t, id, &old, &map);
    Ok(saved(call, t, &item, p))
}

/// A company's `contactIds` and a contact's `companyIds` are one set of links (§11 #11).
fn mirror_links(
    call: &mut Call<'_>,
    t: i64,
    id: i64,
    old: &Map<String, Value>,
    new: &Map<String, Value>,
) {
    let Some(key) = crate::company_links::mirror_field(t) else {
        return;
    };
    let (before, after) = (
        crate::company_links::ids_of(old, key),
        crate::company_links::ids_of(new, key),
    );
    if before != after {
        let touched = crate::company_links::mirror(call.portal, t, id, &before, &after);
        call.touched.extend(touched);
    }
}

/// Rewrites one stored item through a closure (no timestamp bump).
pub fn rewrite(portal: &mut Portal, t: i64, id: i64, f: impl FnOnce(&mut Map<String, Value>)) {
    let Some(item) = portal.store(t).items.get(&id) else {
        return;
    };
    let mut map = item.map();
    f(&mut map);
    let item = Item::from_map(&map);
    portal.store_mut(t).put(item);
}

fn strip_id(map: &mut Map<String, Value>, key: &str, id: i64) {
    if let Some(Value::Array(a)) = map.get_mut(key) {
        a.retain(|x| as_i64(x) != Some(id));
    }
}

/// Removes a deleted item from every link, the timeline and stage history.
pub fn unlink(call: &mut Call<'_>, t: i64, id: i64) {
    let portal = &mut *call.portal;
    let mut touched = Vec::new();
    if t == 3 {
        for lt in [1, 2, 4] {
            let hits: Vec<i64> = portal
                .store(lt)
                .items
                .values()
                .filter(|i| i.links.contains(&id))
                .map(|i| i.id)
                .collect();
            for h in hits {
                rewrite(portal, lt, h, |m| {
                    strip_id(m, "contactIds", id);
                    if m.get("contactId").and_then(as_i64) == Some(id) {
                        let first = m
                            .get("contactIds")
                            .and_then(Value::as_array)
                            .and_then(|a| a.first().cloned());
                        m.insert("contactId".into(), first.unwrap_or(json!(0)));
                    }
                });
                if lt == 2 {
                    if let Some(b) = portal.bindings.get_mut(&h) {
                        b.retain(|x| x.contact_id != id);
                        if !b.is_empty() && !b.iter().any(|x| x.primary) {
                            b[0].primary = true;
                        }
                    }
                }
                touched.push((lt, h));
            }
        }
    }
    if t == 4 {
        for lt in [1, 2, 3] {
            let hits: Vec<i64> = portal
                .store(lt)
                .items
                .values()
                .filter(|i| i.company_id == id || (lt == 3 && i.links.contains(&id)))
                .map(|i| i.id)
                .collect();
            for h in hits {
                rewrite(portal, lt, h, |m| {
                    strip_id(m, "companyIds", id);
                    if m.get("companyId").and_then(as_i64) == Some(id) {
                        let first = m
                            .get("companyIds")
                            .and_then(Value::as_array)
                            .and_then(|a| a.first().cloned());
                        m.insert("companyId".into(), first.unwrap_or(json!(0)));
                    }
                });
                touched.push((lt, h));
            }
        }
    }
    if t == 2 {
        portal.bindings.remove(&id);
    }
    if let Some(ids) = portal.timeline_index.remove(&(t, id)) {
        for i in ids {
            portal.log_messages.remove(&i);
        }
    }
    if let Some(ids) = portal.comment_index.remove(&(t, id)) {
        for i in ids {
            portal.comments.remove(&i);
        }
    }
    if t == 1 || t == 2 {
        portal
            .stage_history
            .retain(|r| !(r.entity_type == t && r.owner_id == id));
    }
    call.touched.extend(touched);
    call.dirty = true;
}

pub fn delete(call: &mut Call<'_>, p: &Value) -> MethodResult {
    let t = entity_type(p)?;
    let id = item_id(p)?;
    let user = call.user;
    let item = call
        .portal
        .store(t)
        .items
        .get(&id)
        .ok_or_else(|| ApiError::bad("NOT_FOUND", "Item not found"))?;
    if !call.portal.rights(user, t).delete.allows(user, item) {
        return Err(operation_denied("DELETE"));
    }
    let now = call.now;
    if call.cfg.recycle_bin {
        crate::recycle::keep(call.portal, t, id);
    }
    call.portal.store_mut(t).remove(id, now);
    unlink(call, t, id);
    call.touched.push((t, id));
    Ok(Out::json(json!([])))
}

/// Re-syncs a deal's `contactIds` from its bindings (ordered by SORT) and bumps it (§10 #1).
pub fn sync_deal_contacts(call: &mut Call<'_>, deal: i64) {
    let mut b = call.portal.bindings.get(&deal).cloned().unwrap_or_default();
    b.sort_by_key(|x| (x.sort, x.contact_id));
    let ids: Vec<i64> = b.iter().map(|x| x.contact_id).collect();
    let primary = b
        .iter()
        .find(|x| x.primary)
        .map(|x| x.contact_id)
        .unwrap_or(0);
    let (now, user, offset) = (call.now, call.user, call.offset());
    rewrite(call.portal, 2, deal, |m| {
        m.insert("contactIds".into(), json!(ids));
        m.insert("contactId".into(), json!(primary));
        m.insert("updatedTime".into(), json!(fmt_datetime(now, offset)));
        m.insert("updatedBy".into(), json!(user));
    });
    call.touched.push((2, deal));
}
