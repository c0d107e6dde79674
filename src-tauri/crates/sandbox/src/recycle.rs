//! The recycle bin (CONTRACT §11 #13, issue 7 §7). With `recycleBin` on (the default, as on cloud
//! portals) a deleted item is kept here: REST answers `NOT_FOUND` for it like for any deleted
//! item and has no restore; `/_emu/act` with `"method": "recyclebin.restore"` brings it back as
//! the portal's web UI does, with its **old** `updatedTime`/`updatedBy`, so an incremental sync
//! cannot see it return (only id reconciliation can). The bin is not persisted.

use crate::state::{as_i64, Portal, Recycled};
use serde_json::{json, Value};

/// Keeps an item about to be deleted, with its bindings, timeline and stage history.
pub fn keep(portal: &mut Portal, t: i64, id: i64) {
    let Some(item) = portal.store(t).items.get(&id).cloned() else {
        return;
    };
    let log_messages = portal
        .timeline_index
        .get(&(t, id))
        .map(|ids| {
            ids.iter()
                .filter_map(|i| portal.log_messages.get(i).cloned())
                .collect()
        })
        .unwrap_or_default();
    let comments = portal
        .comment_index
        .get(&(t, id))
        .map(|ids| {
            ids.iter()
                .filter_map(|i| portal.comments.get(i).cloned())
                .collect()
        })
        .unwrap_or_default();
    let stage_rows = portal
        .stage_history
        .iter()
        .filter(|r| r.entity_type == t && r.owner_id == id)
        .cloned()
        .collect();
    let bindings = if t == 2 {
        portal.bindings.get(&id).cloned()
    } else {
        None
    };
    portal.recycle_bin.insert(
        (t, id),
        Recycled {
            item,
            bindings,
            log_messages,
            comments,
            stage_rows,
        },
    );
}

/// Restores an item from the recycle bin. Links to items deleted in the meantime are dropped;
/// a company's contacts and a contact's companies are linked back on the other side.
pub fn restore(portal: &mut Portal, t: i64, id: i64) -> Result<Vec<(i64, i64)>, String> {
    let r = portal
        .recycle_bin
        .remove(&(t, id))
        .ok_or_else(|| format!("item {t}/{id} is not in the recycle bin"))?;
    let store = portal.store_mut(t);
    store.deleted.remove(&id);
    store.put(r.item);
    let mut touched = vec![(t, id)];
    // drop links to items that no longer exist (no timestamp bump: the web UI restores as is)
    let exists = |portal: &Portal, lt: i64, lid: i64| portal.store(lt).items.contains_key(&lid);
    let map = portal
        .store(t)
        .items
        .get(&id)
        .map(|i| i.map())
        .unwrap_or_default();
    let list_key = crate::company_links::mirror_field(t).unwrap_or("contactIds");
    let list_type = if t == 3 { 4 } else { 3 };
    let kept: Vec<i64> = crate::company_links::ids_of(&map, list_key)
        .into_iter()
        .filter(|x| exists(portal, list_type, *x))
        .collect();
    let company_gone = map
        .get("companyId")
        .and_then(as_i64)
        .is_some_and(|c| c > 0 && !exists(portal, 4, c));
    crate::write::rewrite(portal, t, id, |m| {
        if m.contains_key(list_key) {
            m.insert(list_key.into(), json!(kept));
        }
        if list_key == "contactIds" && m.contains_key("contactId") {
            m.insert(
                "contactId".into(),
                json!(kept.first().copied().unwrap_or(0)),
            );
        }
        if company_gone {
            m.insert("companyId".into(), json!(0));
        }
    });
    touched.extend(crate::company_links::mirror(portal, t, id, &[], &kept));
    if let Some(mut b) = r.bindings {
        b.retain(|x| kept.contains(&x.contact_id));
        if !b.is_empty() {
            portal.bindings.insert(id, b);
        }
    }
    for m in r.log_messages {
        portal.index_log(&m);
        portal.log_messages.insert(m.id, m);
    }
    for c in r.comments {
        portal.index_comment(&c);
        portal.comments.insert(c.id, c);
    }
    portal.stage_history.extend(r.stage_rows);
    portal.stage_history.sort_by_key(|r| r.id);
    Ok(touched)
}

/// `/_emu/act` `recyclebin.restore` with `params: {"entityTypeId", "id"}`.
pub fn act_restore(
    portal: &mut Portal,
    params: &Value,
) -> Result<(Vec<(i64, i64)>, Value), String> {
    let t = params
        .get("entityTypeId")
        .and_then(as_i64)
        .filter(|t| (1..=4).contains(t))
        .ok_or("entityTypeId must be 1-4")?;
    let id = params.get("id").and_then(as_i64).ok_or("id is required")?;
    let touched = restore(portal, t, id)?;
    Ok((touched, json!({"restored": {"entityTypeId": t, "id": id}})))
}
