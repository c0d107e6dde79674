use crate::api::Core;
use kartoteka_domain::edit::{
    EditSaved, RecordCreateRequest, RecordDeleteRequest, RecordRestoreRequest, RecordUpdateRequest,
};
use kartoteka_domain::ipc::{
    IpcError, RecordCard, RecordGetRequest, RecordsListRequest, RecordsPage, ReferenceListRequest,
    ReferenceLists,
};
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn records_list(
    core: State<'_, Arc<Core>>,
    request: RecordsListRequest,
) -> Result<RecordsPage, IpcError> {
    core.records_list(request).await
}

#[tauri::command]
pub async fn record_get(
    core: State<'_, Arc<Core>>,
    request: RecordGetRequest,
) -> Result<RecordCard, IpcError> {
    core.record_get(request).await
}

#[tauri::command]
pub async fn references_list(
    core: State<'_, Arc<Core>>,
    request: ReferenceListRequest,
) -> Result<ReferenceLists, IpcError> {
    core.references_list(request).await
}

#[tauri::command]
pub async fn record_update(
    core: State<'_, Arc<Core>>,
    request: RecordUpdateRequest,
) -> Result<EditSaved, IpcError> {
    core.record_update(request).await
}

#[tauri::command]
pub async fn record_create(
    core: State<'_, Arc<Core>>,
    request: RecordCreateRequest,
) -> Result<EditSaved, IpcError> {
    core.record_create(request).await
}

#[tauri::command]
pub async fn record_delete(
    core: State<'_, Arc<Core>>,
    request: RecordDeleteRequest,
) -> Result<EditSaved, IpcError> {
    core.record_delete(request).await
}

#[tauri::command]
pub async fn record_restore(
    core: State<'_, Arc<Core>>,
    request: RecordRestoreRequest,
) -> Result<EditSaved, IpcError> {
    core.record_restore(request).await
}
