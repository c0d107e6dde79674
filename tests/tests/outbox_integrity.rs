//! The outbox never writes what the user did not mean, over real HTTP with the sandbox: one
//! user's edits to one field are one change, a delete undone before the upload sends nothing,
//! and unsent edits from a file reach only the portal and user they were made for.

mod sync_support;

use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{EntityType, OutboxState, RecordEdit, RecordKey};
use kartoteka_store::{LocalActor, Store};
use kartoteka_sync::{CancellationToken, ReconcilePolicy};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use sync_support::{engine, policy, replica, sandbox, upload, Emu};

fn actor(user_id: i64) -> LocalActor {
    LocalActor {
        user_id: Some(user_id),
        name: "Полевой Представитель".into(),
        device_id: "laptop-1".into(),
        online: false,
    }
}

fn edit(fields: Value) -> RecordEdit {
    RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        multi_fields: vec![],
    }
}

fn key(t: EntityType, id: i64) -> RecordKey {
    RecordKey { entity_type: t, id }
}

async fn pull(url: &str, store: &Arc<Mutex<Store>>) {
    engine(url, store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("pull succeeds");
}

fn open_entries(store: &Arc<Mutex<Store>>) -> Vec<kartoteka_domain::OutboxEntry> {
    store
        .lock()
        .expect("lock")
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries
}

async fn portal_item(emu: &Emu, t: EntityType, id: i64) -> Value {
    let r = emu
        .act(
            1,
            "crm.item.get",
            json!({"entityTypeId": t.type_id(), "id": id, "useOriginalUfNames": "Y"}),
        )
        .await;
    r["result"]["item"].clone()
}

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_primary_moved_then_a_link_removed_and_one_added_is_one_change_not_a_conflict() {
    let sb = sandbox(Some(0)).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    let mut contacts = Vec::new();
    for name in ["Анна", "Борис", "Вера"] {
        contacts.push(emu.add(EntityType::Contact, json!({"name": name})).await);
    }
    let [a, b, c] = contacts[..] else {
        unreachable!("three contacts")
    };
    let deal = emu
        .add(
            EntityType::Deal,
            json!({"title": "Поставка", "contactIds": [b, a]}),
        )
        .await;
    pull(&url, &store).await;
    let k = key(EntityType::Deal, deal);
    {
        let mut s = store.lock().expect("lock");
        // Three saves, as the card makes them: A primary, B removed, C linked.
        for list in [json!([a, b]), json!([a]), json!([a, c])] {
            s.edit_record(&actor(1), k, &edit(json!({ "contactIds": list })), 1)
                .expect("edit");
        }
    }
    let open = open_entries(&store);
    assert_eq!(
        open.iter().filter(|e| e.field == "contactIds").count(),
        1,
        "one field, one change: {open:?}"
    );
    assert_eq!(
        open[0].base,
        json!([b, a]),
        "against the one base: {open:?}"
    );
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (summary.rejected, summary.conflicts),
        (0, 0),
        "{summary:?}: {:?}",
        open_entries(&store)
    );
    assert!(
        open_entries(&store).is_empty(),
        "{:?}",
        open_entries(&store)
    );
    let d = portal_item(&emu, EntityType::Deal, deal).await;
    assert_eq!(d["contactId"], a, "A is primary: {d}");
    let mut on_portal = ids(&d["contactIds"]);
    on_portal.sort_unstable();
    assert_eq!(on_portal, vec![a, c], "B removed, C linked: {d}");
}
