use crate::api::Core;
use kartoteka_domain::history::{
    HistoryFacets, HistoryFacetsRequest, HistoryHidden, HistoryHideRequest, HistoryListRequest,
    HistoryPage, RecordAsOf, RecordAsOfRequest,
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

#[tauri::command]
pub async fn history_hide(
    core: State<'_, Arc<Core>>,
    request: HistoryHideRequest,
) -> Result<HistoryHidden, IpcError> {
    core.history_hide(request).await
}
