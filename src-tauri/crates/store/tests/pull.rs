//! Applying pulled batches: idempotence, atomic checkpoints, unsent edits, deletions, lost access.

mod common;

use common::{checkpoint, contact, deal, key, open};
use kartoteka_domain::{EntityType, MultiField, MultiFieldKind};
use kartoteka_store::{FieldChange, LocalEdit, Page, RecordFilter, StoreError};
use rusqlite::Connection;
use serde_json::json;

const T1: &str = "2024-06-01T10:00:00+03:00";
const T2: &str = "2024-06-02T10:00:00+03:00";

fn link_rows(dir: &std::path::Path) -> i64 {
    let conn = Connection::open(dir.join("replica.db")).expect("raw open");
    conn.query_row("SELECT COUNT(*) FROM links", [], |r| r.get(0))
        .expect("count links")
}

fn page(limit: u32) -> Page {
    Page {
        sort: Default::default(),
        after: None,
        limit,
    }
}

#[test]
fn applying_the_same_batch_twice_reports_unchanged_and_duplicates_no_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    let mut deals = Vec::new();
    for id in 1..=20 {
        let mut d = deal(id, &format!("Сделка {id}"), "NEW", 1, T1);
        d.fields
            .insert("contactIds".into(), json!([100 + id, 200 + id]));
        d.fields.insert("companyId".into(), json!(300 + id));
        deals.push(d);
    }
    let first = store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(20))
        .expect("first");
    assert_eq!((first.inserted, first.updated, first.unchanged), (20, 0, 0));
    assert!(first.changes.is_empty(), "new records carry no diff");
    let links_after_first = link_rows(dir.path());
    assert_eq!(links_after_first, 60, "two contacts and a company per deal");

    let second = store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(20))
        .expect("second");
    assert_eq!(
        (second.inserted, second.updated, second.unchanged),
        (0, 0, 20)
    );
    assert!(second.changes.is_empty());
    assert_eq!(
        link_rows(dir.path()),
        links_after_first,
        "no duplicate links"
    );
    let counts = store.counts().expect("counts");
    assert_eq!(
        counts[1].active, 20,
        "re-applying does not double the counters"
    );
    let card = store
        .get_record(key(EntityType::Deal, 5))
        .expect("read")
        .expect("deal 5");
    assert_eq!(card.links.len(), 3);
}

#[test]
fn checkpoint_rolls_back_with_the_data_when_the_batch_fails() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(1, "Старое", "NEW", 1, T1)],
            &checkpoint(1),
        )
        .expect("first batch");

    // A batch that writes a new record and changes an existing one, then fails on its last record.
    let failing = [
        deal(2, "Новая", "NEW", 1, T1),
        deal(1, "Изменённое", "WON", 1, T2),
        deal(1 << 48, "Id out of range", "NEW", 1, T1),
    ];
    let err = store
        .apply_pulled(EntityType::Deal, &failing, &checkpoint(99))
        .expect_err("must fail");
    assert!(matches!(err, StoreError::InvalidKey { .. }), "{err}");

    assert_eq!(
        store.sync_checkpoint(EntityType::Deal).expect("cp").last_id,
        1,
        "checkpoint rolled back"
    );
    assert!(
        store
            .get_record(key(EntityType::Deal, 2))
            .expect("read")
            .is_none(),
        "new record rolled back"
    );
    let d1 = store
        .get_record(key(EntityType::Deal, 1))
        .expect("read")
        .expect("deal 1");
    assert_eq!(d1.title, "Старое", "changed record rolled back");
    assert_eq!(
        store.counts().expect("counts")[1].active,
        1,
        "counters rolled back"
    );
    let mut filter = RecordFilter::new(EntityType::Deal);
    filter.search = Some("новая".into());
    assert_eq!(
        store.list_records(&filter, &page(10)).expect("list").total,
        Some(0),
        "search rolled back"
    );
}

#[test]
fn record_of_another_type_in_the_batch_is_rejected() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let err = store
        .apply_pulled(
            EntityType::Deal,
            &[contact(1, "Иван", "Петров", "+7 1", "a@b.ru")],
            &checkpoint(1),
        )
        .expect_err("contact in a deal batch");
    assert!(matches!(err, StoreError::InvalidKey { .. }));
}

#[test]
fn pulled_record_does_not_overwrite_pending_edit_but_the_mirror_gets_the_server_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    let k = key(EntityType::Deal, 1);
    store
        .apply_pulled(
            EntityType::Deal,
            &[deal(1, "Исходное", "NEW", 1, T1)],
            &checkpoint(1),
        )
        .expect("pull");
    store
        .apply_local_edit(
            k,
            &[LocalEdit {
                field: "title".into(),
                value: json!("Моё название"),
            }],
            1_717_000_000,
        )
        .expect("offline edit");
    assert_eq!(
        store.pending_fields(k).expect("pending"),
        vec!["title".to_string()]
    );

    let stats = store
        .apply_pulled(
            EntityType::Deal,
            &[deal(1, "С сервера", "WON", 2, T2)],
            &checkpoint(1),
        )
        .expect("pull over the edit");
    assert_eq!((stats.updated, stats.kept_local), (1, 1));

    let card = store.get_record(k).expect("read").expect("deal");
    assert_eq!(card.title, "Моё название", "the unsent edit stays");
    assert_eq!(card.fields["title"], json!("Моё название"));
    assert_eq!(
        card.fields["stageId"],
        json!("WON"),
        "fields without edits take the server value"
    );
    assert_eq!(card.fields["assignedById"], json!(2));
    assert_eq!(card.pending_fields, vec!["title".to_string()]);

    let server = store.server_version(k).expect("read").expect("mirror");
    assert_eq!(
        server.fields["title"],
        json!("С сервера"),
        "the mirror holds the server's value"
    );

    // The diff for history is server-to-server: the old server title, not the local one.
    let changes = &stats.changes[0].changes;
    let title = changes
        .iter()
        .find(|c| c.field == "title")
        .expect("title change");
    assert_eq!(
        (&title.old, &title.new),
        (&json!("Исходное"), &json!("С сервера"))
    );
    assert_eq!(stats.changes[0].updated_by, Some(2));

    let rows = store
        .list_records(&RecordFilter::new(EntityType::Deal), &page(10))
        .expect("list")
        .rows;
    assert_eq!(rows[0].title, "Моё название");
    assert!(rows[0].has_pending_edits);
    assert_eq!(rows[0].stage_id.as_deref(), Some("WON"));
}

#[test]
fn changed_record_reports_field_level_diff_against_the_previous_server_version() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let mut v1 = contact(4, "Иван", "Петров", "+7 495 111-22-33", "ivan@example.ru");
    v1.fields.insert("UF_CRM_SEGMENT".into(), json!(61));
    store
        .apply_pulled(EntityType::Contact, &[v1.clone()], &checkpoint(4))
        .expect("v1");

    let mut v2 = v1.clone();
    v2.fields.insert("lastName".into(), json!("Петров-Водкин"));
    v2.fields.remove("UF_CRM_SEGMENT");
    v2.multi_fields.push(MultiField {
        id: 99,
        kind: MultiFieldKind::Phone,
        value_type: "MOBILE".into(),
        value: "+7 900 000-00-00".into(),
    });
    let stats = store
        .apply_pulled(EntityType::Contact, &[v2.clone()], &checkpoint(4))
        .expect("v2");
    assert_eq!(stats.updated, 1);
    let changes = &stats.changes[0].changes;
    assert!(changes.contains(&FieldChange {
        field: "lastName".into(),
        old: json!("Петров"),
        new: json!("Петров-Водкин")
    }));
    assert!(changes.contains(&FieldChange {
        field: "UF_CRM_SEGMENT".into(),
        old: json!(61),
        new: json!(null)
    }));
    let fm = changes
        .iter()
        .find(|c| c.field == "fm")
        .expect("multi-field change");
    assert_eq!(fm.old.as_array().map(Vec::len), Some(2));
    assert_eq!(fm.new.as_array().map(Vec::len), Some(3));
    assert_eq!(changes.len(), 3, "only what changed: {changes:?}");
}

#[test]
fn link_fields_become_links_shown_with_titles_in_both_directions() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    store
        .apply_pulled(
            EntityType::Contact,
            &[contact(5, "Иван", "Петров", "+7 1", "i@p.ru")],
            &checkpoint(5),
        )
        .expect("contact");
    let mut d = deal(9, "Сделка с Иваном", "NEW", 1, T1);
    d.fields.insert("contactIds".into(), json!([6, 5]));
    d.fields.insert("contactId".into(), json!(5));
    store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(9))
        .expect("deal");

    let card = store
        .get_record(key(EntityType::Deal, 9))
        .expect("read")
        .expect("deal");
    let ivan = card
        .links
        .iter()
        .find(|l| l.key == key(EntityType::Contact, 5))
        .expect("link to Ivan");
    assert_eq!(ivan.title.as_deref(), Some("Петров Иван"));
    assert!(ivan.is_primary);
    let unknown = card
        .links
        .iter()
        .find(|l| l.key == key(EntityType::Contact, 6))
        .expect("link to 6");
    assert_eq!(
        unknown.title, None,
        "a contact this user cannot read has no title"
    );

    let contact_card = store
        .get_record(key(EntityType::Contact, 5))
        .expect("read")
        .expect("contact");
    assert_eq!(contact_card.links.len(), 1);
    assert_eq!(
        contact_card.links[0].title.as_deref(),
        Some("Сделка с Иваном"),
        "the contact sees its deal"
    );

    let mut linked = RecordFilter::new(EntityType::Deal);
    linked.linked_to = Some(key(EntityType::Contact, 5));
    assert_eq!(
        store.list_records(&linked, &page(10)).expect("list").total,
        Some(1)
    );

    // Unlinking on the portal removes the link locally.
    let mut d2 = deal(9, "Сделка с Иваном", "NEW", 1, T2);
    d2.fields.insert("contactIds".into(), json!([6]));
    store
        .apply_pulled(EntityType::Deal, &[d2], &checkpoint(9))
        .expect("unlink");
    assert!(store
        .get_record(key(EntityType::Contact, 5))
        .expect("read")
        .expect("c")
        .links
        .is_empty());
}

/// The rows and every index of `records` after changed pulls (which set only the indexed
/// columns whose value changed) are those of the same versions pulled into an empty replica.
#[test]
fn changed_records_rows_and_indexes_match_a_fresh_pull_of_the_same_versions() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh_dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    let v1: Vec<_> = (1..=6)
        .map(|id| deal(id, &format!("Сделка {id}"), "NEW", 1, T1))
        .collect();
    store
        .apply_pulled(EntityType::Deal, &v1, &checkpoint(6))
        .expect("v1");
    store
        .mark_deleted(&[key(EntityType::Deal, 6)], 10)
        .expect("delete");
    let mut v2 = v1.clone();
    v2[0].fields.insert("stageId".into(), json!("WON")); // stage only
    v2[1]
        .fields
        .insert("title".into(), json!("Другое название")); // title only
    v2[2].fields.insert("assignedById".into(), json!(7));
    v2[2].fields.insert("updatedTime".into(), json!(T2));
    v2[3].fields.insert("opportunity".into(), json!(5000));
    v2[3].fields.insert("createdTime".into(), json!(T2));
    // v2[4] unchanged, v2[5] unchanged but back from the recycle bin.
    let stats = store
        .apply_pulled(EntityType::Deal, &v2, &checkpoint(6))
        .expect("v2");
    assert_eq!((stats.updated, stats.unchanged, stats.restored), (5, 1, 1));
    drop(store);
    let mut fresh = open(fresh_dir.path());
    fresh
        .apply_pulled(EntityType::Deal, &v2, &checkpoint(6))
        .expect("fresh");
    drop(fresh);

    let rows = |dir: &std::path::Path| -> Vec<String> {
        let conn = Connection::open(dir.join("replica.db")).expect("raw open");
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .expect("integrity check");
        assert_eq!(ok, "ok", "every index agrees with the table");
        let mut out = Vec::new();
        for index in [
            "records_by_updated",
            "records_by_title",
            "records_by_stage",
            "records_by_assignee",
            "records_by_amount",
            "records_by_created",
        ] {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT rid, state, title, title_sort, stage_id, assigned_by_id, \
                     opportunity, opportunity_minor, created_time, updated_time \
                     FROM records INDEXED BY {index} WHERE entity_type = 2"
                ))
                .expect("prepare");
            let mut rows = stmt.query([]).expect("query");
            while let Some(r) = rows.next().expect("row") {
                let cells: Vec<String> = (0..10)
                    .map(|i| format!("{:?}", r.get_ref(i).expect("cell")))
                    .collect();
                out.push(format!("{index}: {}", cells.join(" | ")));
            }
        }
        out
    };
    assert_eq!(rows(dir.path()), rows(fresh_dir.path()));
}

/// A batch's search texts and links are written after its records, in their order: a record
/// that comes twice in one batch ends with its second version's text and links, as if the
/// versions had come in two batches.
#[test]
fn a_record_twice_in_one_batch_keeps_the_later_versions_text_and_links() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    let mut v1 = deal(8, "Альфапроект", "NEW", 1, T1);
    v1.fields.insert("contactIds".into(), json!([101]));
    let mut v2 = deal(8, "Бетапроект", "WON", 1, T2);
    v2.fields.insert("contactIds".into(), json!([102]));
    let stats = store
        .apply_pulled(EntityType::Deal, &[v1, v2], &checkpoint(8))
        .expect("batch");
    assert_eq!((stats.inserted, stats.updated), (1, 1));
    let found = |store: &kartoteka_store::Store, text: &str| {
        let mut filter = RecordFilter::new(EntityType::Deal);
        filter.search = Some(text.into());
        store
            .list_records(&filter, &page(10))
            .expect("search")
            .rows
            .len()
    };
    assert_eq!(found(&store, "Бетапроект"), 1);
    assert_eq!(found(&store, "Альфапроект"), 0, "the first text is gone");
    drop(store);
    let conn = Connection::open(dir.path().join("replica.db")).expect("raw open");
    let targets: Vec<i64> = conn
        .prepare("SELECT to_rid & 0xFFFFFFFFFFFF FROM links ORDER BY to_rid")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("links")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(targets, vec![102], "the second version's links only");
}
