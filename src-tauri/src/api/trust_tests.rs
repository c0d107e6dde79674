//! Failures reach the user as what they are, through the shell: a replica written by a newer
//! version, and a secret store that cannot give the saved webhook back.

use crate::api::portal::{legacy_replica_path, replica_path};
use crate::api::settings::read_settings;
use crate::api::{Core, EventSink};
use kartoteka_bitrix::{MemorySecretStore, SecretError, SecretStore, WebhookUrl};
use kartoteka_domain::ipc::{AppEvent, ErrorCode, PortalMode, RecordsListRequest};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{Sandbox, SandboxOptions};
use std::path::PathBuf;
use std::sync::Arc;

struct Quiet;

impl EventSink for Quiet {
    fn send(&self, _event: AppEvent) {}
}

/// A keyring that is not there (no Secret Service, no kernel keyring).
struct NoKeyring;

impl SecretStore for NoKeyring {
    fn load(&self, _account: &str) -> Result<Option<WebhookUrl>, SecretError> {
        Err(SecretError::Unavailable(
            "no Secret Service on the session bus".into(),
        ))
    }
    fn save(&self, _account: &str, _url: &WebhookUrl) -> Result<(), SecretError> {
        Err(SecretError::Unavailable(
            "no Secret Service on the session bus".into(),
        ))
    }
    fn delete(&self, _account: &str) -> Result<(), SecretError> {
        Ok(())
    }
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

/// A configured webhook portal (a sandbox) in `dir` whose replica file is not opened yet, and
/// that file's path: the tests write an old or odd replica there before the app starts.
async fn configured_portal(dir: &std::path::Path) -> (Sandbox, Arc<dyn SecretStore>, PathBuf) {
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    configure(dir, secrets.clone(), &portal).await;
    let file = replica_path(dir, PortalMode::Webhook, &portal.addr().to_string(), 1);
    (portal, secrets, file)
}

/// Remembers `portal` as the configured one in `dir` (settings file and secret), as a connect
/// would, without opening its replica.
async fn configure(dir: &std::path::Path, secrets: Arc<dyn SecretStore>, portal: &Sandbox) {
    let core = Core::new(Arc::new(Quiet), dir.to_path_buf(), secrets);
    let webhook = WebhookUrl::parse(&portal.admin_webhook_url()).expect("sandbox webhook");
    core.remember(&webhook).await.expect("remembered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_written_by_a_newer_version_is_explained_with_its_version_and_left_unchanged() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (portal, secrets, file) = configured_portal(dir.path()).await;
    // A replica from a future Kartoteka: schema version 99.
    drop(kartoteka_store::Store::open(&file).expect("replica created"));
    {
        let conn = rusqlite::Connection::open(&file).expect("open");
        conn.pragma_update(None, "user_version", 99)
            .expect("set version");
    }
    let before = std::fs::read(&file).expect("read file");

    let core = Core::new(Arc::new(Quiet), dir.path().to_path_buf(), secrets);
    let status = core.start(false).await.expect("the portal itself starts");
    assert_eq!(status.mode, PortalMode::Webhook);
    for error in [
        core.records_list(deals()).await.expect_err("no replica"),
        core.sync_status()
            .await
            .expect_err("no sync without a replica"),
    ] {
        assert_eq!(
            error.code,
            ErrorCode::DatabaseTooNew,
            "the UI must say: update the app, not 'the local database failed': {error:?}"
        );
        let params = error.params.clone().unwrap_or_default();
        assert_eq!(params.get("found").map(String::as_str), Some("99"));
        assert!(params.contains_key("supported"));
        assert!(
            error.message.contains("newer") && error.message.contains("not changed"),
            "{}",
            error.message
        );
    }
    assert_eq!(
        std::fs::read(&file).expect("read file"),
        before,
        "the newer file is never touched"
    );
    portal.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upgrade_names_its_step_and_the_copy_and_leaves_the_file_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (portal, secrets, file) = configured_portal(dir.path()).await;
    // A schema-4 replica whose upgrade cannot complete: step 5 creates an index that exists.
    {
        let conn = rusqlite::Connection::open(&file).expect("create");
        for step in &kartoteka_store::migrations::STEPS[..4] {
            conn.execute_batch(step.sql).expect("v1..v4");
        }
        conn.execute_batch(
            "CREATE INDEX records_by_amount ON records (title_sort); PRAGMA user_version = 4;",
        )
        .expect("the clash");
    }
    let before = std::fs::read(&file).expect("read file");

    let core = Core::new(Arc::new(Quiet), dir.path().to_path_buf(), secrets);
    core.start(false).await.expect("the portal itself starts");
    let error = core.records_list(deals()).await.expect_err("no replica");
    assert_eq!(error.code, ErrorCode::DatabaseUpgradeFailed, "{error:?}");
    let params = error.params.clone().unwrap_or_default();
    let copy = kartoteka_store::upgrade_copy_path(&file, 4);
    assert_eq!(params.get("from").map(String::as_str), Some("4"));
    assert_eq!(params.get("step").map(String::as_str), Some("5"));
    assert!(
        params
            .get("reason")
            .is_some_and(|r| r.contains("records_by_amount")),
        "{params:?}"
    );
    assert_eq!(
        params.get("copy").map(String::as_str),
        Some(copy.display().to_string().as_str())
    );
    assert!(copy.exists(), "the copy is where the message says");
    assert_eq!(
        std::fs::read(&file).expect("read file"),
        before,
        "the file is as the previous version left it"
    );
    portal.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unavailable_keyring_at_start_asks_for_the_webhook_again_instead_of_showing_the_demo() {
    let dir = tempfile::tempdir().expect("temp dir");
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    configure(dir.path(), Arc::new(MemorySecretStore::new()), &portal).await;

    for secrets in [
        Arc::new(NoKeyring) as Arc<dyn SecretStore>,
        // The keyring works but lost the entry (another login keyring, a reset).
        Arc::new(MemorySecretStore::new()),
    ] {
        let core = Core::new(Arc::new(Quiet), dir.path().to_path_buf(), secrets);
        let status = core.start(false).await.expect("start");
        assert_eq!(
            status.mode,
            PortalMode::NotConfigured,
            "the connect screen, not the demo portal"
        );
        let problem = status.problem.expect("the connect screen says why");
        assert_eq!(problem.code, ErrorCode::SecretStoreUnavailable);
        let shown = core.status().await.expect("status");
        assert_eq!(shown.mode, PortalMode::NotConfigured);
        assert_eq!(
            shown.problem.map(|p| p.code),
            Some(ErrorCode::SecretStoreUnavailable)
        );
    }
    portal.shutdown().await;
}

/// A log sink for one test: everything the app logs at `trace`, as text.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn files_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .expect("data dir")
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect()
}

// One thread: the app's tasks (sync, the portal) log through this test's subscriber.
#[tokio::test]
async fn the_webhook_code_is_in_no_log_line_database_or_settings_file_even_at_trace() {
    let log = LogBuffer::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("temp dir");
    let portal = Sandbox::start(SandboxOptions {
        records: Some(100),
        ..SandboxOptions::default()
    })
    .await
    .expect("sandbox");
    let url = portal.admin_webhook_url();
    let code = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let wrong = format!("{}/rest/1/wrongappcode5512/", portal.base_url());
    let core = Core::new(
        Arc::new(Quiet),
        dir.path().to_path_buf(),
        Arc::new(MemorySecretStore::new()),
    );
    let refused = core.connect(&wrong).await.expect_err("a wrong code");
    assert_eq!(refused.code, ErrorCode::Auth);
    core.connect(&url).await.expect("the right code connects");
    let mut synced = false;
    for _ in 0..600 {
        let status = core.sync_status().await.expect("sync status");
        assert_eq!(status.last_error, None, "the sync fails");
        if status.last_sync_at.is_some() {
            synced = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(synced, "the first sync did not finish");
    let page = core.records_list(deals()).await.expect("deal list");
    assert!(!page.rows.is_empty());
    core.counts().await.expect("counts");

    let text =
        String::from_utf8_lossy(&log.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned();
    assert!(text.contains("TRACE"), "logging ran at trace");
    let files = files_under(dir.path());
    assert!(
        files.iter().any(|(name, _)| name == "portal.json")
            && files
                .iter()
                .any(|(name, _)| name.ends_with(".kartoteka.db")),
        "settings and replica were written: {:?}",
        files.iter().map(|(n, _)| n).collect::<Vec<_>>()
    );
    for secret in [code.as_str(), "wrongappcode5512"] {
        assert!(
            !refused.message.contains(secret),
            "in the error: {refused:?}"
        );
        if let Some(i) = text.find(secret) {
            panic!(
                "the webhook code leaked into the log: …{}",
                &text[i.saturating_sub(200)..i]
            );
        }
        for (name, bytes) in &files {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the webhook code is in {name}"
            );
        }
    }
    portal.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_people_on_one_portal_keep_separate_replicas_and_keyring_entries() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    let host = portal.addr().to_string();
    let first = portal.admin_webhook_url();
    let second = (2..20)
        .find_map(|user| portal.webhook_url(user))
        .expect("the demo portal has a second user with a webhook");
    let second_user = WebhookUrl::parse(&second).expect("webhook").user_id();
    assert_ne!(second_user, 1);

    for url in [&first, &second] {
        let core = Core::new(Arc::new(Quiet), dir.path().to_path_buf(), secrets.clone());
        core.connect(url).await.expect("connects");
    }
    for user in [1, second_user] {
        assert!(
            replica_path(dir.path(), PortalMode::Webhook, &host, user).exists(),
            "user {user} has a replica of their own"
        );
        assert!(
            secrets
                .load(&format!("{user}@{host}"))
                .expect("keyring")
                .is_some(),
            "user {user} has a keyring entry of their own"
        );
    }
    assert!(
        !legacy_replica_path(dir.path(), &host).exists(),
        "no shared host-only file"
    );
    assert_eq!(
        secrets
            .load(&format!("1@{host}"))
            .expect("keyring")
            .map(|w| w.user_id()),
        Some(1),
        "the second connect did not overwrite the first person's webhook"
    );
    portal.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_moves_the_host_only_replica_and_keyring_entry_to_the_person() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    let host = portal.addr().to_string();
    let webhook = WebhookUrl::parse(&portal.admin_webhook_url()).expect("webhook");

    // What an earlier version left: the webhook under the host, the settings naming the host,
    // and the replica named after the host.
    secrets.save(&host, &webhook).expect("save");
    std::fs::write(
        dir.path().join("portal.json"),
        format!("{{\"account\": \"{host}\"}}"),
    )
    .expect("settings");
    let legacy = legacy_replica_path(dir.path(), &host);
    drop(kartoteka_store::Store::open(&legacy).expect("legacy replica"));
    let legacy_bytes = std::fs::read(&legacy).expect("read");

    let core = Core::new(Arc::new(Quiet), dir.path().to_path_buf(), secrets.clone());
    let status = core.start(false).await.expect("start");
    assert_eq!(
        status.mode,
        PortalMode::Webhook,
        "the portal is still configured"
    );
    let moved = replica_path(dir.path(), PortalMode::Webhook, &host, 1);
    assert!(moved.exists(), "the replica moved to its per-user name");
    assert!(!legacy.exists(), "nothing is left under the host-only name");
    assert!(
        std::fs::read(&moved)
            .expect("read")
            .starts_with(&legacy_bytes[..100]),
        "the same file, not a new one"
    );
    assert!(
        core.with_replica(|_| Ok(())).is_ok(),
        "the moved replica is open"
    );
    assert_eq!(secrets.load(&host).expect("keyring"), None);
    assert_eq!(
        secrets.load(&format!("1@{host}")).expect("keyring"),
        Some(webhook)
    );
    assert_eq!(
        read_settings(dir.path()).map(|s| s.account),
        Some(format!("1@{host}"))
    );
    portal.shutdown().await;
}
