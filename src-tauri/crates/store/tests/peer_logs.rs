//! Other Kartoteka users' change logs in this replica: every replica has a device id of its own,
//! a log is this replica's own only when both its device and its author are, and a record's
//! timeline is read back to where its last read ended.

mod common;

use common::{checkpoint, deal, key, open};
use kartoteka_domain::{EntityType, HistoryEventCode, HistoryFilter, HistorySource};
use kartoteka_store::migrations::STEPS;
use kartoteka_store::{HistoryQuery, Profile, Store, TimelineLog, TimelineMarks, LOG_MARKER};
use rusqlite::Connection;
use serde_json::json;

fn uuid_shaped(id: &str) -> bool {
    id.len() == 36
        && id.matches('-').count() == 4
        && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

#[test]
fn every_new_replica_gets_a_random_device_id_of_its_own_that_stays() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).expect("a");
    std::fs::create_dir_all(&b).expect("b");
    let id_a = open(&a).device_id().expect("device id a");
    let id_b = open(&b).device_id().expect("device id b");
    assert!(uuid_shaped(&id_a), "a random UUID: {id_a}");
    assert_ne!(
        id_a, id_b,
        "two replicas never share a device id (else each takes the other's logs for its own)"
    );
    assert_eq!(
        open(&a).device_id().expect("reopened"),
        id_a,
        "kept in the replica"
    );
    let mut store = open(&a);
    assert_eq!(
        store.local_actor(false).expect("actor").device_id,
        id_a,
        "local edits are recorded under it"
    );
}

/// A replica of schema 6 whose first CLI sync stored the shared `unknown-device`.
fn make_v6_with_device(path: &std::path::Path, device: Option<&str>) {
    let conn = Connection::open(path).expect("create v6 file");
    for step in &STEPS[..6] {
        conn.execute_batch(step.sql).expect("v1..v6 schema");
    }
    if let Some(device) = device {
        conn.execute(
            "INSERT INTO replica_meta (key, value) VALUES ('device_id', ?1)",
            [device],
        )
        .expect("device id");
    }
    conn.execute_batch(
        "INSERT INTO replica_meta (key, value) VALUES ('profile.user_id', '2'); \
         PRAGMA user_version = 6;",
    )
    .expect("v6");
}

#[test]
fn a_replica_that_had_unknown_device_gets_its_own_id_on_open_and_its_old_logs_stay_its_own() {
    let dir = tempfile::tempdir().expect("dir");
    let shared = dir.path().join("shared.db");
    make_v6_with_device(&shared, Some("unknown-device"));
    let store = Store::open(&shared).expect("upgrades");
    let id = store.device_id().expect("device id");
    assert!(
        uuid_shaped(&id),
        "a new random id replaces the shared one: {id}"
    );
    assert!(
        store
            .is_own_log(Some("unknown-device"), Some(2))
            .expect("own"),
        "logs it published under the shared id are still its own"
    );
    assert!(
        !store
            .is_own_log(Some("unknown-device"), Some(3))
            .expect("own"),
        "another user's, under the shared id, are not"
    );
    drop(store);
    assert_eq!(
        Store::open(&shared)
            .expect("reopen")
            .device_id()
            .expect("id"),
        id,
        "replaced once"
    );

    // A replica that had its own id keeps it; one that had none gets one.
    let own = dir.path().join("own.db");
    make_v6_with_device(&own, Some("cli-5f3a-1c"));
    assert_eq!(
        Store::open(&own)
            .expect("upgrades")
            .device_id()
            .expect("id"),
        "cli-5f3a-1c"
    );
    let none = dir.path().join("none.db");
    make_v6_with_device(&none, None);
    let id = Store::open(&none)
        .expect("upgrades")
        .device_id()
        .expect("id");
    assert!(uuid_shaped(&id), "{id}");
}

/// A change log as another installation publishes it.
fn log(
    external_id: &str,
    device: &str,
    author_id: i64,
    field: &str,
    old: &str,
    new: &str,
) -> TimelineLog {
    let block = json!({
        "record": {"entityTypeId": 2, "id": 7},
        "authorId": author_id,
        "author": format!("Пользователь {author_id}"),
        "device": device,
        "happenedAt": "2026-03-01T10:00:00.000Z",
        "source": "deviceOnline",
        "changes": [{"op": "update", "field": field, "label": field, "old": old, "new": new}],
    });
    TimelineLog {
        external_id: external_id.into(),
        created_ms: 1_772_359_200_000,
        // Written on the portal by the author the block names.
        author_id: Some(author_id),
        text: format!("Изменено\n• {field}\n\n{LOG_MARKER}{block}"),
    }
}

fn peer_entries(store: &Store) -> Vec<(String, Option<i64>, Option<String>)> {
    let filter = HistoryFilter {
        record: Some(key(EntityType::Deal, 7)),
        ..Default::default()
    };
    let mut out = Vec::new();
    store
        .history_each(
            &HistoryQuery {
                filter: &filter,
                include_hidden: true,
            },
            |e| {
                if e.source == HistorySource::PeerLog {
                    assert_eq!(e.event, HistoryEventCode::FieldChanged);
                    out.push((
                        e.new_display.clone().unwrap_or_default(),
                        e.author_id,
                        e.device_id.clone(),
                    ));
                }
                Ok(true)
            },
        )
        .expect("history");
    out.sort();
    out
}

#[test]
fn a_log_is_this_replicas_own_only_when_both_its_device_and_its_author_are() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    store
        .set_profile(&Profile {
            user_id: Some(1),
            is_supervisor: false,
        })
        .expect("profile");
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(7, "Сделка", "NEW", 1, "2026-03-01T10:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    let me = store.device_id().expect("device");
    let logs = [
        log("logmessage:1", &me, 1, "title", "a", "mine"),
        log(
            "logmessage:2",
            &me,
            2,
            "title",
            "a",
            "same device id, another user",
        ),
        log(
            "logmessage:3",
            "laptop-2",
            1,
            "title",
            "a",
            "same user, another device",
        ),
        log(
            "logmessage:4",
            "laptop-3",
            3,
            "title",
            "a",
            "another user and device",
        ),
    ];
    for (device, author, own) in [
        (Some(me.as_str()), Some(1), true),
        (Some(me.as_str()), Some(2), false),
        (Some("laptop-2"), Some(1), false),
        (None, Some(1), false),
        (Some(me.as_str()), None, false),
    ] {
        assert_eq!(
            store.is_own_log(device, author).expect("own"),
            own,
            "{device:?} by {author:?}"
        );
    }
    let recorded = store
        .apply_peer_logs(
            key(EntityType::Deal, 7),
            &logs,
            Some(TimelineMarks::default()),
        )
        .expect("apply");
    assert_eq!(recorded, 3, "all but this replica's own");
    let got = peer_entries(&store);
    assert_eq!(
        got.iter().map(|(v, _, _)| v.as_str()).collect::<Vec<_>>(),
        [
            "another user and device",
            "same device id, another user",
            "same user, another device"
        ],
        "{got:?}"
    );
}

#[test]
fn a_timeline_read_to_the_end_is_marked_and_one_cut_short_stays_due() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    store
        .set_profile(&Profile {
            user_id: Some(1),
            is_supervisor: false,
        })
        .expect("profile");
    let t = EntityType::Deal;
    store
        .apply_pulled(
            t,
            &[deal(7, "Сделка", "NEW", 2, "2026-03-01T10:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    store
        .apply_pulled(
            t,
            &[deal(7, "Другая", "NEW", 2, "2026-03-01T11:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull changed by user 2");
    let due = store.peer_logs_due(None, 10).expect("due");
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0].read_to, TimelineMarks::default(), "never read yet");

    // Cut short: what was read is recorded, the record stays due, its marks stay.
    let first = [log(
        "logmessage:41",
        "laptop-2",
        2,
        "title",
        "Сделка",
        "Другая",
    )];
    let n = store
        .apply_peer_logs(key(t, 7), &first, None)
        .expect("apply");
    assert_eq!(n, 1);
    let due = store.peer_logs_due(None, 10).expect("due");
    assert_eq!(due.len(), 1, "still due after a read cut short");
    assert_eq!(due[0].read_to, TimelineMarks::default());
    assert!(
        store
            .peer_logs_due(Some(key(t, 7)), 10)
            .expect("due")
            .is_empty(),
        "a run walks past it"
    );

    // Read to the end: marked, no longer due, and the same log is never recorded twice.
    let marks = TimelineMarks {
        logmessage: 41,
        comment: 9,
    };
    let n = store
        .apply_peer_logs(key(t, 7), &first, Some(marks))
        .expect("apply");
    assert_eq!(n, 0, "already recorded");
    assert!(store.peer_logs_due(None, 10).expect("due").is_empty());

    // The next change makes it due again, with the marks of the last read.
    store
        .apply_pulled(
            t,
            &[deal(7, "Третья", "NEW", 2, "2026-03-01T12:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    let due = store.peer_logs_due(None, 10).expect("due");
    assert_eq!(due[0].read_to, marks);
    // A mark never goes back.
    store
        .apply_peer_logs(
            key(t, 7),
            &[],
            Some(TimelineMarks {
                logmessage: 40,
                comment: 12,
            }),
        )
        .expect("apply");
    store
        .apply_pulled(
            t,
            &[deal(7, "Четвёртая", "NEW", 2, "2026-03-01T13:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    assert_eq!(
        store.peer_logs_due(None, 10).expect("due")[0].read_to,
        TimelineMarks {
            logmessage: 41,
            comment: 12
        }
    );
}

#[test]
fn a_record_this_user_changed_elsewhere_is_due_too() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    store
        .set_profile(&Profile {
            user_id: Some(2),
            is_supervisor: false,
        })
        .expect("profile");
    let t = EntityType::Deal;
    store
        .apply_pulled(
            t,
            &[deal(7, "Сделка", "NEW", 2, "2026-03-01T10:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    // updatedBy is this user: changed on another of their devices (or in the browser).
    store
        .apply_pulled(
            t,
            &[deal(7, "С ноутбука", "NEW", 2, "2026-03-01T11:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    assert_eq!(
        store.peer_logs_due(None, 10).expect("due").len(),
        1,
        "its timeline may hold this user's log from another device"
    );
}

/// `log`, with the log's own id in its block, as this version publishes it.
fn log_named(external_id: &str, log_id: &str, new: &str) -> TimelineLog {
    let mut l = log(external_id, "laptop-2", 2, "title", "Сделка", new);
    l.text = l.text.replacen(
        &format!("{LOG_MARKER}{{"),
        &format!("{LOG_MARKER}{{\"logId\":\"{log_id}\","),
        1,
    );
    l
}

#[test]
fn a_log_published_twice_is_recorded_once_and_older_logs_without_an_id_still_arrive() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    store
        .set_profile(&Profile {
            user_id: Some(1),
            is_supervisor: false,
        })
        .expect("profile");
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(7, "Сделка", "NEW", 2, "2026-03-01T10:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    let k = key(EntityType::Deal, 7);
    // Its answer lost, the same log went again: once as a log message, once more as one; the
    // third copy arrives in a later read, as a comment.
    let twice = [
        log_named("logmessage:5", "laptop-2:17", "Дважды"),
        log_named("logmessage:6", "laptop-2:17", "Дважды"),
    ];
    let n = store.apply_peer_logs(k, &twice, None).expect("apply");
    assert_eq!(n, 1, "one log, however many copies on the timeline");
    let n = store
        .apply_peer_logs(k, &[log_named("comment:9", "laptop-2:17", "Дважды")], None)
        .expect("apply");
    assert_eq!(n, 0, "a copy read later is known too");
    // Another log of the same device, and logs written before logs had ids: each by its entry.
    let others = [
        log_named("logmessage:7", "laptop-2:18", "Следующий"),
        log("logmessage:8", "laptop-2", 2, "title", "a", "Без номера"),
        log("comment:10", "laptop-2", 2, "title", "a", "Без номера"),
    ];
    let n = store.apply_peer_logs(k, &others, None).expect("apply");
    assert_eq!(n, 3, "a log without an id is known by its timeline entry");
    assert_eq!(
        peer_entries(&store)
            .iter()
            .map(|(v, _, _)| v.as_str())
            .collect::<Vec<_>>(),
        ["Без номера", "Без номера", "Дважды", "Следующий"]
    );
}

#[test]
fn a_log_naming_another_author_than_the_entrys_is_not_recorded() {
    let dir = tempfile::tempdir().expect("dir");
    let mut store = open(dir.path());
    store
        .set_profile(&Profile {
            user_id: Some(1),
            is_supervisor: false,
        })
        .expect("profile");
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(7, "Сделка", "NEW", 2, "2026-03-01T10:00:00+03:00")],
            &checkpoint(7),
        )
        .expect("pull");
    let by = |external_id: &str, entry_author: Option<i64>, new: &str| {
        let mut l = log(external_id, "laptop-2", 2, "title", "Сделка", new);
        l.author_id = entry_author;
        l
    };
    let logs = [
        by("comment:1", Some(2), "Написал сам"),
        by("comment:2", Some(3), "Подделка от имени 2"),
        by("logmessage:3", None, "Автор неизвестен"),
    ];
    let n = store
        .apply_peer_logs(key(EntityType::Deal, 7), &logs, None)
        .expect("apply");
    assert_eq!(
        n, 1,
        "only the log whose entry its named author wrote is their change"
    );
    assert_eq!(
        peer_entries(&store),
        [(
            "Написал сам".to_string(),
            Some(2),
            Some("laptop-2".to_string())
        )]
    );
}
