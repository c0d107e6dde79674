use crate::api::Core;
use kartoteka_domain::ipc::{
    IpcError, PortalConnectRequest, PortalCounts, PortalCountsRequest, PortalStatus,
    PortalStatusRequest, PortalUseDemoRequest,
};
use std::sync::Arc;
use tauri::State;

#[tauri::command]
pub async fn portal_status(
    core: State<'_, Arc<Core>>,
    request: PortalStatusRequest,
) -> Result<PortalStatus, IpcError> {
    let PortalStatusRequest {} = request;
    core.status().await
}

#[tauri::command]
pub async fn portal_counts(
    core: State<'_, Arc<Core>>,
    request: PortalCountsRequest,
) -> Result<PortalCounts, IpcError> {
    let PortalCountsRequest {} = request;
    core.counts().await
}

#[tauri::command]
pub async fn portal_connect(
    core: State<'_, Arc<Core>>,
    request: PortalConnectRequest,
) -> Result<PortalStatus, IpcError> {
    core.connect(&request.webhook_url).await
}

#[tauri::command]
pub async fn portal_use_demo(
    core: State<'_, Arc<Core>>,
    request: PortalUseDemoRequest,
) -> Result<PortalStatus, IpcError> {
    let PortalUseDemoRequest {} = request;
    core.use_demo().await
}
