//! Offline edits uploaded to the sandbox over real HTTP (product.md §5, issue "Offline edits"):
//! everything reaches the portal exactly once, conflicts are per field, creates survive an
//! uncertain outcome without a duplicate, refusals are shown in the portal's words, and the
//! change logs land on the timeline (as comments when log messages are refused).

mod sync_support;

use kartoteka_domain::{
    EntityType, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource, HistorySyncState,
    MultiFieldEdit, MultiFieldKind, OutboxState, RecordEdit, RecordKey,
};
use kartoteka_store::{HistoryQuery, Store};
use kartoteka_sync::{CancellationToken, Uploader};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use sync_support::{
    actor, assert_replica_equals_portal, client, edit, key, open_entries, portal_item, pull,
    replica, sandbox, upload, Emu,
};

fn history(store: &Arc<Mutex<Store>>, k: RecordKey) -> Vec<HistoryEvent> {
    let s = store.lock().expect("lock");
    let filter = HistoryFilter {
        record: Some(k),
        ..Default::default()
    };
    s.history_page(
        &HistoryQuery {
            filter: &filter,
            include_hidden: false,
        },
        None,
        200,
    )
    .expect("history")
    .0
}

async fn items_with_origin(emu: &Emu, t: EntityType, origin: &str) -> Vec<Value> {
    let r = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": t.type_id(), "select": ["id"],
                   "filter": {"=originatorId": "kartoteka", "=originId": origin}}),
        )
        .await;
    r["result"]["items"].as_array().cloned().unwrap_or_default()
}

fn first_with_contacts(store: &Arc<Mutex<Store>>) -> (i64, Vec<i64>) {
    let s = store.lock().expect("lock");
    for id in s.all_ids(EntityType::Deal).expect("ids") {
        let d = s
            .get_record(key(EntityType::Deal, id))
            .expect("read")
            .expect("deal");
        let ids: Vec<i64> = d.fields["contactIds"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        if ids.len() >= 2 {
            return (id, ids);
        }
    }
    panic!("the demo portal has deals with two contacts");
}

#[tokio::test]
async fn offline_edits_reach_the_portal_exactly_once_after_a_restart() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replica.db");
    let store = replica(&path);
    pull(&url, &store).await;

    // Someone removed a contact from a deal; the pull recorded it.
    let (deal3, contacts3) = first_with_contacts(&store);
    let removed_contact = contacts3[1];
    let kept: Vec<i64> = contacts3
        .iter()
        .copied()
        .filter(|&c| c != removed_contact)
        .collect();
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal3, "fields": {"contactIds": kept}}),
    )
    .await;
    pull(&url, &store).await;

    // Offline: amount and a custom field, a phone, a new contact linked to a deal, and the
    // removed link restored from history.
    let me = actor(1);
    let deal1 = key(EntityType::Deal, 1);
    let contact_key = {
        let s = store.lock().expect("lock");
        key(
            EntityType::Contact,
            s.all_ids(EntityType::Contact).expect("ids")[0],
        )
    };
    let created;
    {
        let mut s = store.lock().expect("lock");
        s.edit_record(
            &me,
            deal1,
            &edit(json!({"opportunity": "12345.67", "UF_CRM_NOTE": "Заметка офлайн"})),
            1_000,
        )
        .expect("edit deal");
        s.edit_record(
            &me,
            contact_key,
            &RecordEdit {
                fields: Map::new(),
                multi_fields: vec![MultiFieldEdit::Add {
                    kind: MultiFieldKind::Phone,
                    value_type: "MOBILE".into(),
                    value: "+7 901 555-44-33".into(),
                }],
            },
            2_000,
        )
        .expect("add phone");
        created = s
            .create_record(
                &me,
                EntityType::Contact,
                &RecordEdit {
                    fields: json!({"name": "Олег", "lastName": "Офлайнов"})
                        .as_object()
                        .cloned()
                        .expect("map"),
                    multi_fields: vec![MultiFieldEdit::Add {
                        kind: MultiFieldKind::Email,
                        value_type: "WORK".into(),
                        value: "oleg@example.ru".into(),
                    }],
                },
                3_000,
            )
            .expect("create contact");
        let deal2 = s
            .get_record(key(EntityType::Deal, 2))
            .expect("read")
            .expect("deal 2");
        let mut ids: Vec<Value> = deal2.fields["contactIds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ids.push(json!(created.key.id));
        s.edit_record(
            &me,
            key(EntityType::Deal, 2),
            &edit(json!({"contactIds": ids})),
            4_000,
        )
        .expect("link the new contact");
    }
    let removed_event = history(&store, key(EntityType::Deal, deal3))
        .into_iter()
        .find(|e| e.event == HistoryEventCode::LinkRemoved)
        .expect("the removed link is in the deal's history");
    store
        .lock()
        .expect("lock")
        .revert_history_event(&me, removed_event.seq, 5_000)
        .expect("restore the link with one call");
    let origin = {
        let entries = open_entries(&store);
        assert_eq!(
            entries.len(),
            6,
            "amount, note, phone, create, link, restored link: {entries:?}"
        );
        entries
            .iter()
            .find_map(|e| e.key.is_local().then(|| format!("laptop-1-{}", e.key.id)))
            .expect("the create is queued")
    };

    // "Restart": the replica is closed and opened again; the queue is on disk.
    drop(store);
    let store = replica(&path);

    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(summary.created, 1);
    assert_eq!((summary.conflicts, summary.rejected), (0, 0), "{summary:?}");
    assert!(open_entries(&store).is_empty(), "everything was uploaded");

    // The portal has every change, the new contact exactly once.
    let d1 = portal_item(&emu, EntityType::Deal, 1).await;
    assert_eq!(d1["opportunity"].as_f64(), Some(12345.67));
    assert_eq!(d1["UF_CRM_NOTE"], json!("Заметка офлайн"));
    let c = portal_item(&emu, EntityType::Contact, contact_key.id).await;
    assert!(
        c["fm"]
            .as_array()
            .expect("fm")
            .iter()
            .any(|m| m["value"] == json!("+7 901 555-44-33")),
        "the phone was added: {c}"
    );
    let made = items_with_origin(&emu, EntityType::Contact, &origin).await;
    assert_eq!(made.len(), 1, "the create reached the portal exactly once");
    let new_id = made[0]["id"].as_i64().expect("id");
    let d2 = portal_item(&emu, EntityType::Deal, 2).await;
    assert!(
        d2["contactIds"]
            .as_array()
            .expect("ids")
            .contains(&json!(new_id)),
        "the link to the new contact names its portal id: {d2}"
    );
    let d3 = portal_item(&emu, EntityType::Deal, deal3).await;
    assert!(
        d3["contactIds"]
            .as_array()
            .expect("ids")
            .contains(&json!(removed_contact)),
        "the removed link is back: {d3}"
    );

    // History: "edited offline", uploaded, with both times.
    let events = history(&store, deal1);
    let amount = events
        .iter()
        .find(|e| {
            e.field.as_deref() == Some("opportunity") && e.source == HistorySource::DeviceOffline
        })
        .expect("the offline edit");
    assert_eq!(amount.sync_state, HistorySyncState::Synced);
    assert_eq!(amount.happened_at.timestamp_millis(), 1_000);
    assert!(amount
        .received_at
        .is_some_and(|t| t.timestamp_millis() > 1_000));

    // The change log is on the deal's timeline, machine-readable.
    let logs = emu
        .act(
            1,
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": 1}),
        )
        .await;
    let text = logs["result"].to_string();
    assert!(
        text.contains("kartoteka v1") && text.contains("12345.67"),
        "{text}"
    );

    // A second round sends nothing; the pull after it changes nothing we sent.
    let again = upload(&url, &store).await.expect("upload");
    assert_eq!(again.write_requests, 0, "{again:?}");
    pull(&url, &store).await;
    assert_replica_equals_portal(&url, &store).await;
    assert!(
        !history(&store, deal1)
            .iter()
            .any(|e| e.source == HistorySource::Observed
                && e.field.as_deref() == Some("opportunity")),
        "our own upload is not observed again at sync"
    );
    let s = store.lock().expect("lock");
    assert_eq!(s.verify_history().expect("verify").1, None);
}

#[tokio::test]
async fn a_field_changed_on_the_portal_meanwhile_is_a_conflict_and_other_fields_merge() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let deal = key(EntityType::Deal, 5);
    store
        .lock()
        .expect("lock")
        .edit_record(
            &actor(1),
            deal,
            &edit(json!({"title": "Моё название", "UF_CRM_VISITS": 7})),
            1,
        )
        .expect("edit");
    // Meanwhile another user renames the deal and changes its comment.
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": 5, "fields": {"title": "Их название", "comments": "их комментарий"}}),
    )
    .await;

    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(summary.conflicts, 1, "{summary:?}");
    let item = portal_item(&emu, EntityType::Deal, 5).await;
    assert_eq!(
        item["title"],
        json!("Их название"),
        "their title is never silently overwritten"
    );
    assert_eq!(
        item["UF_CRM_VISITS"],
        json!(7),
        "the other field merged on its own"
    );

    let conflict = open_entries(&store)
        .into_iter()
        .find(|e| e.state == OutboxState::Conflict)
        .expect("a conflict entry");
    assert_eq!(conflict.field, "title");
    assert_eq!(conflict.mine, json!("Моё название"));
    assert_eq!(conflict.theirs, Some(json!("Их название")));

    // The user keeps theirs-and-mine: "mine" goes up on the next round.
    store
        .lock()
        .expect("lock")
        .resolve_conflict(
            &actor(1),
            conflict.id,
            &kartoteka_domain::ConflictChoice::Mine,
            10,
        )
        .expect("resolve");
    upload(&url, &store).await.expect("upload");
    let item = portal_item(&emu, EntityType::Deal, 5).await;
    assert_eq!(item["title"], json!("Моё название"));
    let events = history(&store, deal);
    assert!(events.iter().any(|e| e.event == HistoryEventCode::Resolved));
    pull(&url, &store).await;
    assert_replica_equals_portal(&url, &store).await;
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_by_its_tag_not_sent_twice() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let saved = store
        .lock()
        .expect("lock")
        .create_record(
            &actor(1),
            EntityType::Company,
            &edit(json!({"title": "ООО Неуверенность"})),
            1,
        )
        .expect("create");
    // The portal applies the write, then answers 500.
    emu.post(
        "faults",
        json!([{"match": {"method": "batch", "nth": 1}, "action": {"type": "commitThenFail", "status": 500}}]),
    )
    .await;
    let first = upload(&url, &store).await;
    assert!(first.is_err(), "the lost answer stops the round: {first:?}");
    assert_eq!(emu.faults_fired().await, vec![1]);
    let origin = format!("laptop-1-{}", saved.key.id);
    assert_eq!(
        items_with_origin(&emu, EntityType::Company, &origin)
            .await
            .len(),
        1
    );

    let second = upload(&url, &store).await.expect("upload");
    assert_eq!(second.created, 1, "{second:?}");
    assert_eq!(
        items_with_origin(&emu, EntityType::Company, &origin)
            .await
            .len(),
        1,
        "looked up by its tag, never created twice"
    );
    assert!(open_entries(&store).is_empty());
    pull(&url, &store).await;
    assert_replica_equals_portal(&url, &store).await;
}

#[tokio::test]
async fn a_manager_whose_log_messages_are_refused_publishes_comments_and_refusals_keep_the_portals_words(
) {
    let sb = sandbox(None).await;
    let url = sb.webhook_url(2).expect("manager webhook");
    let emu = Emu::new(&sb);
    // A portal that keeps log messages to administrators.
    emu.post("config", json!({"logmessageAdd": "admin"})).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    // Two deals of the manager's own.
    let (a, b) = {
        let s = store.lock().expect("lock");
        let own: Vec<i64> = s
            .all_ids(EntityType::Deal)
            .expect("ids")
            .into_iter()
            .filter(|&id| {
                s.get_record(key(EntityType::Deal, id))
                    .expect("read")
                    .is_some_and(|d| d.fields["assignedById"] == json!(2))
            })
            .collect();
        (own[0], own[1])
    };
    {
        let mut s = store.lock().expect("lock");
        s.edit_record(
            &actor(2),
            key(EntityType::Deal, a),
            &edit(json!({"comments": "Позвонил клиенту"})),
            1,
        )
        .expect("edit");
        s.edit_record(
            &actor(2),
            key(EntityType::Deal, b),
            &edit(json!({"title": "Запрещено"})),
            2,
        )
        .expect("edit");
    }
    // The manager may no longer write deal b (write: own, and b is reassigned).
    emu.post(
        "permissions",
        json!({"userId": 2, "entityTypeId": 2, "read": "all", "write": "none", "delete": "none"}),
    )
    .await;
    emu.post(
        "permissions",
        json!({"userId": 2, "entityTypeId": 2, "read": "all", "write": "all", "delete": "none"}),
    )
    .await;
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": b, "fields": {"assignedById": 1}}),
    )
    .await;
    emu.post(
        "permissions",
        json!({"userId": 2, "entityTypeId": 2, "read": "all", "write": "own", "delete": "none"}),
    )
    .await;

    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(summary.rejected, 1, "{summary:?}");
    let rejected = open_entries(&store)
        .into_iter()
        .find(|e| e.state == OutboxState::Rejected)
        .expect("rejected entry");
    assert!(
        rejected
            .last_error
            .as_deref()
            .is_some_and(|m| m.contains("Портал отклонил")),
        "{rejected:?}"
    );
    assert!(summary.logs >= 1, "{summary:?}");
    let comments = emu
        .act(
            1,
            "crm.timeline.comment.list",
            json!({"filter": {"ENTITY_ID": a, "ENTITY_TYPE": "deal"}}),
        )
        .await;
    assert!(
        comments["result"].to_string().contains("kartoteka v1"),
        "the change log went in as a comment: {comments}"
    );
    assert_eq!(
        store
            .lock()
            .expect("lock")
            .log_channel()
            .expect("meta")
            .as_deref(),
        Some("comment"),
        "remembered: no log message is tried again"
    );
}

#[tokio::test]
async fn a_rate_limit_storm_and_dropped_connections_end_with_every_edit_uploaded_once() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let huge = "Очень длинный комментарий. ".repeat(40_000); // ≈ 1 MB of UTF-8
    let html = "<img src=x onerror=alert(1)>";
    let origins: Vec<String>;
    {
        let mut s = store.lock().expect("lock");
        let me = actor(1);
        for id in 10..40 {
            s.edit_record(
                &me,
                key(EntityType::Deal, id),
                &edit(json!({"UF_CRM_VISITS": id})),
                id,
            )
            .expect("edit");
        }
        s.edit_record(
            &me,
            key(EntityType::Deal, 41),
            &edit(json!({"comments": huge})),
            50,
        )
        .expect("a 1 MB comment is a value like any other");
        let mut made = Vec::new();
        for n in 0..3 {
            let saved = s
                .create_record(
                    &me,
                    EntityType::Contact,
                    &edit(json!({"name": html, "lastName": format!("Шторм {n}")})),
                    60 + n,
                )
                .expect("create");
            made.push(format!("laptop-1-{}", saved.key.id));
        }
        origins = made;
    }
    // Half of all batches refused for the rate limit; two writes lose their connection after
    // the portal applied them.
    emu.post(
        "faults",
        json!([
            {"match": {"method": "batch", "probability": 0.5, "repeat": true},
             "action": {"type": "error", "status": 503, "error": "QUERY_LIMIT_EXCEEDED", "description": "Too many requests"}},
            {"match": {"method": "batch", "nth": 2, "times": 2}, "action": {"type": "drop"}}
        ]),
    )
    .await;
    // The scheduler retries failed rounds; here, up to 10 runs.
    let mut runs = 0;
    loop {
        runs += 1;
        match upload(&url, &store).await {
            Ok(_) if open_entries(&store).is_empty() => break,
            _ if runs < 10 => continue,
            other => panic!(
                "still unsent after {runs} runs: {other:?} {:?}",
                open_entries(&store)
            ),
        }
    }
    let fired = emu.faults_fired().await;
    emu.delete("faults").await;
    assert!(
        fired[0] >= 1 && fired[1] >= 1,
        "the faults fired: {fired:?}"
    );
    for origin in &origins {
        assert_eq!(
            items_with_origin(&emu, EntityType::Contact, origin)
                .await
                .len(),
            1,
            "each create exactly once"
        );
    }
    let d = portal_item(&emu, EntityType::Deal, 41).await;
    assert_eq!(
        d["comments"].as_str().map(str::len),
        Some(huge.len()),
        "the 1 MB comment arrived whole"
    );
    let c = items_with_origin(&emu, EntityType::Contact, &origins[0]).await;
    let c = portal_item(&emu, EntityType::Contact, c[0]["id"].as_i64().expect("id")).await;
    assert_eq!(
        c["name"],
        json!(html),
        "markup is stored as the characters typed"
    );
    pull(&url, &store).await;
    assert_replica_equals_portal(&url, &store).await;
}

#[tokio::test]
async fn a_revoked_webhook_pauses_the_upload_and_keeps_the_queue() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    store
        .lock()
        .expect("lock")
        .edit_record(
            &actor(1),
            key(EntityType::Deal, 4),
            &edit(json!({"title": "После отзыва"})),
            1,
        )
        .expect("edit");
    let code = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .expect("code")
        .to_string();
    emu.post(
        "credentials",
        json!({"kind": "webhook", "userId": 1, "code": code, "revoked": true}),
    )
    .await;
    let err = upload(&url, &store)
        .await
        .expect_err("a revoked webhook cannot upload");
    assert!(
        err.to_lowercase().contains("auth") || err.contains("401"),
        "{err}"
    );
    let entries = open_entries(&store);
    assert_eq!(entries.len(), 1, "the queue is kept");
    assert_eq!(
        entries[0].state,
        OutboxState::Pending,
        "not rejected: it waits for a new webhook"
    );

    emu.post(
        "credentials",
        json!({"kind": "webhook", "userId": 1, "code": code, "revoked": false}),
    )
    .await;
    upload(&url, &store)
        .await
        .expect("upload with the webhook back");
    assert!(open_entries(&store).is_empty());
    assert_eq!(
        portal_item(&emu, EntityType::Deal, 4).await["title"],
        json!("После отзыва")
    );
}

#[tokio::test]
async fn another_kartoteka_users_upload_appears_as_exact_entries_not_as_an_observed_diff() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    // B is a colleague's laptop (another portal user).
    let url_b = sb.webhook_url(3).expect("manager webhook");
    let dir = tempfile::tempdir().expect("dir");
    let a = replica(&dir.path().join("a.db"));
    let b = replica(&dir.path().join("b.db"));
    pull(&url, &a).await;
    pull(&url_b, &b).await;
    let deal = key(EntityType::Deal, 6);
    a.lock()
        .expect("lock")
        .edit_record(
            &actor(1),
            deal,
            &edit(json!({"title": "Переименовано на ноутбуке A", "UF_CRM_VISITS": 11})),
            1_700_000_000_000,
        )
        .expect("edit on A");
    upload(&url, &a).await.expect("A uploads");

    // B syncs: the pull observes the change, the peer-log reader explains it.
    pull(&url_b, &b).await;
    let recorded = Uploader::new(
        client(&url_b),
        Arc::clone(&b),
        kartoteka_sync::system_clock(),
    )
    .read_peer_logs(&CancellationToken::new())
    .await
    .expect("read peer logs");
    assert_eq!(recorded, 2, "one exact entry per field A changed");
    let titles: Vec<HistoryEvent> = history(&b, deal)
        .into_iter()
        .filter(|e| e.field.as_deref() == Some("title"))
        .collect();
    assert_eq!(
        titles.len(),
        1,
        "one entry for the rename, never both: {titles:?}"
    );
    let e = &titles[0];
    assert_eq!(e.source, HistorySource::PeerLog);
    assert_eq!(e.author_name, "Полевой Представитель");
    assert_eq!(
        e.happened_at.timestamp_millis(),
        1_700_000_000_000,
        "A's own time of the edit"
    );
    assert_eq!(
        e.new_display.as_deref(),
        Some("Переименовано на ноутбуке A")
    );
    // A second read adds nothing.
    pull(&url_b, &b).await;
    let again = Uploader::new(
        client(&url_b),
        Arc::clone(&b),
        kartoteka_sync::system_clock(),
    )
    .read_peer_logs(&CancellationToken::new())
    .await
    .expect("read again");
    assert_eq!(again, 0);
    assert_eq!(
        b.lock().expect("lock").verify_history().expect("verify").1,
        None
    );
}

/// A yes/no field reaches the portal as the user set it, whatever JSON shape the edit holds: the
/// portal reads only `true`, "true", "y", "Y" as yes, and in a `batch` query string JSON `true`
/// is "1" — a no (`prepareBooleanFieldValue` in the item controller). Standard and custom fields,
/// on an update and on a create.
#[tokio::test]
async fn yes_no_fields_reach_the_portal_as_set_in_any_json_shape() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let deal = key(EntityType::Deal, 1);
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y",
               "fields": {"opened": "N", "UF_CRM_VIP": "N"}}),
    )
    .await;
    pull(&url, &store).await;
    {
        let mut s = store.lock().expect("lock");
        s.edit_record(
            &actor(1),
            deal,
            &edit(json!({"opened": true, "UF_CRM_VIP": 1})),
            1,
        )
        .expect("edit");
        let mut create =
            edit(json!({"title": "Новая с флагом", "opened": true, "UF_CRM_VIP": "1"}));
        create.multi_fields.clear();
        s.create_record(&actor(1), EntityType::Deal, &create, 2)
            .expect("create");
    }
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (summary.rejected, summary.conflicts),
        (0, 0),
        "{summary:?}: {:?}",
        open_entries(&store)
    );
    assert_eq!(summary.created, 1, "{summary:?}");
    assert!(open_entries(&store).is_empty(), "everything taken");
    let d = portal_item(&emu, EntityType::Deal, 1).await;
    assert_eq!(
        (&d["opened"], &d["UF_CRM_VIP"]),
        (&json!("Y"), &json!("Y")),
        "{d}"
    );
    let made = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["*"],
                   "filter": {"=title": "Новая с флагом"}}),
        )
        .await;
    let item = &made["result"]["items"][0];
    assert_eq!(
        (&item["opened"], &item["UF_CRM_VIP"]),
        (&json!("Y"), &json!("Y")),
        "{made}"
    );
    sb.shutdown().await;
}

/// Emptied fields are emptied on the portal: a `batch` command is a PHP query string, where
/// `null` and `[]` vanish, and the item controller clears a field written as `""`. A number set
/// to 0 is a value, not an empty one.
#[tokio::test]
async fn emptied_fields_are_cleared_on_the_portal_and_zero_stays_a_value() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let (deal_id, _) = first_with_contacts(&store);
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "useOriginalUfNames": "Y",
               "fields": {"opportunity": 1500, "probability": 40, "UF_CRM_NOTE": "Заметка",
                          "UF_CRM_TAGS": ["a", "b"], "comments": "Текст"}}),
    )
    .await;
    pull(&url, &store).await;
    let deal = key(EntityType::Deal, deal_id);
    // One save of a single emptied field (so `fields` would be empty on the wire), then the rest.
    for (i, fields) in [
        json!({"UF_CRM_NOTE": null}),
        json!({"opportunity": null, "probability": 0, "UF_CRM_TAGS": [], "contactIds": [],
               "comments": ""}),
    ]
    .into_iter()
    .enumerate()
    {
        store
            .lock()
            .expect("lock")
            .edit_record(&actor(1), deal, &edit(fields), i as i64 + 1)
            .expect("edit");
    }
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!((summary.rejected, summary.conflicts), (0, 0), "{summary:?}");
    assert!(open_entries(&store).is_empty(), "everything taken");
    let d = portal_item(&emu, EntityType::Deal, deal_id).await;
    let empty = |v: &Value| {
        v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(Vec::is_empty)
    };
    for field in ["UF_CRM_NOTE", "UF_CRM_TAGS", "contactIds", "comments"] {
        assert!(empty(&d[field]), "{field} cleared: {d}");
    }
    assert!(
        empty(&d["opportunity"]) || d["opportunity"].as_f64() == Some(0.0),
        "the amount cleared: {d}"
    );
    assert_eq!(
        d["probability"].as_f64(),
        Some(0.0),
        "0 is stored as 0: {d}"
    );
    sb.shutdown().await;
}

/// Dates are the same day in every portal zone. A portal sends a date-only value as 00:00 UTC of
/// the date shown in its zone (`CRestUtil::ConvertDate`: the evening before west of UTC, an hour
/// off with summer time) and reads a written one on its own clock (`CRestUtil::unConvertDate`).
/// The replica shows the portal's day, a date written here lands as that day, and the answer is
/// taken — in zones −05:00, +00:00, +03:00, +12:00 and New York (winter now, a summer date).
#[tokio::test]
async fn dates_are_the_same_day_in_every_portal_zone() {
    let zones = [
        json!({"portalOffset": "-05:00"}),
        json!({"portalOffset": "+00:00"}),
        json!({"portalOffset": "+03:00"}),
        json!({"portalOffset": "+12:00"}),
        json!({"portalZone": "America/New_York"}),
    ];
    for zone in zones {
        let sb = sandbox(None).await;
        let url = sb.admin_webhook_url();
        let emu = Emu::new(&sb);
        emu.post("config", zone.clone()).await;
        emu.act(
            1,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y",
                   "fields": {"closedate": "2026-03-13", "UF_CRM_CONTRACT_DATE": "2026-07-10"}}),
        )
        .await;
        let dir = tempfile::tempdir().expect("dir");
        let store = replica(&dir.path().join("replica.db"));
        pull(&url, &store).await;
        let deal = key(EntityType::Deal, 1);
        let local = |store: &Arc<Mutex<Store>>| {
            let s = store.lock().expect("lock");
            let f = s.get_record(deal).expect("read").expect("deal").fields;
            (f["closedate"].clone(), f["UF_CRM_CONTRACT_DATE"].clone())
        };
        assert_eq!(
            local(&store),
            (json!("2026-03-13"), json!("2026-07-10")),
            "{zone}: the portal's days, as the portal sent {}",
            portal_item(&emu, EntityType::Deal, 1).await["closedate"]
        );
        {
            let mut s = store.lock().expect("lock");
            s.edit_record(
                &actor(1),
                deal,
                &edit(json!({"closedate": "2026-04-20", "UF_CRM_CONTRACT_DATE": "2026-08-01"})),
                1,
            )
            .expect("edit");
        }
        let summary = upload(&url, &store).await.expect("upload");
        assert_eq!(
            (summary.rejected, summary.conflicts),
            (0, 0),
            "{zone}: {summary:?}: {:?}",
            open_entries(&store)
        );
        assert!(
            open_entries(&store).is_empty(),
            "{zone}: the portal took both dates"
        );
        let found = emu
            .act(
                1,
                "crm.item.list",
                json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["*"],
                       "filter": {"id": 1, "closedate": "2026-04-20", "UF_CRM_CONTRACT_DATE": "2026-08-01"}}),
            )
            .await;
        assert_eq!(
            found["result"]["items"].as_array().map(Vec::len),
            Some(1),
            "{zone}: the portal holds the days written: {}",
            portal_item(&emu, EntityType::Deal, 1).await
        );
        assert_eq!(
            local(&store),
            (json!("2026-04-20"), json!("2026-08-01")),
            "{zone}: the answer kept as the same days"
        );
        sb.shutdown().await;
    }
}

fn link_list(store: &Arc<Mutex<Store>>, k: RecordKey, field: &str) -> Vec<i64> {
    let s = store.lock().expect("lock");
    let d = s.get_record(k).expect("read").expect("record");
    d.fields[field]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// «Сделать основным» reaches the portal. `crm.item.update` can name no primary: the portal keeps
/// the current one while it stays bound (`Binding::selectPrimaryBoundEntity`), so the upload sets
/// the bindings with `IS_PRIMARY` first and checks the answer by the primary itself. The binding
/// call replaces every link, so the portal's current list is merged first: a contact a colleague
/// added meanwhile stays. For a deal's and a lead's contacts and a contact's companies.
#[tokio::test]
async fn a_new_primary_reaches_the_portal_and_a_link_added_meanwhile_is_kept() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    let mut contacts = Vec::new();
    for name in ["А", "Б", "В"] {
        contacts.push(emu.add(EntityType::Contact, json!({"name": name})).await);
    }
    let [a, b, c] = contacts[..] else {
        unreachable!("three contacts")
    };
    let lead = emu
        .add(
            EntityType::Lead,
            json!({"title": "Лид", "contactIds": [a, b]}),
        )
        .await;
    let co1 = emu
        .add(EntityType::Company, json!({"title": "Первая"}))
        .await;
    let co2 = emu
        .add(EntityType::Company, json!({"title": "Вторая"}))
        .await;
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": c, "fields": {"companyIds": [co1, co2]}}),
    )
    .await;
    pull(&url, &store).await;
    let (deal_id, contacts) = first_with_contacts(&store);
    let deal = key(EntityType::Deal, deal_id);
    let second = contacts[1];
    let mut reordered = contacts.clone();
    reordered.swap(0, 1);
    {
        let mut s = store.lock().expect("lock");
        for (k, field, ids) in [
            (deal, "contactIds", json!(reordered)),
            (key(EntityType::Lead, lead), "contactIds", json!([b, a])),
            (key(EntityType::Contact, c), "companyIds", json!([co2, co1])),
        ] {
            s.edit_record(&actor(1), k, &edit(json!({ field: ids })), 1)
                .expect("edit");
        }
    }
    // Meanwhile a colleague links one more contact to the deal.
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"contactIds": contacts.iter().chain([&c]).collect::<Vec<_>>()}}),
    )
    .await;
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
    let d = portal_item(&emu, EntityType::Deal, deal_id).await;
    assert_eq!(d["contactId"], second, "the deal's primary moved: {d}");
    let mut on_portal: Vec<i64> = d["contactIds"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    on_portal.sort_unstable();
    let mut expected: Vec<i64> = contacts.iter().copied().chain([c]).collect();
    expected.sort_unstable();
    assert_eq!(on_portal, expected, "the colleague's contact is kept: {d}");
    let l = portal_item(&emu, EntityType::Lead, lead).await;
    assert_eq!(l["contactId"], b, "the lead's primary moved: {l}");
    let p = portal_item(&emu, EntityType::Contact, c).await;
    assert_eq!(p["companyId"], co2, "the contact's main company moved: {p}");
    assert_eq!(
        link_list(&store, deal, "contactIds")[0],
        second,
        "the replica agrees"
    );
    assert_eq!(
        link_list(&store, key(EntityType::Lead, lead), "contactIds"),
        vec![b, a]
    );
    assert_eq!(
        link_list(&store, key(EntityType::Contact, c), "companyIds"),
        vec![co2, co1]
    );
    sb.shutdown().await;
}

/// Two people moving the primary to different records is a conflict, not a silent overwrite.
#[tokio::test]
async fn a_primary_moved_on_the_portal_to_another_record_meanwhile_is_a_conflict() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let (deal_id, contacts) = first_with_contacts(&store);
    let deal = key(EntityType::Deal, deal_id);
    if contacts.len() < 3 {
        let extra = emu
            .add(EntityType::Contact, json!({"name": "Третий"}))
            .await;
        emu.act(
            1,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": deal_id, "fields": {"contactIds": [contacts[0], contacts[1], extra]}}),
        )
        .await;
        pull(&url, &store).await;
    }
    let ids = link_list(&store, deal, "contactIds");
    {
        let mut s = store.lock().expect("lock");
        s.edit_record(
            &actor(1),
            deal,
            &edit(json!({"contactIds": [ids[1], ids[0], ids[2]]})),
            1,
        )
        .expect("edit");
    }
    let items: Vec<Value> = [ids[2], ids[0], ids[1]]
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"CONTACT_ID": id, "SORT": (i + 1) * 10, "IS_PRIMARY": if i == 0 {"Y"} else {"N"}}))
        .collect();
    emu.act(
        1,
        "crm.deal.contact.items.set",
        json!({"id": deal_id, "items": items}),
    )
    .await;
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"title": "Правка коллеги"}}),
    )
    .await;
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(summary.conflicts, 1, "{summary:?}");
    let d = portal_item(&emu, EntityType::Deal, deal_id).await;
    assert_eq!(
        d["contactId"], ids[2],
        "the colleague's choice stands until resolved: {d}"
    );
    // The conflict names the contacts, not their ids.
    let titles = |order: [usize; 3]| -> String {
        let s = store.lock().expect("lock");
        order
            .iter()
            .map(|i| {
                s.get_record(key(EntityType::Contact, ids[*i]))
                    .expect("read")
                    .expect("contact")
                    .title
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let conflict = open_entries(&store)
        .into_iter()
        .find(|e| e.state == OutboxState::Conflict)
        .expect("the conflict is listed");
    assert_eq!(
        (
            conflict.texts.base.clone(),
            conflict.texts.mine.clone(),
            conflict.texts.theirs.clone()
        ),
        (
            Some(titles([0, 1, 2])),
            Some(titles([1, 0, 2])),
            Some(titles([2, 0, 1]))
        ),
        "{conflict:?}"
    );
    sb.shutdown().await;
}

/// The command line means what the card means: `edit --set contactIds=[b,a]` makes `b` the
/// primary contact, and the next `sync` puts it on the portal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_makes_the_first_of_contact_ids_primary() {
    let bin = sync_support::cli_binary();
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("replica.db");
    let db_s = db.to_str().expect("utf-8 path").to_string();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&bin)
            .args(args)
            .env("KARTOTEKA_WEBHOOK", &url)
            .env("RUST_LOG", "warn")
            .output()
            .expect("cli runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["sync", "--no-rate-limit", "--db", &db_s]);
    let (deal_id, contacts) = {
        let store = replica(&db);
        first_with_contacts(&store)
    };
    let mut reordered = contacts.clone();
    reordered.swap(0, 1);
    let list = format!(
        "contactIds=[{}]",
        reordered
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let id = deal_id.to_string();
    run(&[
        "edit", "--db", &db_s, "--type", "deal", "--id", &id, "--set", &list,
    ]);
    run(&["sync", "--no-rate-limit", "--db", &db_s]);
    let d = portal_item(&emu, EntityType::Deal, deal_id).await;
    assert_eq!(d["contactId"], contacts[1], "{list}: {d}");
    sb.shutdown().await;
}

/// A user with a personal time zone reads every datetime shifted across summer time
/// (`CRestUtil::ConvertDateTime` takes off the zone difference of *now* from a value put in the
/// user's time by the difference *at its date*): a Berlin user on a Moscow portal sees a July
/// call an hour late in March. The replica keeps the true instant, and a datetime written here
/// is taken, not reported "not taken" because the answer shows it shifted.
#[tokio::test]
async fn datetimes_keep_their_instant_for_a_user_with_a_personal_time_zone() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    emu.post(
        "config",
        json!({"portalZone": "Europe/Moscow", "userTimeZones": {"1": "Europe/Berlin"}}),
    )
    .await;
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y",
               "fields": {"UF_CRM_NEXT_CALL": "2026-07-10T12:00:00+03:00"}}),
    )
    .await;
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let deal = key(EntityType::Deal, 1);
    let instant = |store: &Arc<Mutex<Store>>| {
        let s = store.lock().expect("lock");
        let f = s.get_record(deal).expect("read").expect("deal").fields;
        f["UF_CRM_NEXT_CALL"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp())
    };
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp())
            .ok()
    };
    assert_eq!(
        instant(&store),
        at("2026-07-10T12:00:00+03:00"),
        "the replica holds the instant the portal stores, not the one its answer shows: {}",
        portal_item(&emu, EntityType::Deal, 1).await["UF_CRM_NEXT_CALL"]
    );
    {
        let mut s = store.lock().expect("lock");
        s.edit_record(
            &actor(1),
            deal,
            &edit(json!({"UF_CRM_NEXT_CALL": "2026-08-20T15:30:00+03:00"})),
            1,
        )
        .expect("edit");
    }
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (summary.rejected, summary.conflicts),
        (0, 0),
        "{summary:?}: {:?}",
        open_entries(&store)
    );
    assert!(open_entries(&store).is_empty(), "the portal took it");
    emu.post("config", json!({"useTimeZones": false})).await;
    let stored = portal_item(&emu, EntityType::Deal, 1).await;
    assert_eq!(
        stored["UF_CRM_NEXT_CALL"].as_str().and_then(at),
        at("2026-08-20T15:30:00+03:00"),
        "the portal holds the instant written: {stored}"
    );
    assert_eq!(instant(&store), at("2026-08-20T15:30:00+03:00"));
    sb.shutdown().await;
}
