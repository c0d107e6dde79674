//! Screens read through their own read-only connections: a list answers, with the last committed
//! state, while a write transaction (a pull's batch) is open on the writer's file.

mod common;

use common::{checkpoint, deal};
use kartoteka_domain::EntityType;
use kartoteka_store::{Page, ReadPool, RecordFilter, Store};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn a_list_read_completes_while_a_write_transaction_is_held_open() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replica.db");
    let mut writer = Store::open(&path).expect("writer");
    let deals: Vec<_> = (1..=60)
        .map(|id| {
            deal(
                id,
                &format!("Deal {id}"),
                "NEW",
                1,
                "2024-05-01T12:00:00+03:00",
            )
        })
        .collect();
    writer
        .apply_pulled(EntityType::Deal, &deals, &checkpoint(60))
        .expect("first batch");
    let pool = ReadPool::open(&path, 2).expect("readers");

    // A second batch is being written: its transaction is open and holds the write lock.
    let (release, released) = mpsc::channel::<()>();
    let (holding, held) = mpsc::channel::<()>();
    let db = path.clone();
    let holder = std::thread::spawn(move || {
        let raw = rusqlite::Connection::open(&db).expect("raw connection");
        raw.execute_batch("BEGIN IMMEDIATE; UPDATE records SET title = 'uncommitted';")
            .expect("write transaction");
        holding.send(()).expect("tell the test");
        let _ = released.recv_timeout(Duration::from_secs(60));
        raw.execute_batch("ROLLBACK").expect("rollback");
    });
    held.recv().expect("the transaction is open");

    let (answer, answered) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let page = Page {
            sort: Default::default(),
            after: None,
            limit: 50,
        };
        let read =
            pool.read(|store| store.list_records(&RecordFilter::new(EntityType::Deal), &page));
        let _ = answer.send(read.map(|p| {
            let uncommitted = p.rows.iter().filter(|r| r.title == "uncommitted").count();
            (p.rows.len(), p.total, uncommitted)
        }));
    });
    // Not a timing claim: the bound only tells "waits for the writer" from "answers".
    let got = answered.recv_timeout(Duration::from_secs(20));
    let _ = release.send(());
    holder.join().expect("holder");
    reader.join().expect("reader");
    let (rows, total, uncommitted) = got
        .expect("a list read must not wait for a write transaction on another connection")
        .expect("the list reads");
    assert_eq!(
        (rows, total, uncommitted),
        (50, Some(60), 0),
        "the reader sees the last committed state, not the uncommitted deletes"
    );
}
