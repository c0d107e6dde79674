//! `kartoteka-cli records list` run as a real process: the first page and the exact total of a
//! search, exactly as the lists search; and a replica of an older schema upgraded on the way, its
//! copy kept until the next process opens the file.

use kartoteka_store::migrations::STEPS;
use rusqlite::Connection;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kartoteka-cli"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("kartoteka-cli runs")
}

fn ok(out: Output) -> String {
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A schema-4 replica (before the trigram search) with three contacts, as the previous release
/// left it: its search table holds the old word index only.
fn v4_replica(path: &Path) {
    let conn = Connection::open(path).expect("create");
    conn.pragma_update(None, "journal_mode", "WAL")
        .expect("WAL");
    for step in &STEPS[..4] {
        conn.execute_batch(step.sql).expect("v1..v4");
    }
    let mut insert = conn
        .prepare(
            "INSERT INTO records (rid, entity_type, id, title, title_sort, phone, server_hash) \
             VALUES (3 * 281474976710656 + ?1, 3, ?1, ?2, lower(?2), ?3, 1)",
        )
        .expect("insert");
    let mut fields = conn
        .prepare(
            "INSERT INTO record_fields (rid, fields, multi_fields) \
             VALUES (3 * 281474976710656 + ?1, ?2, ?3)",
        )
        .expect("fields");
    for (id, title, phone) in [
        (1, "Анна Герасимова", Some("+7 903 218-08-88")),
        (2, "Пётр Сидоров", None),
        (3, "Мария Серова", None),
    ] {
        insert.execute((id, title, phone)).expect("row");
        let multi = match phone {
            Some(p) => format!(r#"[{{"id":51,"kind":"PHONE","valueType":"WORK","value":"{p}"}}]"#),
            None => "[]".into(),
        };
        fields
            .execute((id, format!(r#"{{"id":{id},"title":"{title}"}}"#), multi))
            .expect("fields row");
    }
    conn.execute_batch(
        "INSERT INTO record_counts (entity_type, state, n) VALUES (3, 0, 3); \
         INSERT INTO records_search (rowid, body) VALUES (3 * 281474976710656 + 1, 'Анна Герасимова'); \
         PRAGMA user_version = 4;",
    )
    .expect("v4 rows");
}

#[test]
fn list_searches_as_the_lists_do_and_an_upgrade_copy_lasts_until_the_next_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("replica.db");
    v4_replica(&db);
    let db_arg = db.to_str().expect("utf-8 path");

    // A part of a word finds its record in the rebuilt index, with the exact total.
    let out = ok(cli(&[
        "records",
        "list",
        "--db",
        db_arg,
        "--type",
        "contact",
        "--search",
        " расимова ",
        "--json",
    ]));
    let page: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(page["total"], 1, "{page}");
    assert_eq!(page["rows"][0]["id"], 1);
    assert_eq!(page["rows"][0]["title"], "Анна Герасимова");
    let copy = dir.path().join("replica.db.v4.bak");
    assert!(copy.exists(), "the upgrade kept a copy beside the file");

    // The phone in its domestic form, by a second process: the text output ends with the total.
    let out = ok(cli(&[
        "records",
        "list",
        "--db",
        db_arg,
        "--type",
        "contact",
        "--search",
        "89032180888",
    ]));
    assert!(out.contains("Анна Герасимова"), "{out}");
    assert!(out.trim_end().ends_with("total: 1"), "{out}");
    assert!(
        !copy.exists(),
        "the next start that opened the file removed the copy"
    );

    // Two letters find a word's start: «Серова», not «Герасимова» (which holds "се" nowhere).
    let out = ok(cli(&[
        "records", "list", "--db", db_arg, "--type", "contact", "--search", "се", "--json",
    ]));
    let page: Value = serde_json::from_str(&out).expect("JSON");
    let ids: Vec<i64> = page["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!((page["total"].as_u64(), ids), (Some(1), vec![3]));

    // No search: the whole list and its total; the limit cuts the page, not the total.
    let out = ok(cli(&[
        "records", "list", "--db", db_arg, "--type", "contact", "--limit", "2", "--json",
    ]));
    let page: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(page["total"], 3);
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(2));
}

#[test]
fn list_of_a_missing_file_fails_in_words() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("none.db");
    let out = cli(&[
        "records",
        "list",
        "--db",
        missing.to_str().expect("path"),
        "--type",
        "deal",
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no replica at"), "{stderr}");
    assert!(!missing.exists(), "nothing was created");
}
