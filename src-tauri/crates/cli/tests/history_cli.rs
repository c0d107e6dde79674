//! `kartoteka-cli history …` run as a real process over a replica file made here.

use kartoteka_domain::{EntityType, HistoryEventCode, HistorySource, RecordKey};
use kartoteka_store::{NewEvent, Store};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

const T0: i64 = 1_732_000_000_000;

fn key(entity_type: EntityType, id: i64) -> Option<RecordKey> {
    Some(RecordKey { entity_type, id })
}

/// A replica with five events: a deal created, then a save changing its amount and removing a
/// contact, then a contact's phone added; and an unrelated company created.
fn replica(path: &Path) {
    let mut store = Store::open(path).expect("a new replica");
    let mut created = NewEvent::new(
        key(EntityType::Deal, 7),
        HistoryEventCode::Created,
        T0,
        HistorySource::Observed,
    );
    created.record_title = "Поставка".into();
    created.author_id = Some(1);
    created.author_name = "Администратор".into();
    let mut amount = NewEvent::new(
        key(EntityType::Deal, 7),
        HistoryEventCode::FieldChanged,
        T0 + 60_000,
        HistorySource::Observed,
    );
    amount.record_title = "Поставка".into();
    amount.author_id = Some(2);
    amount.author_name = "Иван Петров".into();
    amount.field = Some("opportunity".into());
    amount.field_label = Some("Сумма".into());
    amount.old_value = Some("100".into());
    amount.new_value = Some("200".into());
    amount.received_ms = Some(T0 + 61_000);
    let mut unlinked = amount.clone();
    unlinked.event = HistoryEventCode::LinkRemoved;
    unlinked.field = Some("link.contact".into());
    unlinked.field_label = Some("Контакт".into());
    unlinked.old_value = Some(r#"{"entityType":"contact","id":5}"#.into());
    unlinked.new_value = None;
    unlinked.old_display = Some("Мария Иванова".into());
    let mut phone = NewEvent::new(
        key(EntityType::Contact, 5),
        HistoryEventCode::MultifieldAdded,
        T0 + 120_000,
        HistorySource::Observed,
    );
    phone.field = Some("fm.PHONE".into());
    phone.field_label = Some("Телефон".into());
    phone.new_display = Some("+7 999 123-45-67".into());
    let mut company = NewEvent::new(
        key(EntityType::Company, 3),
        HistoryEventCode::Created,
        T0 - 86_400_000,
        HistorySource::Observed,
    );
    company.record_title = "ООО «Ромашка»".into();
    store
        .append_history(&[
            vec![company],
            vec![created],
            vec![amount, unlinked],
            vec![phone],
        ])
        .expect("events recorded");
}

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kartoteka-cli"))
        .args(args)
        .output()
        .expect("kartoteka-cli runs")
}

fn json_lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn list_json_prints_one_object_per_event_newest_first_with_the_filter_applied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.db");
    replica(&db);
    let db = db.to_str().unwrap();

    let all = json_lines(&cli(&["history", "list", "--db", db, "--json"]));
    let events: Vec<&str> = all.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "multifield_added",
            "link_removed",
            "field_changed",
            "created",
            "created"
        ],
        "newest first"
    );

    let deal = json_lines(&cli(&[
        "history",
        "list",
        "--db",
        db,
        "--json",
        "--type",
        "deal",
        "--id",
        "7",
        "--event",
        "field_changed",
    ]));
    assert_eq!(deal.len(), 1);
    let e = &deal[0];
    for key in [
        "happenedAt",
        "receivedAt",
        "type",
        "id",
        "author",
        "event",
        "field",
        "fieldLabel",
        "old",
        "new",
        "source",
        "syncState",
        "groupId",
    ] {
        assert!(e.get(key).is_some(), "every line carries {key}");
    }
    assert_eq!(e["happenedAt"], "2024-11-19T07:07:40+00:00");
    assert_eq!(e["receivedAt"], "2024-11-19T07:07:41+00:00");
    assert_eq!(e["type"], "deal");
    assert_eq!(e["id"], 7);
    assert_eq!(e["author"], 2);
    assert_eq!(e["field"], "opportunity");
    assert_eq!(e["fieldLabel"], "Сумма");
    assert_eq!(e["old"], "100");
    assert_eq!(e["new"], "200");
    assert_eq!(e["source"], "observed");
    assert_eq!(e["syncState"], "synced");
    assert_eq!(e["description"], "Изменено поле «Сумма»: 100 → 200");
    let link = &all[1];
    assert_eq!(
        link["groupId"], e["groupId"],
        "one save of two changes is one group"
    );

    let since = json_lines(&cli(&[
        "history",
        "list",
        "--db",
        db,
        "--json",
        "--from",
        "2024-11-19T07:07:00Z",
        "--to",
        "2024-11-19T07:08:00Z",
    ]));
    assert_eq!(since.len(), 2, "the save at 07:07:40, both its events");

    let by_text = json_lines(&cli(&[
        "history",
        "list",
        "--db",
        db,
        "--json",
        "--text",
        "Мария",
    ]));
    assert_eq!(by_text.len(), 1);
    assert_eq!(by_text[0]["event"], "link_removed");

    let limited = json_lines(&cli(&[
        "history", "list", "--db", db, "--json", "--limit", "2", "--author", "2",
    ]));
    assert_eq!(limited.len(), 2);

    let text = cli(&["history", "list", "--db", db, "--source", "observed"]);
    assert!(text.status.success());
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("Удалена связь: Контакт Мария Иванова"),
        "{text}"
    );

    let bad = cli(&["history", "list", "--db", db, "--event", "nonsense"]);
    assert!(!bad.status.success(), "an unknown event code is refused");
}

#[test]
fn export_writes_the_file_and_records_an_exported_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.db");
    replica(&db);
    let out = dir.path().join("deal.csv");
    let run = cli(&[
        "history",
        "export",
        "--db",
        db.to_str().unwrap(),
        "--type",
        "deal",
        "--format",
        "csv",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        String::from_utf8_lossy(&run.stderr).contains("3 / 3 rows"),
        "a progress line on stderr"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        text.lines().count(),
        4,
        "a header and the deal's three events"
    );

    let exported = json_lines(&cli(&[
        "history",
        "list",
        "--db",
        db.to_str().unwrap(),
        "--json",
        "--event",
        "exported",
    ]));
    assert_eq!(exported.len(), 1, "an export is itself recorded");
    assert_eq!(exported[0]["note"], "История в .csv: 3");
}

#[test]
fn verify_passes_then_names_the_event_edited_with_plain_sql() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("replica.db");
    replica(&db);
    let ok = cli(&["history", "verify", "--db", db.to_str().unwrap()]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("5 events checked"));

    let seq: i64 = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let seq = conn
            .query_row(
                "SELECT seq FROM history_events WHERE field = 'opportunity'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let changed = conn
            .execute(
                "UPDATE history_events SET new_value = '2000000' WHERE seq = ?1",
                [seq],
            )
            .unwrap();
        assert_eq!(changed, 1);
        seq
    };
    let broken = cli(&["history", "verify", "--db", db.to_str().unwrap()]);
    assert!(
        !broken.status.success(),
        "an edited event must fail verification"
    );
    let said = String::from_utf8_lossy(&broken.stderr);
    assert!(
        said.contains(&format!("seq {seq} (deal 7)")),
        "the first broken link is named: {said}"
    );
}
