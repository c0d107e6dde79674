//! Creates that may have reached the portal unseen: the store knows a send that got no answer
//! from a refusal, keeps an `uncertain` create out of the queue until the user's word, and
//! settles it either way in one transaction.

mod common;

use common::open;
use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{
    EntityType, HistoryEventCode, HistoryFilter, OutboxEntry, OutboxOp, OutboxState, RecordEdit,
    RecordKey, UncertainChoice, User, UserKind,
};
use kartoteka_store::{HistoryQuery, LocalActor, QueuedEntry, Store, StoreError};
use serde_json::{json, Value};

fn actor() -> LocalActor {
    LocalActor {
        user_id: Some(6),
        name: "Павел Соколов".into(),
        device_id: "dev-6".into(),
        online: false,
    }
}

fn edit(fields: Value) -> RecordEdit {
    RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_default(),
        multi_fields: vec![],
    }
}

fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    let user = |id, name: &str, last: &str| User {
        id,
        name: name.into(),
        last_name: last.into(),
        active: true,
        kind: UserKind::Person,
    };
    store
        .replace_users(&[user(2, "Ирина", "Волкова"), user(6, "Павел", "Соколов")])
        .expect("users");
    (dir, store)
}

/// A company for Ирина (user 2), created here by user 6.
fn create_for_irina(store: &mut Store) -> RecordKey {
    store
        .create_record(
            &actor(),
            EntityType::Company,
            &edit(json!({"title": "ООО Для Ирины", "assignedById": 2})),
            1_000,
        )
        .expect("create")
        .key
}

fn queued(store: &Store, key: RecordKey) -> Option<QueuedEntry> {
    store
        .upload_queue(100)
        .expect("queue")
        .into_iter()
        .find(|r| r.key == key)
        .and_then(|r| r.entries.into_iter().find(|e| e.op == OutboxOp::Create))
}

fn listed(store: &Store, key: RecordKey) -> OutboxEntry {
    store
        .outbox_list(&OutboxListRequest {
            include_closed: true,
            record: Some(key),
        })
        .expect("outbox")
        .entries
        .into_iter()
        .find(|e| e.op == OutboxOp::Create)
        .expect("the create is listed")
}

/// Sent at 5 000 without an answer, then found uncertain by the upload.
fn uncertain(store: &mut Store, key: RecordKey) -> i64 {
    let id = queued(store, key).expect("queued").id;
    store.mark_creates_sending(&[id], 5_000).expect("sending");
    store.creates_uncertain(&[id]).expect("uncertain");
    id
}

#[test]
fn a_send_without_an_answer_may_have_landed_and_a_refusal_says_it_did_not() {
    let (_dir, mut store) = seeded();
    let key = create_for_irina(&mut store);
    let never = queued(&store, key).expect("queued");
    assert!(!never.may_have_landed(), "never sent: nothing to look up");

    store
        .mark_creates_sending(&[never.id], 5_000)
        .expect("sending");
    let sent = queued(&store, key).expect("still queued");
    assert_eq!(
        (sent.state, sent.attempts, sent.unanswered_ms),
        (OutboxState::Sending, 1, Some(5_000))
    );
    assert!(sent.may_have_landed(), "sent, no answer yet");

    store
        .creates_refused(
            &[sent.id],
            OutboxState::Rejected,
            "CRM_ITEM_ADD_ACCESS_DENIED",
        )
        .expect("refused");
    assert_eq!(store.retry_outbox(Some(sent.id)).expect("retry"), 1);
    let again = queued(&store, key).expect("queued again");
    assert_eq!((again.state, again.attempts), (OutboxState::Pending, 1));
    assert!(
        !again.may_have_landed(),
        "a refusal is a definite answer: nothing was made"
    );
}

#[test]
fn an_uncertain_create_waits_outside_the_queue_with_what_the_user_is_told() {
    let (_dir, mut store) = seeded();
    let key = create_for_irina(&mut store);
    let id = uncertain(&mut store, key);

    assert!(
        queued(&store, key).is_none(),
        "not sent until the user says"
    );
    assert!(
        !store.upload_due().expect("due"),
        "nothing for the upload to do"
    );
    assert!(
        store.has_pending_edits(key).expect("pending"),
        "the record still has an unsent create"
    );
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    assert_eq!((list.open, list.uncertain), (1, 1));
    let e = listed(&store, key);
    assert_eq!(e.state, OutboxState::Uncertain);
    let told = e.uncertain.expect("what is known");
    assert_eq!(told.sent_ms, Some(5_000));
    assert_eq!(told.assignee_id, Some(2));
    assert_eq!(told.assignee_name, "Ирина Волкова");
    assert_eq!(told.later_entries, 0);

    assert_eq!(
        store.retry_outbox(Some(id)).expect("retry"),
        0,
        "a retry does not go round the user's word"
    );
    assert_eq!(store.retry_outbox(None).expect("retry all"), 0);
    let other = create_for_irina(&mut store);
    let pending = queued(&store, other).expect("queued").id;
    assert!(matches!(
        store.settle_uncertain(&actor(), pending, UncertainChoice::Arrived, 9_000),
        Err(StoreError::NotAllowed(_))
    ));
}

#[test]
fn send_again_puts_the_create_back_as_one_no_send_of_which_landed() {
    let (_dir, mut store) = seeded();
    let key = create_for_irina(&mut store);
    let id = uncertain(&mut store, key);
    store
        .settle_uncertain(&actor(), id, UncertainChoice::SendAgain, 9_000)
        .expect("send again");

    let back = queued(&store, key).expect("queued again");
    assert_eq!(
        (back.id, back.state, back.attempts),
        (id, OutboxState::Pending, 1)
    );
    assert!(!back.may_have_landed(), "the user checked: it is not there");
    let filter = HistoryFilter {
        record: Some(key),
        ..Default::default()
    };
    let (events, _) = store
        .history_page(
            &HistoryQuery {
                filter: &filter,
                include_hidden: false,
            },
            None,
            50,
        )
        .expect("history");
    assert!(
        events.iter().any(|e| e.event == HistoryEventCode::Resolved),
        "the choice is in the record's history"
    );
}

#[test]
fn an_arrived_create_is_done_and_its_record_leaves_as_one_whose_access_was_lost() {
    let (_dir, mut store) = seeded();
    let key = create_for_irina(&mut store);
    let id = uncertain(&mut store, key);
    // Saved after the create went out: waits for it.
    store
        .edit_record(
            &actor(),
            key,
            &edit(json!({"comments": "Позвонить"})),
            6_000,
        )
        .expect("later edit");
    // Another new record names it.
    let deal = store
        .create_record(
            &actor(),
            EntityType::Deal,
            &edit(json!({"title": "Сделка для компании", "companyId": key.id})),
            6_500,
        )
        .expect("deal");
    assert_eq!(
        listed(&store, key).uncertain.expect("told").later_entries,
        1
    );
    let before = store
        .counts()
        .expect("counts")
        .into_iter()
        .find(|c| c.entity_type == EntityType::Company)
        .expect("companies");

    store
        .settle_uncertain(&actor(), id, UncertainChoice::Arrived, 9_000)
        .expect("arrived");

    let e = listed(&store, key);
    assert_eq!(e.state, OutboxState::Done);
    assert_eq!(
        e.record_title, "ООО Для Ирины",
        "the closed create still names its record"
    );
    let all = store
        .outbox_list(&OutboxListRequest {
            include_closed: true,
            record: Some(key),
        })
        .expect("outbox");
    assert!(
        all.entries
            .iter()
            .filter(|e| e.op == OutboxOp::Update)
            .all(|e| e.state == OutboxState::Discarded),
        "a later edit cannot be sent without the portal's id: {:?}",
        all.entries
    );
    assert!(!store
        .all_ids(EntityType::Company)
        .expect("ids")
        .contains(&key.id));
    let after = store
        .counts()
        .expect("counts")
        .into_iter()
        .find(|c| c.entity_type == EntityType::Company)
        .expect("companies");
    assert_eq!(
        (after.active, after.hidden),
        (before.active - 1, before.hidden + 1)
    );
    let filter = HistoryFilter {
        record: Some(key),
        ..Default::default()
    };
    let (events, _) = store
        .history_page(
            &HistoryQuery {
                filter: &filter,
                include_hidden: true,
            },
            None,
            50,
        )
        .expect("history");
    assert!(events.is_empty(), "its history left with it: {events:?}");
    assert!(store.verify_history().expect("verify").1.is_none());

    // The deal that names it can never be sent with that link: rejected, in words.
    let deal_create = queued(&store, deal.key).expect("deal queued").id;
    let rejected = store
        .note_waiting(&[(vec![deal_create], vec![key.id])])
        .expect("noted");
    assert_eq!(rejected, 1);
    let d = listed(&store, deal.key);
    assert_eq!(d.state, OutboxState::Rejected);
    assert!(
        d.last_error
            .as_deref()
            .is_some_and(|w| w.contains("ООО Для Ирины") && w.contains("not known here")),
        "{:?}",
        d.last_error
    );
}

#[test]
fn a_create_discarded_after_the_queue_was_read_is_not_marked_for_sending() {
    let (_dir, mut store) = seeded();
    let kept = create_for_irina(&mut store);
    let dropped = create_for_irina(&mut store);
    // The upload reads the queue …
    let (kept_id, dropped_id) = (
        queued(&store, kept).expect("queued").id,
        queued(&store, dropped).expect("queued").id,
    );
    // … the user drops one create before the send …
    store
        .discard_outbox_entry(&actor(), dropped_id, 2_000)
        .expect("discard");
    // … and only the other may go out.
    let marked = store
        .mark_creates_sending(&[kept_id, dropped_id], 5_000)
        .expect("sending");
    assert_eq!(marked, vec![kept_id]);
    assert_eq!(listed(&store, dropped).state, OutboxState::Discarded);
    assert_eq!(listed(&store, dropped).attempts, 0);
}

#[test]
fn a_create_that_may_be_on_the_portal_cannot_be_discarded() {
    let (_dir, mut store) = seeded();
    let refused = |store: &mut Store, id: i64| {
        matches!(
            store.discard_outbox_entry(&actor(), id, 7_000),
            Err(StoreError::NotAllowed(why)) if why.contains("may already be on the portal")
        )
    };
    // Going out.
    let sending = create_for_irina(&mut store);
    let going = queued(&store, sending).expect("queued").id;
    store
        .mark_creates_sending(&[going], 5_000)
        .expect("sending");
    assert!(refused(&mut store, going), "a create being sent");
    // Waiting for the user's word.
    let waiting = create_for_irina(&mut store);
    let asked = uncertain(&mut store, waiting);
    assert!(refused(&mut store, asked), "an uncertain create");
    // Back in the queue after a send that got no answer.
    let unanswered = create_for_irina(&mut store);
    let back = queued(&store, unanswered).expect("queued").id;
    store.mark_creates_sending(&[back], 5_000).expect("sending");
    store.unmark_sending(&[back]).expect("back in the queue");
    let e = queued(&store, unanswered).expect("queued again");
    assert_eq!(
        (e.state, e.unanswered_ms),
        (OutboxState::Pending, Some(5_000))
    );
    assert!(
        refused(&mut store, back),
        "a pending create sent unanswered"
    );
    for (key, state) in [
        (sending, OutboxState::Sending),
        (waiting, OutboxState::Uncertain),
        (unanswered, OutboxState::Pending),
    ] {
        assert_eq!(listed(&store, key).state, state, "left as it was");
        assert!(store
            .all_ids(EntityType::Company)
            .expect("ids")
            .contains(&key.id));
    }

    // A create never sent still can be dropped.
    let fresh = create_for_irina(&mut store);
    let never = queued(&store, fresh).expect("queued").id;
    store
        .discard_outbox_entry(&actor(), never, 7_000)
        .expect("discard");
    assert_eq!(listed(&store, fresh).state, OutboxState::Discarded);
}

#[test]
fn deleting_a_record_whose_create_may_have_landed_queues_the_deletion() {
    let (_dir, mut store) = seeded();
    let key = create_for_irina(&mut store);
    let id = queued(&store, key).expect("queued").id;
    store.mark_creates_sending(&[id], 5_000).expect("sending");
    store.unmark_sending(&[id]).expect("back in the queue");

    let saved = store.delete_record(&actor(), key, 6_000).expect("deleted");
    assert_eq!(saved.queued, 1, "the deletion waits in the queue");
    let record = store
        .upload_queue(100)
        .expect("queue")
        .into_iter()
        .find(|r| r.key == key)
        .expect("the record is still queued");
    let ops: Vec<(OutboxOp, OutboxState)> =
        record.entries.iter().map(|e| (e.op, e.state)).collect();
    assert_eq!(
        ops,
        vec![
            (OutboxOp::Create, OutboxState::Pending),
            (OutboxOp::Delete, OutboxState::Pending)
        ],
        "the create is looked up first, then the deletion follows it"
    );
    assert!(record.entries[0].may_have_landed());

    // A create that never went out still just leaves with its record.
    let fresh = create_for_irina(&mut store);
    let gone = store
        .delete_record(&actor(), fresh, 6_000)
        .expect("deleted");
    assert_eq!(gone.queued, 0);
    assert_eq!(listed(&store, fresh).state, OutboxState::Discarded);
}
