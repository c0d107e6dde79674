//! Record lists, cards and reference lists, read from the local replica.
//!
//! The replica (kartoteka-store) and the sync engine are wired in with the "Replica and sync"
//! issue; until then these answer that the lists are not available yet.

use crate::api::Core;
use kartoteka_domain::ipc::{
    ErrorCode, IpcError, RecordCard, RecordGetRequest, RecordsListRequest, RecordsPage,
    ReferenceListRequest, ReferenceLists, SyncStatus,
};

fn not_yet(what: &str) -> IpcError {
    IpcError::new(ErrorCode::Storage, format!("{what} are not available before the first sync"))
}

impl Core {
    pub async fn records_list(&self, request: RecordsListRequest) -> Result<RecordsPage, IpcError> {
        tracing::debug!(entity_type = %request.entity_type, offset = request.offset, "records_list");
        Err(not_yet("record lists"))
    }

    pub async fn record_get(&self, request: RecordGetRequest) -> Result<RecordCard, IpcError> {
        tracing::debug!(entity_type = %request.key.entity_type, id = request.key.id, "record_get");
        Err(not_yet("record cards"))
    }

    pub async fn references_list(&self, request: ReferenceListRequest) -> Result<ReferenceLists, IpcError> {
        tracing::debug!(entity_type = %request.entity_type, "references_list");
        Ok(ReferenceLists { stages: vec![], categories: vec![], users: vec![] })
    }

    pub async fn sync_start(&self) -> Result<SyncStatus, IpcError> {
        self.sync_status().await
    }

    pub async fn sync_status(&self) -> Result<SyncStatus, IpcError> {
        Ok(SyncStatus { running: false, progress: None, last_sync_at: None, last_error: None })
    }
}
