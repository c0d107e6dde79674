//! Shared helpers of the sync stories: a sandbox on loopback, its control API, a replica in a
//! temp dir, an engine wired to both, and the check every story ends with: the replica equals
//! the portal (ids, updatedTime and field values per type).
#![allow(dead_code)]

use kartoteka_bitrix::{Client, ClientOptions, WebhookUrl};
use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{EntityType, MultiField, OutboxEntry, RecordEdit, RecordKey};
use kartoteka_sandbox::control::Control;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use kartoteka_store::{LocalActor, Store};
use kartoteka_sync::{BitrixPortal, Policy, ReconcilePolicy, RetryPolicy, SyncEngine};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type Engine = SyncEngine<BitrixPortal, Store>;

/// A sandbox with a frozen clock and no limits; `records: None` is the ~425-record demo set.
pub async fn sandbox(records: Option<usize>) -> Sandbox {
    Sandbox::start(SandboxOptions {
        clock: ClockMode::Frozen,
        limits: LimitsPreset::Off,
        records,
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox starts on loopback")
}

/// The sandbox's test-control API (`/_emu/*`) through the sandbox crate's typed client; a
/// refused or failed control call fails the story.
pub struct Emu {
    control: Control,
}

impl Emu {
    pub fn new(sandbox: &Sandbox) -> Self {
        Self {
            control: Control::of(sandbox),
        }
    }

    pub fn control(&self) -> &Control {
        &self.control
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.control
            .post(path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn delete(&self, path: &str) {
        self.control
            .delete(path)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub async fn get(&self, path: &str) -> Value {
        self.control
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// How many times each queued fault fired, in the order they were added.
    pub async fn faults_fired(&self) -> Vec<u64> {
        self.control.fired().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs a REST method as another user.
    pub async fn act(&self, user_id: i64, method: &str, params: Value) -> Value {
        self.control
            .act(user_id, method, params)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds a record as user 1 (`crm.item.add`); its id.
    pub async fn add(&self, t: EntityType, fields: Value) -> i64 {
        let r = self
            .act(
                1,
                "crm.item.add",
                json!({"entityTypeId": t.type_id(), "fields": fields}),
            )
            .await;
        r["result"]["item"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("{t} added: {r}"))
    }

    /// Empties the portal and adds `n` deals titled "Deal k", 50 per batch.
    pub async fn reset_with_deals(&self, n: usize) {
        self.control
            .reset("empty", Some(7))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let titles: Vec<usize> = (1..=n).collect();
        for chunk in titles.chunks(50) {
            let cmd: Map<String, Value> = chunk
                .iter()
                .map(|k| {
                    (
                        format!("a{k}"),
                        Value::String(format!(
                            "crm.item.add?entityTypeId=2&fields[title]=Deal%20{k}"
                        )),
                    )
                })
                .collect();
            let r = self.act(1, "batch", json!({"halt": 0, "cmd": cmd})).await;
            let errors = &r["result"]["result_error"];
            assert!(
                errors.as_array().is_some_and(Vec::is_empty)
                    || errors.as_object().is_some_and(Map::is_empty),
                "seeding deals failed: {errors}"
            );
        }
    }
}

/// A client for tests: no client-side bucket, quick retries, short timeout.
pub fn client(webhook: &str) -> Client {
    let options = ClientOptions {
        rate_limit: None,
        max_retries: 4,
        request_timeout: Duration::from_secs(2),
        retry_base_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(100),
        operating_limit_min_wait: Duration::from_millis(10),
        operating_limit_max_wait: Duration::from_millis(100),
        ..ClientOptions::default()
    };
    Client::new(
        WebhookUrl::parse(webhook).expect("sandbox webhook parses"),
        options,
    )
    .expect("client builds")
}

pub fn policy(reconcile: ReconcilePolicy) -> Policy {
    Policy {
        reconcile,
        retry: RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
        },
        ..Policy::default()
    }
}

pub fn replica(path: &Path) -> Arc<Mutex<Store>> {
    Arc::new(Mutex::new(Store::open(path).expect("replica opens")))
}

pub fn engine(webhook: &str, store: &Arc<Mutex<Store>>, policy: Policy) -> Engine {
    SyncEngine::new(
        Arc::new(BitrixPortal::new(client(webhook))),
        Arc::clone(store),
        policy,
        kartoteka_sync::no_events(),
    )
}

/// One upload of the outbox (the app's uploader, with the test client).
pub async fn upload(
    webhook: &str,
    store: &Arc<Mutex<Store>>,
) -> Result<kartoteka_sync::UploadSummary, String> {
    kartoteka_sync::Uploader::new(
        client(webhook),
        Arc::clone(store),
        kartoteka_sync::system_clock(),
    )
    .run(&kartoteka_sync::CancellationToken::new())
    .await
    .map_err(|e| e.to_string())
}

/// One record as both sides are compared: updatedTime (unix seconds), fields without empties,
/// multi-fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    pub updated_time: i64,
    pub fields: BTreeMap<String, Value>,
    pub multi_fields: Vec<MultiField>,
}

/// `null` and a missing key are the same value.
fn normalized(fields: &Map<String, Value>) -> BTreeMap<String, Value> {
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Everything the user of `webhook` can read of one type, straight from the portal; date-only
/// fields (by the portal's own field list) as the calendar dates they stand for.
pub async fn portal_view(webhook: &str, t: EntityType) -> BTreeMap<i64, Seen> {
    let client = client(webhook);
    let dates: Vec<String> = client
        .item_fields(t)
        .await
        .expect("portal lists fields")
        .into_iter()
        .filter(|f| f.field_type == kartoteka_domain::FieldType::Date)
        .map(|f| f.name)
        .collect();
    let mut out = BTreeMap::new();
    let mut after = 0;
    loop {
        let chunk = client
            .pull_items_batch(t, after)
            .await
            .expect("portal lists records");
        for r in &chunk.records {
            let mut fields = normalized(&r.fields);
            for name in &dates {
                if let Some(v) = fields.get_mut(name) {
                    if let Some(d) = kartoteka_domain::canonical_date(v) {
                        *v = d;
                    }
                }
            }
            out.insert(
                r.key.id,
                Seen {
                    updated_time: r.updated_time.map(|t| t.timestamp()).unwrap_or(0),
                    fields,
                    multi_fields: r.multi_fields.clone(),
                },
            );
        }
        match chunk.last_id {
            Some(last) if !chunk.exhausted => after = last,
            _ => return out,
        }
    }
}

/// Every active record of one type in the replica.
pub fn replica_view(store: &Arc<Mutex<Store>>, t: EntityType) -> BTreeMap<i64, Seen> {
    let s = store.lock().expect("replica lock");
    s.all_ids(t)
        .expect("replica ids")
        .into_iter()
        .map(|id| {
            let d = s
                .get_record(RecordKey { entity_type: t, id })
                .expect("replica reads")
                .expect("listed id has a record");
            (
                id,
                Seen {
                    updated_time: d.updated_time,
                    fields: normalized(&d.fields),
                    multi_fields: d.multi_fields,
                },
            )
        })
        .collect()
}

/// The check every story ends with.
pub async fn assert_replica_equals_portal(webhook: &str, store: &Arc<Mutex<Store>>) {
    for t in EntityType::ALL {
        let portal = portal_view(webhook, t).await;
        let local = replica_view(store, t);
        let portal_ids: Vec<&i64> = portal.keys().collect();
        let local_ids: Vec<&i64> = local.keys().collect();
        assert_eq!(
            local_ids, portal_ids,
            "{t}: the replica must hold exactly the records the portal shows"
        );
        for (id, p) in &portal {
            let l = &local[id];
            assert_eq!(l.updated_time, p.updated_time, "{t} {id}: updatedTime");
            assert_eq!(l.fields, p.fields, "{t} {id}: field values");
            assert_eq!(l.multi_fields, p.multi_fields, "{t} {id}: multi-fields");
        }
    }
}

/// Records of each type on the portal, for request-count expectations.
pub async fn portal_counts(webhook: &str) -> BTreeMap<EntityType, usize> {
    let mut out = BTreeMap::new();
    for t in EntityType::ALL {
        out.insert(t, portal_view(webhook, t).await.len());
    }
    out
}

/// The `kartoteka-cli` binary, built fresh for this test. `cargo test` does not build other
/// packages' binaries, and a binary left over from an earlier build could be stale, so the test
/// always asks cargo (a no-op when up to date). It builds in a target dir of its own, beside the
/// one this run uses, so it does not wait on the lock this `cargo test` holds.
pub fn cli_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("sync-kill-cli");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "-p", "kartoteka-cli", "--target-dir"])
        .arg(&target)
        .current_dir(&workspace)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building kartoteka-cli failed");
    target
        .join("debug")
        .join(format!("kartoteka-cli{}", std::env::consts::EXE_SUFFIX))
}

/// The user of the stories' replicas, editing offline on one laptop.
pub fn actor(user_id: i64) -> LocalActor {
    LocalActor {
        user_id: Some(user_id),
        name: "Полевой Представитель".into(),
        device_id: "laptop-1".into(),
        online: false,
    }
}

/// An edit of the given fields (a JSON object).
pub fn edit(fields: Value) -> RecordEdit {
    RecordEdit {
        fields: fields.as_object().cloned().unwrap_or_else(Map::new),
        multi_fields: vec![],
    }
}

pub fn key(t: EntityType, id: i64) -> RecordKey {
    RecordKey { entity_type: t, id }
}

/// One full sync run (pull with reconcile) that must succeed.
pub async fn pull(url: &str, store: &Arc<Mutex<Store>>) {
    engine(url, store, policy(ReconcilePolicy::Always))
        .run(&kartoteka_sync::CancellationToken::new())
        .await
        .expect("pull succeeds");
}

/// The outbox's open entries.
pub fn open_entries(store: &Arc<Mutex<Store>>) -> Vec<OutboxEntry> {
    store
        .lock()
        .expect("lock")
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries
}

/// The portal's own state of one item (bypasses permissions).
pub async fn portal_item(emu: &Emu, t: EntityType, id: i64) -> Value {
    let r = emu
        .act(
            1,
            "crm.item.get",
            json!({"entityTypeId": t.type_id(), "id": id, "useOriginalUfNames": "Y"}),
        )
        .await;
    r["result"]["item"].clone()
}
