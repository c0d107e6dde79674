//! Timeline: `crm.timeline.logmessage.*` and `crm.timeline.comment.*`.

use crate::api::{param, param_i64, param_str, ApiError, Call, MethodResult, Out, Res};
use crate::clock::fmt_datetime;
use crate::state::{Comment, Level, LogMessage};
use crate::values::scalar_text;
use serde_json::{json, Value};

fn log_json(m: &LogMessage, offset: i32) -> Value {
    json!({"id": m.id, "created": fmt_datetime(m.created, offset), "authorId": m.author_id,
        "title": m.title, "text": m.text, "iconCode": m.icon})
}

fn comment_json(c: &Comment, offset: i32) -> Value {
    json!({"ID": c.id.to_string(), "ENTITY_ID": c.entity_id.to_string(),
        "ENTITY_TYPE": crate::schema::type_slug(c.entity_type),
        "CREATED": fmt_datetime(c.created, offset), "COMMENT": c.comment,
        "AUTHOR_ID": c.author_id.to_string(), "FILES": {}})
}

/// The navigation RestManager adds to an action's `Page` (`rest/lib/engine/restmanager.php`
/// `getNavigationData`): the REST `start` only sets the page navigation's offset (whole pages of
/// 50, `initialize`), so `next` = that offset + the rows returned, while below `total`; `start`
/// = -1 asks for no count. The rows themselves are the action's to choose.
fn action_page(rows: Vec<Value>, p: &Value, total: usize) -> Out {
    let start = param_i64(p, "start").unwrap_or(0);
    if start == -1 {
        return Out::json(json!({ "logMessages": rows }));
    }
    let nav_offset = if start > 0 { start / 50 * 50 } else { 0 };
    let next = nav_offset + rows.len() as i64;
    let next = (next < total as i64).then_some(next);
    // A `Page` with an id comes back as `{id: rows}` (`processData`).
    Out::paged(
        Res::Json(json!({ "logMessages": rows })),
        total as i64,
        next,
    )
}

/// A `CCrmRestProxyBase` list page (`rest/classes/general/rest.php` `getNavData`, `setNavData`):
/// `start` picks the page of `size` it falls in; `next` is the following page's first row.
fn rest_page<T>(items: &[T], p: &Value, size: usize, render: impl Fn(&T) -> Value) -> Out {
    let start = param_i64(p, "start").unwrap_or(0).max(0) as usize;
    let page_no = start / size;
    let total = items.len();
    let page: Vec<Value> = items
        .iter()
        .skip(page_no * size)
        .take(size)
        .map(render)
        .collect();
    let next = (total > (page_no + 1) * size).then_some(((page_no + 1) * size) as i64);
    Out::paged(Res::Json(Value::Array(page)), total as i64, next)
}

/// `UserPermissions::item()->canRead` / `canUpdate` (`crm/lib/Service/UserPermissions/
/// EntityPermissions/Item.php`): no item without a type of the CRM and an id above 0; an
/// administrator may anything; otherwise the role's level for the operation (update needs read
/// too) matched against the item's attributes — an item that does not exist has none, so only
/// the level "all" lets it through (`PermissionLevel::compareUserAttributesWithEntityAttributes`).
fn can(call: &Call<'_>, t: i64, id: i64, write: bool) -> bool {
    if !(1..=4).contains(&t) || id <= 0 {
        return false;
    }
    if is_admin(call) {
        return true;
    }
    let r = call.portal.rights(call.user, t);
    let item = call.portal.store(t).items.get(&id);
    let allows = |level: Level| match item {
        Some(item) => level.allows(call.user, item),
        None => level == Level::All,
    };
    allows(r.read) && (!write || allows(r.write))
}

/// Checks the owner exists and the caller has `level` rights on it.
fn owner(call: &Call<'_>, t: i64, id: i64, write: bool, empty_code: bool) -> Result<(), ApiError> {
    let err = |code: &str, desc: &str| {
        if empty_code {
            ApiError::bad("", desc)
        } else {
            ApiError::bad(code, desc)
        }
    };
    if !(1..=4).contains(&t) {
        return Err(err("OWNER_NOT_FOUND", "Owner not found"));
    }
    let item = call
        .portal
        .store(t)
        .items
        .get(&id)
        .ok_or_else(|| err("OWNER_NOT_FOUND", "Owner not found"))?;
    let r = call.portal.rights(call.user, t);
    let level = if write { r.write } else { r.read };
    if level == Level::None || !level.allows(call.user, item) {
        return Err(err("ACCESS_DENIED", "Access denied."));
    }
    Ok(())
}

fn is_admin(call: &Call<'_>) -> bool {
    call.portal.users.get(&call.user).is_some_and(|u| u.admin)
}

/// Whether the call came through an incoming webhook.
fn through_webhook(call: &Call<'_>) -> bool {
    call.credential
        .as_ref()
        .and_then(|c| call.portal.credentials.get(c))
        .is_some_and(|c| c.kind == "webhook")
}

/// `crm.timeline.logmessage.list` order (`logmessage.php` `prepareOrder`): only lowercase
/// `id`/`created` with lowercase `asc`/`desc`; anything else falls back to id descending.
/// Returns (by created, asc).
fn logmessage_order(p: &Value) -> (bool, bool) {
    let first = param(p, "order")
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next());
    match first {
        Some((k, Value::String(d)))
            if (k == "id" || k == "created") && (d == "asc" || d == "desc") =>
        {
            (k == "created", d == "asc")
        }
        _ => (false, false),
    }
}

pub fn dispatch(call: &mut Call<'_>, m: &str, p: &Value) -> MethodResult {
    let offset = call.offset();
    match m {
        "crm.timeline.logmessage.add" => {
            let f = param(p, "fields").cloned().unwrap_or(Value::Null);
            // `getPreparedRequiredFields`: each of the five must be set (an empty string is);
            // a missing one is an error with no code. The ids are cast as PHP's `(int)`.
            let mut got = Vec::new();
            for k in ["entityTypeId", "entityId", "title", "text", "iconCode"] {
                match param(&f, k).filter(|v| !v.is_null()) {
                    Some(v) => got.push(scalar_text(v)),
                    None => {
                        return Err(ApiError::bad("", format!("Missing a required field: {k}")))
                    }
                }
            }
            let int = |s: &str| s.trim().parse::<i64>().unwrap_or(0);
            let (t, id) = (int(&got[0]), int(&got[1]));
            let [_, _, title, text, icon] = <[String; 5]>::try_from(got).unwrap_or_default();
            // Edit permission on the item, whether or not it exists (`canUpdate` in
            // `crm/lib/controller/timeline/logmessage.php` `addAction`), checked before the
            // owner (so an id of 0 is refused as access); `logmessageAdd: "admin"` is the switch
            // for portals that keep log messages to administrators.
            let allowed = if call.cfg.logmessage_add == "admin" {
                is_admin(call) && (1..=4).contains(&t) && id > 0
            } else {
                can(call, t, id, true)
            };
            if !allowed {
                return Err(ApiError::bad("ACCESS_DENIED", "Access denied."));
            }
            call.portal.next_log += 1;
            let msg = LogMessage {
                id: call.portal.next_log,
                entity_type: t,
                entity_id: id,
                created: call.now,
                author_id: call.user,
                title,
                text,
                icon,
                credential: call.credential.clone(),
            };
            let v = log_json(&msg, offset);
            call.portal.index_log(&msg);
            call.portal.log_messages.insert(msg.id, msg);
            call.touched.push((t, id));
            call.dirty = true;
            Ok(Out::json(json!({"logMessage": v})))
        }
        "crm.timeline.logmessage.get" => {
            let id = param_i64(p, "id").unwrap_or(0);
            let msg = call.portal.log_messages.get(&id).ok_or_else(|| {
                ApiError::bad(
                    "NOT_FOUND",
                    format!("Timeline logmessage not found for id {id}"),
                )
            })?;
            // read permission on the item it is bound to (`getAction`: `canReadItemIdentifier`)
            if !can(call, msg.entity_type, msg.entity_id, false) {
                return Err(ApiError::bad("ACCESS_DENIED", "Access denied."));
            }
            Ok(Out::json(json!({"logMessage": log_json(msg, offset)})))
        }
        "crm.timeline.logmessage.list" => {
            let (Some(t), Some(id)) = (param_i64(p, "entityTypeId"), param_i64(p, "entityId"))
            else {
                return Err(ApiError::bad(
                    "100",
                    "Could not find value for parameter {entityTypeId}",
                ));
            };
            // read permission on the item (`listAction`: `canRead`), then every REST log
            // message of the item, whoever wrote it
            if !can(call, t, id, false) {
                return Err(ApiError::bad("ACCESS_DENIED", "Access denied."));
            }
            let mut list: Vec<&LogMessage> = call
                .portal
                .timeline_index
                .get(&(t, id))
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| call.portal.log_messages.get(i))
                        .collect()
                })
                .unwrap_or_default();
            let (by_created, asc) = logmessage_order(p);
            list.sort_by_key(|m| {
                if by_created {
                    (m.created, m.id)
                } else {
                    (m.id, 0)
                }
            });
            if !asc {
                list.reverse();
            }
            // 10 a page (`PAGE_SIZE`) from the action's own `offset` argument; the REST `start`
            // does not move the rows (see `action_page`).
            let from = p
                .get("offset")
                .map(scalar_text)
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0)
                .max(0) as usize;
            let rows: Vec<Value> = list
                .iter()
                .skip(from)
                .take(10)
                .map(|m| log_json(m, offset))
                .collect();
            Ok(action_page(rows, p, list.len()))
        }
        "crm.timeline.logmessage.delete" => {
            let id = param_i64(p, "id").unwrap_or(0);
            let msg = call.portal.log_messages.get(&id).ok_or_else(|| {
                ApiError::bad(
                    "NOT_FOUND",
                    format!("Timeline logmessage not found for id {id}"),
                )
            })?;
            // admin only and bound to the OAuth client: through a webhook always refused (§11 #8)
            if through_webhook(call)
                || !is_admin(call)
                || msg.credential.is_none()
                || msg.credential != call.credential
            {
                return Err(ApiError::bad("REMOVING_DISABLED", "Removing is disabled"));
            }
            let key = (msg.entity_type, msg.entity_id);
            call.portal.log_messages.remove(&id);
            if let Some(v) = call.portal.timeline_index.get_mut(&key) {
                v.retain(|x| *x != id);
            }
            call.touched.push(key);
            call.dirty = true;
            Ok(Out::json(json!(true)))
        }
        _ => comments(call, m, p),
    }
}

fn comments(call: &mut Call<'_>, m: &str, p: &Value) -> MethodResult {
    let offset = call.offset();
    match m {
        "crm.timeline.comment.add" => {
            let f = param(p, "fields").cloned().unwrap_or(Value::Null);
            // ENTITY_TYPE_ID may stand in for ENTITY_TYPE (§11 #10)
            let t = param_str(&f, "ENTITY_TYPE")
                .and_then(|s| crate::schema::type_by_slug(&s))
                .or_else(|| param_i64(&f, "ENTITY_TYPE_ID").filter(|t| (1..=4).contains(t)));
            let id = param_i64(&f, "ENTITY_ID");
            let (Some(t), Some(id)) = (t, id) else {
                return Err(ApiError::bad(
                    "100",
                    "Required fields ENTITY_ID, ENTITY_TYPE are missing",
                ));
            };
            // The author is the caller; AUTHOR_ID in the fields is ignored
            // (`crm/lib/controller/timeline/comment.php` `fetchFieldsToAdd`).
            let author = call.user;
            let text = param_str(&f, "COMMENT").unwrap_or_default();
            if text.trim().is_empty() {
                return Err(ApiError::bad("INVALID_ARG_VALUE", "Empty comment"));
            }
            owner(call, t, id, true, false)?;
            call.portal.next_comment += 1;
            let c = Comment {
                id: call.portal.next_comment,
                entity_type: t,
                entity_id: id,
                created: call.now,
                author_id: author,
                comment: text,
            };
            let cid = c.id;
            call.portal.index_comment(&c);
            call.portal.comments.insert(cid, c);
            let (now, user, off) = (call.now, call.user, offset);
            crate::write::rewrite(call.portal, t, id, |m| {
                m.insert("lastActivityTime".into(), json!(fmt_datetime(now, off)));
                m.insert("lastActivityBy".into(), json!(user));
            });
            call.touched.push((t, id));
            call.dirty = true;
            Ok(Out::json(json!(cid)))
        }
        "crm.timeline.comment.update" => {
            let id = param_i64(p, "id").unwrap_or(0);
            let c = call
                .portal
                .comments
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::bad("NOT_FOUND", "Not found."))?;
            owner(call, c.entity_type, c.entity_id, true, false)?;
            // only the author may change a comment (§11 #10)
            if c.author_id != call.user {
                return Err(ApiError::bad("ACCESS_DENIED", "Access denied."));
            }
            let f = param(p, "fields").cloned().unwrap_or(Value::Null);
            if let Some(text) = param_str(&f, "COMMENT") {
                if text.trim().is_empty() {
                    return Err(ApiError::bad("INVALID_ARG_VALUE", "Empty comment"));
                }
                if let Some(x) = call.portal.comments.get_mut(&id) {
                    x.comment = text;
                }
            }
            call.touched.push((c.entity_type, c.entity_id));
            call.dirty = true;
            Ok(Out::json(json!(id)))
        }
        "crm.timeline.comment.get" => {
            let id = param_i64(p, "id")
                .filter(|i| *i > 0)
                .ok_or_else(|| ApiError::bad("", "ID is not defined or invalid."))?;
            let c = call
                .portal
                .comments
                .get(&id)
                .ok_or_else(|| ApiError::bad("", "Not found."))?;
            owner(call, c.entity_type, c.entity_id, false, true)?;
            Ok(Out::json(comment_json(c, offset)))
        }
        "crm.timeline.comment.list" => {
            // `CCrmTimelineCommentRestProxy::innerGetList` (crm/classes/general/restservice.php):
            // the filter's ENTITY_ID and ENTITY_TYPE name the item, and reading it needs read
            // permission (`checkReadPermission`) — without them, or without the right, "Access
            // denied." with no code.
            let f = param(p, "filter").cloned().unwrap_or(Value::Null);
            let t = param_str(&f, "ENTITY_TYPE")
                .and_then(|s| crate::schema::type_by_slug(&s.to_ascii_lowercase()))
                .unwrap_or(0);
            let id = param_i64(&f, "ENTITY_ID").unwrap_or(0);
            if !can(call, t, id, false) {
                return Err(ApiError::bad("", "Access denied."));
            }
            let mut list: Vec<&Comment> = call
                .portal
                .comment_index
                .get(&(t, id))
                .map(|ids| {
                    ids.iter()
                        .filter_map(|i| call.portal.comments.get(i))
                        .collect()
                })
                .unwrap_or_default();
            // Order only by ID, CREATED or AUTHOR_ID (upper case), `DESC` exactly descending,
            // anything else ascending; no usable key: by id.
            let order: Vec<(String, bool)> = param(p, "order")
                .and_then(Value::as_object)
                .map(|o| {
                    o.iter()
                        .filter(|(k, _)| matches!(k.as_str(), "ID" | "CREATED" | "AUTHOR_ID"))
                        .map(|(k, d)| (k.clone(), scalar_text(d) == "DESC"))
                        .collect()
                })
                .unwrap_or_default();
            list.sort_by(|a, b| {
                let mut o = std::cmp::Ordering::Equal;
                for (k, desc) in &order {
                    let by = match k.as_str() {
                        "ID" => a.id.cmp(&b.id),
                        "CREATED" => a.created.cmp(&b.created),
                        _ => a.author_id.cmp(&b.author_id),
                    };
                    o = o.then(if *desc { by.reverse() } else { by });
                }
                o.then(a.id.cmp(&b.id))
            });
            // 50 a page, by the REST `start` (`getNavData`).
            Ok(rest_page(&list, p, 50, |c| comment_json(c, offset)))
        }
        "crm.timeline.comment.delete" => {
            let id = param_i64(p, "id")
                .filter(|i| *i > 0)
                .ok_or_else(|| ApiError::bad("", "ID is not defined or invalid."))?;
            let c = call
                .portal
                .comments
                .get(&id)
                .cloned()
                .ok_or_else(|| ApiError::bad("", "Not found."))?;
            owner(call, c.entity_type, c.entity_id, true, true)?;
            // the author or an administrator may delete a comment (§11 #10)
            if c.author_id != call.user && !is_admin(call) {
                return Err(ApiError::bad("", "Access denied."));
            }
            call.portal.comments.remove(&id);
            if let Some(v) = call
                .portal
                .comment_index
                .get_mut(&(c.entity_type, c.entity_id))
            {
                v.retain(|x| *x != id);
            }
            call.touched.push((c.entity_type, c.entity_id));
            call.dirty = true;
            Ok(Out::json(Value::Null))
        }
        _ => Err(ApiError::new(
            call.cfg.method_not_found_status,
            "ERROR_METHOD_NOT_FOUND",
            "Method not found!",
        )),
    }
}
