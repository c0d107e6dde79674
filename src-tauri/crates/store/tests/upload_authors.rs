//! Who history names for the changes an upload's answer carries. The
//! portal names the acting user as `updatedBy` on every update (`crm/lib/Field/UpdatedBy.php`),
//! so after our own upload the record names *us* as its last updater, while its other fields
//! may hold a colleague's earlier changes. Those are never recorded under our name: they have an
//! unknown author, except a stage move, whose mover the portal keeps (`movedBy` at `movedTime`,
//! `crm/lib/Field/MovedBy.php`). The pull that follows records nothing new.

mod common;

use common::{checkpoint, deal, key};
use kartoteka_domain::{
    AuthorKind, EntityType, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource, Record,
    RecordEdit,
};
use kartoteka_store::{HistoryQuery, LocalActor, Profile, Store};
use serde_json::{json, Value};

/// This replica's user (Kartoteka writes as this portal user).
const ME: i64 = 3;
/// A colleague.
const COLLEAGUE: i64 = 5;
const BEFORE: &str = "2026-03-01T09:00:00+03:00";
/// The colleague moved the stage (and, unseen, renamed the deal) at this time.
const THEIR_MOVE: &str = "2026-03-02T09:30:00+03:00";
/// Our upload landed at this time.
const OUR_WRITE: &str = "2026-03-02T10:00:00+03:00";
const LATER: &str = "2026-03-02T12:00:00+03:00";

fn me() -> LocalActor {
    LocalActor {
        user_id: Some(ME),
        name: "Мария Менеджерова".into(),
        device_id: "dev-7".into(),
        online: false,
    }
}

fn history(store: &Store, k: kartoteka_domain::RecordKey) -> Vec<HistoryEvent> {
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

fn observed(events: &[HistoryEvent], field: &str) -> Vec<HistoryEvent> {
    events
        .iter()
        .filter(|e| e.source == HistorySource::Observed && e.field.as_deref() == Some(field))
        .cloned()
        .collect()
}

fn ms(t: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(t)
        .expect("time")
        .timestamp_millis()
}

fn with(mut r: Record, fields: Value) -> Record {
    for (k, v) in fields.as_object().expect("object") {
        r.fields.insert(k.clone(), v.clone());
    }
    if let Some(t) = r.fields.get("updatedTime").and_then(Value::as_str) {
        r.updated_time = chrono::DateTime::parse_from_rfc3339(t).ok();
    }
    r
}

/// Deal 7 as pulled: last saved by the colleague, in stage NEW.
fn pulled_deal() -> Record {
    with(
        deal(7, "Поставка", "NEW", COLLEAGUE, BEFORE),
        json!({"movedBy": COLLEAGUE, "movedTime": BEFORE}),
    )
}

/// A replica signed in as [`ME`] holding [`pulled_deal`].
fn replica() -> Store {
    let mut store = Store::open_in_memory().expect("store");
    store
        .set_profile(&Profile {
            user_id: Some(ME),
            is_supervisor: false,
        })
        .expect("profile");
    store
        .apply_pulled(EntityType::Deal, &[pulled_deal()], &checkpoint(7))
        .expect("pull");
    store
}

/// Edits the deal's amount offline and marks the entry as being sent.
fn edit_amount_and_send(store: &mut Store) -> Vec<i64> {
    let edit = RecordEdit {
        fields: json!({"opportunity": "2500"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        multi_fields: vec![],
    };
    store
        .edit_record(&me(), key(EntityType::Deal, 7), &edit, ms(BEFORE) + 60_000)
        .expect("edit");
    let ids: Vec<i64> = store.upload_queue(10).expect("queue")[0]
        .entries
        .iter()
        .map(|e| e.id)
        .collect();
    store.mark_sending(&ids).expect("sending");
    ids
}

/// The deal as the portal answers our update: our amount, the colleague's title and stage, and
/// `updatedBy` = us.
fn answered() -> Record {
    with(
        pulled_deal(),
        json!({
            "opportunity": "2500",
            "title": "Поставка станков",
            "stageId": "PREPARATION",
            "movedBy": COLLEAGUE,
            "movedTime": THEIR_MOVE,
            "updatedBy": ME,
            "updatedTime": OUR_WRITE,
        }),
    )
}

#[test]
fn a_colleagues_changes_in_our_uploads_answer_are_never_recorded_under_our_name() {
    let mut store = replica();
    let k = key(EntityType::Deal, 7);
    let ids = edit_amount_and_send(&mut store);
    store
        .upload_succeeded(k, &ids, Some(&answered()), ms(OUR_WRITE) + 500, true)
        .expect("uploaded");

    let events = history(&store, k);
    let ours: Vec<&HistoryEvent> = events
        .iter()
        .filter(|e| e.field.as_deref() == Some("opportunity"))
        .collect();
    assert_eq!(ours.len(), 1, "our change once, as made here: {ours:#?}");
    assert_eq!(ours[0].source, HistorySource::DeviceOffline);
    assert_eq!(ours[0].author_id, Some(ME));

    let title = observed(&events, "title");
    assert_eq!(
        title.len(),
        1,
        "the colleague's rename is recorded: {events:#?}"
    );
    assert_eq!(
        (title[0].author_id, title[0].author_kind),
        (None, AuthorKind::Unknown),
        "the portal does not say who renamed it; it was not us"
    );
    assert_eq!(title[0].new_display.as_deref(), Some("Поставка станков"));

    let stage = observed(&events, "stageId");
    assert_eq!(stage.len(), 1, "{events:#?}");
    assert_eq!(stage[0].event, HistoryEventCode::StageChanged);
    assert_eq!(
        stage[0].author_id,
        Some(COLLEAGUE),
        "the portal names who moved the stage"
    );
    assert_eq!(stage[0].happened_at.timestamp_millis(), ms(THEIR_MOVE));
    assert_ne!(
        stage[0].group_id, title[0].group_id,
        "changes by different authors are not one save"
    );
    assert!(
        !events
            .iter()
            .any(|e| e.source == HistorySource::Observed && e.author_id == Some(ME)),
        "nothing observed is under our name: {events:#?}"
    );
    assert!(
        store
            .peer_logs_due(None, 10)
            .expect("due")
            .iter()
            .any(|d| d.key == key(EntityType::Deal, 7)),
        "someone else changed it: another Kartoteka user's change log may name them"
    );

    // The next pull sees the same version, then a later one saved by us again (say, a
    // workflow of ours touching only bookkeeping): neither records anything more.
    let before = history(&store, k).len();
    store
        .apply_pulled(EntityType::Deal, &[answered()], &checkpoint(7))
        .expect("pull");
    store
        .apply_pulled(
            EntityType::Deal,
            &[with(answered(), json!({"updatedTime": LATER}))],
            &checkpoint(7),
        )
        .expect("pull later");
    assert_eq!(
        history(&store, k).len(),
        before,
        "the pull does not observe the same changes again"
    );
    assert_eq!(store.verify_history().expect("verify").1, None);
}

/// Edits the deal offline (`fields`) and marks its entries as being sent.
fn edit_and_send(store: &mut Store, fields: Value) -> Vec<i64> {
    let edit = RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_default(),
        multi_fields: vec![],
    };
    store
        .edit_record(&me(), key(EntityType::Deal, 7), &edit, ms(BEFORE) + 60_000)
        .expect("edit");
    let ids: Vec<i64> = store.upload_queue(10).expect("queue")[0]
        .entries
        .iter()
        .map(|e| e.id)
        .collect();
    store.mark_sending(&ids).expect("sending");
    ids
}

#[test]
fn what_the_portal_sets_because_of_our_stage_move_is_ours() {
    // A move to a final stage makes the portal set the stage group, `closed` and the close
    // date itself (`crm/lib/Field/StageSemanticId.php`, `Closed.php`, `CloseDate.php`), and
    // name us as the mover (`MovedBy.php`): all of it follows from our write.
    let mut store = replica();
    let k = key(EntityType::Deal, 7);
    let ids = edit_and_send(&mut store, json!({"stageId": "WON"}));
    let won = with(
        pulled_deal(),
        json!({
            "stageId": "WON",
            "stageSemanticId": "S",
            "closed": "Y",
            "closedate": "2026-03-02",
            "movedBy": ME,
            "movedTime": OUR_WRITE,
            "updatedBy": ME,
            "updatedTime": OUR_WRITE,
        }),
    );
    store
        .upload_succeeded(k, &ids, Some(&won), ms(OUR_WRITE) + 500, true)
        .expect("uploaded");

    let events = history(&store, k);
    for field in ["stageSemanticId", "closed", "closedate"] {
        let seen = observed(&events, field);
        assert_eq!(seen.len(), 1, "{field}: {events:#?}");
        assert_eq!(
            (seen[0].author_id, seen[0].author_kind),
            (Some(ME), AuthorKind::Person),
            "{field} follows from our move: it is ours"
        );
    }
    assert!(
        observed(&events, "stageId").is_empty(),
        "the move itself is recorded once, as made here: {events:#?}"
    );
    let before = history(&store, k).len();
    store
        .apply_pulled(EntityType::Deal, &[won], &checkpoint(7))
        .expect("pull");
    assert_eq!(
        history(&store, k).len(),
        before,
        "the next pull does not observe the consequences again"
    );
    assert_eq!(store.verify_history().expect("verify").1, None);
}

#[test]
fn a_colleagues_company_change_is_not_ours_because_we_set_the_contacts() {
    let mut store = replica();
    let k = key(EntityType::Deal, 7);
    let ids = edit_and_send(&mut store, json!({"contactIds": [21]}));
    let answer = with(
        pulled_deal(),
        json!({
            "contactIds": [21],
            "contactId": 21,
            "companyId": 31,
            "updatedBy": ME,
            "updatedTime": OUR_WRITE,
        }),
    );
    store
        .upload_succeeded(k, &ids, Some(&answer), ms(OUR_WRITE) + 500, true)
        .expect("uploaded");
    let events = history(&store, k);
    let company: Vec<&HistoryEvent> = events
        .iter()
        .filter(|e| {
            e.source == HistorySource::Observed
                && e.event == HistoryEventCode::LinkAdded
                && e.new_value
                    .as_deref()
                    .is_some_and(|v| v.contains("\"id\":31"))
        })
        .collect();
    assert_eq!(
        company.len(),
        1,
        "the colleague's company link: {events:#?}"
    );
    assert_eq!(
        (company[0].author_id, company[0].author_kind),
        (None, AuthorKind::Unknown),
        "we set the contacts, not the company"
    );
    assert!(
        !events.iter().any(|e| e.source == HistorySource::Observed
            && e.event == HistoryEventCode::LinkAdded
            && e.author_id == Some(ME)),
        "our contact is recorded as made here, nothing observed is ours: {events:#?}"
    );
}

#[test]
fn a_pull_while_our_write_may_have_landed_does_not_put_the_colleagues_fields_under_our_name() {
    let mut store = replica();
    let k = key(EntityType::Deal, 7);
    // Sent, but the answer was lost: the pull comes first.
    let ids = edit_amount_and_send(&mut store);
    store
        .apply_pulled(EntityType::Deal, &[answered()], &checkpoint(7))
        .expect("pull");
    let events = history(&store, k);
    let title = observed(&events, "title");
    assert_eq!(title.len(), 1, "{events:#?}");
    assert_eq!(
        (title[0].author_id, title[0].author_kind),
        (None, AuthorKind::Unknown),
        "our write may be the update that names us: the rename is not ours"
    );
    assert_eq!(observed(&events, "stageId")[0].author_id, Some(COLLEAGUE));

    // Once nothing of ours is in flight, a record whose last update names us was changed by
    // this user elsewhere (the portal's web interface): that stays under their name.
    store
        .upload_succeeded(k, &ids, Some(&answered()), ms(OUR_WRITE) + 500, false)
        .expect("settled");
    let theirs = with(
        answered(),
        json!({"comments": "Позвонить в понедельник", "updatedTime": LATER}),
    );
    store
        .apply_pulled(EntityType::Deal, &[theirs], &checkpoint(7))
        .expect("pull");
    let comments = observed(&history(&store, k), "comments");
    assert_eq!(comments.len(), 1);
    assert_eq!(
        (comments[0].author_id, comments[0].author_kind),
        (Some(ME), AuthorKind::Person),
        "updatedBy: it is this user"
    );
}

#[test]
fn a_record_back_from_the_recycle_bin_names_no_restorer() {
    // A restore keeps the old `updatedBy` (`crm/lib/Service/Operation/Restore.php`): whoever
    // saved it last before the deletion, here us, did not bring it back.
    let mut store = replica();
    let k = key(EntityType::Deal, 7);
    let ours = with(
        pulled_deal(),
        json!({"updatedBy": ME, "updatedTime": OUR_WRITE}),
    );
    store
        .apply_pulled(
            EntityType::Deal,
            std::slice::from_ref(&ours),
            &checkpoint(7),
        )
        .expect("pull");
    store.mark_deleted(&[k], 1_780_000_000).expect("deleted");
    store
        .apply_pulled(EntityType::Deal, &[ours], &checkpoint(7))
        .expect("back");
    let events = history(&store, k);
    let restored = events
        .iter()
        .find(|e| e.event == HistoryEventCode::Restored)
        .expect("restored");
    assert_eq!(
        (restored.author_id, restored.author_kind),
        (None, AuthorKind::Unknown)
    );
    let deleted = events
        .iter()
        .find(|e| e.event == HistoryEventCode::Deleted)
        .expect("deleted");
    assert_eq!(deleted.author_kind, AuthorKind::Unknown, "nor a deleter");
}
