// Typed calls of the shell's IPC commands. One request type in, one response type out; the
// types are generated from the Rust ones (`bindings/`), so both sides cannot drift apart.
import { invoke } from "@tauri-apps/api/core";
import type { PortalConnectRequest } from "./bindings/PortalConnectRequest";
import type { PortalCounts } from "./bindings/PortalCounts";
import type { PortalCountsRequest } from "./bindings/PortalCountsRequest";
import type { PortalStatus } from "./bindings/PortalStatus";
import type { PortalStatusRequest } from "./bindings/PortalStatusRequest";
import type { PortalUseDemoRequest } from "./bindings/PortalUseDemoRequest";
import type { RecordCard } from "./bindings/RecordCard";
import type { RecordGetRequest } from "./bindings/RecordGetRequest";
import type { RecordsListRequest } from "./bindings/RecordsListRequest";
import type { RecordsPage } from "./bindings/RecordsPage";
import type { ReferenceListRequest } from "./bindings/ReferenceListRequest";
import type { ReferenceLists } from "./bindings/ReferenceLists";
import type { SyncStartRequest } from "./bindings/SyncStartRequest";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { SyncStatusRequest } from "./bindings/SyncStatusRequest";
import type { HistoryExportCancelRequest } from "./bindings/HistoryExportCancelRequest";
import type { HistoryExportRequest } from "./bindings/HistoryExportRequest";
import type { HistoryExportResult } from "./bindings/HistoryExportResult";
import type { HistoryFacets } from "./bindings/HistoryFacets";
import type { HistoryFacetsRequest } from "./bindings/HistoryFacetsRequest";
import type { HistoryHidden } from "./bindings/HistoryHidden";
import type { HistoryHideRequest } from "./bindings/HistoryHideRequest";
import type { HistoryListRequest } from "./bindings/HistoryListRequest";
import type { HistoryPage } from "./bindings/HistoryPage";
import type { RecordAsOf } from "./bindings/RecordAsOf";
import type { RecordAsOfRequest } from "./bindings/RecordAsOfRequest";
import { IpcFailure, toIpcError } from "./errors";

/** Every command: its request and response types. Names match the Rust `#[tauri::command]`s. */
export interface Commands {
  portal_status: [PortalStatusRequest, PortalStatus];
  portal_counts: [PortalCountsRequest, PortalCounts];
  portal_connect: [PortalConnectRequest, PortalStatus];
  portal_use_demo: [PortalUseDemoRequest, PortalStatus];
  records_list: [RecordsListRequest, RecordsPage];
  record_get: [RecordGetRequest, RecordCard];
  references_list: [ReferenceListRequest, ReferenceLists];
  sync_start: [SyncStartRequest, SyncStatus];
  sync_status: [SyncStatusRequest, SyncStatus];
  history_list: [HistoryListRequest, HistoryPage];
  history_facets: [HistoryFacetsRequest, HistoryFacets];
  record_as_of: [RecordAsOfRequest, RecordAsOf];
  history_export: [HistoryExportRequest, HistoryExportResult];
  history_export_cancel: [HistoryExportCancelRequest, null];
  history_hide: [HistoryHideRequest, HistoryHidden];
}

export type CommandName = keyof Commands;

/** Calls a command; rejects with an `IpcFailure` carrying `{code, message}`. */
export async function call<C extends CommandName>(
  command: C,
  request: Commands[C][0],
): Promise<Commands[C][1]> {
  try {
    return await invoke<Commands[C][1]>(command, { request });
  } catch (reason) {
    throw new IpcFailure(toIpcError(reason));
  }
}

export const portalStatus = () => call("portal_status", {});
export const portalCounts = () => call("portal_counts", {});
export const portalConnect = (webhookUrl: string) => call("portal_connect", { webhookUrl });
export const portalUseDemo = () => call("portal_use_demo", {});
export const recordsList = (request: RecordsListRequest) => call("records_list", request);
export const recordGet = (request: RecordGetRequest) => call("record_get", request);
export const referencesList = (request: ReferenceListRequest) => call("references_list", request);
export const syncStart = () => call("sync_start", {});
export const syncStatus = () => call("sync_status", {});
export const historyList = (request: HistoryListRequest) => call("history_list", request);
export const historyFacets = () => call("history_facets", {});
export const recordAsOf = (request: RecordAsOfRequest) => call("record_as_of", request);
export const historyExport = (request: HistoryExportRequest) => call("history_export", request);
export const historyExportCancel = () => call("history_export_cancel", {});
export const historyHide = (request: HistoryHideRequest) => call("history_hide", request);
