//! The outbox never writes what the user did not mean, over real HTTP with the sandbox: one
//! user's edits to one field are one change, a delete undone before the upload sends nothing,
//! and unsent edits from a file reach only the portal and user they were made for.

mod sync_support;

use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{EntityType, RecordKey};
use serde_json::{json, Value};
use sync_support::{
    actor, edit, key, open_entries, portal_item, pull, replica, sandbox, upload, Emu,
};

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_primary_moved_then_a_link_removed_and_one_added_is_one_change_not_a_conflict() {
    let sb = sandbox(Some(0)).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("dir");
    let store = replica(&dir.path().join("replica.db"));
    let mut contacts = Vec::new();
    for name in ["Анна", "Борис", "Вера"] {
        contacts.push(emu.add(EntityType::Contact, json!({"name": name})).await);
    }
    let [a, b, c] = contacts[..] else {
        unreachable!("three contacts")
    };
    let deal = emu
        .add(
            EntityType::Deal,
            json!({"title": "Поставка", "contactIds": [b, a]}),
        )
        .await;
    pull(&url, &store).await;
    let k = key(EntityType::Deal, deal);
    {
        let mut s = store.lock().expect("lock");
        // Three saves, as the card makes them: A primary, B removed, C linked.
        for list in [json!([a, b]), json!([a]), json!([a, c])] {
            s.edit_record(&actor(1), k, &edit(json!({ "contactIds": list })), 1)
                .expect("edit");
        }
    }
    let open = open_entries(&store);
    assert_eq!(
        open.iter().filter(|e| e.field == "contactIds").count(),
        1,
        "one field, one change: {open:?}"
    );
    assert_eq!(
        open[0].base,
        json!([b, a]),
        "against the one base: {open:?}"
    );
    let summary = upload(&url, &store).await.expect("upload");
    assert_eq!(
        (summary.rejected, summary.conflicts),
        (0, 0),
        "{summary:?}: {:?}",
        open_entries(&store)
    );
    assert!(
        open_entries(&store).is_empty(),
        "{:?}",
        open_entries(&store)
    );
    let d = portal_item(&emu, EntityType::Deal, deal).await;
    assert_eq!(d["contactId"], a, "A is primary: {d}");
    let mut on_portal = ids(&d["contactIds"]);
    on_portal.sort_unstable();
    assert_eq!(on_portal, vec![a, c], "B removed, C linked: {d}");
}

/// Runs `kartoteka-cli` against the sandbox; a failing command fails the story.
fn cli(bin: &std::path::Path, url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(bin)
        .args(args)
        .env("KARTOTEKA_WEBHOOK", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cli runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn portal_ids(emu: &Emu, t: EntityType) -> Vec<i64> {
    let r = emu
        .act(
            1,
            "crm.item.list",
            json!({"entityTypeId": t.type_id(), "select": ["id"], "order": {"id": "ASC"}}),
        )
        .await;
    r["result"]["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|i| i["id"].as_i64()).collect())
        .unwrap_or_default()
}

/// Delete, then «Восстановить», before the upload: the deletion is undone here and nothing
/// reaches the portal — the same record, the same id, its author kept. A deletion the portal
/// took is restored as a new record, and both records' history name each other by portal id,
/// never by a temporary id or as raw data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_undone_before_the_upload_sends_nothing_and_a_sent_one_is_restored_under_a_named_new_id(
) {
    let bin = sync_support::cli_binary();
    let sb = sandbox(Some(0)).await;
    let url = sb.admin_webhook_url();
    let emu = Emu::new(&sb);
    let lead = emu
        .add(EntityType::Lead, json!({"title": "Заявка с выставки"}))
        .await;
    let before = portal_item(&emu, EntityType::Lead, lead).await;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("replica.db");
    let db_s = db.to_str().expect("utf-8 path").to_string();
    let id = lead.to_string();
    cli(&bin, &url, &["sync", "--no-rate-limit", "--db", &db_s]);
    cli(
        &bin,
        &url,
        &["delete", "--db", &db_s, "--type", "lead", "--id", &id],
    );
    let said = cli(
        &bin,
        &url,
        &["restore", "--db", &db_s, "--type", "lead", "--id", &id],
    );
    assert!(said.contains("nothing is sent"), "{said}");
    cli(&bin, &url, &["sync", "--no-rate-limit", "--db", &db_s]);
    assert_eq!(
        portal_ids(&emu, EntityType::Lead).await,
        vec![lead],
        "no new lead"
    );
    let after = portal_item(&emu, EntityType::Lead, lead).await;
    assert_eq!(
        (&after["createdBy"], &after["updatedTime"]),
        (&before["createdBy"], &before["updatedTime"]),
        "the portal's lead was never touched: {after}"
    );
    {
        let store = replica(&db);
        let s = store.lock().expect("lock");
        assert!(
            s.outbox_list(&OutboxListRequest::default())
                .expect("outbox")
                .entries
                .is_empty(),
            "nothing waits"
        );
        let card = s
            .get_record(key(EntityType::Lead, lead))
            .expect("read")
            .expect("the lead is still here");
        assert_eq!(card.state, kartoteka_store::RecordState::Active);
    }

    // Deleted on the portal by a sync, then restored: a new lead, named on both sides.
    cli(
        &bin,
        &url,
        &["delete", "--db", &db_s, "--type", "lead", "--id", &id],
    );
    cli(&bin, &url, &["sync", "--no-rate-limit", "--db", &db_s]);
    assert!(
        portal_ids(&emu, EntityType::Lead).await.is_empty(),
        "deleted on the portal"
    );
    let said = cli(
        &bin,
        &url,
        &["restore", "--db", &db_s, "--type", "lead", "--id", &id],
    );
    assert!(said.contains("as a new record"), "{said}");
    cli(&bin, &url, &["sync", "--no-rate-limit", "--db", &db_s]);
    let now = portal_ids(&emu, EntityType::Lead).await;
    assert_eq!(now.len(), 1, "one new lead: {now:?}");
    let new_id = now[0];
    assert_ne!(new_id, lead);
    assert_eq!(
        portal_item(&emu, EntityType::Lead, new_id).await["title"],
        "Заявка с выставки"
    );
    let store = replica(&db);
    let s = store.lock().expect("lock");
    let restored = |k: RecordKey| {
        let filter = kartoteka_domain::HistoryFilter {
            record: Some(k),
            ..Default::default()
        };
        s.history_page(
            &kartoteka_store::HistoryQuery {
                filter: &filter,
                include_hidden: false,
            },
            None,
            100,
        )
        .expect("history")
        .0
        .into_iter()
        .filter(|e| e.event == kartoteka_domain::HistoryEventCode::Restored)
        .collect::<Vec<_>>()
    };
    let old_side = restored(key(EntityType::Lead, lead));
    let new_side = restored(key(EntityType::Lead, new_id));
    let shown = |e: &kartoteka_domain::HistoryEvent| {
        format!(
            "{} {} {}",
            e.old_display.clone().unwrap_or_default(),
            e.new_display.clone().unwrap_or_default(),
            e.note.clone().unwrap_or_default()
        )
    };
    let last_old = old_side
        .iter()
        .find(|e| e.new_value.is_some())
        .expect("the old lead says it was restored as a new one");
    assert!(
        shown(last_old).contains(&format!("#{new_id}")),
        "the old lead names the new one by its portal id: {last_old:?}"
    );
    let first_new = new_side
        .first()
        .expect("the new lead says where it came from");
    assert!(
        shown(first_new).contains(&format!("#{lead}")),
        "{first_new:?}"
    );
    assert_eq!(
        first_new.sync_state,
        kartoteka_domain::HistorySyncState::Synced,
        "the new lead's event travelled with its create"
    );
    for e in old_side.iter().chain(&new_side) {
        let text = shown(e);
        assert!(
            !text.contains("{")
                && !text.contains(&kartoteka_domain::LOCAL_ID_BASE.to_string()[..6]),
            "no raw data, no temporary id: {text}"
        );
    }
    let (_, broken) = s.verify_history().expect("verify");
    assert_eq!(broken, None, "the chains still hold");
}

/// Runs `kartoteka-cli` expecting a refusal; returns what it said.
fn cli_refused(bin: &std::path::Path, url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(bin)
        .args(args)
        .env("KARTOTEKA_WEBHOOK", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("cli runs");
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Unsent edits exported on one portal and imported into a replica of another are refused in
/// words, and the other portal is untouched. Imported into a fresh replica of their own portal,
/// they keep the values they were made against: a title a colleague changed meanwhile is a
/// conflict, not overwritten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsent_edits_from_a_file_reach_only_their_portal_and_never_blindly() {
    let bin = sync_support::cli_binary();
    let a = sandbox(None).await;
    let b = sandbox(None).await;
    let (url_a, url_b) = (a.admin_webhook_url(), b.admin_webhook_url());
    let (emu_a, emu_b) = (Emu::new(&a), Emu::new(&b));
    let dir = tempfile::tempdir().expect("dir");
    let path = |name: &str| dir.path().join(name).to_str().expect("utf-8").to_string();
    let (db_a, db_b, db_a2, file) = (
        path("a.db"),
        path("b.db"),
        path("a2.db"),
        path("unsent.json"),
    );
    cli(&bin, &url_a, &["sync", "--no-rate-limit", "--db", &db_a]);
    let deals: Vec<i64> = portal_ids(&emu_a, EntityType::Deal)
        .await
        .into_iter()
        .take(3)
        .collect();
    for id in &deals {
        let id = id.to_string();
        cli(
            &bin,
            &url_a,
            &[
                "edit",
                "--db",
                &db_a,
                "--type",
                "deal",
                "--id",
                &id,
                "--set",
                "title=Сделка портала А",
            ],
        );
    }
    cli(
        &bin,
        &url_a,
        &["outbox", "export", "--db", &db_a, "--out", &file],
    );

    // Portal B, whose demo deals have the same ids.
    cli(&bin, &url_b, &["sync", "--no-rate-limit", "--db", &db_b]);
    let before: Vec<Value> = {
        let mut v = Vec::new();
        for id in &deals {
            v.push(portal_item(&emu_b, EntityType::Deal, *id).await["title"].clone());
        }
        v
    };
    let said = cli_refused(
        &bin,
        &url_b,
        &["outbox", "import", "--db", &db_b, "--file", &file],
    );
    let host_a = url_a
        .split("//")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host");
    assert!(
        said.contains(host_a) && said.contains("nothing was imported"),
        "the refusal names the file's portal: {said}"
    );
    cli(&bin, &url_b, &["sync", "--no-rate-limit", "--db", &db_b]);
    for (id, title) in deals.iter().zip(&before) {
        assert_eq!(
            &portal_item(&emu_b, EntityType::Deal, *id).await["title"],
            title,
            "portal B's deal {id} is untouched"
        );
    }

    // A fresh replica of portal A, after a colleague renamed the first deal.
    emu_a
        .act(
            1,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": deals[0], "fields": {"title": "Название коллеги"}}),
        )
        .await;
    cli(&bin, &url_a, &["sync", "--no-rate-limit", "--db", &db_a2]);
    let said = cli(
        &bin,
        &url_a,
        &["outbox", "import", "--db", &db_a2, "--file", &file],
    );
    assert!(said.contains("3 change(s) queued again"), "{said}");
    cli(&bin, &url_a, &["sync", "--no-rate-limit", "--db", &db_a2]);
    assert_eq!(
        portal_item(&emu_a, EntityType::Deal, deals[0]).await["title"],
        "Название коллеги",
        "the colleague's title is not overwritten"
    );
    for id in &deals[1..] {
        assert_eq!(
            portal_item(&emu_a, EntityType::Deal, *id).await["title"],
            "Сделка портала А"
        );
    }
    let store = replica(std::path::Path::new(&db_a2));
    let open = open_entries(&store);
    assert_eq!(
        open.iter().map(|e| (e.key.id, e.state)).collect::<Vec<_>>(),
        vec![(deals[0], kartoteka_domain::OutboxState::Conflict)],
        "{open:?}"
    );
    assert_eq!(open[0].theirs, Some(json!("Название коллеги")));
    drop(emu_b);
}
