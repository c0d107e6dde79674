//! A create whose answer was lost, made by a user who cannot read back what it made (no
//! record twice on the portal): the look-up by its tag finds nothing, which proves
//! nothing, so the create is not sent again but waits, "uncertain", for the user's word; a
//! create the portal refused is sent again without a question.

mod sync_support;

use kartoteka_domain::{EntityType, OutboxState, RecordKey, UncertainChoice};
use kartoteka_sandbox::RESTRICTED;
use kartoteka_store::Store;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use sync_support::{actor, edit, open_entries, pull, replica, sandbox, upload, Emu};

async fn items_with_origin(emu: &Emu, t: EntityType, origin: &str) -> Vec<Value> {
    let r = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": t.type_id(), "select": ["id", "assignedById"],
                   "filter": {"=originatorId": "kartoteka", "=originId": origin}}),
        )
        .await;
    r["result"]["items"].as_array().cloned().unwrap_or_default()
}

fn origin(key: RecordKey) -> String {
    format!("laptop-1-{}", key.id)
}

fn create(store: &Arc<Mutex<Store>>, title: &str, fields: Value) -> RecordKey {
    let mut f = fields.as_object().cloned().unwrap_or_default();
    f.insert("title".into(), json!(title));
    store
        .lock()
        .expect("lock")
        .create_record(
            &actor(RESTRICTED),
            EntityType::Company,
            &edit(Value::Object(f)),
            1,
        )
        .expect("create")
        .key
}

/// The open create entry of a record.
fn create_entry(store: &Arc<Mutex<Store>>, key: RecordKey) -> kartoteka_domain::OutboxEntry {
    open_entries(store)
        .into_iter()
        .find(|e| e.key == key && e.op == kartoteka_domain::OutboxOp::Create)
        .unwrap_or_else(|| panic!("{key:?} has an open create"))
}

async fn on_portal(emu: &Emu, key: RecordKey) -> usize {
    items_with_origin(emu, EntityType::Company, &origin(key))
        .await
        .len()
}

/// User 6 reads only records assigned to them and may create records for colleagues.
async fn restricted_reader(emu: &Emu) {
    emu.post(
        "permissions",
        json!({"userId": RESTRICTED, "read": "own", "write": "all"}),
    )
    .await;
}

#[tokio::test]
async fn a_create_nobody_can_read_back_is_never_sent_twice() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    restricted_reader(&emu).await;
    let url = sb.webhook_url(RESTRICTED).expect("restricted webhook");
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;

    // A, for Ирина (user 2): the request fails before the portal runs it.
    let a = create(&store, "ООО Для Ирины", json!({"assignedById": 2}));
    emu.post(
        "faults",
        json!([{"match": {"method": "batch", "nth": 1}, "action": {"type": "error", "status": 500}}]),
    )
    .await;
    assert!(
        upload(&url, &store).await.is_err(),
        "no answer stops the run"
    );
    assert_eq!(on_portal(&emu, a).await, 0);
    // The next run cannot tell "not there" from "there but not mine to see": A is not sent.
    let second = upload(&url, &store).await.expect("upload");
    assert_eq!((second.created, second.uncertain), (0, 1), "{second:?}");
    assert_eq!(
        on_portal(&emu, a).await,
        0,
        "not sent without the user's word"
    );
    let asked = create_entry(&store, a);
    assert_eq!(asked.state, OutboxState::Uncertain);
    let what = asked.uncertain.clone().expect("what the user is told");
    assert_eq!(what.assignee_id, Some(2));
    assert_eq!(what.assignee_name, "Ирина Волкова");
    assert!(what.sent_ms.is_some(), "the send's time is known: {what:?}");
    // Uncertain entries are not due: a run sends nothing and asks nothing again.
    let idle = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (idle.write_requests, idle.read_requests, idle.uncertain),
        (0, 0, 0),
        "{idle:?}"
    );

    // B, for Ирина, and C, the user's own: both land, and the answer is lost.
    let b = create(&store, "ООО Тоже для Ирины", json!({"assignedById": 2}));
    let c = create(&store, "ООО Моя", json!({}));
    emu.post(
        "faults",
        json!([{"match": {"method": "batch", "nth": 1}, "action": {"type": "commitThenFail", "status": 500}}]),
    )
    .await;
    assert!(
        upload(&url, &store).await.is_err(),
        "the lost answer stops the run"
    );
    assert_eq!((on_portal(&emu, b).await, on_portal(&emu, c).await), (1, 1));
    let fourth = upload(&url, &store).await.expect("upload");
    // C reads back: found by its tag, nobody asked. B does not: asked, not sent.
    assert_eq!((fourth.created, fourth.uncertain), (1, 1), "{fourth:?}");
    assert_eq!(on_portal(&emu, b).await, 1, "B is on the portal once");
    assert_eq!(on_portal(&emu, c).await, 1, "C is on the portal once");
    assert_eq!(create_entry(&store, b).state, OutboxState::Uncertain);
    assert!(
        !open_entries(&store).iter().any(|e| e.key == c),
        "C is done"
    );

    // The user checked Bitrix24: A is not there, B is.
    {
        let (ea, eb) = (create_entry(&store, a).id, create_entry(&store, b).id);
        let mut s = store.lock().expect("lock");
        s.settle_uncertain(&actor(RESTRICTED), ea, UncertainChoice::SendAgain, 2)
            .expect("send A again");
        s.settle_uncertain(&actor(RESTRICTED), eb, UncertainChoice::Arrived, 2)
            .expect("B arrived");
    }
    let fifth = upload(&url, &store).await.expect("upload");
    assert_eq!(fifth.created, 1, "A is sent, once: {fifth:?}");
    assert_eq!(on_portal(&emu, a).await, 1);
    assert_eq!(on_portal(&emu, b).await, 1, "B is not sent again");
    assert!(
        open_entries(&store).is_empty(),
        "{:?}",
        open_entries(&store)
    );
    let sixth = upload(&url, &store).await.expect("upload");
    assert_eq!(sixth.write_requests, 0, "nothing more goes: {sixth:?}");

    // Neither A nor B is this user's to read: the replica holds neither, as the portal shows
    // the user, and B's settled create is in the closed outbox under its own title.
    pull(&url, &store).await;
    sync_support::assert_replica_equals_portal(&url, &store).await;
    let ids = store
        .lock()
        .expect("lock")
        .all_ids(EntityType::Company)
        .expect("ids");
    assert!(!ids.contains(&b.id));
    let closed = store
        .lock()
        .expect("lock")
        .outbox_list(&kartoteka_domain::edit::OutboxListRequest {
            include_closed: true,
            record: Some(b),
        })
        .expect("outbox");
    assert_eq!(closed.entries.len(), 1);
    assert_eq!(closed.entries[0].state, OutboxState::Done);
    assert_eq!(closed.entries[0].record_title, "ООО Тоже для Ирины");
}

#[tokio::test]
async fn a_create_the_portal_refused_goes_again_without_a_look_up_or_a_question() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.webhook_url(RESTRICTED).expect("restricted webhook");
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    restricted_reader(&emu).await;
    pull(&url, &store).await;
    // The portal refuses the create for Ирина: an answer that says nothing was made.
    emu.post(
        "faults",
        json!([{"match": {"method": "crm.item.add", "nth": 1},
                "action": {"type": "error", "status": 400, "error": "CRM_FIELD_ERROR_VALUE_NOT_VALID",
                           "description": "Значение поля не подходит"}}]),
    )
    .await;
    let d = create(&store, "ООО Отказ", json!({"assignedById": 2}));
    let first = upload(&url, &store).await.expect("upload");
    assert_eq!(first.rejected, 1, "{first:?}");
    assert_eq!(emu.faults_fired().await, vec![1]);
    let refused = create_entry(&store, d);
    assert_eq!(
        (refused.state, refused.attempts),
        (OutboxState::Rejected, 1)
    );
    assert_eq!(on_portal(&emu, d).await, 0);

    // The user corrects nothing and retries: the portal takes it this time.
    store
        .lock()
        .expect("lock")
        .retry_outbox(Some(refused.id))
        .expect("retry");
    let second = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (second.created, second.uncertain, second.read_requests),
        (1, 0, 0),
        "the refusal said nothing was made: no look-up, no question: {second:?}"
    );
    assert_eq!(on_portal(&emu, d).await, 1);
    assert!(open_entries(&store).is_empty());
}
