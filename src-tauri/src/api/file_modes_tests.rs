//! On unix the app keeps customers' data readable by the user alone: its data folder is 0700 (also
//! one an earlier version left 0755); the replica with its `-wal` and `-shm`, the settings files
//! and the files it exports (unsent edits, history) are 0600; a folder the user chose for an
//! export keeps its own mode. Run with the usual umask (022), under which files are created 0644
//! unless a program asks for less.
use super::*;
use kartoteka_bitrix::{MemorySecretStore, SecretStore, WebhookUrl};
use kartoteka_domain::edit::{OutboxExportRequest, SyncSetOfflineRequest};
use kartoteka_domain::history::{ExportFormat, HistoryExportRequest, HistoryFilter};
use kartoteka_domain::ipc::AppEvent;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

struct Ignored;

impl EventSink for Ignored {
    fn send(&self, _event: AppEvent) {}
}

/// The mode of `path` in octal, as `ls -l` users read it.
fn mode(path: &Path) -> String {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", meta.permissions().mode() & 0o777)
}

/// Every file in `dir` with its mode.
fn file_modes(dir: &Path) -> Vec<(String, String)> {
    let mut all: Vec<_> = std::fs::read_dir(dir)
        .expect("read the folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, mode(&p))
        })
        .collect();
    all.sort();
    all
}

fn folder_0755(path: &Path) {
    std::fs::create_dir(path).expect("folder");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_the_replica_the_settings_and_the_exports_are_the_users_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The data folder as an earlier version left it.
    let data = dir.path().join("data");
    folder_0755(&data);
    let downloads = dir.path().join("Downloads");
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let core = Core::new(Arc::new(Ignored), data.clone(), secrets).with_demo_records(Some(60));
    core.set_downloads_dir(Some(downloads.clone()));
    core.use_demo().await.expect("the demo portal starts");
    // The bound only keeps a broken sync from hanging the test; nothing here measures time.
    for _ in 0..1800 {
        let status = core.sync_status().await.expect("sync status");
        if let Some(error) = status.last_error {
            panic!("the first sync failed: {error:?}");
        }
        if status.last_sync_at.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(mode(&data), "700", "the app's data folder");
    let replica = file_modes(&data);
    for name in [
        "demo.kartoteka.db",
        "demo.kartoteka.db-wal",
        "demo.kartoteka.db-shm",
    ] {
        assert!(
            replica.iter().any(|(n, _)| n == name),
            "{name} is there: {replica:?}"
        );
    }
    assert!(
        replica.iter().all(|(_, m)| m == "600"),
        "the replica, its -wal and -shm: {replica:?}"
    );

    core.sync_set_offline(SyncSetOfflineRequest { offline: true })
        .await
        .expect("the sync settings are saved");
    let webhook =
        WebhookUrl::parse("https://portal.bitrix24.ru/rest/7/k3x9secretcode77/").expect("URL");
    core.remember(&webhook)
        .await
        .expect("the portal settings are saved");
    let settings = file_modes(&data);
    for name in ["sync.json", "portal.json"] {
        assert!(
            settings.contains(&(name.to_string(), "600".to_string())),
            "{name} is the user's alone: {settings:?}"
        );
    }
    assert!(
        settings.iter().all(|(_, m)| m == "600"),
        "every file in the data folder: {settings:?}"
    );

    // Exports into a folder the user chose, and into Downloads when no path is given.
    let chosen = dir.path().join("chosen");
    folder_0755(&chosen);
    let unsent = chosen.join("unsent.json");
    core.outbox_export(OutboxExportRequest {
        path: Some(unsent.display().to_string()),
    })
    .await
    .expect("the unsent edits are exported");
    let default_unsent = core
        .outbox_export(OutboxExportRequest { path: None })
        .await
        .expect("exported into Downloads")
        .path;
    let history = chosen.join("history.csv");
    core.history_export(HistoryExportRequest {
        filter: HistoryFilter::default(),
        format: ExportFormat::Csv,
        path: Some(history.display().to_string()),
        columns: vec![],
    })
    .await
    .expect("the history is exported");
    let default_history = core
        .history_export(HistoryExportRequest {
            filter: HistoryFilter::default(),
            format: ExportFormat::Xlsx,
            path: None,
            columns: vec![],
        })
        .await
        .expect("exported into Downloads")
        .path;
    for file in [
        unsent,
        PathBuf::from(default_unsent),
        history,
        PathBuf::from(default_history),
    ] {
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
    assert_eq!(mode(&chosen), "755", "the user's folder keeps its mode");
    assert_eq!(mode(&data), "700");
}
