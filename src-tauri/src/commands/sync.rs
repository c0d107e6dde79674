use crate::api::Core;
use kartoteka_domain::edit::SyncSetOfflineRequest;
use kartoteka_domain::ipc::{
    IpcError, PortalStatus, SyncStartRequest, SyncStatus, SyncStatusRequest,
};
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn sync_start(
    core: State<'_, Arc<Core>>,
    request: SyncStartRequest,
) -> Result<SyncStatus, IpcError> {
    let SyncStartRequest {} = request;
    core.sync_start().await
}

#[tauri::command]
pub async fn sync_status(
    core: State<'_, Arc<Core>>,
    request: SyncStatusRequest,
) -> Result<SyncStatus, IpcError> {
    let SyncStatusRequest {} = request;
    core.sync_status().await
}

#[tauri::command]
pub async fn sync_set_offline(
    core: State<'_, Arc<Core>>,
    request: SyncSetOfflineRequest,
) -> Result<PortalStatus, IpcError> {
    core.sync_set_offline(request).await
}
