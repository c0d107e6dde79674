//! Offline-first: when the portal stops answering, a sync's network failure turns the header to
//! "offline", and lists, cards and counts keep working from the replica.

use crate::api::{Core, EventSink};
use kartoteka_bitrix::{ClientOptions, MemorySecretStore, SecretStore};
use kartoteka_domain::ipc::{AppEvent, ErrorCode, RecordsListRequest, SyncStatus};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{Sandbox, SandboxOptions};
use kartoteka_sync::{Policy, RetryPolicy};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Collected(Mutex<Vec<AppEvent>>);

impl EventSink for Collected {
    fn send(&self, event: AppEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// Polls the sync status until `done` accepts it. The bound only keeps a broken sync from
/// hanging the test; nothing here measures time.
async fn wait_for_sync(core: &Core, done: impl Fn(&SyncStatus) -> bool) -> SyncStatus {
    let mut status = core.sync_status().await.expect("sync status");
    for _ in 0..1800 {
        if done(&status) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        status = core.sync_status().await.expect("sync status");
    }
    status
}

fn deals() -> RecordsListRequest {
    RecordsListRequest {
        entity_type: EntityType::Deal,
        search: None,
        stage_ids: vec![],
        responsible_ids: vec![],
        category_id: None,
        sort: None,
        cursor: None,
        limit: 50,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_cannot_reach_the_portal_turns_offline_and_lists_still_read_the_replica() {
    let sandbox = Sandbox::start(SandboxOptions {
        records: Some(120),
        ..Default::default()
    })
    .await
    .expect("the sandbox starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let events = Arc::new(Collected::default());
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    // Production waits seconds between retries; one quick retry keeps the test short.
    let client_options = ClientOptions {
        max_retries: 1,
        retry_base_delay: Duration::from_millis(10),
        retry_max_delay: Duration::from_millis(20),
        ..ClientOptions::default()
    };
    let policy = Policy {
        retry: RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
        },
        ..Policy::default()
    };
    let core = Core::new(events.clone(), dir.path().to_path_buf(), secrets)
        .with_retries(client_options, policy);

    let status = core
        .connect(&sandbox.admin_webhook_url())
        .await
        .expect("the portal on loopback connects");
    assert!(status.online, "a portal that just answered is online");
    let synced = wait_for_sync(&core, |s| {
        s.last_sync_at.is_some() || s.last_error.is_some()
    })
    .await;
    assert_eq!(synced.last_error, None, "the first sync fails");
    let before = core
        .records_list(deals())
        .await
        .expect("deals from the replica");
    assert!(
        before.total.unwrap_or(0) > 0,
        "the first sync brought deals"
    );

    // The portal goes away: nothing listens on its port any more.
    sandbox.shutdown().await;
    core.sync_start().await.expect("a sync can be asked for");
    let failed = wait_for_sync(&core, |s| !s.running && s.last_error.is_some()).await;
    assert_eq!(
        failed.last_error.map(|e| e.code),
        Some(ErrorCode::Offline),
        "a refused connection is a network failure, not a portal error"
    );

    let status = core.status().await.expect("portal status");
    assert!(!status.online, "the header must say offline");
    let sent = events.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        sent.iter()
            .any(|e| matches!(e, AppEvent::ConnectionChanged { online: false })),
        "the UI is told that the portal went offline: {sent:?}"
    );

    let after = core
        .records_list(deals())
        .await
        .expect("deals while offline");
    assert_eq!(
        (after.total, after.rows.len()),
        (before.total, before.rows.len()),
        "the list reads the replica as it was"
    );
    let first = after.rows.first().expect("a deal row").key;
    let card = core
        .record_get(kartoteka_domain::ipc::RecordGetRequest { key: first })
        .await
        .expect("a card while offline");
    assert_eq!(card.key, first);
    let counts = core.counts().await.expect("counts while offline");
    let deal_count = counts
        .counts
        .iter()
        .find(|c| c.entity_type == EntityType::Deal)
        .map(|c| c.count);
    assert_eq!(deal_count, before.total, "counts come from the replica");
}
