//! Deletions (recycle bin), lost access (hidden), restores, id reconciliation and counters.

mod common;

use common::{checkpoint, contact, deal, key, open};
use kartoteka_domain::EntityType;
use kartoteka_store::{LocalEdit, Page, RecordFilter, RecordView};
use rusqlite::Connection;
use serde_json::json;

const T1: &str = "2024-06-01T10:00:00+03:00";
const T2: &str = "2024-06-02T10:00:00+03:00";

fn page(limit: u32) -> Page {
    Page {
        sort: Default::default(),
        after: None,
        limit,
    }
}

#[test]
fn deleted_record_moves_to_the_recycle_bin_and_keeps_its_last_version() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let deals: Vec<_> = (1..=3)
        .map(|id| deal(id, &format!("Сделка {id}"), "NEW", 1, T1))
        .collect();
    store
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(3))
        .expect("pull");
    assert_eq!(
        store
            .mark_deleted(
                &[key(EntityType::Deal, 2), key(EntityType::Deal, 77)],
                1_000
            )
            .expect("delete"),
        1
    );
    assert_eq!(
        store
            .mark_deleted(&[key(EntityType::Deal, 2)], 1_001)
            .expect("again"),
        0,
        "idempotent"
    );

    let active = store
        .list_records(&RecordFilter::new(EntityType::Deal), &page(10))
        .expect("list");
    assert_eq!(
        active.rows.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![3, 1]
    );
    assert_eq!(active.total, Some(2));
    let mut bin = RecordFilter::new(EntityType::Deal);
    bin.view = RecordView::RecycleBin;
    let bin = store.list_records(&bin, &page(10)).expect("bin");
    assert_eq!(bin.rows.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2]);
    assert_eq!(bin.total, Some(1));
    let card = store
        .get_record(key(EntityType::Deal, 2))
        .expect("read")
        .expect("kept");
    assert_eq!(card.title, "Сделка 2", "the last version is kept");
    assert_eq!(store.all_ids(EntityType::Deal).expect("ids"), vec![1, 3]);
    let c = store.counts().expect("counts")[1];
    assert_eq!((c.active, c.deleted, c.hidden), (2, 1, 0));
}

#[test]
fn record_with_lost_access_leaves_lists_search_and_card_and_returns_when_pulled_again() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let k = key(EntityType::Contact, 8);
    let c = contact(
        8,
        "Ольга",
        "Соколова",
        "+7 495 123-45-67",
        "olga@example.ru",
    );
    store
        .apply_pulled(
            EntityType::Contact,
            std::slice::from_ref(&c),
            &checkpoint(8),
        )
        .expect("pull");
    store
        .apply_local_edit(
            k,
            &[LocalEdit {
                field: "post".into(),
                value: json!("CEO"),
            }],
            5,
        )
        .expect("edit");

    assert_eq!(store.mark_hidden(&[k], 2_000).expect("hide"), 1);
    let mut search = RecordFilter::new(EntityType::Contact);
    search.search = Some("ольга".into());
    assert_eq!(
        store
            .list_records(&search, &page(10))
            .expect("search")
            .rows
            .len(),
        0,
        "not searchable"
    );
    assert_eq!(
        store
            .list_records(&RecordFilter::new(EntityType::Contact), &page(10))
            .expect("list")
            .total,
        Some(0)
    );
    assert!(
        store.get_record(k).expect("read").is_none(),
        "no card for a hidden record"
    );
    assert!(
        store.has_pending_edits(k).expect("pending"),
        "its unsent edit is kept (blocked)"
    );
    assert!(store.all_ids(EntityType::Contact).expect("ids").is_empty());
    assert_eq!(store.counts().expect("counts")[2].hidden, 1);

    let stats = store
        .apply_pulled(EntityType::Contact, &[c], &checkpoint(8))
        .expect("seen again");
    assert_eq!((stats.restored, stats.updated), (1, 1));
    assert!(stats.changes[0].restored);
    let found = store
        .list_records(&search, &page(10))
        .expect("search again");
    assert_eq!(found.rows.len(), 1, "searchable again");
    let card = store.get_record(k).expect("read").expect("visible again");
    assert_eq!(
        card.fields["post"],
        json!("CEO"),
        "the unsent edit survived"
    );
    let c = store.counts().expect("counts")[2];
    assert_eq!((c.active, c.hidden), (1, 0));
}

#[test]
fn record_forgotten_after_lost_access_stays_out_of_the_recycle_bin_when_found_deleted() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let k = key(EntityType::Contact, 3);
    store
        .apply_pulled(
            EntityType::Contact,
            &[contact(3, "Анна", "Лебедева", "+7 2", "a@l.ru")],
            &checkpoint(3),
        )
        .expect("pull");
    store.mark_hidden(&[k], 1).expect("hide");
    assert_eq!(store.mark_deleted(&[k], 2).expect("delete"), 0);
    let mut bin = RecordFilter::new(EntityType::Contact);
    bin.view = RecordView::RecycleBin;
    bin.search = Some("лебед".into());
    assert_eq!(
        store.list_records(&bin, &page(10)).expect("bin").total,
        Some(0),
        "product.md §4.4: a record the user lost access to left the device; it cannot be shown"
    );
}

#[test]
fn deleted_record_seen_again_is_restored() {
    let mut store = kartoteka_store::Store::open_in_memory().expect("memory store");
    let d = deal(5, "Возврат", "NEW", 1, T1);
    store
        .apply_pulled(EntityType::Deal, std::slice::from_ref(&d), &checkpoint(5))
        .expect("pull");
    store
        .mark_deleted(&[key(EntityType::Deal, 5)], 10)
        .expect("delete");
    let stats = store
        .apply_pulled(EntityType::Deal, &[d], &checkpoint(5))
        .expect("again");
    assert_eq!(stats.restored, 1);
    assert_eq!(store.all_ids(EntityType::Deal).expect("ids"), vec![5]);
    let c = store.counts().expect("counts")[1];
    assert_eq!((c.active, c.deleted), (1, 0));
}

#[test]
fn counters_match_the_rows_after_inserts_deletions_hiding_and_restores() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = open(dir.path());
    for round in 0..3i64 {
        let deals: Vec<_> = (1..=30)
            .map(|id| deal(id, "Сделка", "NEW", 1, if round % 2 == 0 { T1 } else { T2 }))
            .collect();
        store
            .apply_pulled(EntityType::Deal, &deals, &checkpoint(30))
            .expect("pull");
        let del: Vec<_> = (1..=30)
            .filter(|id| (id + round) % 4 == 0)
            .map(|id| key(EntityType::Deal, id))
            .collect();
        store.mark_deleted(&del, 1).expect("delete");
        let hide: Vec<_> = (1..=30)
            .filter(|id| (id + round) % 5 == 0)
            .map(|id| key(EntityType::Deal, id))
            .collect();
        store.mark_hidden(&hide, 1).expect("hide");
        let conn = Connection::open(dir.path().join("replica.db")).expect("raw");
        for state in 0..3i64 {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM records WHERE entity_type = 2 AND state = ?1",
                    [state],
                    |r| r.get(0),
                )
                .expect("count");
            let c = store.counts().expect("counts")[1];
            let counted = [c.active, c.deleted, c.hidden][state as usize] as i64;
            assert_eq!(counted, n, "round {round}, state {state}");
        }
    }
}
