//! `POST /_emu/seed`: explicit users, credentials, custom fields, reference lists, items,
//! links and timeline entries. Items go through the normal write path (as `createdBy`, default
//! the admin); ids and read-only times may be given.

use crate::api::Call;
use crate::clock::{fmt_datetime, parse_datetime};
use crate::engine::Engine;
use crate::schema::UserField;
use crate::state::{as_i64, Category, Comment, LogMessage, Status, User};
use crate::values::scalar_text;
use serde_json::{json, Map, Value};

type R = (u16, Value);

fn list<'v>(body: &'v Value, key: &str) -> Vec<&'v Value> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default()
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).map(scalar_text).filter(|x| !x.is_empty())
}

pub fn seed(engine: &mut Engine, body: &Value) -> R {
    let mut ids = Map::new();
    let mut users = Vec::new();
    for u in list(body, "users") {
        let id = u
            .get("id")
            .and_then(as_i64)
            .unwrap_or_else(|| engine.portal.users.keys().max().copied().unwrap_or(0) + 1);
        engine.portal.users.insert(
            id,
            User {
                id,
                active: u.get("active").and_then(Value::as_bool).unwrap_or(true),
                name: s(u, "name").unwrap_or_default(),
                last_name: s(u, "lastName").unwrap_or_default(),
                second_name: s(u, "secondName").unwrap_or_default(),
                email: s(u, "email").unwrap_or_default(),
                user_type: s(u, "userType").unwrap_or_else(|| "employee".into()),
                admin: u.get("admin").and_then(Value::as_bool).unwrap_or(false),
                gender: s(u, "gender").unwrap_or_default(),
                position: s(u, "position").unwrap_or_default(),
                departments: vec![1],
                registered: engine.clock.now(),
            },
        );
        users.push(json!(id));
    }
    ids.insert("users".into(), json!(users));
    let mut creds = Vec::new();
    for c in list(body, "credentials") {
        creds.push(crate::emu::credentials(engine, c).1);
    }
    ids.insert("credentials".into(), json!(creds));
    let mut ufs = Vec::new();
    for u in list(body, "userfields") {
        // both our shape and `crm.userfield.add`'s (`entityId: CRM_DEAL`, UPPER_CASE keys)
        let any = |keys: &[&str]| keys.iter().find_map(|k| s(u, k));
        let t = u
            .get("entityTypeId")
            .and_then(as_i64)
            .or_else(|| {
                any(&["entityId", "ENTITY_ID"]).and_then(|e| {
                    crate::schema::TYPES
                        .into_iter()
                        .find(|t| crate::schema::uf_entity_id(*t) == e)
                })
            })
            .unwrap_or(2);
        let Some(name) = any(&["fieldName", "FIELD_NAME", "name"]) else {
            continue;
        };
        let base = engine
            .portal
            .userfields
            .iter()
            .flat_map(|f| f.items.iter().map(|i| i.0))
            .max()
            .unwrap_or(1000)
            + 1;
        let mut options = list(u, "items");
        options.extend(list(u, "list"));
        options.extend(list(u, "LIST"));
        let items = options
            .iter()
            .enumerate()
            .map(|(i, it)| {
                (
                    it.get("id").and_then(as_i64).unwrap_or(base + i as i64),
                    s(it, "value")
                        .or_else(|| s(it, "VALUE"))
                        .unwrap_or_default(),
                )
            })
            .collect();
        engine
            .portal
            .userfields
            .retain(|f| !(f.entity_type == t && f.name == name));
        engine.portal.userfields.push(UserField {
            entity_type: t,
            name: name.clone(),
            ty: any(&["userTypeId", "USER_TYPE_ID", "type"]).unwrap_or_else(|| "string".into()),
            multiple: u
                .get("multiple")
                .or_else(|| u.get("MULTIPLE"))
                .map(|m| matches!(scalar_text(m).as_str(), "Y" | "true" | "1"))
                .unwrap_or(false),
            label: label(u).unwrap_or_else(|| name.clone()),
            items,
        });
        ufs.push(json!(name));
    }
    engine.portal.rebuild_fields();
    add_uf_keys(engine, &ufs);
    ids.insert("userfields".into(), json!(ufs));
    for c in list(body, "categories") {
        let id = c.get("id").and_then(as_i64).unwrap_or_else(|| {
            engine
                .portal
                .categories
                .iter()
                .map(|c| c.id)
                .max()
                .unwrap_or(0)
                + 1
        });
        engine.portal.categories.retain(|x| x.id != id);
        engine.portal.categories.push(Category {
            id,
            name: s(c, "name").unwrap_or_default(),
            sort: c.get("sort").and_then(as_i64).unwrap_or(500),
            entity_type: 2,
        });
    }
    let mut statuses = Vec::new();
    for st in list(body, "statuses") {
        let (Some(eid), Some(sid)) = (s(st, "entityId"), s(st, "statusId")) else {
            continue;
        };
        engine.portal.next_status += 1;
        let id = engine.portal.next_status;
        engine.portal.statuses.push(Status {
            id,
            entity_id: eid,
            status_id: sid,
            name: s(st, "name").unwrap_or_default(),
            sort: st.get("sort").and_then(as_i64).unwrap_or(500),
            system: false,
            category_id: st.get("categoryId").and_then(as_i64),
            color: s(st, "color").unwrap_or_default(),
            semantics: s(st, "semantics").unwrap_or_default(),
        });
        statuses.push(json!(id));
    }
    ids.insert("statuses".into(), json!(statuses));
    let mut items = Vec::new();
    let mut touched = Vec::new();
    for it in list(body, "items") {
        match seed_item(engine, it) {
            Ok(v) => {
                touched.push((
                    v["entityTypeId"].as_i64().unwrap_or(0),
                    v["id"].as_i64().unwrap_or(0),
                ));
                items.push(v)
            }
            Err(e) => return (400, json!({"error": e, "ids": ids})),
        }
    }
    ids.insert("items".into(), json!(items));
    for l in list(body, "links") {
        let (Some(deal), Some(contact)) = (
            l.get("dealId").and_then(as_i64),
            l.get("contactId").and_then(as_i64),
        ) else {
            continue;
        };
        let p = json!({"id": deal, "fields": {"CONTACT_ID": contact, "IS_PRIMARY": s(l, "isPrimary").unwrap_or_else(|| "N".into()), "SORT": l.get("sort").cloned().unwrap_or(json!(null))}});
        let p = strip_nulls(p);
        let _ = engine.run_method(1, None, "crm.deal.contact.add", &p);
    }
    let mut tl = Vec::new();
    for e in list(body, "timeline") {
        tl.push(seed_timeline(engine, e));
        let t = e.get("entityTypeId").and_then(as_i64).unwrap_or(2);
        touched.push((t, e.get("entityId").and_then(as_i64).unwrap_or(0)));
    }
    for l in list(body, "links") {
        touched.push((2, l.get("dealId").and_then(as_i64).unwrap_or(0)));
    }
    ids.insert("timeline".into(), json!(tl));
    if let Some(p) = &engine.persist {
        p.record(&engine.portal, &touched, true);
    }
    (200, json!({"ids": ids}))
}

/// Gives every stored item of the types concerned the new UF keys (empty), as the portal does.
fn add_uf_keys(engine: &mut Engine, names: &[Value]) {
    for t in crate::schema::TYPES {
        let new: Vec<crate::schema::Field> = engine
            .portal
            .fields(t)
            .iter()
            .filter(|f| f.dynamic && names.iter().any(|n| n.as_str() == Some(f.name.as_str())))
            .cloned()
            .collect();
        if new.is_empty() {
            continue;
        }
        let empty = crate::values::blank_item(&new);
        let ids: Vec<i64> = engine.portal.store(t).items.keys().copied().collect();
        for id in ids {
            crate::write::rewrite(&mut engine.portal, t, id, |m| {
                for (k, v) in &empty {
                    if !m.contains_key(k) {
                        m.insert(k.clone(), v.clone());
                    }
                }
            });
        }
        if let Some(p) = &engine.persist {
            p.full(&engine.portal);
        }
    }
}

/// A label: plain, or per language (`{"ru": "…", "en": "…"}`, the first one wins).
fn label(u: &Value) -> Option<String> {
    [
        "label",
        "editFormLabel",
        "EDIT_FORM_LABEL",
        "listLabel",
        "LIST_COLUMN_LABEL",
    ]
    .iter()
    .find_map(|k| match u.get(*k)? {
        Value::Object(m) => m.values().next().map(scalar_text),
        v => Some(scalar_text(v)),
    })
    .filter(|x| !x.is_empty())
}

fn strip_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        o => o,
    }
}

fn seed_item(engine: &mut Engine, it: &Value) -> Result<Value, Value> {
    let t = it
        .get("entityTypeId")
        .and_then(as_i64)
        .filter(|t| (1..=4).contains(t))
        .ok_or(json!("entityTypeId must be 1..4"))?;
    let mut fields = it
        .get("fields")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(|| it.as_object().cloned().unwrap_or_default());
    fields.remove("entityTypeId");
    let want_id = fields
        .remove("id")
        .or_else(|| it.get("id").cloned())
        .and_then(|v| as_i64(&v));
    let author = fields.get("createdBy").and_then(as_i64).unwrap_or(1);
    let store = engine.portal.store_mut(t);
    let saved_next = store.next_id;
    if let Some(id) = want_id {
        if store.items.contains_key(&id) {
            return Err(json!(format!("item {t}/{id} exists")));
        }
        store.next_id = id;
    }
    let now = engine.clock.now();
    let p = json!({"entityTypeId": t, "fields": fields, "useOriginalUfNames": "Y"});
    let r = {
        let mut call = Call {
            portal: &mut engine.portal,
            cfg: &engine.cfg,
            now,
            user: author,
            credential: None,
            touched: Vec::new(),
            dirty: false,
        };
        crate::write::add(&mut call, &p)
    };
    if want_id.is_some() {
        let store = engine.portal.store_mut(t);
        store.next_id = store.next_id.max(saved_next);
    }
    let out = r.map_err(|e| e.body())?;
    let id = match &out.result {
        crate::api::Res::Json(v) => v["item"]["id"].as_i64().unwrap_or(0),
        _ => 0,
    };
    let offset = engine.cfg.portal_offset;
    let mut overrides = Map::new();
    for k in [
        "createdTime",
        "updatedTime",
        "movedTime",
        "lastActivityTime",
    ] {
        if let Some(v) = fields.get(k).map(scalar_text) {
            if let Some(ts) = parse_datetime(&v, offset) {
                overrides.insert(k.into(), json!(fmt_datetime(ts, offset)));
            }
        }
    }
    for k in ["createdBy", "updatedBy", "movedBy", "lastActivityBy"] {
        if let Some(v) = fields.get(k).and_then(as_i64) {
            overrides.insert(k.into(), json!(v));
        }
    }
    if !overrides.contains_key("updatedTime") {
        if let Some(c) = overrides.get("createdTime").cloned() {
            overrides.insert("updatedTime".into(), c);
        }
    }
    if !overrides.is_empty() {
        crate::write::rewrite(&mut engine.portal, t, id, |m| {
            for (k, v) in overrides {
                m.insert(k, v);
            }
        });
    }
    Ok(json!({"entityTypeId": t, "id": id}))
}

fn seed_timeline(engine: &mut Engine, e: &Value) -> Value {
    let t = e.get("entityTypeId").and_then(as_i64).unwrap_or(2);
    let id = e.get("entityId").and_then(as_i64).unwrap_or(0);
    let author = e.get("authorId").and_then(as_i64).unwrap_or(1);
    let created = s(e, "created")
        .and_then(|c| parse_datetime(&c, engine.cfg.portal_offset))
        .unwrap_or(engine.clock.now());
    if s(e, "kind").as_deref() == Some("comment") {
        engine.portal.next_comment += 1;
        let c = Comment {
            id: engine.portal.next_comment,
            entity_type: t,
            entity_id: id,
            created,
            author_id: author,
            comment: s(e, "comment").or_else(|| s(e, "text")).unwrap_or_default(),
        };
        engine.portal.index_comment(&c);
        let cid = c.id;
        engine.portal.comments.insert(cid, c);
        return json!({"kind": "comment", "id": cid});
    }
    engine.portal.next_log += 1;
    let m = LogMessage {
        id: engine.portal.next_log,
        entity_type: t,
        entity_id: id,
        created,
        author_id: author,
        title: s(e, "title").unwrap_or_default(),
        text: s(e, "text").unwrap_or_default(),
        icon: s(e, "iconCode").unwrap_or_else(|| "info".into()),
        credential: None,
    };
    engine.portal.index_log(&m);
    let mid = m.id;
    engine.portal.log_messages.insert(mid, m);
    json!({"kind": "logmessage", "id": mid})
}
