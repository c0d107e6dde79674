//! History recorded by the pull and read back: every event the synced data can produce, labels
//! and display values kept as they were, exact totals, hiding, tamper evidence, lost access.

mod common;

use common::{checkpoint, contact, deal, key, record};
use kartoteka_domain::{
    EntityType, FieldMeta, FieldType, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource,
    MultiField, MultiFieldKind, Stage, StageSemantics, User, UserKind,
};
use kartoteka_store::{HistoryQuery, LocalActor, Profile, StageHistoryEntry, Store, StoreError};
use serde_json::json;

fn all(store: &Store, filter: &HistoryFilter, include_hidden: bool) -> Vec<HistoryEvent> {
    let q = HistoryQuery {
        filter,
        include_hidden,
    };
    let mut out = Vec::new();
    store
        .history_each(&q, |e| {
            out.push(e);
            Ok(true)
        })
        .expect("history");
    out
}

fn of_record(store: &Store, k: kartoteka_domain::RecordKey) -> Vec<HistoryEvent> {
    all(
        store,
        &HistoryFilter {
            record: Some(k),
            ..Default::default()
        },
        false,
    )
}

fn meta(name: &str, label: &str, field_type: FieldType) -> FieldMeta {
    FieldMeta {
        name: name.into(),
        field_type,
        label: label.into(),
        is_required: false,
        is_read_only: false,
        is_immutable: false,
        is_multiple: false,
        is_custom: name.starts_with("UF_"),
        status_type: None,
        options: vec![],
    }
}

fn user(id: i64, name: &str, last: &str, kind: UserKind) -> User {
    User {
        id,
        name: name.into(),
        last_name: last.into(),
        active: true,
        kind,
    }
}

fn stage(list: &str, id: &str, name: &str) -> Stage {
    Stage {
        list_id: list.into(),
        status_id: id.into(),
        name: name.into(),
        sort: 10,
        semantics: StageSemantics::Process,
        color: None,
        category_id: None,
    }
}

fn store_with_reference() -> Store {
    let mut s = Store::open_in_memory().expect("memory store");
    s.replace_users(&[
        user(1, "Анна", "Админова", UserKind::Person),
        user(2, "Пётр", "Менеджеров", UserKind::Person),
        user(9, "Робот", "", UserKind::Technical),
    ])
    .expect("users");
    s.replace_stages(&[
        stage("STATUS", "NEW", "Не обработан"),
        stage("DEAL_STAGE", "NEW", "Новая"),
        stage("DEAL_STAGE", "WON", "Сделка успешна"),
    ])
    .expect("stages");
    s.replace_field_meta(
        EntityType::Deal,
        &[
            meta("title", "Название", FieldType::String),
            meta("stageId", "Стадия", FieldType::CrmStatus),
            meta("UF_CRM_DELIVERY", "Адрес доставки", FieldType::String),
        ],
    )
    .expect("meta");
    s
}

const T0: &str = "2024-06-01T10:00:00+03:00";
const T1: &str = "2024-06-02T11:30:00+03:00";
const T2: &str = "2024-06-03T09:15:00+03:00";

fn with(
    mut r: kartoteka_domain::Record,
    field: &str,
    v: serde_json::Value,
) -> kartoteka_domain::Record {
    r.fields.insert(field.into(), v);
    if field == "updatedTime" {
        r.updated_time = r.fields[field]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
    }
    r
}

#[test]
fn initial_pull_records_one_created_event_per_record_at_its_creation_by_its_creator() {
    let mut s = store_with_reference();
    let d = with(deal(1, "Станки", "NEW", 2, T0), "createdBy", json!(2));
    s.apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("pull");
    let events = of_record(&s, key(EntityType::Deal, 1));
    assert_eq!(events.len(), 1, "one event per record, not one per field");
    let e = &events[0];
    assert_eq!(e.event, HistoryEventCode::Created);
    assert_eq!(e.source, HistorySource::Observed);
    assert_eq!(e.author_id, Some(2));
    assert_eq!(e.author_name, "Пётр Менеджеров");
    assert_eq!(e.happened_at.to_rfc3339(), "2024-01-01T07:00:00+00:00");
    assert_eq!(e.record_title, "Станки");
}

#[test]
fn custom_field_change_keeps_its_label_and_both_values_even_after_the_field_is_renamed() {
    let mut s = store_with_reference();
    let d0 = with(
        deal(1, "Станки", "NEW", 2, T0),
        "UF_CRM_DELIVERY",
        json!("Тверь"),
    );
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("pull");
    let d1 = with(
        with(d0.clone(), "UF_CRM_DELIVERY", json!("Казань")),
        "updatedTime",
        json!(T1),
    );
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d1), &checkpoint(1))
        .expect("pull changed");

    // The portal renames the field; the old event must still say what it said.
    s.replace_field_meta(
        EntityType::Deal,
        &[meta("UF_CRM_DELIVERY", "Куда везти", FieldType::String)],
    )
    .expect("renamed");
    // Syncing the same version again records nothing.
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d1), &checkpoint(1))
        .expect("pull again");

    let events = of_record(&s, key(EntityType::Deal, 1));
    let changed: Vec<_> = events
        .iter()
        .filter(|e| e.event == HistoryEventCode::FieldChanged)
        .collect();
    assert_eq!(changed.len(), 1, "one change, recorded once: {events:#?}");
    let e = changed[0];
    assert_eq!(e.field.as_deref(), Some("UF_CRM_DELIVERY"));
    assert_eq!(e.field_label.as_deref(), Some("Адрес доставки"));
    assert_eq!(
        (e.old_display.as_deref(), e.new_display.as_deref()),
        (Some("Тверь"), Some("Казань"))
    );
    assert_eq!(e.author_id, Some(2), "attributed to updatedBy");
    assert_eq!(e.happened_at.to_rfc3339(), "2024-06-02T08:30:00+00:00");
}

#[test]
fn bookkeeping_only_changes_record_nothing() {
    let mut s = store_with_reference();
    let d0 = deal(1, "Станки", "NEW", 2, T0);
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("pull");
    let d1 = with(
        with(d0, "updatedTime", json!(T1)),
        "lastActivityTime",
        json!(T1),
    );
    s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
        .expect("pull");
    assert_eq!(
        of_record(&s, key(EntityType::Deal, 1)).len(),
        1,
        "only `created`"
    );
}

#[test]
fn a_deal_stage_reads_as_the_deal_pipeline_names_it_not_as_the_lead_status() {
    let mut s = store_with_reference();
    let d0 = deal(1, "Станки", "NEW", 2, T0);
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("pull");
    let d1 = with(with(d0, "stageId", json!("WON")), "updatedTime", json!(T1));
    s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
        .expect("pull");
    let e = of_record(&s, key(EntityType::Deal, 1))
        .into_iter()
        .find(|e| e.event == HistoryEventCode::StageChanged)
        .expect("stage event");
    assert_eq!(
        e.old_display.as_deref(),
        Some("Новая"),
        "not «Не обработан»"
    );
    assert_eq!(e.new_display.as_deref(), Some("Сделка успешна"));
}

fn phone(id: i64, value: &str) -> MultiField {
    MultiField {
        id,
        kind: MultiFieldKind::Phone,
        value_type: "WORK".into(),
        value: value.into(),
    }
}

#[test]
fn a_phone_added_changed_and_removed_gives_three_events_with_the_numbers() {
    let mut s = store_with_reference();
    let mut c = contact(3, "Иван", "Петров", "+7 900 000-00-01", "i@p.ru");
    s.apply_pulled(
        EntityType::Contact,
        std::slice::from_ref(&c),
        &checkpoint(3),
    )
    .expect("pull");
    let times = [
        "2024-06-02T10:00:00+03:00",
        "2024-06-03T10:00:00+03:00",
        "2024-06-04T10:00:00+03:00",
    ];
    c.multi_fields.push(phone(99, "+7 900 111-22-33"));
    c = with(c, "updatedTime", json!(times[0]));
    s.apply_pulled(
        EntityType::Contact,
        std::slice::from_ref(&c),
        &checkpoint(3),
    )
    .expect("added");
    c.multi_fields.retain(|m| m.id != 99);
    c.multi_fields.push(phone(99, "+7 900 444-55-66"));
    c = with(c, "updatedTime", json!(times[1]));
    s.apply_pulled(
        EntityType::Contact,
        std::slice::from_ref(&c),
        &checkpoint(3),
    )
    .expect("changed");
    c.multi_fields.retain(|m| m.id != 99);
    c = with(c, "updatedTime", json!(times[2]));
    s.apply_pulled(
        EntityType::Contact,
        std::slice::from_ref(&c),
        &checkpoint(3),
    )
    .expect("removed");

    let mut events: Vec<_> = of_record(&s, key(EntityType::Contact, 3))
        .into_iter()
        .filter(|e| e.field.as_deref() == Some("fm.PHONE"))
        .collect();
    events.reverse();
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.event, e.old_display.clone(), e.new_display.clone()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                HistoryEventCode::MultifieldAdded,
                None,
                Some("+7 900 111-22-33".into())
            ),
            (
                HistoryEventCode::MultifieldChanged,
                Some("+7 900 111-22-33".into()),
                Some("+7 900 444-55-66".into())
            ),
            (
                HistoryEventCode::MultifieldRemoved,
                Some("+7 900 444-55-66".into()),
                None
            ),
        ]
    );
    assert_eq!(events[0].field_label.as_deref(), Some("Телефон (рабочий)"));
}

#[test]
fn a_contact_removed_from_a_deal_is_named_in_the_link_event() {
    let mut s = store_with_reference();
    s.apply_pulled(
        EntityType::Contact,
        &[contact(5, "Иван", "Петров", "+7 1", "i@p.ru")],
        &checkpoint(5),
    )
    .expect("contact");
    let d0 = with(deal(1, "Станки", "NEW", 2, T0), "contactIds", json!([5]));
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("deal");
    let d1 = with(with(d0, "contactIds", json!([])), "updatedTime", json!(T1));
    s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
        .expect("link removed");
    let events = of_record(&s, key(EntityType::Deal, 1));
    let e = events
        .iter()
        .find(|e| e.event == HistoryEventCode::LinkRemoved)
        .expect("link event");
    assert_eq!(e.old_display.as_deref(), Some("Петров Иван"));
    assert_eq!(e.field_label.as_deref(), Some("Контакт"));
    assert!(
        !events
            .iter()
            .any(|e| e.field.as_deref() == Some("contactIds")),
        "the link field is a link event, not a field change"
    );
}

#[test]
fn deletion_and_return_from_the_recycle_bin_are_events() {
    let mut s = store_with_reference();
    let d = deal(1, "Станки", "NEW", 2, T0);
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d), &checkpoint(1))
        .expect("pull");
    s.mark_deleted(&[key(EntityType::Deal, 1)], 1_717_300_000)
        .expect("deleted");
    s.apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("back");
    let codes: Vec<_> = of_record(&s, key(EntityType::Deal, 1))
        .iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(
        codes,
        vec![
            HistoryEventCode::Restored,
            HistoryEventCode::Deleted,
            HistoryEventCode::Created
        ]
    );
}

#[test]
fn a_stage_move_seen_in_the_diff_and_in_stage_history_is_one_event_with_the_exact_time() {
    let mut s = store_with_reference();
    let d0 = deal(1, "Станки", "NEW", 2, T0);
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("pull");
    // Moved at T1 by user 2, saved again later (T2): the diff attributes it to T2.
    let d1 = with(
        with(
            with(with(d0, "stageId", json!("WON")), "updatedTime", json!(T2)),
            "movedTime",
            json!(T1),
        ),
        "movedBy",
        json!(2),
    );
    s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
        .expect("pull");
    let exact_ms = chrono::DateTime::parse_from_rfc3339(T1)
        .expect("time")
        .timestamp_millis();
    let entry = StageHistoryEntry {
        id: 17,
        type_id: 3,
        owner_id: 1,
        created_ms: exact_ms,
        stage_id: "WON".into(),
        category_id: Some(0),
    };
    assert_eq!(
        s.apply_stage_history(EntityType::Deal, std::slice::from_ref(&entry))
            .expect("stage history"),
        1
    );
    assert_eq!(
        s.apply_stage_history(EntityType::Deal, &[entry])
            .expect("again"),
        0,
        "a stage-history row is recorded once"
    );
    let stage_events: Vec<_> = of_record(&s, key(EntityType::Deal, 1))
        .into_iter()
        .filter(|e| e.event == HistoryEventCode::StageChanged)
        .collect();
    assert_eq!(
        stage_events.len(),
        1,
        "one event, not two: {stage_events:#?}"
    );
    let e = &stage_events[0];
    assert_eq!(e.source, HistorySource::StageHistory);
    assert_eq!(e.happened_at.timestamp_millis(), exact_ms);
    assert_eq!(e.author_id, Some(2), "movedBy at movedTime");
    assert_eq!(e.old_display.as_deref(), Some("Новая"));
    let count = s
        .history_count(&HistoryQuery {
            filter: &HistoryFilter::default(),
            include_hidden: false,
        })
        .expect("count");
    assert_eq!(count, 2, "created + one stage move");
    assert_eq!(
        s.stage_history_checkpoint(EntityType::Deal).expect("cp"),
        17
    );
}

fn actor() -> LocalActor {
    LocalActor {
        user_id: Some(1),
        name: "Анна Админова".into(),
        device_id: "dev-1".into(),
        online: true,
    }
}

#[test]
fn only_a_supervisor_hides_an_entry_and_it_stays_visible_marked_to_supervisors() {
    let mut s = store_with_reference();
    s.apply_pulled(
        EntityType::Deal,
        &[deal(1, "Станки", "NEW", 2, T0)],
        &checkpoint(1),
    )
    .expect("pull");
    let seq = of_record(&s, key(EntityType::Deal, 1))[0].seq;
    match s.hide_history_event(seq, "ошибка", &actor(), 1) {
        Err(StoreError::NotAllowed(_)) => {}
        other => panic!("a manager must not hide entries: {other:?}"),
    }
    s.set_profile(&Profile {
        user_id: Some(1),
        is_supervisor: true,
    })
    .expect("profile");
    assert!(
        s.hide_history_event(seq, "  ", &actor(), 1).is_err(),
        "reason required"
    );
    s.hide_history_event(seq, "дубль", &actor(), 1)
        .expect("supervisor hides");

    let f = HistoryFilter::default();
    assert!(all(&s, &f, false).is_empty(), "gone from a manager's view");
    let supervisor = all(&s, &f, true);
    assert_eq!(supervisor.len(), 2, "the entry and the hiding");
    let hidden = supervisor.iter().find(|e| e.seq == seq).expect("entry");
    assert!(hidden.hidden, "marked for supervisors");
    let hiding = supervisor
        .iter()
        .find(|e| e.event == HistoryEventCode::Hidden)
        .expect("hiding is an event");
    assert_eq!(hiding.note.as_deref(), Some("дубль"));
    for include_hidden in [false, true] {
        let q = HistoryQuery {
            filter: &f,
            include_hidden,
        };
        assert_eq!(
            s.history_count(&q).expect("count") as usize,
            all(&s, &f, include_hidden).len(),
            "totals agree with the rows (include_hidden={include_hidden})"
        );
    }
}

#[test]
fn totals_from_counters_equal_counted_rows_for_every_filter() {
    let mut s = store_with_reference();
    let mut deals = Vec::new();
    for id in 1..=30 {
        deals.push(deal(id, &format!("Сделка {id}"), "NEW", 1 + id % 2, T0));
    }
    s.apply_pulled(EntityType::Deal, &deals, &checkpoint(30))
        .expect("pull");
    let changed: Vec<_> = deals
        .iter()
        .filter(|d| d.key.id % 3 == 0)
        .map(|d| {
            with(
                with(d.clone(), "title", json!("Новое")),
                "updatedTime",
                json!(T1),
            )
        })
        .collect();
    s.apply_pulled(EntityType::Deal, &changed, &checkpoint(30))
        .expect("changes");
    let hour = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("t")
            .with_timezone(&chrono::Utc)
    };
    let filters = vec![
        HistoryFilter::default(),
        HistoryFilter {
            author_id: Some(2),
            ..Default::default()
        },
        HistoryFilter {
            events: vec![HistoryEventCode::FieldChanged],
            ..Default::default()
        },
        HistoryFilter {
            field: Some("title".into()),
            ..Default::default()
        },
        HistoryFilter {
            entity_type: Some(EntityType::Deal),
            source: Some(HistorySource::Observed),
            ..Default::default()
        },
        HistoryFilter {
            from: Some(hour("2024-06-02T00:00:00+00:00")),
            to: Some(hour("2024-06-03T00:00:00+00:00")),
            ..Default::default()
        },
        HistoryFilter {
            text: Some("новое".into()),
            ..Default::default()
        },
        HistoryFilter {
            record: Some(key(EntityType::Deal, 3)),
            ..Default::default()
        },
    ];
    for f in &filters {
        let rows = all(&s, f, false).len();
        let q = HistoryQuery {
            filter: f,
            include_hidden: false,
        };
        assert_eq!(s.history_count(&q).expect("count") as usize, rows, "{f:?}");
        assert!(rows > 0, "each filter matches something: {f:?}");
    }
    // Keyset pages of 7 walk every event once, newest first.
    let f = HistoryFilter::default();
    let q = HistoryQuery {
        filter: &f,
        include_hidden: false,
    };
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = s.history_page(&q, cursor, 7).expect("page");
        seen.extend(page.iter().map(|e| (e.happened_at, e.seq)));
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 40);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    sorted.dedup();
    assert_eq!(seen, sorted, "newest first, no repeats");
}

#[test]
fn an_event_edited_in_the_file_breaks_the_chain_and_verify_names_it() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replica.db");
    let target;
    {
        let mut s = Store::open(&path).expect("open");
        s.replace_field_meta(
            EntityType::Deal,
            &[meta("title", "Название", FieldType::String)],
        )
        .expect("meta");
        let d0 = deal(1, "Станки", "NEW", 2, T0);
        s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
            .expect("pull");
        for (i, t) in [T1, T2].iter().enumerate() {
            let d = with(
                with(d0.clone(), "title", json!(format!("v{i}"))),
                "updatedTime",
                json!(t),
            );
            s.apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
                .expect("pull");
        }
        let (checked, broken) = s.verify_history().expect("verify");
        assert_eq!(
            (checked, broken),
            (3, None),
            "an untouched history is intact"
        );
        target = of_record(&s, key(EntityType::Deal, 1))[1].seq;
    }
    {
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute(
            "UPDATE history_events SET new_display = 'подделка' WHERE seq = ?1",
            [target],
        )
        .expect("tamper");
    }
    let s = Store::open(&path).expect("open");
    let (_, broken) = s.verify_history().expect("verify");
    let broken = broken.expect("tampering is caught");
    assert_eq!(broken.seq, target);
    assert_eq!(broken.record, Some(key(EntityType::Deal, 1)));

    // Deleting the newest event of a record is caught too.
    drop(s);
    {
        let conn = rusqlite::Connection::open(&path).expect("raw");
        conn.execute(
            "UPDATE history_events SET new_display = 'v0' WHERE seq = ?1",
            [target],
        )
        .expect("undo");
        conn.execute(
            "DELETE FROM history_events WHERE seq = (SELECT MAX(seq) FROM history_events)",
            [],
        )
        .expect("delete newest");
    }
    let s = Store::open(&path).expect("open");
    assert!(
        s.verify_history().expect("verify").1.is_some(),
        "a removed event is caught"
    );
}

#[test]
fn a_record_whose_access_is_lost_leaves_no_history_in_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replica.db");
    {
        let mut s = Store::open(&path).expect("open");
        let d0 = deal(1, "Секретная сделка", "NEW", 2, T0);
        s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
            .expect("pull");
        let d1 = with(
            with(d0, "title", json!("Секретная 2")),
            "updatedTime",
            json!(T1),
        );
        s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
            .expect("pull");
        s.mark_hidden(&[key(EntityType::Deal, 1)], 5)
            .expect("hidden");
        assert_eq!(
            s.verify_history().expect("verify").1,
            None,
            "the rest still verifies"
        );
        let q = HistoryQuery {
            filter: &HistoryFilter::default(),
            include_hidden: true,
        };
        assert_eq!(s.history_count(&q).expect("count"), 0, "counters follow");
    }
    let conn = rusqlite::Connection::open(&path).expect("raw");
    let rows: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM history_events) + (SELECT COUNT(*) FROM history_chain) \
             + (SELECT COUNT(*) FROM record_fields WHERE fields LIKE '%Секретн%') \
             + (SELECT COUNT(*) FROM records WHERE title LIKE '%Секретн%')",
            [],
            |r| r.get(0),
        )
        .expect("sql");
    assert_eq!(rows, 0, "nothing about the record stays in the file");
    let _ = record; // builder kept for other tests
}

#[test]
fn the_record_as_it_was_is_rebuilt_from_its_events() {
    let mut s = store_with_reference();
    let d0 = with(
        deal(1, "Станки", "NEW", 2, T0),
        "UF_CRM_DELIVERY",
        json!("Тверь"),
    );
    s.apply_pulled(EntityType::Deal, std::slice::from_ref(&d0), &checkpoint(1))
        .expect("pull");
    let d1 = with(
        with(
            with(d0, "UF_CRM_DELIVERY", json!("Казань")),
            "title",
            json!("Станки-2"),
        ),
        "updatedTime",
        json!(T2),
    );
    s.apply_pulled(EntityType::Deal, &[d1], &checkpoint(1))
        .expect("pull");
    let between = chrono::DateTime::parse_from_rfc3339(T1)
        .expect("t")
        .with_timezone(&chrono::Utc);
    let then = s
        .record_as_of(key(EntityType::Deal, 1), between)
        .expect("as of")
        .expect("record");
    let get = |f: &str| then.fields.iter().find(|x| x.field == f).cloned().expect(f);
    assert_eq!(get("UF_CRM_DELIVERY").value.as_deref(), Some("Тверь"));
    assert!(get("UF_CRM_DELIVERY").changed_since);
    assert_eq!(get("title").value.as_deref(), Some("Станки"));
    assert_eq!(get("stageId").value.as_deref(), Some("Новая"));
    assert!(!get("stageId").changed_since);
}

#[test]
fn group_ids_stay_unique_across_saves_even_after_the_newest_events_leave_the_device() {
    let mut s = store_with_reference();
    let d1 = deal(1, "Первая", "NEW", 2, T0);
    let d2 = deal(2, "Вторая", "NEW", 2, T0);
    s.apply_pulled(EntityType::Deal, &[d1.clone(), d2.clone()], &checkpoint(2))
        .expect("pull");
    let d2b = with(
        with(d2, "title", json!("Вторая-2")),
        "updatedTime",
        json!(T1),
    );
    s.apply_pulled(EntityType::Deal, &[d2b], &checkpoint(2))
        .expect("change the second");
    // The newest events (the second deal's) leave with its access.
    s.mark_hidden(&[key(EntityType::Deal, 2)], 9)
        .expect("hidden");
    for (i, t) in [T1, T2].iter().enumerate() {
        let d = with(
            with(d1.clone(), "title", json!(format!("v{i}"))),
            "updatedTime",
            json!(t),
        );
        s.apply_pulled(EntityType::Deal, &[d], &checkpoint(2))
            .expect("change the first");
    }
    let events = all(&s, &HistoryFilter::default(), true);
    let mut groups: Vec<i64> = events.iter().map(|e| e.group_id).collect();
    groups.sort_unstable();
    let n = groups.len();
    groups.dedup();
    assert_eq!(
        groups.len(),
        n,
        "every save (one event each here) has its own group: {events:#?}"
    );
}

/// A portal renders a date-only value as 00:00 UTC of the date shown in its zone, and summer
/// time moves that an hour (`CRestUtil::ConvertDate`). The replica keeps the date itself, and a
/// new rendering of the same date — or a value kept by an older replica — is no change.
#[test]
fn date_fields_are_kept_as_dates_and_another_rendering_of_the_same_date_is_no_change() {
    let mut s = store_with_reference();
    s.replace_field_meta(
        EntityType::Deal,
        &[
            meta("title", "Название", FieldType::String),
            meta("closedate", "Дата завершения", FieldType::Date),
            meta("UF_CRM_VISIT", "Визит", FieldType::Date),
        ],
    )
    .expect("meta");
    let k = key(EntityType::Deal, 1);
    // New York in winter: the 13th is the 12th at 19:00.
    let d = with(
        with(
            deal(1, "Станки", "NEW", 2, T0),
            "closedate",
            json!("2026-03-12T19:00:00-05:00"),
        ),
        "UF_CRM_VISIT",
        json!("2026-07-09T19:00:00-04:00"),
    );
    s.apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("pull");
    let fields = s.get_record(k).expect("read").expect("record").fields;
    assert_eq!(fields["closedate"], "2026-03-13");
    assert_eq!(fields["UF_CRM_VISIT"], "2026-07-10");
    // Read again in summer: the same dates rendered an hour later; then a real change.
    let again = with(
        with(
            with(
                deal(1, "Станки", "NEW", 2, T1),
                "closedate",
                json!("2026-03-12T20:00:00-04:00"),
            ),
            "UF_CRM_VISIT",
            json!("2026-07-09T20:00:00-04:00"),
        ),
        "updatedTime",
        json!(T1),
    );
    s.apply_pulled(EntityType::Deal, &[again], &checkpoint(2))
        .expect("pull");
    let moved = with(
        with(
            with(
                deal(1, "Станки", "NEW", 2, T2),
                "closedate",
                json!("2026-03-13T20:00:00-04:00"),
            ),
            "UF_CRM_VISIT",
            json!("2026-07-09T20:00:00-04:00"),
        ),
        "updatedTime",
        json!(T2),
    );
    s.apply_pulled(EntityType::Deal, &[moved], &checkpoint(3))
        .expect("pull");
    let changes: Vec<(String, String, String)> = of_record(&s, k)
        .into_iter()
        .filter(|e| e.event == HistoryEventCode::FieldChanged)
        .map(|e| {
            (
                e.field.unwrap_or_default(),
                e.old_display.unwrap_or_default(),
                e.new_display.unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        vec![(
            "closedate".to_string(),
            "13.03.2026".to_string(),
            "14.03.2026".to_string()
        )],
        "only the real change is history"
    );
}

#[test]
fn a_date_kept_as_the_portal_sent_it_by_an_older_replica_becomes_a_date_without_a_history_event() {
    let mut s = store_with_reference(); // no date metadata yet: the value is kept as sent
    let k = key(EntityType::Deal, 1);
    let d = with(
        deal(1, "Станки", "NEW", 2, T0),
        "closedate",
        json!("2026-03-13T03:00:00+03:00"),
    );
    s.apply_pulled(EntityType::Deal, &[d], &checkpoint(1))
        .expect("pull");
    assert_eq!(
        s.get_record(k).expect("read").expect("record").fields["closedate"],
        "2026-03-13T03:00:00+03:00"
    );
    s.replace_field_meta(
        EntityType::Deal,
        &[meta("closedate", "Дата завершения", FieldType::Date)],
    )
    .expect("meta");
    let again = with(
        with(
            deal(1, "Станки", "NEW", 2, T1),
            "closedate",
            json!("2026-03-13T03:00:00+03:00"),
        ),
        "updatedTime",
        json!(T1),
    );
    s.apply_pulled(EntityType::Deal, &[again], &checkpoint(2))
        .expect("pull");
    assert_eq!(
        s.get_record(k).expect("read").expect("record").fields["closedate"],
        "2026-03-13"
    );
    assert!(
        of_record(&s, k)
            .iter()
            .all(|e| e.event != HistoryEventCode::FieldChanged),
        "the same date in another form is no change"
    );
}
