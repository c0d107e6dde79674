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
import type { EditSaved } from "./bindings/EditSaved";
import type { HistoryRevertRequest } from "./bindings/HistoryRevertRequest";
import type { OutboxEntryRequest } from "./bindings/OutboxEntryRequest";
import type { OutboxExportRequest } from "./bindings/OutboxExportRequest";
import type { OutboxImportRequest } from "./bindings/OutboxImportRequest";
import type { OutboxExported } from "./bindings/OutboxExported";
import type { OutboxList } from "./bindings/OutboxList";
import type { OutboxListRequest } from "./bindings/OutboxListRequest";
import type { OutboxResolveRequest } from "./bindings/OutboxResolveRequest";
import type { OutboxSettleRequest } from "./bindings/OutboxSettleRequest";
import type { UncertainChoice } from "./bindings/UncertainChoice";
import type { RecordCreateRequest } from "./bindings/RecordCreateRequest";
import type { RecordDeleteRequest } from "./bindings/RecordDeleteRequest";
import type { RecordRestoreRequest } from "./bindings/RecordRestoreRequest";
import type { RecordUpdateRequest } from "./bindings/RecordUpdateRequest";
import type { SyncSetOfflineRequest } from "./bindings/SyncSetOfflineRequest";
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
  history_revert: [HistoryRevertRequest, EditSaved];
  record_update: [RecordUpdateRequest, EditSaved];
  record_create: [RecordCreateRequest, EditSaved];
  record_delete: [RecordDeleteRequest, EditSaved];
  record_restore: [RecordRestoreRequest, EditSaved];
  outbox_list: [OutboxListRequest, OutboxList];
  outbox_resolve: [OutboxResolveRequest, EditSaved];
  outbox_retry: [OutboxEntryRequest, number];
  outbox_settle: [OutboxSettleRequest, null];
  outbox_discard: [OutboxEntryRequest, null];
  outbox_export: [OutboxExportRequest, OutboxExported];
  outbox_import: [OutboxImportRequest, number];
  sync_set_offline: [SyncSetOfflineRequest, PortalStatus];
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
export const historyRevert = (seq: number) => call("history_revert", { seq });
export const recordUpdate = (request: RecordUpdateRequest) => call("record_update", request);
export const recordCreate = (request: RecordCreateRequest) => call("record_create", request);
export const recordDelete = (request: RecordDeleteRequest) => call("record_delete", request);
export const recordRestore = (request: RecordRestoreRequest) => call("record_restore", request);
export const outboxList = (request: OutboxListRequest) => call("outbox_list", request);
export const outboxResolve = (request: OutboxResolveRequest) => call("outbox_resolve", request);
export const outboxRetry = (id: number | null) => call("outbox_retry", { id });
export const outboxSettle = (id: number, choice: UncertainChoice) => call("outbox_settle", { id, choice });
export const outboxDiscard = (id: number) => call("outbox_discard", { id });
export const outboxExport = (path: string | null) => call("outbox_export", { path });
export const outboxImport = (content: string, originConfirmed = false) => call("outbox_import", { content, originConfirmed });
export const syncSetOffline = (offline: boolean) => call("sync_set_offline", { offline });
