//! Local edits (product.md §5): one save = replica row + outbox entries + history events, in one
//! transaction; records created here get their portal id later; revert and restore from history.

mod common;

use common::{checkpoint, contact, deal, key, open};
use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{
    EntityType, HistoryEventCode, HistoryFilter, HistorySource, HistorySyncState, MultiFieldEdit,
    MultiFieldKind, OutboxOp, OutboxState, RecordEdit,
};
use kartoteka_store::{HistoryQuery, LocalActor, Store, StoreError};
use serde_json::{json, Map, Value};

fn actor(online: bool) -> LocalActor {
    LocalActor {
        user_id: Some(3),
        name: "Мария Менеджерова".into(),
        device_id: "dev-7".into(),
        online,
    }
}

fn edit(fields: Value) -> RecordEdit {
    RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        multi_fields: vec![],
    }
}

fn history(store: &Store, k: kartoteka_domain::RecordKey) -> Vec<kartoteka_domain::HistoryEvent> {
    let filter = HistoryFilter {
        record: Some(k),
        ..Default::default()
    };
    let q = HistoryQuery {
        filter: &filter,
        include_hidden: false,
    };
    store.history_page(&q, None, 100).expect("history").0
}

fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    let mut d = deal(7, "Поставка", "NEW", 3, "2026-03-01T09:00:00+03:00");
    d.fields.insert("contactIds".into(), json!([5]));
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(7))
        .expect("deal");
    store
        .apply_pulled(
            EntityType::Contact,
            &[
                contact(5, "Тимур", "Лебедев", "+7 900 111-22-33", "t@example.ru"),
                contact(6, "Ирина", "Козлова", "+7 900 444-55-66", "i@example.ru"),
            ],
            &checkpoint(6),
        )
        .expect("contacts");
    (dir, store)
}

#[test]
fn offline_edit_writes_row_outbox_and_pending_history_in_one_save() {
    let (_dir, mut store) = seeded();
    let k = key(EntityType::Deal, 7);
    let saved = store
        .edit_record(
            &actor(false),
            k,
            &edit(json!({"opportunity": "1500.50", "title": "Поставка"})),
            1_780_000_000_000,
        )
        .expect("save");
    assert_eq!(
        saved.queued, 1,
        "only the changed field is queued, not the unchanged title"
    );

    let card = store.get_record(k).expect("read").expect("deal");
    assert_eq!(
        card.fields["opportunity"],
        json!("1500.50"),
        "applied locally at once"
    );

    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    assert_eq!(list.open, 1);
    let e = &list.entries[0];
    assert_eq!(
        (e.field.as_str(), e.op, e.state),
        ("opportunity", OutboxOp::Update, OutboxState::Pending)
    );
    assert_eq!(
        e.base,
        json!(1007),
        "the base is the server value it was changed from"
    );
    assert_eq!(e.mine, json!("1500.50"));
    assert_eq!(e.source, HistorySource::DeviceOffline);

    let events = history(&store, k);
    let change = events
        .iter()
        .find(|e| e.field.as_deref() == Some("opportunity"))
        .expect("the edit is in history before upload");
    assert_eq!(change.source, HistorySource::DeviceOffline);
    assert_eq!(change.sync_state, HistorySyncState::Pending);
    assert_eq!(change.author_id, Some(3));

    // A pull of the unchanged server version does not overwrite the unsent edit.
    let d = deal(7, "Поставка", "NEW", 3, "2026-03-01T09:00:00+03:00");
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(7))
        .expect("pull");
    let card = store.get_record(k).expect("read").expect("deal");
    assert_eq!(card.fields["opportunity"], json!("1500.50"));

    // Uploaded: the portal's answer becomes the base, history moves to synced with both times.
    let q = store.upload_queue(10).expect("queue");
    assert_eq!(q.len(), 1);
    let ids: Vec<i64> = q[0].entries.iter().map(|e| e.id).collect();
    store.mark_sending(&ids).expect("sending");
    let mut answered = deal(7, "Поставка", "NEW", 3, "2026-03-02T10:00:00+03:00");
    answered
        .fields
        .insert("opportunity".into(), json!("1500.50"));
    answered.fields.insert("contactIds".into(), json!([5]));
    store
        .upload_succeeded(k, &ids, Some(&answered), 1_780_000_100_000, true)
        .expect("done");
    assert_eq!(
        store
            .outbox_list(&OutboxListRequest::default())
            .expect("outbox")
            .open,
        0
    );
    let events = history(&store, k);
    let change = events
        .iter()
        .find(|e| {
            e.field.as_deref() == Some("opportunity") && e.source == HistorySource::DeviceOffline
        })
        .expect("edit");
    assert_eq!(change.sync_state, HistorySyncState::Synced);
    assert_eq!(
        change.received_at.map(|t| t.timestamp_millis()),
        Some(1_780_000_100_000)
    );
    assert_eq!(change.happened_at.timestamp_millis(), 1_780_000_000_000);
    assert!(
        !events
            .iter()
            .any(|e| e.source == HistorySource::Observed
                && e.field.as_deref() == Some("opportunity")),
        "our own uploaded change is not observed a second time: {events:?}"
    );
    assert_eq!(
        store.pending_logs(0, 10).expect("logs").len(),
        1,
        "a change log waits to be published"
    );
    assert_eq!(store.verify_history().expect("verify").1, None);
}

#[test]
fn phone_added_changed_and_removed_are_one_outbox_entry_each() {
    let (_dir, mut store) = seeded();
    let k = key(EntityType::Contact, 5);
    let e = RecordEdit {
        fields: Map::new(),
        multi_fields: vec![
            MultiFieldEdit::Add {
                kind: MultiFieldKind::Phone,
                value_type: "MOBILE".into(),
                value: "+7 901 000-00-01".into(),
            },
            MultiFieldEdit::Change {
                id: 50,
                value_type: "WORK".into(),
                value: "+7 900 111-22-34".into(),
            },
            MultiFieldEdit::Remove { id: 51 },
        ],
    };
    let saved = store.edit_record(&actor(true), k, &e, 1_000).expect("save");
    assert_eq!(saved.queued, 3);
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    let mut fields: Vec<&str> = list.entries.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(fields, vec!["fm:-1", "fm:50", "fm:51"]);
    let events = history(&store, k);
    for code in [
        HistoryEventCode::MultifieldAdded,
        HistoryEventCode::MultifieldChanged,
        HistoryEventCode::MultifieldRemoved,
    ] {
        let ev = events
            .iter()
            .find(|e| e.event == code)
            .expect("event per entry");
        assert_eq!(ev.sync_state, HistorySyncState::Pending);
        assert_eq!(ev.source, HistorySource::DeviceOnline);
    }
}

#[test]
fn invalid_values_are_refused_before_anything_is_queued() {
    let (_dir, mut store) = seeded();
    let k = key(EntityType::Contact, 5);
    let err = store
        .edit_record(
            &actor(true),
            k,
            &edit(json!({"name": "", "lastName": null})),
            1,
        )
        .expect_err("a contact without any name is refused");
    match err {
        StoreError::Invalid(problems) => {
            assert!(
                problems.iter().any(|p| p.message_ru.contains("имя")),
                "{problems:?}"
            )
        }
        other => panic!("expected Invalid, got {other}"),
    }
    let err = store
        .edit_record(
            &actor(true),
            k,
            &edit(json!({"createdTime": "2020-01-01"})),
            1,
        )
        .expect_err("system fields are read-only");
    assert!(matches!(err, StoreError::Invalid(_)));
    assert_eq!(
        store
            .outbox_list(&OutboxListRequest::default())
            .expect("outbox")
            .open,
        0
    );
    assert!(history(&store, k)
        .iter()
        .all(|e| e.source == HistorySource::Observed));
}

#[test]
fn record_created_here_follows_its_portal_id_with_links_history_and_queued_edits() {
    let (_dir, mut store) = seeded();
    let saved = store
        .create_record(
            &actor(false),
            EntityType::Contact,
            &RecordEdit {
                fields: json!({"name": "Олег", "lastName": "Новиков"})
                    .as_object()
                    .cloned()
                    .expect("map"),
                multi_fields: vec![MultiFieldEdit::Add {
                    kind: MultiFieldKind::Phone,
                    value_type: "WORK".into(),
                    value: "89032180888".into(),
                }],
            },
            5_000,
        )
        .expect("create");
    let local = saved.key;
    assert!(
        local.is_local(),
        "a record made here has a local id: {local:?}"
    );
    // The deal links the new contact before it reaches the portal.
    let deal_key = key(EntityType::Deal, 7);
    store
        .edit_record(
            &actor(false),
            deal_key,
            &edit(json!({"contactIds": [5, local.id]})),
            6_000,
        )
        .expect("link");
    let card = store.get_record(deal_key).expect("read").expect("deal");
    assert!(
        card.links.iter().any(|l| l.key == local),
        "linked locally: {:?}",
        card.links
    );

    let q = store.upload_queue(10).expect("queue");
    assert_eq!(q[0].key, local, "the create goes first");
    let create = &q[0].entries[0];
    assert_eq!(create.op, OutboxOp::Create);
    assert_eq!(
        create.origin_id.as_deref(),
        Some(format!("dev-7-{}", local.id).as_str())
    );

    let mut item = contact(901, "Олег", "Новиков", "+7 903 218-08-88", "");
    item.multi_fields.truncate(1);
    store
        .assign_portal_id(local, 901, create.id, &item, 7_000, false)
        .expect("assign");
    let new_key = key(EntityType::Contact, 901);
    assert!(
        store.get_record(local).expect("read").is_none(),
        "the local id is gone"
    );
    let c = store
        .get_record(new_key)
        .expect("read")
        .expect("under its portal id");
    assert_eq!(c.title, "Новиков Олег");
    let card = store.get_record(deal_key).expect("read").expect("deal");
    assert!(
        card.links.iter().any(|l| l.key == new_key),
        "the deal links the portal id"
    );
    assert_eq!(card.fields["contactIds"], json!([5, 901]));
    let q = store.upload_queue(10).expect("queue");
    assert_eq!(q.len(), 1);
    assert_eq!(
        q[0].entries[0].new,
        json!([5, 901]),
        "the queued link names the portal id"
    );
    let events = history(&store, new_key);
    assert!(events
        .iter()
        .any(|e| e.event == HistoryEventCode::Created && e.sync_state == HistorySyncState::Synced));
    assert_eq!(
        store.verify_history().expect("verify").1,
        None,
        "the chain was re-keyed"
    );
}

#[test]
fn removed_link_is_restored_from_history_with_one_call() {
    let (_dir, mut store) = seeded();
    let deal_key = key(EntityType::Deal, 7);
    // Someone removes the contact (observed at sync).
    let mut d = deal(7, "Поставка", "NEW", 3, "2026-03-05T09:00:00+03:00");
    d.fields.insert("contactIds".into(), json!([]));
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(7))
        .expect("pull");
    let removed = history(&store, deal_key)
        .into_iter()
        .find(|e| e.event == HistoryEventCode::LinkRemoved)
        .expect("link removed is in history");
    let saved = store
        .revert_history_event(&actor(true), removed.seq, 9_000)
        .expect("restore");
    assert_eq!(saved.queued, 1);
    let card = store.get_record(deal_key).expect("read").expect("deal");
    assert_eq!(card.fields["contactIds"], json!([5]));
    let events = history(&store, deal_key);
    assert!(events.iter().any(|e| e.event == HistoryEventCode::Reverted));
    assert!(events.iter().any(
        |e| e.event == HistoryEventCode::LinkAdded && e.sync_state == HistorySyncState::Pending
    ));
    // Uploaded: the "reverted" marker is delivered with the change it records.
    let q = store.upload_queue(10).expect("queue");
    let ids: Vec<i64> = q[0].entries.iter().map(|e| e.id).collect();
    store
        .upload_succeeded(deal_key, &ids, None, 10_000, false)
        .expect("done");
    let events = history(&store, deal_key);
    let reverted = events
        .iter()
        .find(|e| e.event == HistoryEventCode::Reverted)
        .expect("reverted");
    assert_eq!(
        reverted.sync_state,
        HistorySyncState::Synced,
        "not left pending"
    );
}

#[test]
fn conflict_is_resolved_per_field_and_recorded() {
    let (_dir, mut store) = seeded();
    let k = key(EntityType::Deal, 7);
    store
        .edit_record(&actor(false), k, &edit(json!({"title": "Моё"})), 1)
        .expect("save");
    let q = store.upload_queue(10).expect("queue");
    let id = q[0].entries[0].id;
    store
        .upload_conflicts(&[(id, json!("Их"))])
        .expect("conflict");
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    assert_eq!(list.conflicts, 1);
    assert_eq!(list.entries[0].theirs, Some(json!("Их")));
    assert!(
        store.upload_queue(10).expect("queue").is_empty(),
        "a conflict waits for the user"
    );

    store
        .resolve_conflict(
            &actor(true),
            id,
            &kartoteka_domain::ConflictChoice::Theirs,
            2,
        )
        .expect("resolve");
    let card = store.get_record(k).expect("read").expect("deal");
    assert_eq!(card.title, "Их");
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    assert_eq!((list.open, list.conflicts), (0, 0));
    assert!(history(&store, k)
        .iter()
        .any(|e| e.event == HistoryEventCode::Resolved));
}

#[test]
fn unsent_edits_exported_to_a_file_are_queued_again_in_a_fresh_replica() {
    let (_dir, mut store) = seeded();
    let me = actor(false);
    store
        .edit_record(
            &me,
            key(EntityType::Deal, 7),
            &edit(json!({"title": "Из файла"})),
            1,
        )
        .expect("edit");
    let created = store
        .create_record(
            &me,
            EntityType::Contact,
            &edit(json!({"name": "Файлов"})),
            2,
        )
        .expect("create");
    signed_in(&mut store, "a.bitrix24.ru", 3);
    let file = store.export_unsent_edits().expect("export");
    assert_eq!(file.edits.len(), 2);
    assert_eq!(
        (file.portal.as_deref(), file.user.as_ref().map(|u| u.id)),
        (Some("a.bitrix24.ru"), Some(3)),
        "the file names its portal and user"
    );
    let text = serde_json::to_string(&file).expect("to json");

    // Signed out, local data deleted, signed in again: a fresh replica of the same portal.
    let (_dir2, mut fresh) = seeded();
    signed_in(&mut fresh, "a.bitrix24.ru", 3);
    let file: kartoteka_store::ExportedEdits = serde_json::from_str(&text).expect("from json");
    let queued = fresh
        .import_unsent_edits(&me, &file, 3, false)
        .expect("import");
    assert_eq!(queued, 2);
    let card = fresh
        .get_record(key(EntityType::Deal, 7))
        .expect("read")
        .expect("deal");
    assert_eq!(card.title, "Из файла");
    let q = fresh.upload_queue(10).expect("queue");
    let create = q
        .iter()
        .flat_map(|r| r.entries.iter())
        .find(|e| e.op == OutboxOp::Create)
        .expect("the create is queued again");
    assert_eq!(
        create.origin_id.as_deref(),
        Some(format!("dev-7-{}", created.key.id).as_str()),
        "it keeps its tag"
    );
    assert_eq!(create.attempts, 1, "and is looked up before it is sent");
}

#[test]
fn a_record_deleted_on_the_portal_while_edits_waited_is_re_created_with_them() {
    let (_dir, mut store) = seeded();
    let me = actor(false);
    let k = key(EntityType::Contact, 6);
    store
        .edit_record(&me, k, &edit(json!({"post": "Директор"})), 1)
        .expect("edit");
    let q = store.upload_queue(10).expect("queue");
    let id = q[0].entries[0].id;
    store
        .upload_failed(&[id], OutboxState::Gone, "Запись удалена на портале")
        .expect("gone");
    let saved = store.restore_record(&me, k, 2).expect("re-create");
    assert!(saved.key.is_local());
    let q = store.upload_queue(10).expect("queue");
    assert_eq!(q.len(), 1, "only the create is queued");
    assert_eq!(
        q[0].entries[0].new["fields"]["post"],
        json!("Директор"),
        "with the edit in it"
    );
    assert_eq!(q[0].entries[0].new["fields"]["lastName"], json!("Козлова"));
}

#[test]
fn a_field_edited_again_is_one_change_against_one_base_even_while_the_first_is_in_flight() {
    let (_dir, mut store) = seeded();
    let k = key(EntityType::Deal, 7);
    let open = |store: &Store| {
        store
            .outbox_list(&OutboxListRequest::default())
            .expect("outbox")
            .entries
    };
    for title in ["Первая", "Вторая"] {
        store
            .edit_record(&actor(false), k, &edit(json!({ "title": title })), 1_000)
            .expect("save");
    }
    let entries = open(&store);
    assert_eq!(
        entries.len(),
        1,
        "two saves of one field, one change: {entries:?}"
    );
    assert_eq!(
        (&entries[0].base, &entries[0].mine),
        (&json!("Поставка"), &json!("Вторая"))
    );
    let first = entries[0].id;
    let seqs_before = history(&store, k).len();

    // Sent; the user edits the title again before the answer.
    store.mark_sending(&[first]).expect("sending");
    store
        .edit_record(&actor(false), k, &edit(json!({ "title": "Третья" })), 2_000)
        .expect("save while in flight");
    let entries = open(&store);
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(
        entries[1].base,
        json!("Поставка"),
        "the same base as the one in flight"
    );

    // The portal keeps the title its own way (trimmed, say): the answer is the new base.
    let mut answered = deal(7, "Вторая (портал)", "NEW", 3, "2026-03-02T10:00:00+03:00");
    answered.fields.insert("contactIds".into(), json!([5]));
    store
        .upload_succeeded(k, &[first], Some(&answered), 3_000, false)
        .expect("done");
    let entries = open(&store);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (&entries[0].base, &entries[0].mine),
        (&json!("Вторая (портал)"), &json!("Третья")),
        "the later change now starts from what the portal answered"
    );
    assert_eq!(history(&store, k).len(), seqs_before + 1);

    // Refused, then edited again: one change, tried again.
    store
        .upload_failed(
            &[entries[0].id],
            OutboxState::Rejected,
            "Название слишком длинное",
        )
        .expect("refused");
    store
        .edit_record(
            &actor(false),
            k,
            &edit(json!({ "title": "Четвёртая" })),
            4_000,
        )
        .expect("save after a refusal");
    let entries = open(&store);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (
            entries[0].state,
            &entries[0].mine,
            entries[0].attempts,
            &entries[0].last_error
        ),
        (OutboxState::Pending, &json!("Четвёртая"), 0, &None)
    );
}

fn signed_in(store: &mut Store, host: &str, user: i64) {
    store.set_portal_host(host).expect("host");
    store
        .set_profile(&kartoteka_store::Profile {
            user_id: Some(user),
            is_supervisor: false,
        })
        .expect("profile");
}

fn outbox_len(store: &Store) -> usize {
    store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries
        .len()
}

#[test]
fn unsent_edits_from_another_portal_or_user_are_refused_and_an_unnamed_file_needs_a_yes() {
    let (_dir, mut store) = seeded();
    signed_in(&mut store, "a.bitrix24.ru", 3);
    let me = actor(false);
    store
        .edit_record(
            &me,
            key(EntityType::Deal, 7),
            &edit(json!({"title": "С портала А"})),
            1,
        )
        .expect("edit");
    let file = store.export_unsent_edits().expect("export");

    // Another portal with a deal 7 of its own.
    let (_dir_b, mut other) = seeded();
    signed_in(&mut other, "b.bitrix24.ru", 3);
    let refused = other
        .import_unsent_edits(&me, &file, 2, false)
        .expect_err("another portal");
    assert!(
        matches!(&refused, StoreError::ForeignEdits { file_portal, here_portal, .. }
            if file_portal == "a.bitrix24.ru" && here_portal == "b.bitrix24.ru"),
        "{refused:?}"
    );
    assert!(
        refused.to_string().contains("nothing was imported"),
        "{refused}"
    );
    // Even with a yes: the file says where it belongs.
    assert!(other.import_unsent_edits(&me, &file, 2, true).is_err());
    assert_eq!(outbox_len(&other), 0);
    let card = other
        .get_record(key(EntityType::Deal, 7))
        .expect("read")
        .expect("deal");
    assert_eq!(
        card.title, "Поставка",
        "the other portal's deal is untouched"
    );

    // The same portal, another user.
    let (_dir_c, mut colleague) = seeded();
    signed_in(&mut colleague, "a.bitrix24.ru", 4);
    let mut them = actor(false);
    them.user_id = Some(4);
    assert!(matches!(
        colleague.import_unsent_edits(&them, &file, 2, false),
        Err(StoreError::ForeignEdits { .. })
    ));
    assert_eq!(outbox_len(&colleague), 0);

    // A file of the first format names neither: only a yes lets it in.
    let mut old = file.clone();
    old.format = kartoteka_store::EDITS_FILE_FORMAT_V1.into();
    old.portal = None;
    old.user = None;
    let (_dir_d, mut fresh) = seeded();
    signed_in(&mut fresh, "a.bitrix24.ru", 3);
    assert!(matches!(
        fresh.import_unsent_edits(&me, &old, 2, false),
        Err(StoreError::EditsOriginUnknown { .. })
    ));
    assert_eq!(outbox_len(&fresh), 0);
    assert_eq!(
        fresh
            .import_unsent_edits(&me, &old, 2, true)
            .expect("confirmed"),
        1
    );

    // Written by a replica that had not signed in since its upgrade: it names neither either.
    let (_dir_e, unsigned) = seeded();
    let mut unnamed = unsigned.export_unsent_edits().expect("export");
    assert_eq!((&unnamed.portal, &unnamed.user), (&None, &None));
    unnamed.edits = file.edits.clone();
    let (_dir_f, mut target) = seeded();
    signed_in(&mut target, "a.bitrix24.ru", 3);
    assert!(matches!(
        target.import_unsent_edits(&me, &unnamed, 2, false),
        Err(StoreError::EditsOriginUnknown { .. })
    ));
    assert_eq!(
        target
            .import_unsent_edits(&me, &unnamed, 2, true)
            .expect("confirmed"),
        1
    );
}

#[test]
fn an_imported_change_keeps_the_value_it_was_made_against() {
    let (_dir, mut store) = seeded();
    signed_in(&mut store, "a.bitrix24.ru", 3);
    let me = actor(false);
    store
        .edit_record(
            &me,
            key(EntityType::Deal, 7),
            &edit(json!({"title": "Моё"})),
            1,
        )
        .expect("edit");
    let file = store.export_unsent_edits().expect("export");

    // A fresh replica of the same portal, where a colleague has renamed the deal meanwhile.
    let (_dir2, mut fresh) = seeded();
    signed_in(&mut fresh, "a.bitrix24.ru", 3);
    let renamed = deal(7, "Коллеги", "NEW", 3, "2026-03-05T09:00:00+03:00");
    fresh
        .apply_pulled(EntityType::Deal, &[renamed], &checkpoint(7))
        .expect("pull");
    fresh
        .import_unsent_edits(&me, &file, 2, false)
        .expect("import");
    let entries = fresh
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (&entries[0].base, &entries[0].mine),
        (&json!("Поставка"), &json!("Моё")),
        "compared with the portal against what it was made from, not written blindly"
    );
}

#[test]
fn a_delete_undone_before_the_upload_leaves_nothing_to_send_and_keeps_the_record() {
    let (_dir, mut store) = seeded();
    let me = actor(false);
    let k = key(EntityType::Deal, 7);
    store
        .edit_record(&me, k, &edit(json!({"title": "Правка до удаления"})), 1)
        .expect("edit");
    store.delete_record(&me, k, 2).expect("delete");
    let restored = store.restore_record(&me, k, 3).expect("restore");
    assert_eq!(
        (restored.key, restored.queued),
        (k, 0),
        "the same record, nothing new"
    );
    let entries = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries;
    assert_eq!(
        entries
            .iter()
            .map(|e| (e.op, e.field.as_str()))
            .collect::<Vec<_>>(),
        vec![(OutboxOp::Update, "title")],
        "the edit before the delete still goes; the delete does not, and nothing is created"
    );
    let card = store.get_record(k).expect("read").expect("deal");
    assert_eq!(card.state, kartoteka_store::RecordState::Active);
    assert_eq!(card.title, "Правка до удаления");
    let events = history(&store, k);
    let deleted = events
        .iter()
        .find(|e| e.event == HistoryEventCode::Deleted)
        .expect("the delete is in history");
    assert_eq!(
        deleted.sync_state,
        HistorySyncState::Local,
        "it never left this device"
    );
    assert!(events
        .iter()
        .any(|e| e.event == HistoryEventCode::Restored && e.sync_state == HistorySyncState::Local));

    // A record created here, deleted before its upload, then restored: the same local record,
    // queued to be created with what it holds now.
    let created = store
        .create_record(
            &me,
            EntityType::Contact,
            &edit(json!({"name": "Черновик"})),
            4,
        )
        .expect("create");
    store
        .edit_record(&me, created.key, &edit(json!({"lastName": "Правленый"})), 5)
        .expect("edit the new one");
    store.delete_record(&me, created.key, 6).expect("delete");
    assert!(store
        .upload_queue(10)
        .expect("queue")
        .iter()
        .all(|r| r.key != created.key));
    let back = store.restore_record(&me, created.key, 7).expect("restore");
    assert_eq!((back.key, back.queued), (created.key, 1));
    let q = store.upload_queue(10).expect("queue");
    let create = q
        .iter()
        .filter(|r| r.key == created.key)
        .flat_map(|r| r.entries.iter())
        .collect::<Vec<_>>();
    assert_eq!(create.len(), 1, "{create:?}");
    assert_eq!(create[0].op, OutboxOp::Create);
    assert_eq!(
        (
            &create[0].new["fields"]["name"],
            &create[0].new["fields"]["lastName"]
        ),
        (&json!("Черновик"), &json!("Правленый"))
    );
}

#[test]
fn a_change_saved_again_after_the_upload_read_it_is_held_back_not_lost() {
    let (_dir, mut store) = seeded();
    let me = actor(false);
    let k = key(EntityType::Deal, 7);
    store
        .edit_record(&me, k, &edit(json!({"title": "Прочитанное"})), 1)
        .expect("save");
    let read = store.upload_queue(10).expect("queue")[0].entries[0].clone();
    // Saved again between the upload's read and its send: the entry now holds the new value.
    store
        .edit_record(&me, k, &edit(json!({"title": "Новое"})), 2)
        .expect("save again");
    let marked = store
        .mark_sending_as_read(&[(read.id, read.new.clone())])
        .expect("mark");
    assert!(marked.is_empty(), "the old value is not sent");
    let again = store.upload_queue(10).expect("queue")[0].entries[0].clone();
    assert_eq!(
        (again.id, &again.new, again.state, again.attempts),
        (read.id, &json!("Новое"), OutboxState::Pending, 0)
    );
    assert_eq!(
        store
            .mark_sending_as_read(&[(again.id, again.new.clone())])
            .expect("mark"),
        vec![again.id]
    );

    // A deletion sent without a known outcome may be on the portal: no undo here.
    store
        .upload_failed(&[again.id], OutboxState::Pending, "cut")
        .expect("back");
    store.delete_record(&me, k, 3).expect("delete");
    let delete = store
        .upload_queue(10)
        .expect("queue")
        .into_iter()
        .flat_map(|r| r.entries)
        .find(|e| e.op == OutboxOp::Delete)
        .expect("the deletion is queued");
    store.mark_sending(&[delete.id]).expect("sending");
    store
        .upload_failed(&[delete.id], OutboxState::Pending, "no answer")
        .expect("uncertain");
    assert!(matches!(
        store.restore_record(&me, k, 4),
        Err(StoreError::NotAllowed(_))
    ));
}

#[test]
fn discarding_a_create_or_a_deletion_keeps_the_record_counts_exact() {
    let (_dir, mut store) = seeded();
    let me = actor(false);
    let contacts = |s: &Store| {
        let c = s
            .counts()
            .expect("counts")
            .into_iter()
            .find(|c| c.entity_type == EntityType::Contact)
            .expect("contacts");
        (c.active, c.deleted)
    };
    let before = contacts(&store);
    let created = store
        .create_record(
            &me,
            EntityType::Contact,
            &edit(json!({"name": "Лишний"})),
            1,
        )
        .expect("create");
    let entry = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries
        .into_iter()
        .find(|e| e.key == created.key)
        .expect("the create");
    store
        .discard_outbox_entry(&me, entry.id, 2)
        .expect("discard the create");
    assert_eq!(
        contacts(&store),
        (before.0, before.1 + 1),
        "it left the lists"
    );

    let k = key(EntityType::Contact, 5);
    store.delete_record(&me, k, 3).expect("delete");
    let entry = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries
        .into_iter()
        .find(|e| e.key == k)
        .expect("the deletion");
    store
        .discard_outbox_entry(&me, entry.id, 4)
        .expect("discard the deletion");
    assert_eq!(
        contacts(&store),
        (before.0, before.1 + 1),
        "the contact is back"
    );
}
