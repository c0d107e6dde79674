//! Replicas written by earlier releases themselves (`tests/fixtures/replicas/`, made by the CLI
//! of the last commit of each schema version; its README names the commits and commands) open in
//! this build with everything they held: records and counts, search (a part of a word finds its
//! record, so the rebuild of the search index ran), the history chain, hidden entries, and the
//! unsent edits, which then reach the sandbox exactly once.

mod sync_support;

use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{EntityType, HistoryFilter, RecordKey};
use kartoteka_store::migrations::SUPPORTED_VERSION;
use kartoteka_store::{HistoryQuery, Page, RecordFilter, Store};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use sync_support::{sandbox, upload, Emu};

/// What one fixture holds besides its pulled records.
struct Fixture {
    version: i64,
    /// A history entry a supervisor hid (schema 3 on): `(deal id, seq)`.
    hidden: Option<(i64, i64)>,
}

const FIXTURES: [Fixture; 4] = [
    Fixture {
        version: 2,
        hidden: None,
    },
    Fixture {
        version: 3,
        hidden: Some((2, HIDDEN_SEQ_V3)),
    },
    Fixture {
        version: 4,
        hidden: Some((2, HIDDEN_SEQ_V4)),
    },
    Fixture {
        version: 6,
        hidden: Some((2, HIDDEN_SEQ_V6)),
    },
];
/// The entries hidden in the v3, v4 and v6 fixtures (the last of deal 2's first page).
const HIDDEN_SEQ_V3: i64 = 132;
const HIDDEN_SEQ_V4: i64 = 132;
const HIDDEN_SEQ_V6: i64 = 337;

fn fixture_path(version: i64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/replicas")
        .join(format!("v{version}.db"))
}

/// A private copy of a fixture (the committed file is never opened for writing).
fn copy_of(version: i64, dir: &Path) -> PathBuf {
    let path = dir.join("replica.db");
    std::fs::copy(fixture_path(version), &path).expect("copy the fixture");
    path
}

/// One outbox row of the old file.
struct Unsent {
    op: String,
    key: RecordKey,
    field: String,
    /// JSON.
    new_value: Option<String>,
}

/// What the old file holds, read with plain SQL before the upgrade.
struct Before {
    version: i64,
    /// (entity type, state) → records.
    counts: BTreeMap<(i64, i64), u64>,
    events: u64,
    /// Outbox rows not done.
    unsent: Vec<Unsent>,
}

fn read_before(path: &Path) -> Before {
    let conn = Connection::open(path).expect("raw open");
    let version = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    let mut counts = BTreeMap::new();
    let mut stmt = conn
        .prepare("SELECT entity_type, state, COUNT(*) FROM records GROUP BY 1, 2")
        .expect("counts");
    let rows = stmt
        .query_map([], |r| {
            Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64))
        })
        .expect("counts");
    for row in rows {
        let (k, n) = row.expect("row");
        counts.insert(k, n);
    }
    let events = if version >= 3 {
        conn.query_row("SELECT COUNT(*) FROM history_events", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("events") as u64
    } else {
        0
    };
    let op = if version >= 4 { "op" } else { "'update'" };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {op}, entity_type, record_id, field, new_value FROM outbox \
             WHERE state NOT IN ('done', 'discarded') ORDER BY id"
        ))
        .expect("outbox");
    let unsent = stmt
        .query_map([], |r| {
            Ok(Unsent {
                op: r.get(0)?,
                key: RecordKey {
                    entity_type: EntityType::from_type_id(r.get(1)?).expect("a CRM type"),
                    id: r.get(2)?,
                },
                field: r.get(3)?,
                new_value: r.get(4)?,
            })
        })
        .expect("outbox")
        .collect::<Result<_, _>>()
        .expect("outbox rows");
    Before {
        version,
        counts,
        events,
        unsent,
    }
}

fn list(store: &Store, t: EntityType, search: &str) -> (Vec<i64>, Option<u64>) {
    let mut f = RecordFilter::new(t);
    f.set_search(Some(search));
    let page = store
        .list_records(
            &f,
            &Page {
                sort: Default::default(),
                after: None,
                limit: 500,
            },
        )
        .expect("list");
    (page.rows.into_iter().map(|r| r.id).collect(), page.total)
}

/// Four letters from inside the longest last name of a contact (never its start), and that
/// contact's id: only a rebuilt trigram index finds it.
fn inner_part_of_a_name(store: &Store) -> (String, i64) {
    let mut best: Option<(String, i64)> = None;
    for id in store.all_ids(EntityType::Contact).expect("ids") {
        let card = store
            .get_record(RecordKey {
                entity_type: EntityType::Contact,
                id,
            })
            .expect("read")
            .expect("contact");
        let last = card.fields["lastName"].as_str().unwrap_or("").to_string();
        if best
            .as_ref()
            .is_none_or(|(b, _)| last.chars().count() > b.chars().count())
        {
            best = Some((last, id));
        }
    }
    let (name, id) = best.expect("the fixture has contacts");
    assert!(name.chars().count() >= 6, "a long enough name: {name}");
    (name.chars().skip(2).take(4).collect(), id)
}

async fn portal_item(emu: &Emu, key: RecordKey) -> Value {
    emu.act(
        1,
        "crm.item.get",
        json!({"entityTypeId": key.entity_type.type_id(), "id": key.id, "useOriginalUfNames": "Y"}),
    )
    .await["result"]["item"]
        .clone()
}

async fn check(fixture: &Fixture) {
    let dir = tempfile::tempdir().expect("dir");
    let path = copy_of(fixture.version, dir.path());
    let before = read_before(&path);
    let v = before.version;
    assert_eq!(v, fixture.version, "the fixture is of its schema");
    assert!(
        !before.unsent.is_empty(),
        "v{v}: the fixture has unsent edits"
    );

    let store = Store::open(&path).unwrap_or_else(|e| panic!("v{v} opens: {e}"));
    assert_eq!(store.schema_version().expect("version"), SUPPORTED_VERSION);

    // Records and counts.
    for c in store.counts().expect("counts") {
        let t = c.entity_type.type_id();
        let n = |state| before.counts.get(&(t, state)).copied().unwrap_or(0);
        assert_eq!(
            (c.active, c.deleted, c.hidden),
            (n(0), n(1), n(2)),
            "v{v}: counts of {}",
            c.entity_type.slug()
        );
    }
    assert!(
        before.counts.values().sum::<u64>() > 100,
        "v{v}: pulled demo records"
    );

    // Search: a part of a word, a phone in another form.
    let (part, id) = inner_part_of_a_name(&store);
    let (found, total) = list(&store, EntityType::Contact, &part);
    assert!(
        found.contains(&id),
        "v{v}: «{part}» finds contact {id}: {found:?}"
    );
    assert_eq!(total, Some(found.len() as u64), "v{v}: exact total");
    let contacts = before.counts.get(&(3, 0)).copied().unwrap_or(0);
    assert!(
        (found.len() as u64) < contacts,
        "v{v}: «{part}» is a filter"
    );

    // The history chain of every record holds, with what the old file had and more.
    let (checked, broken) = store.verify_history().expect("verify");
    assert_eq!(broken, None, "v{v}: the history chain holds");
    assert!(
        checked >= before.events,
        "v{v}: {checked} < {}",
        before.events
    );

    // A hidden entry stays hidden, and supervisors still see it marked.
    if let Some((deal, seq)) = fixture.hidden {
        let filter = HistoryFilter {
            record: Some(RecordKey {
                entity_type: EntityType::Deal,
                id: deal,
            }),
            ..Default::default()
        };
        let page = |include_hidden| {
            store
                .history_page(
                    &HistoryQuery {
                        filter: &filter,
                        include_hidden,
                    },
                    None,
                    200,
                )
                .expect("history")
                .0
        };
        assert!(
            !page(false).iter().any(|e| e.seq == seq),
            "v{v}: hidden from the normal view"
        );
        assert!(
            page(true).iter().any(|e| e.seq == seq && e.hidden),
            "v{v}: shown marked to supervisors"
        );
    }

    // The unsent edits are still queued, and reach a portal exactly once.
    let list = store
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox");
    assert_eq!(list.open as usize, before.unsent.len(), "v{v}: queue kept");
    drop(store);

    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let store = Arc::new(Mutex::new(Store::open(&path).expect("reopen")));
    // The portal still holds the values the edits were made against (this sandbox's demo data
    // may differ from the one the old release pulled).
    let updates: Vec<&Unsent> = before.unsent.iter().filter(|u| u.op == "update").collect();
    for u in &updates {
        let base = store
            .lock()
            .expect("lock")
            .server_version(u.key)
            .expect("server version")
            .expect("a mirror of the edited record")
            .fields[u.field.as_str()]
        .clone();
        set_on_portal(&emu, u, base).await;
    }

    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (summary.conflicts, summary.rejected),
        (0, 0),
        "v{v}: {summary:?}"
    );
    let open = store
        .lock()
        .expect("lock")
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .open;
    assert_eq!(open, 0, "v{v}: everything uploaded");
    for u in &updates {
        let want: Value =
            serde_json::from_str(u.new_value.as_deref().expect("a new value")).expect("JSON value");
        let got = portal_item(&emu, u.key).await[u.field.as_str()].clone();
        assert!(
            same(&got, &want),
            "v{v}: {:?} {}: {got} ≠ {want}",
            u.key,
            u.field
        );
    }

    // Exactly once: a colleague changes the same fields afterwards, and the next upload (after
    // a restart) sends nothing that overwrites them.
    for u in &updates {
        set_on_portal(&emu, u, colleagues_value(&u.field)).await;
    }
    drop(store);
    let store = Arc::new(Mutex::new(Store::open(&path).expect("restart")));
    let again = upload(&url, &store).await.expect("upload");
    assert_eq!(
        again.write_requests, 0,
        "v{v}: nothing sent twice: {again:?}"
    );
    for u in &updates {
        let got = portal_item(&emu, u.key).await[u.field.as_str()].clone();
        assert!(
            same(&got, &colleagues_value(&u.field)),
            "v{v}: {:?} {}: {got}",
            u.key,
            u.field
        );
    }
    let creates = before.unsent.iter().filter(|u| u.op == "create").count();
    if creates > 0 {
        let origins: Vec<String> = {
            let conn = Connection::open(&path).expect("raw");
            let mut stmt = conn
                .prepare("SELECT origin_id FROM outbox WHERE op = 'create'")
                .expect("origins");
            let rows = stmt.query_map([], |r| r.get(0)).expect("origins");
            rows.collect::<Result<_, _>>().expect("origins")
        };
        for origin in origins {
            let r = emu
                .act(
                    1,
                    "crm.item.list",
                    json!({"entityTypeId": 3, "select": ["id"],
                           "filter": {"=originatorId": "kartoteka", "=originId": origin}}),
                )
                .await;
            let made = r["result"]["items"].as_array().map(Vec::len);
            assert_eq!(made, Some(1), "v{v}: the create {origin} exactly once: {r}");
        }
    }
}

/// Sets one field of a record on the portal, as another user would.
async fn set_on_portal(emu: &Emu, u: &Unsent, value: Value) {
    let r = emu
        .act(
            1,
            "crm.item.update",
            json!({"entityTypeId": u.key.entity_type.type_id(), "id": u.key.id,
                   "fields": {u.field.as_str(): value}}),
        )
        .await;
    assert!(
        r["error"].is_null(),
        "{:?} {} set on the portal: {r}",
        u.key,
        u.field
    );
}

fn colleagues_value(field: &str) -> Value {
    if field == "opportunity" {
        json!(4242)
    } else {
        json!("Изменено коллегой")
    }
}

/// Equal as the portal means it: numbers by value whatever their JSON form (1970000, "777.7").
fn same(a: &Value, b: &Value) -> bool {
    let number = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse::<f64>().ok(),
        _ => None,
    };
    a == b || matches!((number(a), number(b)), (Some(x), Some(y)) if x == y)
}

#[tokio::test]
async fn replica_made_by_schema_2_upgrades_with_everything_it_held() {
    check(&FIXTURES[0]).await;
}

#[tokio::test]
async fn replica_made_by_schema_3_upgrades_with_everything_it_held() {
    check(&FIXTURES[1]).await;
}

#[tokio::test]
async fn replica_made_by_schema_4_upgrades_with_everything_it_held() {
    check(&FIXTURES[2]).await;
}

#[tokio::test]
async fn replica_made_by_schema_6_upgrades_with_everything_it_held() {
    // The create it left "sending" may have reached a portal: the upgrade keeps it looked up
    // before it is sent (at a time the old file does not say).
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&copy_of(6, dir.path())).expect("v6 opens");
    let create = store
        .upload_queue(10)
        .expect("queue")
        .into_iter()
        .flat_map(|r| r.entries)
        .find(|e| e.op == kartoteka_domain::OutboxOp::Create)
        .expect("the fixture's create is queued");
    assert_eq!(
        create.unanswered_ms,
        Some(0),
        "sent, no answer, time not known"
    );
    drop(store);
    check(&FIXTURES[3]).await;
}
