//! Schema upgrades on real files: a database made by an older version, with data in it, opens in
//! this version with its data intact; a database from a newer version is refused and untouched.

mod common;

use common::{deal, key, open};
use kartoteka_domain::EntityType;
use kartoteka_store::migrations::{STEPS, SUPPORTED_VERSION, V1_SQL};
use kartoteka_store::{LocalEdit, Page, RecordFilter, Store, StoreError};
use rusqlite::Connection;
use serde_json::json;

/// A version-1 database as the first release left it: one deal linked to a contact, searchable,
/// with a checkpoint and counters — written with the v1 SQL only.
fn make_v1_database(path: &std::path::Path) {
    let conn = Connection::open(path).expect("create v1 file");
    conn.execute_batch(V1_SQL).expect("v1 schema");
    make_v1_rows(&conn);
    conn.execute_batch("PRAGMA user_version = 1;")
        .expect("v1 version");
}

/// The first release's rows (valid in every later schema too).
fn make_v1_rows(conn: &Connection) {
    conn.execute_batch(
        r#"
        INSERT INTO records (rid, entity_type, id, state, title, title_sort, stage_id, category_id,
            assigned_by_id, opportunity, opportunity_minor, currency_id, created_time, updated_time,
            server_hash, search_hash)
        VALUES (2 * 281474976710656 + 7, 2, 7, 0, 'Поставка станков', 'поставка станков', 'NEW', 0,
            3, '1500.50', 150050, 'RUB', 1700000000, 1700003600, 11, 12);
        INSERT INTO record_fields (rid, fields, multi_fields)
        VALUES (2 * 281474976710656 + 7,
            '{"id":7,"title":"Поставка станков","stageId":"NEW","contactIds":[5],"UF_CRM_X":"a"}', '[]');
        INSERT INTO records_search (rowid, body) VALUES (2 * 281474976710656 + 7, 'Поставка станков');
        INSERT INTO links (from_rid, to_rid, is_primary, sort)
        VALUES (2 * 281474976710656 + 7, 3 * 281474976710656 + 5, 1, 10);
        INSERT INTO record_counts (entity_type, state, n) VALUES (2, 0, 1);
        INSERT INTO sync_state (entity_type, last_id, initial_done, updated_since_time, updated_since_id)
        VALUES (2, 7, 1, 1700003600, 7);
        "#,
    )
    .expect("v1 data");
}

#[test]
fn database_made_by_v1_with_data_upgrades_and_keeps_its_records() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    make_v1_database(&path);

    let mut store = Store::open(&path).expect("v1 database opens in the current version");
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);

    let deal_key = key(EntityType::Deal, 7);
    let card = store
        .get_record(deal_key)
        .expect("read")
        .expect("the v1 deal survived the upgrade");
    assert_eq!(card.title, "Поставка станков");
    assert_eq!(card.fields["UF_CRM_X"], json!("a"), "custom fields survive");
    assert_eq!(card.links.len(), 1, "links survive");

    let mut filter = RecordFilter::new(EntityType::Deal);
    filter.search = Some("СТАН".into());
    let page = store.list_records(
        &filter,
        &Page {
            sort: Default::default(),
            after: None,
            limit: 10,
        },
    );
    let page = page.expect("list");
    assert_eq!(page.rows.len(), 1, "search index survives");
    assert_eq!(page.total, Some(1));

    let cp = store.sync_checkpoint(EntityType::Deal).expect("checkpoint");
    assert_eq!(
        (cp.last_id, cp.initial_done, cp.updated_since_time),
        (7, true, Some(1_700_003_600))
    );

    // The v2 addition works on the upgraded file: an offline edit lands in the outbox.
    store
        .apply_local_edit(
            deal_key,
            &[LocalEdit {
                field: "title".into(),
                value: json!("Новое"),
            }],
            1,
        )
        .expect("outbox exists after upgrade");
    assert!(store.has_pending_edits(deal_key).expect("query"));

    // And the pull keeps working on upgraded rows.
    let stats = store
        .apply_pulled(
            EntityType::Deal,
            &[deal(
                7,
                "Поставка станков",
                "WON",
                3,
                "2024-06-01T10:00:00+03:00",
            )],
            &common::checkpoint(7),
        )
        .expect("pull on upgraded file");
    assert_eq!(stats.updated, 1);

    // The v3 addition works on the upgraded file: the pulled stage move is history, chained.
    let filter = kartoteka_domain::HistoryFilter {
        record: Some(deal_key),
        ..Default::default()
    };
    let q = kartoteka_store::HistoryQuery {
        filter: &filter,
        include_hidden: false,
    };
    let (events, _) = store
        .history_page(&q, None, 50)
        .expect("history after upgrade");
    assert!(
        events
            .iter()
            .any(|e| e.event == kartoteka_domain::HistoryEventCode::StageChanged),
        "the stage move pulled after the upgrade is recorded: {events:?}"
    );
    assert_eq!(store.verify_history().expect("verify").1, None);
}

#[test]
fn every_migration_step_is_kept_in_order() {
    // Append-only: step 1 is still the v1 SQL the upgrade test builds from.
    assert_eq!(STEPS[0].sql, V1_SQL);
    assert_eq!(STEPS.len() as i64, SUPPORTED_VERSION);
}

#[test]
fn database_from_a_newer_version_is_refused_and_left_byte_for_byte_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    {
        let mut store = open(dir.path());
        store
            .apply_pulled(
                EntityType::Deal,
                &[deal(1, "Сделка", "NEW", 1, "2024-06-01T10:00:00+03:00")],
                &common::checkpoint(1),
            )
            .expect("pull");
    }
    let newer = SUPPORTED_VERSION + 5;
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", newer)
            .expect("bump version");
    }
    let before = std::fs::read(&path).expect("read file");

    match Store::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!((found, supported), (newer, SUPPORTED_VERSION));
            let message = StoreError::TooNew { found, supported }.to_string();
            assert!(
                message.contains(&newer.to_string()) && message.contains("newer"),
                "{message}"
            );
        }
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("a newer database must be refused"),
    }

    let after = std::fs::read(&path).expect("read file again");
    assert!(before == after, "the refused database file must not change");
    let conn = Connection::open(&path).expect("raw open");
    let rows: i64 = conn
        .query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 1, "nothing was wiped");
}

#[test]
fn reopening_a_current_database_keeps_data_and_version() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let mut store = open(dir.path());
        store
            .apply_pulled(
                EntityType::Deal,
                &[deal(3, "Сделка", "NEW", 1, "2024-06-01T10:00:00+03:00")],
                &common::checkpoint(3),
            )
            .expect("pull");
    }
    let store = open(dir.path());
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);
    assert!(store
        .get_record(key(EntityType::Deal, 3))
        .expect("read")
        .is_some());
    assert_eq!(
        store.sync_checkpoint(EntityType::Deal).expect("cp").last_id,
        3
    );
}

/// A version-3 database (history, no offline edits yet) with a record and an unsent edit in
/// the v2 outbox: after the upgrade the edit is still queued (as an update made offline) and
/// new edits and creates work.
#[test]
fn database_made_by_v3_with_an_unsent_edit_upgrades_and_keeps_it_queued() {
    use kartoteka_domain::edit::OutboxListRequest;
    use kartoteka_domain::{OutboxOp, OutboxState, RecordEdit};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    {
        let conn = Connection::open(&path).expect("create v3 file");
        for step in &STEPS[..3] {
            conn.execute_batch(step.sql).expect("v1..v3 schema");
        }
        make_v1_rows(&conn);
        conn.execute_batch(
            r#"
            INSERT INTO outbox (entity_type, record_id, field, base_value, new_value, created_at, state)
            VALUES (2, 7, 'title', '"Поставка станков"', '"Поставка прессов"', 1700000100, 'pending');
            PRAGMA user_version = 3;
            "#,
        )
        .expect("v3 data");
    }
    let mut store = Store::open(&path).expect("v3 database opens");
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox after upgrade");
    assert_eq!(list.open, 1, "the unsent edit survived the upgrade");
    let e = &list.entries[0];
    assert_eq!(
        (e.op, e.state, e.field.as_str()),
        (OutboxOp::Update, OutboxState::Pending, "title")
    );
    assert_eq!(
        e.happened_ms, 1_700_000_100_000,
        "its time comes from the old column"
    );
    assert_eq!(store.upload_queue(10).expect("queue").len(), 1);

    let actor = kartoteka_store::LocalActor {
        user_id: Some(1),
        name: "Анна".into(),
        device_id: "dev".into(),
        online: false,
    };
    let mut edit = RecordEdit::default();
    edit.fields
        .insert("comments".into(), json!("после обновления"));
    store
        .edit_record(&actor, key(EntityType::Deal, 7), &edit, 1)
        .expect("edit on the upgraded file");
    let mut create = RecordEdit::default();
    create.fields.insert("title".into(), json!("Новая"));
    let saved = store
        .create_record(&actor, EntityType::Deal, &create, 2)
        .expect("create on the upgraded file");
    assert!(saved.key.is_local());
    assert_eq!(store.verify_history().expect("verify").1, None);
}

/// A version-3 database with a company, its contact (domestic phone) and the responsible user,
/// searchable by the v1 word index only.
fn make_v3_database(path: &std::path::Path) {
    let conn = Connection::open(path).expect("create v3 file");
    for step in &STEPS[..3] {
        conn.execute_batch(step.sql).expect("v1..v3 schema");
    }
    conn.execute_batch(
        r#"
        INSERT INTO users (id, name, last_name, active, kind) VALUES (3, 'Пётр', 'Сидоров', 1, 'person');
        INSERT INTO records (rid, entity_type, id, state, title, title_sort, company_id, assigned_by_id,
            opportunity, opportunity_minor, phone, created_time, updated_time, server_hash, search_hash)
        VALUES (4 * 281474976710656 + 2, 4, 2, 0, 'ООО «Вектор»', 'ооо «вектор»', NULL, 3,
                NULL, 0, NULL, 1700000000, 1700000000, 1, 1),
               (3 * 281474976710656 + 5, 3, 5, 0, 'Анна Герасимова', 'анна герасимова', 2, 3,
                NULL, 0, '8 903 218-08-88', 1700000100, 1700000100, 2, 2);
        INSERT INTO record_fields (rid, fields, multi_fields) VALUES
            (4 * 281474976710656 + 2, '{"id":2,"title":"ООО «Вектор»","assignedById":3}', '[]'),
            (3 * 281474976710656 + 5,
             '{"id":5,"name":"Анна","lastName":"Герасимова","companyId":2,"companyIds":[2],"assignedById":3}',
             '[{"id":51,"kind":"PHONE","valueType":"WORK","value":"8 903 218-08-88"}]');
        INSERT INTO records_search (rowid, body) VALUES
            (4 * 281474976710656 + 2, 'ООО «Вектор»'),
            (3 * 281474976710656 + 5, 'Анна Герасимова 8 903 218-08-88 89032180888');
        INSERT INTO links (from_rid, to_rid, is_primary, sort)
        VALUES (3 * 281474976710656 + 5, 4 * 281474976710656 + 2, 1, 10);
        INSERT INTO record_counts (entity_type, state, n) VALUES (3, 0, 1), (4, 0, 1);
        PRAGMA user_version = 3;
        "#,
    )
    .expect("v3 data");
}

#[test]
fn database_made_by_v3_upgrades_to_the_trigram_search_and_finds_what_a_row_shows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    make_v3_database(&path);
    let store = Store::open(&path).expect("v3 database opens in the current version");
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);
    let found = |q: &str| {
        let mut f = RecordFilter::new(EntityType::Contact);
        f.search = Some(q.into());
        let page = store
            .list_records(
                &f,
                &Page {
                    sort: Default::default(),
                    after: None,
                    limit: 10,
                },
            )
            .expect("list");
        assert_eq!(page.total, Some(page.rows.len() as u64), "{q}: exact total");
        page.rows.into_iter().map(|r| r.id).collect::<Vec<_>>()
    };
    assert_eq!(
        found("расимова"),
        vec![5],
        "substring inside a word, rebuilt index"
    );
    assert_eq!(
        found("+7 903 218-08-88"),
        vec![5],
        "phone in international form"
    );
    assert_eq!(
        found("вектор"),
        vec![5],
        "the company's name shown in the row"
    );
    assert_eq!(
        found("сидоров"),
        vec![5],
        "the responsible's name shown in the row"
    );
    assert!(found("петров").is_empty());
    let conn = Connection::open(&path).expect("raw open");
    let indexes: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' \
             AND name IN ('records_by_amount', 'records_by_created')",
            [],
            |r| r.get(0),
        )
        .expect("indexes");
    assert_eq!(indexes, 2, "the sort indexes exist after the upgrade");
}

/// A version-4 database (offline edits, before the trigram search) with the v1 rows.
fn make_v4_database(path: &std::path::Path, extra_sql: &str) {
    let conn = Connection::open(path).expect("create v4 file");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("WAL, as the app leaves its files");
    for step in &STEPS[..4] {
        conn.execute_batch(step.sql).expect("v1..v4 schema");
    }
    make_v1_rows(&conn);
    conn.execute_batch(extra_sql).expect("extra v4 rows");
    conn.execute_batch("PRAGMA user_version = 4;")
        .expect("v4 version");
}

#[test]
fn an_upgrade_keeps_a_copy_of_the_file_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    make_v4_database(&path, "");
    let copy = kartoteka_store::upgrade_copy_path(&path, 4);
    assert_eq!(copy, dir.path().join("replica.db.v4.bak"));

    let store = Store::open(&path).expect("v4 opens");
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);
    drop(store);
    let kept = Connection::open(&copy).expect("the copy is a database");
    let (version, title): (i64, String) = kept
        .query_row(
            "SELECT (SELECT user_version FROM pragma_user_version), title FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the copy's rows");
    assert_eq!((version, title.as_str()), (4, "Поставка станков"));
    drop(kept);

    // Opened again by the same process (the app's export does so): the copy stays until the
    // next start, which the CLI's tests check with a second process.
    drop(Store::open(&path).expect("reopens"));
    assert!(copy.exists(), "kept while this process runs");
}

#[test]
fn a_failed_upgrade_changes_nothing_and_names_the_step_and_the_copy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    // Version 5 creates an index of this name: its SQL fails half-way through the step, after
    // it dropped and made the search table again.
    make_v4_database(
        &path,
        "CREATE INDEX records_by_amount ON records (entity_type, title_sort);",
    );
    {
        // As the app leaves it: everything in the main file.
        let conn = Connection::open(&path).expect("raw open");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    let before = std::fs::read(&path).expect("read file");

    let err = match Store::open(&path) {
        Err(e) => e,
        Ok(_) => panic!("the clash must stop the upgrade"),
    };
    let copy = kartoteka_store::upgrade_copy_path(&path, 4);
    match &err {
        StoreError::UpgradeFailed {
            from,
            to,
            step,
            reason,
            copy: Some(named),
        } => {
            assert_eq!((*from, *to, *step), (4, SUPPORTED_VERSION, Some(5)));
            assert!(reason.contains("records_by_amount"), "{reason}");
            assert_eq!(named, &copy);
        }
        other => panic!("expected UpgradeFailed with a copy, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("step 5")
            && message.contains("not changed")
            && message.contains(&copy.display().to_string()),
        "{message}"
    );

    let after = std::fs::read(&path).expect("read file again");
    assert!(
        before == after,
        "the user's file is byte for byte as it was"
    );
    let conn = Connection::open(&copy).expect("the copy opens");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 4);
    let conn = Connection::open(&path).expect("the file opens");
    let body: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'records_search'",
            [],
            |r| r.get(0),
        )
        .expect("search table");
    assert!(
        !body.contains("trigram"),
        "nothing of step 5 stayed: {body}"
    );
}

#[test]
fn an_upgrade_whose_copy_cannot_be_made_is_not_tried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("replica.db");
    make_v4_database(&path, "");
    {
        let conn = Connection::open(&path).expect("raw open");
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .expect("checkpoint");
    }
    // Something that is not a file stands where the copy goes: it can be neither replaced nor
    // written.
    let copy = kartoteka_store::upgrade_copy_path(&path, 4);
    std::fs::create_dir(&copy).expect("a folder in the copy's place");
    std::fs::write(copy.join("keep"), b"x").expect("not empty");
    let before = std::fs::read(&path).expect("read file");

    let err = match Store::open(&path) {
        Err(e) => e,
        Ok(_) => panic!("no upgrade without its copy"),
    };
    match &err {
        StoreError::UpgradeFailed {
            from: 4,
            step: None,
            copy: None,
            ..
        } => {}
        other => panic!("expected UpgradeFailed without a step, got {other:?}"),
    }
    assert!(
        err.to_string().contains("no copy of it could be made"),
        "{err}"
    );
    assert!(
        std::fs::read(&path).expect("read again") == before,
        "untouched"
    );
    let conn = Connection::open(&path).expect("raw open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, 4);
}

/// Version 6: a deal an older version kept with its primary contact second and its close date as
/// the portal rendered it west of UTC comes out with the primary first (in the record and its
/// links) and the date as the day itself, without a history event.
#[test]
fn database_made_by_v5_keeps_records_in_the_form_pulls_now_give() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("v5.db");
    {
        let conn = Connection::open(&path).expect("create v5 file");
        for step in &STEPS[..5] {
            conn.execute_batch(step.sql).expect("v1..v5 schema");
        }
        conn.execute_batch(
            r#"
            INSERT INTO field_meta (entity_type, name, position, field_type, label, is_required,
                is_read_only, is_immutable, is_multiple, is_custom, options)
            VALUES (2, 'closedate', 1, 'date', 'Дата завершения', 0, 0, 0, 0, 0, '[]');
            INSERT INTO records (rid, entity_type, id, state, title, title_sort, created_time, updated_time, server_hash, search_hash)
            VALUES (2 * 281474976710656 + 7, 2, 7, 0, 'Сделка', 'сделка', 1700000000, 1700000000, 1, 1);
            INSERT INTO record_fields (rid, fields, multi_fields) VALUES
                (2 * 281474976710656 + 7,
                 '{"id":7,"title":"Сделка","contactIds":[4,9],"contactId":9,"closedate":"2026-03-12T19:00:00-05:00"}', '[]');
            INSERT INTO links (from_rid, to_rid, is_primary, sort) VALUES
                (2 * 281474976710656 + 7, 3 * 281474976710656 + 4, 0, 10),
                (2 * 281474976710656 + 7, 3 * 281474976710656 + 9, 1, 20);
            INSERT INTO record_counts (entity_type, state, n) VALUES (2, 0, 1);
            PRAGMA user_version = 5;
            "#,
        )
        .expect("v5 data");
    }
    let store = Store::open(&path).expect("upgrades");
    let d = store
        .get_record(key(EntityType::Deal, 7))
        .expect("read")
        .expect("deal");
    assert_eq!(d.fields["contactIds"], json!([9, 4]));
    assert_eq!(d.fields["closedate"], "2026-03-13");
    let primary: Vec<(i64, bool)> = d.links.iter().map(|l| (l.key.id, l.is_primary)).collect();
    assert_eq!(primary.first(), Some(&(9, true)), "{primary:?}");
}

/// Version 7: a v6 outbox's creates keep what they told about their sends. One left "sending",
/// and one put back in the queue from "sending" (attempts, no error), may have landed unseen;
/// a refused one (the portal's words kept) and one never sent may not. A later-version state
/// (`uncertain`) counts as unsent.
#[test]
fn database_made_by_v6_knows_which_creates_may_have_reached_the_portal() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("v6.db");
    {
        let conn = Connection::open(&path).expect("create v6 file");
        for step in &STEPS[..4] {
            conn.execute_batch(step.sql).expect("v1..v4 schema");
        }
        conn.execute_batch(STEPS[4].sql).expect("v5 schema");
        conn.execute_batch(
            r#"
            INSERT INTO outbox (id, entity_type, record_id, field, new_value, created_at, state, op,
                attempts, last_error, origin_id) VALUES
                (1, 4, 140737488355329, '*', '{"fields":{"title":"Sent"}}', 1, 'sending', 'create', 1, NULL, 'd-1'),
                (2, 4, 140737488355330, '*', '{"fields":{"title":"Retried"}}', 1, 'pending', 'create', 1, NULL, 'd-2'),
                (3, 4, 140737488355331, '*', '{"fields":{"title":"Refused"}}', 1, 'rejected', 'create', 1, 'Портал отклонил изменение', 'd-3'),
                (4, 4, 140737488355332, '*', '{"fields":{"title":"Fresh"}}', 1, 'pending', 'create', 0, NULL, 'd-4'),
                (5, 2, 7, 'title', '"x"', 1, 'sending', 'update', 1, NULL, NULL);
            PRAGMA user_version = 6;
            "#,
        )
        .expect("v6 data");
    }
    let mut store = Store::open(&path).expect("upgrades");
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);
    let landed: Vec<(i64, bool)> = store
        .upload_queue(10)
        .expect("queue")
        .into_iter()
        .flat_map(|r| r.entries)
        .map(|e| (e.id, e.may_have_landed()))
        .collect();
    assert_eq!(landed, vec![(1, true), (2, true), (4, false), (5, true)]);
    assert_eq!(store.retry_outbox(Some(3)).expect("retry"), 1);
    let refused = store
        .upload_queue(10)
        .expect("queue")
        .into_iter()
        .flat_map(|r| r.entries)
        .find(|e| e.id == 3)
        .expect("queued again");
    assert!(
        !refused.may_have_landed(),
        "the portal said no: nothing was made"
    );

    let conn = Connection::open(&path).expect("raw");
    let index: String = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE name = 'outbox_unsent'",
            [],
            |r| r.get(0),
        )
        .expect("index");
    assert!(index.contains("'uncertain'"), "{index}");
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT field FROM outbox WHERE entity_type = 4 AND record_id = 1 \
             AND state IN ('pending', 'sending', 'conflict', 'blocked', 'rejected', 'gone', 'uncertain')",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(
        plan.contains("outbox_unsent"),
        "the unsent-fields query keeps its index: {plan}"
    );
}

/// Version 7: a replica of an older CLI had the shared device id `unknown-device`, and its creates'
/// tags (`originId`) were made from it, as another such replica's were. Creates never sent take
/// the replica's new id in their tag (nothing on the portal carries the old one); one that went
/// out, or was retried, keeps the tag it may be found by.
#[test]
fn database_made_by_v6_with_the_shared_device_id_retags_creates_never_sent() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("v6.db");
    {
        let conn = Connection::open(&path).expect("create v6 file");
        for step in &STEPS[..5] {
            conn.execute_batch(step.sql).expect("v1..v5 schema");
        }
        conn.execute_batch(
            r#"
            INSERT INTO replica_meta (key, value) VALUES ('device_id', 'unknown-device');
            INSERT INTO outbox (id, entity_type, record_id, field, new_value, created_at, state, op,
                attempts, last_error, origin_id) VALUES
                (1, 4, 140737488355329, '*', '{"fields":{"title":"Sent"}}', 1, 'sending', 'create', 1, NULL, 'unknown-device-140737488355329'),
                (2, 4, 140737488355330, '*', '{"fields":{"title":"Retried"}}', 1, 'pending', 'create', 1, NULL, 'unknown-device-140737488355330'),
                (3, 4, 140737488355331, '*', '{"fields":{"title":"Fresh"}}', 1, 'pending', 'create', 0, NULL, 'unknown-device-140737488355331'),
                (4, 4, 140737488355332, '*', '{"fields":{"title":"Held"}}', 1, 'rejected', 'create', 0, 'Не отправлено', 'unknown-device-140737488355332'),
                (5, 4, 140737488355333, '*', '{"fields":{"title":"Other"}}', 1, 'pending', 'create', 0, NULL, 'unknown-devices-140737488355333');
            PRAGMA user_version = 6;
            "#,
        )
        .expect("v6 data");
    }
    let store = Store::open(&path).expect("upgrades");
    let device = store.device_id().expect("device id");
    assert_ne!(device, "unknown-device");
    drop(store);
    let conn = Connection::open(&path).expect("raw");
    let tags: Vec<(i64, String)> = conn
        .prepare("SELECT id, origin_id FROM outbox ORDER BY id")
        .expect("select")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("tags");
    assert_eq!(
        tags,
        vec![
            (1, "unknown-device-140737488355329".to_string()),
            (2, "unknown-device-140737488355330".to_string()),
            (3, format!("{device}-140737488355331")),
            (4, format!("{device}-140737488355332")),
            (5, "unknown-devices-140737488355333".to_string()),
        ]
    );
}
