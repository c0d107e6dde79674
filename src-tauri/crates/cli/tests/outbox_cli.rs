//! `kartoteka-cli outbox` run as a real process on a create that may or may not be on the
//! portal: `list` says what is known and how to answer; `send-again` and `arrived` settle it.

use kartoteka_domain::{EntityType, OutboxOp, RecordEdit, User, UserKind};
use kartoteka_store::{LocalActor, Store};
use serde_json::{json, Value};
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

/// A replica with two companies created for Ирина by user 6, each sent without an answer and
/// not found by its tag: their create entries' ids.
fn two_uncertain_creates(path: &Path) -> (i64, i64) {
    let mut store = Store::open(path).expect("replica");
    store
        .replace_users(&[User {
            id: 2,
            name: "Ирина".into(),
            last_name: "Волкова".into(),
            active: true,
            kind: UserKind::Person,
        }])
        .expect("users");
    let actor = LocalActor {
        user_id: Some(6),
        name: "Павел Соколов".into(),
        device_id: "dev-6".into(),
        online: false,
    };
    let mut ids = Vec::new();
    for title in ["ООО Спорная", "ООО Дошедшая"] {
        let edit = RecordEdit {
            fields: json!({"title": title, "assignedById": 2})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            multi_fields: vec![],
        };
        let key = store
            .create_record(&actor, EntityType::Company, &edit, 1_000)
            .expect("create")
            .key;
        let id = store
            .upload_queue(10)
            .expect("queue")
            .into_iter()
            .find(|r| r.key == key)
            .and_then(|r| r.entries.into_iter().find(|e| e.op == OutboxOp::Create))
            .expect("queued")
            .id;
        store
            .mark_creates_sending(&[id], 1_772_431_500_000)
            .expect("sent");
        store.creates_uncertain(&[id]).expect("uncertain");
        ids.push(id);
    }
    (ids[0], ids[1])
}

#[test]
fn an_uncertain_create_is_explained_and_settled_from_the_command_line() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("replica.db");
    let (again, arrived) = two_uncertain_creates(&path);
    let db = path.to_str().expect("path");

    let list = ok(cli(&["outbox", "list", "--db", db]));
    assert!(list.contains("uncertain"), "{list}");
    assert!(
        list.contains("sent 2026-03-02 06:05 UTC, no answer")
            && list.contains("would be assigned to Ирина Волкова")
            && list.contains(&format!("outbox send-again --id {again}")),
        "{list}"
    );
    assert!(list.contains("uncertain: 2"), "{list}");

    let said = ok(cli(&[
        "outbox",
        "send-again",
        "--db",
        db,
        "--id",
        &again.to_string(),
    ]));
    assert!(said.contains("back in the queue"), "{said}");
    let said = ok(cli(&[
        "outbox",
        "arrived",
        "--db",
        db,
        "--id",
        &arrived.to_string(),
    ]));
    assert!(said.contains("is on the portal"), "{said}");

    let all = ok(cli(&["outbox", "list", "--db", db, "--all", "--json"]));
    let states: Vec<(i64, String)> = all
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON line"))
        .map(|e| {
            (
                e["id"].as_i64().expect("id"),
                e["state"].as_str().expect("state").to_string(),
            )
        })
        .collect();
    assert!(states.contains(&(again, "pending".into())), "{states:?}");
    assert!(states.contains(&(arrived, "done".into())), "{states:?}");

    let twice = cli(&[
        "outbox",
        "arrived",
        "--db",
        db,
        "--id",
        &arrived.to_string(),
    ]);
    assert!(
        !twice.status.success(),
        "a settled entry is not settled again"
    );
    assert!(
        String::from_utf8_lossy(&twice.stderr).contains("not a create waiting"),
        "{}",
        String::from_utf8_lossy(&twice.stderr)
    );
}
