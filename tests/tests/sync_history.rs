//! History recorded by real syncs against the sandbox over HTTP: changes made on the portal by
//! another user become events with labels and values; the portal's stage history is recorded
//! once; an own-only manager's file holds nothing about colleagues' records.

mod sync_support;

use kartoteka_domain::{
    AuthorKind, EntityType, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource,
};
use kartoteka_store::{HistoryQuery, Store};
use kartoteka_sync::{CancellationToken, ReconcilePolicy};
use serde_json::json;
use std::sync::{Arc, Mutex};
use sync_support::{
    actor, assert_replica_equals_portal, edit, engine, key, policy, portal_item, portal_view,
    replica, sandbox, upload, Emu,
};

fn events(store: &Arc<Mutex<Store>>, filter: HistoryFilter) -> Vec<HistoryEvent> {
    let s = store.lock().expect("replica lock");
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: true,
    };
    let mut out = Vec::new();
    s.history_each(&q, |e| {
        out.push(e);
        Ok(true)
    })
    .expect("history");
    out
}

fn total(store: &Arc<Mutex<Store>>) -> u64 {
    let s = store.lock().expect("replica lock");
    let f = HistoryFilter::default();
    s.history_count(&HistoryQuery {
        filter: &f,
        include_hidden: true,
    })
    .expect("count")
}

async fn sync(url: &str, store: &Arc<Mutex<Store>>) {
    engine(url, store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
}

#[tokio::test]
async fn changes_made_on_the_portal_by_a_manager_become_labelled_events_recorded_once() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    sync(&url, &store).await;

    let created = events(
        &store,
        HistoryFilter {
            events: vec![HistoryEventCode::Created],
            ..Default::default()
        },
    );
    let records: usize = {
        let s = store.lock().expect("lock");
        s.counts()
            .expect("counts")
            .iter()
            .map(|c| c.active as usize)
            .sum()
    };
    assert_eq!(
        created.len(),
        records,
        "one `created` event per record, not one per field"
    );
    let moves = events(
        &store,
        HistoryFilter {
            source: Some(HistorySource::StageHistory),
            ..Default::default()
        },
    );
    assert!(
        !moves.is_empty(),
        "the portal's stage history is recorded at sync"
    );

    // A manager (user 2) changes a custom field of a deal, adds, changes and removes a phone.
    let deals = portal_view(&url, EntityType::Deal).await;
    let (&deal_id, _) = deals.iter().next().expect("the demo portal has deals");
    let r = emu
        .act(
            2,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": deal_id, "useOriginalUfNames": "Y",
                   "fields": {"UF_CRM_NOTE": "Позвонить после праздников"}}),
        )
        .await;
    assert!(r.get("error").is_none(), "the manager may edit: {r}");
    let contacts = portal_view(&url, EntityType::Contact).await;
    let (&contact_id, _) = contacts.iter().next().expect("contacts");
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": contact_id,
               "fields": {"fm": {"n0": {"typeId": "PHONE", "valueType": "MOBILE", "value": "+7 900 111-22-33"}}}}),
    )
    .await;
    sync(&url, &store).await;

    let note: Vec<_> = events(
        &store,
        HistoryFilter {
            field: Some("UF_CRM_NOTE".into()),
            ..Default::default()
        },
    );
    assert_eq!(note.len(), 1, "{note:#?}");
    let e = &note[0];
    assert_eq!(
        e.field_label.as_deref(),
        Some("Заметка"),
        "the custom field's label"
    );
    assert_eq!(e.new_display.as_deref(), Some("Позвонить после праздников"));
    assert_eq!(e.author_id, Some(2), "attributed to updatedBy");
    assert_eq!(e.event, HistoryEventCode::FieldChanged);

    let contact_key = kartoteka_domain::RecordKey {
        entity_type: EntityType::Contact,
        id: contact_id,
    };
    let phone_id = {
        let s = store.lock().expect("lock");
        s.get_record(contact_key)
            .expect("read")
            .expect("contact")
            .multi_fields
            .iter()
            .find(|m| m.value == "+7 900 111-22-33")
            .map(|m| m.id)
            .expect("the new phone is in the replica")
    };
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": contact_id,
               "fields": {"fm": {phone_id.to_string(): {"typeId": "PHONE", "valueType": "MOBILE", "value": "+7 900 444-55-66"}}}}),
    )
    .await;
    sync(&url, &store).await;
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": contact_id,
               "fields": {"fm": {phone_id.to_string(): {"typeId": "PHONE", "value": ""}}}}),
    )
    .await;
    sync(&url, &store).await;

    let mut phones: Vec<_> = events(
        &store,
        HistoryFilter {
            record: Some(contact_key),
            field: Some("fm.PHONE".into()),
            ..Default::default()
        },
    );
    phones.reverse();
    let seen: Vec<_> = phones
        .iter()
        .map(|e| (e.event, e.old_display.clone(), e.new_display.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                HistoryEventCode::MultifieldAdded,
                None,
                Some("+7 900 111-22-33".to_string())
            ),
            (
                HistoryEventCode::MultifieldChanged,
                Some("+7 900 111-22-33".to_string()),
                Some("+7 900 444-55-66".to_string())
            ),
            (
                HistoryEventCode::MultifieldRemoved,
                Some("+7 900 444-55-66".to_string()),
                None
            ),
        ]
    );

    // Syncing again with nothing changed records nothing.
    let before = total(&store);
    sync(&url, &store).await;
    assert_eq!(total(&store), before, "a second sync adds no event");
    let broken = store
        .lock()
        .expect("lock")
        .verify_history()
        .expect("verify")
        .1;
    assert_eq!(broken, None, "the chain verifies");
    sb.shutdown().await;
}

/// The portal answers our upload with the whole item, and names us as its last updater
/// (`crm/lib/Field/UpdatedBy.php`): a colleague's changes made meanwhile to other fields come
/// with it. They are never recorded under our name, nor by the pull that follows.
#[tokio::test]
async fn a_colleagues_changes_answered_with_our_upload_are_not_recorded_under_our_name() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    sync(&url, &store).await;
    // We are user 1 (the webhook's); a deal of the default pipeline in an open stage.
    let (deal, stage) = {
        let s = store.lock().expect("lock");
        s.all_ids(EntityType::Deal)
            .expect("ids")
            .into_iter()
            .find_map(|id| {
                let d = s.get_record(key(EntityType::Deal, id)).ok()??;
                let stage = d.fields.get("stageId")?.as_str()?.to_string();
                let open = ["NEW", "PREPARATION", "EXECUTING"].contains(&stage.as_str());
                (d.fields.get("categoryId") == Some(&json!(0)) && open).then_some((id, stage))
            })
            .expect("the demo portal has open deals in the default pipeline")
    };
    let k = key(EntityType::Deal, deal);
    let moved_to = if stage == "EXECUTING" {
        "PREPARATION"
    } else {
        "EXECUTING"
    };

    let seen_before = events(
        &store,
        HistoryFilter {
            record: Some(k),
            ..Default::default()
        },
    )
    .iter()
    .map(|e| e.seq)
    .max()
    .unwrap_or(0);

    // We edit the comment offline; meanwhile user 2 renames the deal and moves its stage.
    store
        .lock()
        .expect("lock")
        .edit_record(
            &actor(1),
            k,
            &edit(json!({"comments": "Клиент просит счёт"})),
            1_772_431_300_000,
        )
        .expect("offline edit");
    emu.post("clock", json!({"advanceSeconds": 600})).await;
    let r = emu
        .act(
            2,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": deal,
                   "fields": {"title": "Переименовано коллегой", "stageId": moved_to}}),
        )
        .await;
    assert!(r.get("error").is_none(), "the manager may edit: {r}");
    emu.post("clock", json!({"advanceSeconds": 600})).await;

    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!((summary.uploaded, summary.conflicts), (1, 0), "{summary:?}");
    let item = portal_item(&emu, EntityType::Deal, deal).await;
    assert_eq!(item["updatedBy"], json!(1), "the portal names us now");

    let check = |when: &str| {
        let all = events(
            &store,
            HistoryFilter {
                record: Some(k),
                ..Default::default()
            },
        );
        let of = |field: &str| -> Vec<&HistoryEvent> {
            all.iter()
                .filter(|e| e.field.as_deref() == Some(field))
                .collect()
        };
        let comment = of("comments");
        assert_eq!(comment.len(), 1, "{when}: our edit once: {comment:#?}");
        assert_eq!(
            (comment[0].source, comment[0].author_id),
            (HistorySource::DeviceOffline, Some(1)),
            "{when}: our edit as made here, by us"
        );
        let title = of("title");
        assert_eq!(title.len(), 1, "{when}: the rename once: {title:#?}");
        assert_eq!(
            (title[0].author_id, title[0].author_kind),
            (None, AuthorKind::Unknown),
            "{when}: the portal does not say who renamed it, and it was not us"
        );
        let moves = of("stageId");
        assert_eq!(moves.len(), 1, "{when}: the move once: {moves:#?}");
        assert_eq!(
            moves[0].author_id,
            Some(2),
            "{when}: the portal names who moved the stage"
        );
        let ours: Vec<&HistoryEvent> = all
            .iter()
            .filter(|e| e.seq > seen_before && e.author_id == Some(1))
            .filter(|e| e.source != HistorySource::DeviceOffline)
            .collect();
        assert!(
            ours.is_empty(),
            "{when}: nothing but our edit is under our name: {ours:#?}"
        );
    };
    check("after the upload");

    // The pull sees the record saved last by us after our write, and the portal's stage
    // history: it names the mover exactly, and attributes nothing more to us.
    sync(&url, &store).await;
    check("after the next pull");
    let moves = events(
        &store,
        HistoryFilter {
            record: Some(k),
            field: Some("stageId".into()),
            ..Default::default()
        },
    );
    assert_eq!(moves[0].source, HistorySource::StageHistory);
    assert_replica_equals_portal(&url, &store).await;
    assert_eq!(
        store
            .lock()
            .expect("lock")
            .verify_history()
            .expect("verify")
            .1,
        None
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn an_own_only_managers_file_holds_nothing_about_colleagues_records() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    // User 6 may read only the records they are responsible for (the demo portal's own-only
    // manager).
    let own = emu
        .post("credentials", json!({"userId": 6, "code": "own6only"}))
        .await;
    let url = own["url"].as_str().expect("webhook url").to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    let store = replica(&path);
    sync(&url, &store).await;
    drop(store);

    let admin = sb.admin_webhook_url();
    let mut colleagues = Vec::new();
    for t in EntityType::ALL {
        for (id, seen) in portal_view(&admin, t).await {
            if seen.fields.get("assignedById") != Some(&json!(6)) {
                colleagues.push((t.type_id() << 48) | id);
            }
        }
    }
    assert!(
        !colleagues.is_empty(),
        "the demo portal has colleagues' records"
    );
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let mut stmt = conn
        .prepare("SELECT DISTINCT rid FROM history_events WHERE rid <> 0")
        .expect("sql");
    let rids: Vec<i64> = stmt
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(!rids.is_empty(), "the manager's own records have history");
    let leaked: Vec<_> = rids.iter().filter(|r| colleagues.contains(r)).collect();
    assert!(
        leaked.is_empty(),
        "history rows about colleagues' records: {leaked:?}"
    );
    let records: i64 = conn
        .query_row(
            &format!(
                "SELECT COUNT(*) FROM records WHERE rid IN ({})",
                colleagues
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            [],
            |r| r.get(0),
        )
        .expect("sql");
    assert_eq!(records, 0, "no colleague's record is in the file");
    sb.shutdown().await;
}

#[tokio::test]
async fn administrators_and_department_heads_are_supervisors_and_managers_are_not() {
    let sb = sandbox(Some(100)).await;
    let emu = Emu::new(&sb);
    // User 1 administers the portal, user 2 heads the sales department, user 3 works in it.
    for (user, supervisor) in [(1, true), (2, true), (3, false)] {
        let code = format!("who{user}");
        let r = emu
            .post(
                "credentials",
                json!({"userId": user, "code": code, "scopes": ["crm", "user_brief", "department"]}),
            )
            .await;
        let url = r["url"].as_str().expect("webhook url").to_string();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = replica(&dir.path().join("replica.db"));
        sync(&url, &store).await;
        let profile = store.lock().expect("lock").profile().expect("profile");
        assert_eq!(profile.user_id, Some(user));
        assert_eq!(
            profile.is_supervisor, supervisor,
            "user {user}: supervisor = administrator or department head"
        );
    }
    sb.shutdown().await;
}
