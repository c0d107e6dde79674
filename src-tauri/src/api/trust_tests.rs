//! Failures reach the user as what they are, through the shell: a replica written by a newer
//! version, and a secret store that cannot give the saved webhook back.

use crate::api::portal::replica_path;
use crate::api::{Core, EventSink};
use kartoteka_bitrix::{MemorySecretStore, SecretError, SecretStore, WebhookUrl};
use kartoteka_domain::ipc::{AppEvent, ErrorCode, PortalMode, RecordsListRequest};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{Sandbox, SandboxOptions};
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
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    configure(dir.path(), secrets.clone(), &portal).await;

    // A replica from a future Kartoteka: schema version 99.
    let file = replica_path(dir.path(), PortalMode::Webhook, &portal.addr().to_string());
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
