import { useCallback, useEffect, useRef, useState } from "react";
import { useI18n } from "./lib/i18n";
import { IpcFailure, outboxExport, type IpcError, type RecordKey } from "./lib/ipc";
import { ConfirmDialog } from "./features/shell/ConfirmDialog";
import { ErrorBanner } from "./features/shell/ErrorBanner";
import { ConnectScreen } from "./features/connect/ConnectScreen";
import { CreateRecord } from "./features/edit/CreateRecord";
import { OutboxPage } from "./features/outbox/OutboxPage";
import { HistoryPage } from "./features/history/HistoryPage";
import { Overview } from "./features/overview/Overview";
import { ENTITY_NAV_KEY } from "./features/records/entities";
import { RecordCard } from "./features/records/RecordCard";
import { RecordList } from "./features/records/RecordList";
import { Header } from "./features/shell/Header";
import { ScopeNotice } from "./features/shell/ScopeNotice";
import { routeForShortcut, type Route } from "./features/shell/route";
import { Sidebar } from "./features/shell/Sidebar";
import { usePortal } from "./features/shell/usePortal";

export function App() {
  const { t } = useI18n();
  const portal = usePortal();
  const [route, setRoute] = useState<Route>({ kind: "overview" });
  const searchRef = useRef<HTMLInputElement>(null);

  // Switching portals with unsent edits asks first and offers to export them to a file.
  const [askSwitch, setAskSwitch] = useState(false);
  const [exported, setExported] = useState<string | null>(null);
  const [exportError, setExportError] = useState<IpcError | null>(null);
  const unsent = portal.outbox?.open ?? 0;
  const navigate = useCallback(
    (next: Route) => {
      if (next.kind === "connect" && unsent > 0) setAskSwitch(true);
      else setRoute(next);
    },
    [unsent],
  );
  const exportThenSwitch = () => {
    setExportError(null);
    outboxExport(null)
      .then((r) => {
        setExported(t("outbox.exported", { n: r.entries, path: r.path }));
        setAskSwitch(false);
        setRoute({ kind: "connect" });
      })
      .catch((e: unknown) => setExportError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }));
  };
  const openRecord = useCallback(
    (key: RecordKey) => setRoute({ kind: "records", entityType: key.entityType, open: key }),
    [],
  );
  // Closing the card returns the keyboard to the list, on the row the card was opened from.
  const closeCard = useCallback(() => {
    setRoute((r) =>
      r.kind === "records" && (r.open || r.creating)
        ? { kind: "records", entityType: r.entityType }
        : r.kind === "outbox" && r.open
          ? { kind: "outbox" }
          : r,
    );
    window.requestAnimationFrame(() =>
      document.querySelector<HTMLElement>("[data-testid=vtable-body]")?.focus(),
    );
  }, []);

  // Keyboard: Alt+1…6 switch sections, "/" or Ctrl+F focuses the search, Esc closes the card.
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey && !e.ctrlKey && !e.metaKey) {
        const target = routeForShortcut(e.key);
        if (target) {
          e.preventDefault();
          setRoute(target);
        }
        return;
      }
      const typing =
        e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
      if ((e.key === "/" && !typing) || (e.ctrlKey && e.key.toLowerCase() === "f")) {
        if (searchRef.current) {
          e.preventDefault();
          searchRef.current.focus();
          searchRef.current.select();
        }
      } else if (e.key === "Escape") {
        closeCard();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [closeCard]);

  if (portal.status?.mode === "notConfigured") {
    return <ConnectScreen onConnected={portal.reload} problem={portal.status.problem} />;
  }

  const title =
    route.kind === "records"
      ? t(ENTITY_NAV_KEY[route.entityType])
      : route.kind === "history"
        ? t("history.title")
        : route.kind === "connect"
          ? t("connect.title")
          : route.kind === "outbox"
            ? t("outbox.title")
            : t("overview.title");

  return (
    <div className="app">
      <Sidebar route={route} counts={portal.counts} unsent={portal.outbox?.open} onNavigate={navigate} />
      <main className="main">
        <Header
          title={title}
          status={portal.status}
          sync={portal.sync}
          syncSeen={portal.syncSeen}
          counts={portal.counts}
          onSync={portal.startSync}
          outbox={portal.outbox}
          onOpenOutbox={() => setRoute({ kind: "outbox" })}
          onWorkOffline={portal.setWorkOffline}
        />
        <div className="content">
          <ScopeNotice missing={portal.status?.missingScopes ?? []} />
          {route.kind === "overview" && (
            <Overview
              status={portal.status}
              counts={portal.counts}
              error={portal.error}
              onRetry={portal.reload}
              onOpen={(entityType) => setRoute({ kind: "records", entityType })}
            />
          )}
          {route.kind === "records" && (
            <div className={route.open || route.creating ? "split with-card" : "split"}>
              <RecordList
                key={route.entityType}
                entityType={route.entityType}
                revision={portal.revision}
                syncing={portal.sync?.running ?? false}
                onOpen={openRecord}
                onCreate={() => setRoute({ kind: "records", entityType: route.entityType, creating: true })}
                searchRef={searchRef}
              />
              {route.creating && !route.open && (
                <CreateRecord key={route.entityType} entityType={route.entityType} onCreated={openRecord} onClose={closeCard} />
              )}
              {route.open && (
                <RecordCard
                  recordKey={route.open}
                  revision={portal.revision}
                  onOpen={openRecord}
                  onClose={closeCard}
                />
              )}
            </div>
          )}
          {route.kind === "history" && (
            <div className={route.open ? "split with-card" : "split"}>
              <HistoryPage portalName={portal.status?.portalName ?? ""} revision={portal.revision} onOpen={(key) => setRoute({ kind: "history", open: key })} />
              {route.open && (
                <RecordCard
                  recordKey={route.open}
                  revision={portal.revision}
                  onOpen={(key) => setRoute({ kind: "history", open: key })}
                  onClose={() => setRoute({ kind: "history" })}
                />
              )}
            </div>
          )}
          {route.kind === "outbox" && (
            <div className={route.open ? "split with-card" : "split"}>
              <OutboxPage revision={portal.outboxRevision} onOpen={(key) => setRoute({ kind: "outbox", open: key })} />
              {route.open && (
                <RecordCard
                  recordKey={route.open}
                  revision={portal.revision}
                  onOpen={(key) => setRoute({ kind: "outbox", open: key })}
                  onClose={() => setRoute({ kind: "outbox" })}
                />
              )}
            </div>
          )}
          {route.kind === "connect" && exported && (
            <div className="notice" role="status" data-testid="switch-exported">
              {exported}
            </div>
          )}
          {route.kind === "connect" && (
            <ConnectScreen
              onConnected={() => {
                portal.reload();
                setRoute({ kind: "overview" });
              }}
            />
          )}
        </div>
      </main>
      {askSwitch && (
        <ConfirmDialog
          title={t("switch.title")}
          confirmLabel={t("switch.export")}
          onConfirm={exportThenSwitch}
          onCancel={() => setAskSwitch(false)}
        >
          <p data-testid="switch-unsent">
            {t(portal.status?.mode === "demo" ? "switch.unsentDemo" : "switch.unsent", { n: unsent })}
          </p>
          {exportError && <ErrorBanner error={exportError} />}
          <button
            type="button"
            className="link-button"
            data-testid="switch-anyway"
            onClick={() => {
              setAskSwitch(false);
              setRoute({ kind: "connect" });
            }}
          >
            {t("switch.anyway")}
          </button>
        </ConfirmDialog>
      )}
    </div>
  );
}
