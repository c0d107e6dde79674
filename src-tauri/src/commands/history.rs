use crate::api::Core;
use kartoteka_domain::edit::{EditSaved, HistoryRevertRequest};
use kartoteka_domain::history::{
    HistoryExportCancelRequest, HistoryExportRequest, HistoryExportResult, HistoryFacets,
    HistoryFacetsRequest, HistoryHidden, HistoryHideRequest, HistoryListRequest, HistoryPage,
    RecordAsOf, RecordAsOfRequest,
};
use kartoteka_domain::ipc::IpcError;
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn history_list(
    core: State<'_, Arc<Core>>,
    request: HistoryListRequest,
) -> Result<HistoryPage, IpcError> {
    core.history_list(request).await
}

#[tauri::command]
pub async fn history_facets(
    core: State<'_, Arc<Core>>,
    request: HistoryFacetsRequest,
) -> Result<HistoryFacets, IpcError> {
    let HistoryFacetsRequest {} = request;
    core.history_facets().await
}

#[tauri::command]
pub async fn record_as_of(
    core: State<'_, Arc<Core>>,
    request: RecordAsOfRequest,
) -> Result<RecordAsOf, IpcError> {
    core.record_as_of(request).await
}

/// Runs the export off the UI thread; progress arrives as `historyExportProgress` events.
#[tauri::command]
pub async fn history_export(
    core: State<'_, Arc<Core>>,
    request: HistoryExportRequest,
) -> Result<HistoryExportResult, IpcError> {
    core.history_export(request).await
}

#[tauri::command]
pub async fn history_export_cancel(
    core: State<'_, Arc<Core>>,
    request: HistoryExportCancelRequest,
) -> Result<(), IpcError> {
    let HistoryExportCancelRequest {} = request;
    core.history_export_cancel().await
}

#[tauri::command]
pub async fn history_hide(
    core: State<'_, Arc<Core>>,
    request: HistoryHideRequest,
) -> Result<HistoryHidden, IpcError> {
    core.history_hide(request).await
}

#[tauri::command]
pub async fn history_revert(
    core: State<'_, Arc<Core>>,
    request: HistoryRevertRequest,
) -> Result<EditSaved, IpcError> {
    core.history_revert(request).await
}
