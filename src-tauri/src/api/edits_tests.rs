//! The edit and outbox commands against the demo portal: a save is one committed edit the card,
//! the list and the outbox show at once, the UI hears of it after the commit, a refused edit
//! says which field is wrong, and "work offline" stops sync and outlives a restart.
use super::*;
use crate::api::EventSink;
use kartoteka_bitrix::{MemorySecretStore, SecretStore};
use kartoteka_domain::edit::{
    MultiFieldEdit, OutboxEntryRequest, OutboxListRequest, OutboxSettleRequest, OutboxState,
    RecordEdit, SyncSetOfflineRequest, UncertainChoice,
};
use kartoteka_domain::ipc::{RecordGetRequest, RecordsListRequest};
use kartoteka_domain::{MultiFieldKind, RecordKey};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Collected(Mutex<Vec<AppEvent>>);

impl EventSink for Collected {
    fn send(&self, event: AppEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

impl Collected {
    fn take(&self) -> Vec<AppEvent> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A demo portal with a small data set, synced once; its events are collected.
async fn synced(dir: &std::path::Path) -> (Core, Arc<Collected>) {
    let events = Arc::new(Collected::default());
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let core = Core::new(events.clone(), dir.to_path_buf(), secrets).with_demo_records(Some(60));
    core.use_demo().await.expect("the demo portal starts");
    for _ in 0..1800 {
        let status = core.sync_status().await.expect("sync status");
        if let Some(error) = status.last_error {
            panic!("the first sync failed: {error:?}");
        }
        if status.last_sync_at.is_some() && core.history_facets().await.expect("f").me.is_some() {
            events.take();
            return (core, events);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the first sync did not finish");
}

async fn first_deal(core: &Core) -> RecordKey {
    core.records_list(RecordsListRequest {
        entity_type: EntityType::Deal,
        search: None,
        stage_ids: vec![],
        responsible_ids: vec![],
        category_id: None,
        sort: None,
        cursor: None,
        limit: 1,
    })
    .await
    .expect("deals")
    .rows
    .first()
    .map(|r| r.key)
    .expect("the demo has deals")
}

fn runs(core: &Core) -> u64 {
    core.with_scheduler(|s| s.status().runs).expect("scheduler")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn working_offline_stops_sync_is_kept_between_runs_and_edits_made_then_are_offline_edits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, events) = synced(dir.path()).await;
    assert!(!core.status().await.expect("status").work_offline);

    let status = core
        .sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("switched");
    assert!(status.work_offline, "the header shows the switch on");
    assert!(
        events
            .take()
            .iter()
            .any(|e| matches!(e, AppEvent::PortalChanged { status } if status.work_offline)),
        "the UI hears of the switch"
    );
    assert!(
        !core.edits_online(),
        "edits made now are recorded as offline edits"
    );
    // Sync asked for while offline ends before it reaches the portal: no new sync is recorded.
    let before = core.sync_status().await.expect("status").last_sync_at;
    core.sync_start().await.expect("sync asked for");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = core.sync_status().await.expect("status");
    assert_eq!(
        after.last_sync_at, before,
        "no sync ran while working offline"
    );
    assert!(after.last_error.is_none(), "skipping is not a failure");

    // A restart keeps the choice.
    let again = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        Arc::new(MemorySecretStore::new()),
    );
    assert!(again.works_offline(), "the switch outlives a restart");

    let runs_before = runs(&core);
    let status = core
        .sync_set_offline(SyncSetOfflineRequest { offline: false })
        .await
        .expect("switched back");
    assert!(!status.work_offline);
    for _ in 0..300 {
        if core.sync_status().await.expect("status").last_sync_at != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        runs(&core) > runs_before,
        "going online starts a sync at once"
    );
    assert_ne!(
        core.sync_status().await.expect("status").last_sync_at,
        before,
        "and it reaches the portal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_edit_shows_on_the_card_in_the_list_and_in_the_outbox_and_the_ui_hears_after_commit(
) {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, events) = synced(dir.path()).await;
    core.sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("offline");
    events.take();
    let deal = first_deal(&core).await;
    let mut edit = RecordEdit::default();
    edit.fields
        .insert("title".into(), json!("Поставка <b>бетона</b>"));
    edit.fields.insert("opportunity".into(), json!("125000.50"));
    edit.multi_fields.push(MultiFieldEdit::Add {
        kind: MultiFieldKind::Phone,
        value_type: "WORK".into(),
        value: "+7 900 000-00-99".into(),
    });
    let saved = core
        .record_update(RecordUpdateRequest { key: deal, edit })
        .await
        .expect("the edit is saved");
    assert_eq!(saved.key, deal);
    assert!(
        saved.queued >= 3,
        "one outbox entry per changed field: {saved:?}"
    );
    assert!(!saved.history_seqs.is_empty(), "the save is in history");
    let heard = events.take();
    assert!(
        heard.iter().any(|e| matches!(e, AppEvent::RecordsChanged { entity_types } if entity_types == &vec![EntityType::Deal])),
        "lists and cards reload: {heard:?}"
    );
    assert!(
        heard
            .iter()
            .any(|e| matches!(e, AppEvent::OutboxChanged {})),
        "the badge reloads"
    );

    let card = core
        .record_get(RecordGetRequest { key: deal })
        .await
        .expect("card");
    assert_eq!(
        card.title, "Поставка <b>бетона</b>",
        "the card shows the new value as text"
    );
    assert!(card.pending_fields.contains(&"title".to_string()));
    let outbox = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox");
    assert!(outbox.open >= 3, "the badge counts the unsent entries");
    let title = outbox
        .entries
        .iter()
        .find(|e| e.key == deal && e.field == "title")
        .expect("the title's entry");
    assert_eq!(title.state, OutboxState::Pending);
    assert_eq!(title.mine, json!("Поставка <b>бетона</b>"));

    // Discard one entry: gone from the open ones, and the UI hears of it.
    core.outbox_discard(OutboxEntryRequest { id: Some(title.id) })
        .await
        .expect("discarded");
    let outbox = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox");
    assert!(outbox
        .entries
        .iter()
        .all(|e| e.id != title.id || !e.state.is_open()));
    assert!(events
        .take()
        .iter()
        .any(|e| matches!(e, AppEvent::OutboxChanged {})));

    // Export what is left to a file.
    let file = dir.path().join("unsent.json");
    let exported = core
        .outbox_export(kartoteka_domain::edit::OutboxExportRequest {
            path: Some(file.display().to_string()),
        })
        .await
        .expect("exported");
    assert_eq!(exported.entries, outbox.open);
    let text = std::fs::read_to_string(&file).expect("the file");
    let read: kartoteka_store::ExportedEdits = serde_json::from_str(&text).expect("json");
    assert_eq!(
        read.format,
        kartoteka_store::EDITS_FILE_FORMAT,
        "importable again"
    );
    assert_eq!(read.edits.len() as u32, outbox.open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_edit_is_refused_with_the_field_and_a_message_and_nothing_is_queued() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, events) = synced(dir.path()).await;
    let deal = first_deal(&core).await;
    let mut edit = RecordEdit::default();
    edit.fields.insert("opportunity".into(), json!("много"));
    let refused = core
        .record_update(RecordUpdateRequest { key: deal, edit })
        .await
        .expect_err("not a number");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    let problems: Vec<FieldProblem> = serde_json::from_str(
        refused
            .params
            .as_ref()
            .and_then(|p| p.get("problems"))
            .expect("the problems travel with the error"),
    )
    .expect("problems as JSON");
    assert!(problems.iter().any(|p| p.field == "opportunity"));
    assert!(
        !events
            .take()
            .iter()
            .any(|e| matches!(e, AppEvent::OutboxChanged {})),
        "nothing was saved, so nothing is announced"
    );
    let outbox = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox");
    assert_eq!(outbox.open, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_contact_has_a_local_id_can_be_deleted_and_restored() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, _events) = synced(dir.path()).await;
    core.sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("offline");
    let mut edit = RecordEdit::default();
    edit.fields.insert("name".into(), json!("Анна"));
    edit.fields.insert("lastName".into(), json!("Офлайнова"));
    let saved = core
        .record_create(RecordCreateRequest {
            entity_type: EntityType::Contact,
            edit,
        })
        .await
        .expect("created");
    assert!(saved.key.is_local(), "not on the portal yet: a local id");
    let card = core
        .record_get(RecordGetRequest { key: saved.key })
        .await
        .expect("the new contact's card");
    assert!(card.title.contains("Офлайнова"));
    core.record_delete(RecordDeleteRequest { key: saved.key })
        .await
        .expect("deleted");
    let card = core
        .record_get(RecordGetRequest { key: saved.key })
        .await
        .expect("still readable");
    assert!(card.deleted, "in the recycle bin");
    // It never reached the portal: the same local record comes back, queued to be created.
    let restored = core
        .record_restore(RecordRestoreRequest { key: saved.key })
        .await
        .expect("restored");
    assert_eq!(restored.key, saved.key, "the same record, no second one");
    assert_eq!(restored.queued, 1, "its create is queued again");
    let card = core
        .record_get(RecordGetRequest { key: restored.key })
        .await
        .expect("the restored contact's card");
    assert!(!card.deleted);
    assert!(
        card.title.contains("Офлайнова"),
        "with its fields: {}",
        card.title
    );
}

/// Two companies created offline whose sends got no answer and whose tags the portal did not
/// show: "uncertain", as the upload leaves them.
async fn two_uncertain_creates(core: &Core) -> [(RecordKey, i64); 2] {
    let mut out = Vec::new();
    for title in ["ООО Спорная", "ООО Дошедшая"] {
        let mut edit = RecordEdit::default();
        edit.fields.insert("title".into(), json!(title));
        let key = core
            .record_create(RecordCreateRequest {
                entity_type: EntityType::Company,
                edit,
            })
            .await
            .expect("created")
            .key;
        let id = core
            .with_replica_mut(|s| {
                let id = s
                    .upload_queue(100)
                    .map_err(|e| from_edit_store(&e))?
                    .into_iter()
                    .find(|r| r.key == key)
                    .and_then(|r| r.entries.first().map(|e| e.id))
                    .expect("queued");
                s.mark_creates_sending(&[id], 1_000)
                    .and_then(|_| s.creates_uncertain(&[id]))
                    .map_err(|e| from_edit_store(&e))?;
                Ok(id)
            })
            .expect("uncertain");
        out.push((key, id));
    }
    [out[0], out[1]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncertain_create_is_settled_through_ipc_and_the_ui_hears_after_commit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, events) = synced(dir.path()).await;
    core.sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("offline");
    let [(again, again_id), (arrived, arrived_id)] = two_uncertain_creates(&core).await;
    let list = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox");
    assert_eq!(list.uncertain, 2);
    events.take();

    core.outbox_settle(OutboxSettleRequest {
        id: again_id,
        choice: UncertainChoice::SendAgain,
    })
    .await
    .expect("send again");
    core.outbox_settle(OutboxSettleRequest {
        id: arrived_id,
        choice: UncertainChoice::Arrived,
    })
    .await
    .expect("arrived");
    let heard = events.take();
    assert!(heard
        .iter()
        .any(|e| matches!(e, AppEvent::OutboxChanged {})));
    assert!(heard.iter().any(
        |e| matches!(e, AppEvent::RecordsChanged { entity_types } if entity_types == &vec![EntityType::Company])
    ));

    let list = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox");
    assert_eq!(list.uncertain, 0);
    let states: Vec<(RecordKey, OutboxState)> =
        list.entries.iter().map(|e| (e.key, e.state)).collect();
    assert_eq!(states, vec![(again, OutboxState::Pending)], "{states:?}");
    let listed = core
        .with_replica(|s| {
            s.all_ids(EntityType::Company)
                .map_err(|e| from_edit_store(&e))
        })
        .expect("ids");
    assert!(
        listed.contains(&again.id) && !listed.contains(&arrived.id),
        "the arrived record leaves the lists: it is not this user's to read"
    );
    // A second word on the same entry is refused.
    let twice = core
        .outbox_settle(OutboxSettleRequest {
            id: arrived_id,
            choice: UncertainChoice::SendAgain,
        })
        .await
        .expect_err("already settled");
    assert_eq!(twice.code, ErrorCode::InvalidInput, "{twice:?}");
}

#[test]
fn a_refusal_carries_each_problem_for_the_form() {
    let problems = vec![FieldProblem {
        field: "title".into(),
        label: "Название".into(),
        message_ru: "Обязательное поле".into(),
        message_en: "Required".into(),
    }];
    let error = invalid_edit(&problems);
    assert_eq!(error.code, ErrorCode::InvalidInput);
    let back: Vec<FieldProblem> = serde_json::from_str(
        error
            .params
            .as_ref()
            .and_then(|p| p.get("problems"))
            .expect("problems"),
    )
    .expect("json");
    assert_eq!(back, problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_saved_online_is_uploaded_by_the_next_run_and_leaves_the_outbox() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, events) = synced(dir.path()).await;
    let deal = first_deal(&core).await;
    let mut edit = RecordEdit::default();
    edit.fields
        .insert("title".into(), json!("Загружено с устройства"));
    let saved = core
        .record_update(RecordUpdateRequest { key: deal, edit })
        .await
        .expect("saved");
    assert_eq!(saved.queued, 1);
    // The save asked the scheduler for a run: the upload empties the outbox by itself.
    let mut open = u32::MAX;
    for _ in 0..300 {
        open = core
            .outbox_list(OutboxListRequest::default())
            .await
            .expect("outbox")
            .open;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(open, 0, "the edit was uploaded without the user asking");
    assert!(
        events
            .take()
            .iter()
            .any(|e| matches!(e, AppEvent::OutboxChanged {})),
        "the badge hears of the upload"
    );
    // A later pull reads the portal's version: it has our title.
    let before = core.sync_status().await.expect("status").last_sync_at;
    core.sync_start().await.expect("sync");
    for _ in 0..300 {
        let status = core.sync_status().await.expect("status");
        if status.last_sync_at != before && !status.running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let card = core
        .record_get(RecordGetRequest { key: deal })
        .await
        .expect("card");
    assert_eq!(card.title, "Загружено с устройства");
    assert!(card.pending_fields.is_empty(), "nothing left to send");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_unsent_edits_are_imported_back_once_and_a_foreign_file_is_refused_in_words() {
    use kartoteka_domain::edit::{
        OutboxExportRequest, OutboxImportRequest, RecordCreateRequest, RecordUpdateRequest,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let (core, _events) = synced(dir.path()).await;
    core.sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("offline");
    let deal = first_deal(&core).await;
    let mut edit = RecordEdit::default();
    edit.fields.insert("comments".into(), json!("Из файла"));
    core.record_update(RecordUpdateRequest { key: deal, edit })
        .await
        .expect("saved");
    let mut contact = RecordEdit::default();
    contact.fields.insert("name".into(), json!("Импортов"));
    core.record_create(RecordCreateRequest {
        entity_type: EntityType::Contact,
        edit: contact,
    })
    .await
    .expect("created");
    let file = dir.path().join("unsent.json");
    let exported = core
        .outbox_export(OutboxExportRequest {
            path: Some(file.display().to_string()),
        })
        .await
        .expect("exported");
    assert_eq!(exported.entries, 2);
    let content = std::fs::read_to_string(&file).expect("the file is there");

    // Imported into the replica that still holds them: the create is not made twice.
    let again = core
        .outbox_import(OutboxImportRequest {
            content: content.clone(),
            origin_confirmed: false,
        })
        .await
        .expect("imported");
    assert_eq!(again, 0, "nothing new: the same edits are queued already");
    let open = core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox")
        .open;
    assert_eq!(open, 2);

    // After the entries were discarded, the file brings them back.
    for e in core
        .outbox_list(OutboxListRequest::default())
        .await
        .expect("outbox")
        .entries
    {
        core.outbox_discard(OutboxEntryRequest { id: Some(e.id) })
            .await
            .expect("discard");
    }
    let back = core
        .outbox_import(OutboxImportRequest {
            content: content.clone(),
            origin_confirmed: false,
        })
        .await
        .expect("imported");
    assert_eq!(back, 2, "the comment and the new contact are queued again");
    let card = core
        .record_get(RecordGetRequest { key: deal })
        .await
        .expect("card");
    assert!(
        card.fields
            .iter()
            .any(|f| f.values.iter().any(|v| v == "Из файла")),
        "the imported edit is on the card"
    );

    // A file of another portal is refused, naming both portals for the message.
    let mut foreign: serde_json::Value = serde_json::from_str(&content).expect("json");
    foreign["portal"] = json!("other.bitrix24.ru");
    let refused = core
        .outbox_import(OutboxImportRequest {
            content: foreign.to_string(),
            origin_confirmed: true,
        })
        .await
        .expect_err("another portal's edits");
    assert_eq!(refused.code, ErrorCode::EditsFromElsewhere);
    let params = refused.params.clone().unwrap_or_default();
    assert_eq!(
        params.get("filePortal").map(String::as_str),
        Some("other.bitrix24.ru")
    );
    assert!(
        params
            .get("herePortal")
            .is_some_and(|h| h.starts_with("127.0.0.1:")),
        "{params:?}"
    );
    // One of an older Kartoteka names nothing: the user is asked first.
    let mut unnamed: serde_json::Value = serde_json::from_str(&content).expect("json");
    unnamed["format"] = json!(kartoteka_store::EDITS_FILE_FORMAT_V1);
    let asked = core
        .outbox_import(OutboxImportRequest {
            content: unnamed.to_string(),
            origin_confirmed: false,
        })
        .await
        .expect_err("the user is asked");
    assert_eq!(asked.code, ErrorCode::EditsOriginUnknown);

    let refused = core
        .outbox_import(OutboxImportRequest {
            content: "{\"not\": \"an export\"}".into(),
            origin_confirmed: false,
        })
        .await
        .expect_err("not an export");
    assert_eq!(refused.code, ErrorCode::InvalidInput);
    assert!(
        refused.message.contains("not a Kartoteka export"),
        "{}",
        refused.message
    );
}
