//! The outbox as the user steers it (product.md §5): the list behind the badge and the outbox
//! panel, conflicts settled field by field, retry, discard, export of unsent edits to a file,
//! and the "work offline" switch (no upload, no pull while on; kept between runs).

use crate::api::edits::from_edit_store;
use crate::api::history::local_actor;
use crate::api::Core;
use chrono::{DateTime, Local, Utc};
use kartoteka_domain::edit::{
    EditSaved, OutboxEntryRequest, OutboxExportRequest, OutboxExported, OutboxImportRequest,
    OutboxList, OutboxListRequest, OutboxResolveRequest, OutboxSettleRequest,
    SyncSetOfflineRequest, UncertainChoice,
};
use kartoteka_domain::ipc::{ErrorCode, IpcError, PortalStatus};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

const SYNC_SETTINGS_FILE: &str = "sync.json";

/// The sync settings the user chose, kept in the data directory (no secret in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSettings {
    #[serde(default)]
    pub work_offline: bool,
}

/// The saved sync settings; defaults when there are none or the file is unreadable.
pub fn read_sync_settings(dir: &Path) -> SyncSettings {
    let Ok(text) = std::fs::read_to_string(dir.join(SYNC_SETTINGS_FILE)) else {
        return SyncSettings::default();
    };
    serde_json::from_str(&text).unwrap_or_else(|error| {
        tracing::warn!(%error, "the sync settings file is unreadable; using the defaults");
        SyncSettings::default()
    })
}

fn storage(what: &'static str) -> impl Fn(std::io::Error) -> IpcError {
    move |e| IpcError::new(ErrorCode::Storage, format!("cannot write {what}: {e}"))
}

/// Writes a file of the user's alone through a temporary one renamed over it, so a crash never
/// leaves half a file (kartoteka_store::private_files). A missing folder is made with the usual
/// mode: the folder is the user's choice, not the app's.
fn write_whole(path: &Path, text: &str, what: &'static str) -> Result<(), IpcError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(storage(what))?;
    }
    kartoteka_store::write_private_file(path, text.as_bytes()).map_err(storage(what))
}

pub fn write_sync_settings(dir: &Path, settings: &SyncSettings) -> Result<(), IpcError> {
    let text = serde_json::to_string_pretty(settings)
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
    kartoteka_store::private_dir(dir).map_err(storage("the sync settings"))?;
    write_whole(&dir.join(SYNC_SETTINGS_FILE), &text, "the sync settings")
}

/// The default export file: `<downloads>/kartoteka-outbox-2026-11-27-1530.json`, with `-2`, `-3`,
/// … when that name is taken.
pub fn default_outbox_path(dir: &Path, now: DateTime<Local>) -> PathBuf {
    let stem = format!("kartoteka-outbox-{}", now.format("%Y-%m-%d-%H%M"));
    let mut path = dir.join(format!("{stem}.json"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.json"));
        n += 1;
    }
    path
}

impl Core {
    /// The user's "work offline" switch.
    pub fn works_offline(&self) -> bool {
        self.work_offline.load(Ordering::SeqCst)
    }

    pub async fn outbox_list(&self, request: OutboxListRequest) -> Result<OutboxList, IpcError> {
        self.with_replica(|store| store.outbox_list(&request).map_err(|e| from_edit_store(&e)))
    }

    pub async fn outbox_resolve(
        &self,
        request: OutboxResolveRequest,
    ) -> Result<EditSaved, IpcError> {
        let OutboxResolveRequest { id, choice } = request;
        tracing::info!(id, ?choice, "conflict resolved");
        self.save_edit(|store, actor, now| store.resolve_conflict(actor, id, &choice, now))
    }

    /// Puts rejected or failed entries (one, or every one when `id` is `None`) back in the queue
    /// and asks for an upload; answers how many were queued again.
    pub async fn outbox_retry(&self, request: OutboxEntryRequest) -> Result<u32, IpcError> {
        let queued = self.with_replica_mut(|store| {
            store
                .retry_outbox(request.id)
                .map_err(|e| from_edit_store(&e))
        })?;
        tracing::info!(id = ?request.id, queued, "outbox retry");
        self.after_outbox_change(None, true);
        Ok(queued)
    }

    /// The user's word on a create that may or may not be on the portal: send it again (an
    /// upload is asked for), or it arrived (its record leaves the lists: the user may not read
    /// it on the portal).
    pub async fn outbox_settle(&self, request: OutboxSettleRequest) -> Result<(), IpcError> {
        let OutboxSettleRequest { id, choice } = request;
        let online = self.edits_online();
        let now_ms = Utc::now().timestamp_millis();
        let key = self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_edit_store(&e))?;
            store
                .settle_uncertain(&actor, id, choice, now_ms)
                .map_err(|e| from_edit_store(&e))
        })?;
        tracing::info!(id, ?choice, "uncertain create settled");
        self.after_outbox_change(Some(key.entity_type), choice == UncertainChoice::SendAgain);
        Ok(())
    }

    /// Drops one entry (the user confirmed); the store records it in history.
    pub async fn outbox_discard(&self, request: OutboxEntryRequest) -> Result<(), IpcError> {
        let Some(id) = request.id else {
            return Err(IpcError::new(
                ErrorCode::InvalidInput,
                "name the outbox entry to discard",
            ));
        };
        let online = self.edits_online();
        let now_ms = Utc::now().timestamp_millis();
        self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_edit_store(&e))?;
            store
                .discard_outbox_entry(&actor, id, now_ms)
                .map_err(|e| from_edit_store(&e))
        })?;
        tracing::info!(id, "outbox entry discarded");
        // The record's local row may have gone back to the portal's version.
        self.after_outbox_change(None, false);
        self.events
            .send(kartoteka_domain::ipc::AppEvent::RecordsChanged {
                entity_types: kartoteka_domain::EntityType::ALL.to_vec(),
            });
        Ok(())
    }

    /// Writes the unsent edits to a JSON file (the Downloads folder when no path is given), in
    /// the store's format that `kartoteka-cli outbox import` queues again.
    pub async fn outbox_export(
        &self,
        request: OutboxExportRequest,
    ) -> Result<OutboxExported, IpcError> {
        let edits = self
            .with_replica(|store| store.export_unsent_edits().map_err(|e| from_edit_store(&e)))?;
        let path = match request.path.filter(|p| !p.trim().is_empty()) {
            Some(path) => PathBuf::from(path),
            None => {
                let dir = self.history.downloads_dir().ok_or_else(|| {
                    IpcError::new(ErrorCode::InvalidInput, "no folder to export to")
                })?;
                default_outbox_path(&dir, Local::now())
            }
        };
        let text = serde_json::to_string_pretty(&edits)
            .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))?;
        write_whole(&path, &text, "the outbox export")?;
        let count = u32::try_from(edits.edits.len()).unwrap_or(u32::MAX);
        tracing::info!(entries = count, "unsent edits exported");
        Ok(OutboxExported {
            path: path.display().to_string(),
            entries: count,
        })
    }

    /// Queues the edits of an exported file again (after signing in anew or on another replica
    /// of the same portal). Creates keep their tag and are looked up before they are sent.
    pub async fn outbox_import(&self, request: OutboxImportRequest) -> Result<u32, IpcError> {
        let file: kartoteka_store::ExportedEdits =
            serde_json::from_str(&request.content).map_err(|_| {
                IpcError::new(
                    ErrorCode::InvalidInput,
                    "this file is not a Kartoteka export of unsent edits",
                )
            })?;
        let online = self.edits_online();
        let now_ms = Utc::now().timestamp_millis();
        let queued = self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_edit_store(&e))?;
            store
                .import_unsent_edits(&actor, &file, now_ms, request.origin_confirmed)
                .map_err(|e| from_edit_store(&e))
        })?;
        tracing::info!(queued, "unsent edits imported");
        self.after_outbox_change(None, true);
        self.events
            .send(kartoteka_domain::ipc::AppEvent::RecordsChanged {
                entity_types: kartoteka_domain::EntityType::ALL.to_vec(),
            });
        Ok(queued)
    }

    /// Turns "work offline" on or off and keeps the choice. On: a running sync is cancelled
    /// and none starts until it is off again. Off: a sync (upload first) starts at once.
    pub async fn sync_set_offline(
        &self,
        request: SyncSetOfflineRequest,
    ) -> Result<PortalStatus, IpcError> {
        write_sync_settings(
            &self.data_dir,
            &SyncSettings {
                work_offline: request.offline,
            },
        )?;
        self.work_offline.store(request.offline, Ordering::SeqCst);
        tracing::info!(offline = request.offline, "work offline switched");
        let _ = self.with_scheduler(|s| {
            if request.offline {
                s.cancel_run();
            } else {
                s.sync_now();
            }
        });
        let status = self.status().await?;
        self.events
            .send(kartoteka_domain::ipc::AppEvent::PortalChanged {
                status: status.clone(),
            });
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_offline_choice_survives_a_restart_and_a_broken_file_reads_as_online() {
        let dir = tempfile::tempdir().expect("temp dir");
        assert_eq!(read_sync_settings(dir.path()), SyncSettings::default());
        let on = SyncSettings { work_offline: true };
        write_sync_settings(dir.path(), &on).expect("written");
        assert_eq!(read_sync_settings(dir.path()), on);
        std::fs::write(dir.path().join(SYNC_SETTINGS_FILE), "{not json").expect("spoiled");
        assert!(!read_sync_settings(dir.path()).work_offline);
    }

    #[test]
    fn outbox_exports_never_overwrite_an_earlier_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Local::now();
        let first = default_outbox_path(dir.path(), now);
        std::fs::write(&first, "{}").expect("first export");
        let second = default_outbox_path(dir.path(), now);
        assert_ne!(first, second);
        assert!(second.display().to_string().ends_with("-2.json"));
    }
}
