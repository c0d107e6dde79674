//! Sync as the UI sees it. The pull engine (kartoteka-sync) is driven from here once its
//! adapters over the client and the replica are in place; until then a sync reports its state
//! without pulling.

use crate::api::Core;
use kartoteka_domain::ipc::{IpcError, SyncStatus};

impl Core {
    pub async fn sync_start(&self) -> Result<SyncStatus, IpcError> {
        self.sync_status().await
    }

    pub async fn sync_status(&self) -> Result<SyncStatus, IpcError> {
        Ok(SyncStatus {
            running: false,
            progress: None,
            last_sync_at: None,
            last_error: None,
        })
    }
}
