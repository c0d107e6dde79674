//! Nothing waits forever, over real HTTP with the sandbox: a number the portal would not keep as
//! written cannot be queued; a large one it keeps is uploaded (a value is no record id, however
//! large); and an entry that cannot be sent — a value an older version queued, a link to a
//! record deleted before it reached the portal — says why in the outbox instead of staying
//! «pending, 0 attempts» through every sync and «retry all».

mod sync_support;

use kartoteka_domain::{EntityType, OutboxState, RecordKey};
use kartoteka_store::StoreError;
use serde_json::json;
use sync_support::{actor, edit, open_entries, pull, replica, sandbox, upload, Emu};

fn deal(id: i64) -> RecordKey {
    RecordKey {
        entity_type: EntityType::Deal,
        id,
    }
}

async fn portal_amount(emu: &Emu, id: i64) -> Option<f64> {
    let r = emu
        .act(1, "crm.item.get", json!({"entityTypeId": 2, "id": id}))
        .await;
    r["result"]["item"]["opportunity"].as_f64()
}

#[tokio::test]
async fn an_amount_beyond_the_portals_column_cannot_be_queued_and_a_large_one_it_keeps_is_uploaded()
{
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;

    let refused = store.lock().expect("lock").edit_record(
        &actor(1),
        deal(1),
        &edit(json!({"opportunity": 1_000_000_000_000_000_000u64})),
        1,
    );
    match refused {
        Err(StoreError::Invalid(problems)) => {
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(
                problems[0].message_ru.contains("9 999 999 999 999 999,99")
                    && problems[0].message_en.contains("9,999,999,999,999,999.99"),
                "{problems:?}"
            );
        }
        other => panic!("an amount of 1e18 is refused at save time, not {other:?}"),
    }
    assert!(open_entries(&store).is_empty(), "nothing queued");

    // 200 000 000 000 000 fits DECIMAL(18,2), and it is above the first local id (2^47): it is
    // an amount, not a record created here that the entry would wait for.
    store
        .lock()
        .expect("lock")
        .edit_record(
            &actor(1),
            deal(1),
            &edit(json!({"opportunity": 200_000_000_000_000u64})),
            2,
        )
        .expect("a large amount the portal keeps is taken");
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(summary.rejected, 0, "{summary:?}");
    assert!(
        open_entries(&store).is_empty(),
        "uploaded, not left pending: {:?}",
        open_entries(&store)
    );
    assert_eq!(portal_amount(&emu, 1).await, Some(2e14));
    sb.shutdown().await;
}

#[tokio::test]
async fn an_entry_that_cannot_be_sent_says_why_instead_of_staying_pending() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("replica.db");
    let store = replica(&db);
    pull(&url, &store).await;
    let before = portal_amount(&emu, 2).await;

    // A replica from before saves were checked holds an amount of 1e18 in its queue.
    store
        .lock()
        .expect("lock")
        .edit_record(&actor(1), deal(2), &edit(json!({"opportunity": 777})), 1)
        .expect("edit");
    let raw = rusqlite::Connection::open(&db).expect("open the replica file");
    raw.execute(
        "UPDATE outbox SET new_value = '1000000000000000000' WHERE field = 'opportunity'",
        [],
    )
    .expect("an older version's entry");
    drop(raw);

    // A deal linked to a contact created here, which was deleted before it was ever sent.
    let (contact, linked) = {
        let mut s = store.lock().expect("lock");
        let contact = s
            .create_record(
                &actor(1),
                EntityType::Contact,
                &edit(json!({"name": "Олег", "lastName": "Передумов"})),
                2,
            )
            .expect("create")
            .key;
        let d = s.get_record(deal(3)).expect("read").expect("deal 3");
        let mut ids = d.fields["contactIds"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        ids.push(json!(contact.id));
        s.edit_record(&actor(1), deal(3), &edit(json!({"contactIds": ids})), 3)
            .expect("link it");
        s.delete_record(&actor(1), contact, 4)
            .expect("delete it before upload");
        (contact, ids)
    };
    let _ = (contact, linked);

    for run in ["sync", "retry all, then sync"] {
        let summary = upload(&url, &store).await.expect("upload");
        let entries = open_entries(&store);
        assert_eq!(summary.rejected, 2, "{run}: {summary:?}: {entries:?}");
        let amount = entries
            .iter()
            .find(|e| e.field == "opportunity")
            .expect("the amount's entry is still there");
        assert_eq!(amount.state, OutboxState::Rejected, "{run}: {amount:?}");
        let words = amount.last_error.as_deref().unwrap_or_default();
        assert!(
            words.contains("9 999 999 999 999 999,99") && words.contains("Not sent"),
            "{run}: the reason in Russian and English: {words}"
        );
        assert_eq!(amount.attempts, 0, "{run}: never sent");
        let link = entries
            .iter()
            .find(|e| e.field == "contactIds")
            .expect("the link's entry is still there");
        assert_eq!(link.state, OutboxState::Rejected, "{run}: {link:?}");
        let words = link.last_error.as_deref().unwrap_or_default();
        assert!(
            words.contains("удалили до отправки") && words.contains("deleted before"),
            "{run}: {words}"
        );
        assert!(
            entries
                .iter()
                .all(|e| e.state != OutboxState::Pending || e.last_error.is_some()),
            "{run}: nothing waits without a word: {entries:?}"
        );
        store
            .lock()
            .expect("lock")
            .retry_outbox(None)
            .expect("retry all");
    }
    assert_eq!(portal_amount(&emu, 2).await, before, "nothing was sent");
    sb.shutdown().await;
}

/// A new deal linked to a new contact waits for the contact's portal id: it is created in the
/// next round with that id, never with the local one.
#[tokio::test]
async fn a_new_record_linked_to_another_new_one_is_created_after_it_with_its_portal_id() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    pull(&url, &store).await;
    let contact = {
        let mut s = store.lock().expect("lock");
        let contact = s
            .create_record(
                &actor(1),
                EntityType::Contact,
                &edit(json!({"name": "Нина", "lastName": "Новикова"})),
                1,
            )
            .expect("create the contact")
            .key;
        s.create_record(
            &actor(1),
            EntityType::Deal,
            &edit(json!({"title": "Сделка с новым контактом", "contactIds": [contact.id]})),
            2,
        )
        .expect("create the deal");
        contact
    };
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        summary.created,
        2,
        "{summary:?}: {:?}",
        open_entries(&store)
    );
    assert!(
        open_entries(&store).is_empty(),
        "{:?}",
        open_entries(&store)
    );
    let found = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id", "contactIds"],
                   "filter": {"title": "Сделка с новым контактом"}}),
        )
        .await;
    let deal = &found["result"]["items"][0];
    let contacts = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": 3, "select": ["id"],
                   "filter": {"=originatorId": "kartoteka", "=originId": format!("laptop-1-{}", contact.id)}}),
        )
        .await;
    let contact_id = contacts["result"]["items"][0]["id"].clone();
    assert!(contact_id.as_i64().is_some(), "{contacts}");
    assert_eq!(deal["contactIds"], json!([contact_id]), "{deal}");
    sb.shutdown().await;
}
