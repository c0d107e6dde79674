import { useCallback, useEffect, useState } from "react";
import {
  IpcFailure,
  onAppEvent,
  outboxList,
  syncSetOffline,
  portalCounts,
  portalStatus,
  syncStart,
  syncStatus,
  type AppEvent,
  type IpcError,
  type PortalCounts,
  type PortalStatus,
  type SyncStatus,
} from "../../lib/ipc";
import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { SyncProgress } from "../../lib/ipc/bindings/SyncProgress";

/** How far the running sync got with each type: the furthest count seen, and its total. */
export type SyncSeen = Partial<Record<EntityType, { done: number; total: number | null }>>;

/** Adds a progress step to what the running sync has done so far (a later phase never goes back). */
export function addProgress(seen: SyncSeen, p: SyncProgress): SyncSeen {
  const before = seen[p.entityType];
  return {
    ...seen,
    [p.entityType]: { done: Math.max(before?.done ?? 0, p.done), total: p.total ?? before?.total ?? null },
  };
}

/**
 * One percentage for the whole sync: records done of all types over the records of all types
 * (the portal's counts stand in for totals not reported yet), so the bar never jumps back when
 * the next type starts. Without the counts the whole is unknown: no percentage (the bar moves
 * without one), rather than one type's that would jump back once the counts arrive.
 */
export function overallPercent(seen: SyncSeen, counts: PortalCounts | null): number | null {
  if (!counts || counts.counts.length === 0) return null;
  let done = 0;
  let total = 0;
  for (const c of counts.counts) {
    const s = seen[c.entityType];
    const t = s?.total ?? c.count;
    total += t;
    done += Math.min(s?.done ?? 0, t);
  }
  return total > 0 ? Math.min(100, Math.round((done / total) * 100)) : null;
}

export interface PortalState {
  status: PortalStatus | null;
  counts: PortalCounts | null;
  sync: SyncStatus | null;
  /** What the running sync has done per type (empty when none runs). */
  syncSeen: SyncSeen;
  error: IpcError | null;
  /** Bumped whenever records may have changed, so open lists reload. */
  revision: number;
  /** Unsent edits (the badge), open conflicts and creates waiting for a decision; `null` until known. */
  outbox: { open: number; conflicts: number; uncertain: number } | null;
  /** Bumped whenever the outbox may have changed, so the outbox panel reloads. */
  outboxRevision: number;
  reload: () => void;
  startSync: () => void;
  /** The "work offline" switch. */
  setWorkOffline: (offline: boolean) => void;
}

/**
 * A progress step that does not repeat the total (a later phase of the same type) keeps the total
 * reported earlier for that type, so the header goes on saying "n of total".
 */
export function withKnownTotal(next: SyncProgress, previous: SyncProgress | null): SyncProgress {
  if (next.total !== null || !previous || previous.entityType !== next.entityType) return next;
  return { ...next, total: previous.total };
}

function asIpcError(e: unknown): IpcError {
  return e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) };
}

/** The portal as the header and overview see it, kept current by the event stream. */
export function usePortal(): PortalState {
  const [status, setStatus] = useState<PortalStatus | null>(null);
  const [counts, setCounts] = useState<PortalCounts | null>(null);
  const [sync, setSync] = useState<SyncStatus | null>(null);
  const [syncSeen, setSyncSeen] = useState<SyncSeen>({});
  const [error, setError] = useState<IpcError | null>(null);
  const [revision, setRevision] = useState(0);
  const [outbox, setOutbox] = useState<{ open: number; conflicts: number; uncertain: number } | null>(null);
  const [outboxRevision, setOutboxRevision] = useState(0);

  const refreshOutbox = useCallback(() => {
    setOutboxRevision((r) => r + 1);
    outboxList({ includeClosed: false, record: null })
      .then((l) => setOutbox({ open: l.open, conflicts: l.conflicts, uncertain: l.uncertain ?? 0 }))
      .catch(() => {
        // No replica yet (connect screen, a portal starting): no badge.
        setOutbox(null);
      });
  }, []);

  const setWorkOffline = useCallback((offline: boolean) => {
    syncSetOffline(offline)
      .then(setStatus)
      .catch((e: unknown) => setError(asIpcError(e)));
  }, []);

  const reload = useCallback(() => {
    setError(null);
    portalStatus()
      .then((s) => {
        setStatus(s);
        if (s.mode === "notConfigured") return;
        refreshOutbox();
        return portalCounts().then(setCounts);
      })
      .catch((e: unknown) => setError(asIpcError(e)));
    syncStatus()
      .then(setSync)
      .catch(() => {
        // Sync status is optional for the first screen; errors surface when a sync runs.
      });
  }, [refreshOutbox]);

  const startSync = useCallback(() => {
    syncStart()
      .then(setSync)
      .catch((e: unknown) => setError(asIpcError(e)));
  }, []);

  useEffect(() => {
    reload();
    let unlisten: (() => void) | undefined;
    let cancelled = false;
    const handle = (event: AppEvent) => {
      switch (event.type) {
        case "portalChanged":
          setStatus(event.status);
          setCounts(null);
          reload();
          break;
        case "connectionChanged":
          setStatus((s) => (s ? { ...s, online: event.online } : s));
          break;
        case "syncStarted":
          setSyncSeen({});
          setSync((s) => ({
            running: true,
            progress: null,
            lastSyncAt: s?.lastSyncAt ?? null,
            lastError: null,
          }));
          break;
        case "syncProgress":
          setSyncSeen((seen) => addProgress(seen, event.progress));
          setSync((s) => ({
            running: true,
            progress: withKnownTotal(event.progress, s?.progress ?? null),
            lastSyncAt: s?.lastSyncAt ?? null,
            lastError: null,
          }));
          break;
        case "syncFinished":
          setSync({ running: false, progress: null, lastSyncAt: event.at, lastError: null });
          setStatus((s) => (s ? { ...s, lastSyncAt: event.at } : s));
          // The sync asked the portal for the webhook's scopes again.
          portalStatus()
            .then((s) => setStatus((was) => (was ? { ...was, missingScopes: s.missingScopes } : s)))
            .catch(() => {});
          setRevision((r) => r + 1);
          refreshOutbox();
          portalCounts().then(setCounts).catch(() => {});
          break;
        case "syncFailed":
          setSync((s) => ({
            running: false,
            progress: null,
            lastSyncAt: s?.lastSyncAt ?? null,
            lastError: event.error,
          }));
          // A failed upload counted an attempt and kept its error on each entry.
          refreshOutbox();
          break;
        case "recordsChanged":
          setRevision((r) => r + 1);
          break;
        case "outboxChanged":
          refreshOutbox();
          break;
      }
    };
    onAppEvent(handle)
      .then((fn) => {
        if (cancelled) fn();
        else unlisten = fn;
      })
      .catch(() => {
        // Outside Tauri (unit tests) there is no event stream.
      });
    return () => {
      cancelled = true;
      unlisten?.();
    };
  }, [reload, refreshOutbox]);

  return { status, counts, sync, syncSeen, error, revision, outbox, outboxRevision, reload, startSync, setWorkOffline };
}
