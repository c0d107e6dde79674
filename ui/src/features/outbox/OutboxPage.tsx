import { useCallback, useEffect, useRef, useState } from "react";
import { formatDateTime } from "../../lib/format";
import { useI18n } from "../../lib/i18n";
import { errorParams } from "../../lib/ipc/errors";
import { IpcFailure, outboxDiscard, outboxExport, outboxImport, outboxList, outboxRetry, outboxSettle, type IpcError, type RecordKey } from "../../lib/ipc";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import type { OutboxList } from "../../lib/ipc/bindings/OutboxList";
import { ConfirmDialog } from "../shell/ConfirmDialog";
import { ErrorBanner } from "../shell/ErrorBanner";
import { EntityIcon } from "../shell/icons";
import { ConflictDialog } from "./ConflictDialog";
import { UncertainDialog } from "./UncertainDialog";
import { canDiscard, canRetry, entryFieldLabel, groupOutbox, entryValueText, outboxValueText, stateKey, type OutboxGroup } from "./outbox";

interface Props {
  /** Bumped when the outbox may have changed (a save, an upload): the panel reloads. */
  revision: number;
  onOpen: (key: RecordKey) => void;
}

const asError = (e: unknown): IpcError => (e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) });

/** The outbox: every unsent edit by record, with its state; retry, discard, resolve, decide, export. */
export function OutboxPage({ revision, onOpen }: Props) {
  const { t, lang } = useI18n();
  const [list, setList] = useState<OutboxList | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [closed, setClosed] = useState(false);
  const [reloads, setReloads] = useState(0);
  const [discarding, setDiscarding] = useState<OutboxEntry | null>(null);
  const [resolving, setResolving] = useState<OutboxGroup | null>(null);
  /** A create not known to have reached the portal, waiting for the user's word. */
  const [deciding, setDeciding] = useState<OutboxEntry | null>(null);
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const importFile = useRef<HTMLInputElement>(null);
  /** A file that names no portal and no user, waiting for the user to say it was made here. */
  const [unclaimed, setUnclaimed] = useState<{ content: string; params: Record<string, string> } | null>(null);
  const importEdits = (content: string, originConfirmed: boolean) =>
    act(() =>
      outboxImport(content, originConfirmed)
        .then((n) => setNotice(t("outbox.imported", { n })))
        .catch((e: unknown) => {
          const error = asError(e);
          if (error.code !== "editsOriginUnknown") throw e;
          const params = errorParams(error);
          // A replica not signed in since its upgrade does not know its portal's address yet.
          setUnclaimed({ content, params: { ...params, herePortal: params.herePortal || t("outbox.thisPortal") } });
        }),
    );
  const reload = useCallback(() => setReloads((n) => n + 1), []);

  useEffect(() => {
    let live = true;
    outboxList({ includeClosed: closed, record: null })
      .then((l) => live && setList(l))
      .catch((e: unknown) => live && setError(asError(e)));
    return () => {
      live = false;
    };
  }, [closed, revision, reloads]);

  const act = (run: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(null);
    run()
      .then(() => {
        after?.();
        reload();
      })
      .catch((e: unknown) => setError(asError(e)))
      .finally(() => setBusy(false));
  };

  const groups = list ? groupOutbox(list.entries) : [];
  return (
    <div className="page outbox" data-testid="outbox-page">
      <div className="toolbar">
        <span className="found" data-testid="outbox-open">
          {list === null ? t("history.loading") : list.open === 0 ? t("outbox.empty") : t("outbox.open", { n: list.open })}
        </span>
        <label className="check small">
          <input type="checkbox" checked={closed} onChange={(e) => setClosed(e.target.checked)} />
          <span>{t("outbox.showClosed")}</span>
        </label>
        <button type="button" className="secondary small" disabled={busy || !list || list.open === 0} onClick={() => act(() => outboxRetry(null))} data-testid="outbox-retry-all">
          {t("outbox.retryAll")}
        </button>
        <button
          type="button"
          className="secondary small"
          disabled={busy || !list || list.open === 0}
          data-testid="outbox-export"
          onClick={() =>
            act(() => outboxExport(null).then((r) => setNotice(t("outbox.exported", { n: r.entries, path: r.path }))))
          }
        >
          {t("outbox.export")}
        </button>
        <button
          type="button"
          className="secondary small"
          disabled={busy}
          data-testid="outbox-import"
          onClick={() => importFile.current?.click()}
        >
          {t("outbox.import")}
        </button>
        <input
          ref={importFile}
          type="file"
          accept=".json,application/json"
          hidden
          data-testid="outbox-import-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            e.target.value = "";
            if (!file) return;
            file
              .text()
              .then((content) => importEdits(content, false))
              .catch((e: unknown) => setError(asError(e)));
          }}
        />
      </div>
      {error && <ErrorBanner error={error} />}
      {notice && (
        <div className="notice" role="status" data-testid="outbox-notice">
          {notice}
        </div>
      )}
      <div className="outbox-groups">
        {groups.map((g) => (
          <section key={`${g.key.entityType}:${g.key.id}`} className="outbox-group" data-testid="outbox-group">
            <div className="outbox-group-head">
              <button type="button" className="link-button" onClick={() => onOpen(g.key)} data-testid="outbox-record">
                <EntityIcon type={g.key.entityType} />
                <span>{g.title || `#${g.key.id}`}</span>
              </button>
              {g.conflicts > 0 && (
                <button type="button" className="primary small" data-testid="outbox-resolve" onClick={() => setResolving(g)}>
                  {t("outbox.resolve")} ({g.conflicts})
                </button>
              )}
            </div>
            <table className="outbox-table">
              <thead>
                <tr>
                  <th>{t("outbox.col.field")}</th>
                  <th>{t("outbox.col.base")}</th>
                  <th>{t("outbox.col.mine")}</th>
                  <th>{t("outbox.col.state")}</th>
                  <th>{t("outbox.col.attempts")}</th>
                  <th>{t("outbox.col.when")}</th>
                  <th>
                    <span className="visually-hidden">{t("outbox.retry")}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {g.entries.map((e) => (
                  <tr key={e.id} data-testid="outbox-entry" data-state={e.state}>
                    <td>
                      {entryFieldLabel(e, t)}
                      <span className="muted small"> · {t(`outbox.op.${e.op}`)}</span>
                    </td>
                    <td className="old-value">{e.op === "update" ? entryValueText(e, "base") : ""}</td>
                    <td className="new-value">{e.op === "delete" ? "" : e.op === "update" ? entryValueText(e, "mine") : outboxValueText(e.mine)}</td>
                    <td>
                      <span className={`state state-${e.state}`}>{t(stateKey(e.state))}</span>
                      {e.state === "conflict" && e.theirs !== null && (
                        <div className="muted small">
                          {t("outbox.col.theirs")}: {entryValueText(e, "theirs")}
                        </div>
                      )}
                      {e.lastError && (
                        <div className="muted small last-error" title={t("outbox.col.error")}>
                          {e.lastError}
                        </div>
                      )}
                    </td>
                    <td>{e.attempts}</td>
                    <td className="muted small">{formatDateTime(new Date(e.happenedMs).toISOString(), lang)}</td>
                    <td className="row-actions">
                      {e.state === "uncertain" && (
                        <button type="button" className="primary small" disabled={busy} onClick={() => setDeciding(e)} data-testid="outbox-decide">
                          {t("outbox.decide")}
                        </button>
                      )}
                      {canRetry(e.state) && e.state !== "pending" && (
                        <button type="button" className="link-button small" disabled={busy} onClick={() => act(() => outboxRetry(e.id))} data-testid="outbox-retry">
                          {t("outbox.retry")}
                        </button>
                      )}
                      {canDiscard(e.state) && (
                        <button type="button" className="link-button small danger" disabled={busy} onClick={() => setDiscarding(e)} data-testid="outbox-discard">
                          {t("outbox.discard")}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        ))}
      </div>
      {unclaimed && (
        <ConfirmDialog
          title={t("outbox.import")}
          confirmLabel={t("outbox.confirmOriginYes")}
          danger
          busy={busy}
          onCancel={() => setUnclaimed(null)}
          onConfirm={() => {
            const { content } = unclaimed;
            setUnclaimed(null);
            importEdits(content, true);
          }}
        >
          <p data-testid="outbox-confirm-origin">
            {t("error.editsOriginUnknown")} {t("outbox.confirmOrigin", unclaimed.params)}
          </p>
        </ConfirmDialog>
      )}
      {discarding && (
        <ConfirmDialog
          title={t("outbox.discard")}
          confirmLabel={t("outbox.discard")}
          danger
          busy={busy}
          onCancel={() => setDiscarding(null)}
          onConfirm={() => act(() => outboxDiscard(discarding.id), () => setDiscarding(null))}
        >
          <p>{t("outbox.discardConfirm", { field: entryFieldLabel(discarding, t), title: discarding.recordTitle })}</p>
        </ConfirmDialog>
      )}
      {deciding && (
        <UncertainDialog
          entry={deciding}
          busy={busy}
          onCancel={() => setDeciding(null)}
          onChoose={(choice) => act(() => outboxSettle(deciding.id, choice), () => setDeciding(null))}
        />
      )}
      {resolving && (
        <ConflictDialog
          title={resolving.title}
          entries={resolving.entries.filter((e) => e.state === "conflict")}
          onDone={() => {
            setResolving(null);
            reload();
          }}
          onClose={() => {
            setResolving(null);
            reload();
          }}
        />
      )}
    </div>
  );
}
