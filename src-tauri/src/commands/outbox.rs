use crate::api::Core;
use kartoteka_domain::edit::{
    EditSaved, OutboxEntryRequest, OutboxExportRequest, OutboxExported, OutboxImportRequest,
    OutboxList, OutboxListRequest, OutboxResolveRequest, OutboxSettleRequest,
};
use kartoteka_domain::ipc::IpcError;
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn outbox_list(
    core: State<'_, Arc<Core>>,
    request: OutboxListRequest,
) -> Result<OutboxList, IpcError> {
    core.outbox_list(request).await
}

#[tauri::command]
pub async fn outbox_resolve(
    core: State<'_, Arc<Core>>,
    request: OutboxResolveRequest,
) -> Result<EditSaved, IpcError> {
    core.outbox_resolve(request).await
}

#[tauri::command]
pub async fn outbox_retry(
    core: State<'_, Arc<Core>>,
    request: OutboxEntryRequest,
) -> Result<u32, IpcError> {
    core.outbox_retry(request).await
}

#[tauri::command]
pub async fn outbox_settle(
    core: State<'_, Arc<Core>>,
    request: OutboxSettleRequest,
) -> Result<(), IpcError> {
    core.outbox_settle(request).await
}

#[tauri::command]
pub async fn outbox_discard(
    core: State<'_, Arc<Core>>,
    request: OutboxEntryRequest,
) -> Result<(), IpcError> {
    core.outbox_discard(request).await
}

#[tauri::command]
pub async fn outbox_export(
    core: State<'_, Arc<Core>>,
    request: OutboxExportRequest,
) -> Result<OutboxExported, IpcError> {
    core.outbox_export(request).await
}

#[tauri::command]
pub async fn outbox_import(
    core: State<'_, Arc<Core>>,
    request: OutboxImportRequest,
) -> Result<u32, IpcError> {
    core.outbox_import(request).await
}
