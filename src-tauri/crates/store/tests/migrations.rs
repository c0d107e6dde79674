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
        PRAGMA user_version = 1;
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
    assert_eq!(STEPS[0], V1_SQL);
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
