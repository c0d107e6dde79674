import { useEffect, useState } from "react";
import { LANGUAGES, useI18n, type Language } from "../../lib/i18n";
import { formatCount, formatSince } from "../../lib/format";
import { ENTITY_NAV_KEY } from "../records/entities";
import type { PortalCounts, PortalStatus, SyncStatus } from "../../lib/ipc";
import { overallPercent, type SyncSeen } from "./usePortal";
import { SyncIcon } from "./icons";

interface Props {
  title: string;
  status: PortalStatus | null;
  sync: SyncStatus | null;
  /** What the running sync has done per type, and the portal's counts: one overall progress. */
  syncSeen?: SyncSeen;
  counts?: PortalCounts | null;
  onSync: () => void;
  /** Unsent edits and open conflicts (the badge); `null` hides the badge. */
  outbox?: { open: number; conflicts: number; uncertain?: number } | null;
  onOpenOutbox?: () => void;
  onWorkOffline?: (offline: boolean) => void;
}

/** Re-renders once a minute so "5 min ago" stays true. */
function useNow(): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const id = window.setInterval(() => setNow(new Date()), 30_000);
    return () => window.clearInterval(id);
  }, []);
  return now;
}

export function Header({ title, status, sync, syncSeen = {}, counts = null, onSync, outbox = null, onOpenOutbox, onWorkOffline }: Props) {
  const { t, lang, setLang } = useI18n();
  const now = useNow();
  const lastSyncAt = sync?.lastSyncAt ?? status?.lastSyncAt ?? null;
  const running = sync?.running ?? false;
  const progress = sync?.progress;
  const percent = running ? overallPercent(syncSeen, counts) : null;
  // "Syncing deals: 1 200 of 5 000" — which type and how far, from the sync's progress events.
  const progressText = progress
    ? progress.total !== null
      ? t("header.syncingType", {
          type: t(ENTITY_NAV_KEY[progress.entityType]),
          done: formatCount(Math.min(progress.done, progress.total), lang),
          total: formatCount(progress.total, lang),
        })
      : t("header.syncingTypeNoTotal", {
          type: t(ENTITY_NAV_KEY[progress.entityType]),
          done: formatCount(progress.done, lang),
        })
    : t("header.syncing");

  return (
    <header className="header">
      <h1 className="page-title">{title}</h1>
      <div className="header-right">
        {status && (
          <div className="portal-badge" title={status.portalName} data-testid="portal-badge">
            {/* The demo portal runs on this machine: its loopback address means nothing to a person. */}
            {status.mode === "demo" ? (
              <span className="tag">{t("header.demo")}</span>
            ) : (
              <span className="portal-name">{status.portalName}</span>
            )}
          </div>
        )}
        {status && (
          <span
            className={status.online && !status.workOffline ? "conn online" : "conn offline"}
            data-testid="connection"
            data-work-offline={status.workOffline ? "on" : "off"}
            role="status"
            aria-live="polite"
          >
            <span className="dot" aria-hidden="true" />
            {status.workOffline ? t("header.workingOffline") : status.online ? t("header.online") : t("header.offline")}
          </span>
        )}
        {status && status.mode !== "notConfigured" && onWorkOffline && (
          <label className="switch" title={t("header.workOffline")}>
            <input
              type="checkbox"
              role="switch"
              checked={status.workOffline ?? false}
              aria-checked={status.workOffline ?? false}
              data-testid="work-offline"
              onChange={(e) => onWorkOffline(e.target.checked)}
            />
            <span>{t("header.workOffline")}</span>
          </label>
        )}
        {outbox && outbox.open > 0 && (
          <button
            type="button"
            className={outbox.conflicts + (outbox.uncertain ?? 0) > 0 ? "outbox-badge conflict" : "outbox-badge"}
            data-testid="outbox-badge"
            title={[
              t("header.unsent", { n: outbox.open }),
              outbox.conflicts > 0 ? t("header.conflicts", { n: outbox.conflicts }) : "",
              (outbox.uncertain ?? 0) > 0 ? t("header.uncertain", { n: outbox.uncertain ?? 0 }) : "",
            ]
              .filter(Boolean)
              .join(" · ")}
            aria-label={t("header.unsent", { n: outbox.open })}
            onClick={onOpenOutbox}
          >
            <span aria-hidden="true">⇡</span> {outbox.open}
          </button>
        )}
        <span
          className="last-sync"
          title={running ? progressText : undefined}
          data-testid="sync-state" data-sync={running ? "running" : lastSyncAt ? "done" : "never"}>
          {running ? (
            <>
              {progressText}
              {percent !== null && (
                <span className="sync-mini" aria-hidden="true">
                  <span style={{ width: `${percent}%` }} />
                </span>
              )}
            </>
          ) : lastSyncAt
              ? t("header.lastSync", { when: formatSince(lastSyncAt, now, lang, t) })
              : t("header.neverSynced")}
        </span>
        <button
          type="button"
          className="icon-button"
          onClick={onSync}
          disabled={running || !status || status.mode === "notConfigured"}
          title={t("header.syncNow")}
          aria-label={t("header.syncNow")}
        >
          <SyncIcon spinning={running} />
        </button>
        <label className="lang-switch">
          <span className="visually-hidden">{t("header.language")}</span>
          <select value={lang} onChange={(e) => setLang(e.target.value as Language)}>
            {LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {l.toUpperCase()}
              </option>
            ))}
          </select>
        </label>
      </div>
      {running && (
        <div
          className="sync-bar"
          role="progressbar"
          data-testid="sync-progress"
          aria-label={progressText}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent ?? undefined}
        >
          <div className={percent === null ? "sync-bar-fill indeterminate" : "sync-bar-fill"} style={percent === null ? undefined : { width: `${percent}%` }} />
        </div>
      )}
    </header>
  );
}
