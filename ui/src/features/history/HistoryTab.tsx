import { useMemo, useState } from "react";
import { formatDateTime } from "../../lib/format";
import { useI18n } from "../../lib/i18n";
import { historyRevert, IpcFailure, recordAsOf, type IpcError, type RecordKey } from "../../lib/ipc";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { RecordAsOf } from "../../lib/ipc/bindings/RecordAsOf";
import { ErrorBanner } from "../shell/ErrorBanner";
import { authorText, eventLabel, fieldText, newText, oldText, sourceLabel, syncLabel } from "./describe";
import { groupBySave } from "./grouping";
import { undoActionOf } from "./undo";
import { formatEntries } from "./plural";
import { useHistoryRows } from "./useHistoryRows";

interface Props {
  recordKey: RecordKey;
  revision: number;
  /** A revert or restore from here was saved: the card reloads. */
  onReverted?: () => void;
}

/** `YYYY-MM-DDTHH:MM` of a moment in local time (what a datetime-local input holds). */
function localInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A card's History tab: the record's events newest first, one block per save. */
export function HistoryTab({ recordKey, revision, onReverted }: Props) {
  const { t, lang } = useI18n();
  const filter = useMemo(
    () => ({
      entityType: null,
      record: recordKey,
      from: null,
      to: null,
      authorId: null,
      events: [],
      field: null,
      source: null,
      text: null,
    }),
    [recordKey.entityType, recordKey.id],
  );
  const [reverts, setReverts] = useState(0);
  const rows = useHistoryRows(filter, 100, revision + reverts);
  const groups = groupBySave(rows.events);
  const [busy, setBusy] = useState<number | null>(null);
  const [revertError, setRevertError] = useState<IpcError | null>(null);
  const revert = (seq: number) => {
    setBusy(seq);
    setRevertError(null);
    historyRevert(seq)
      .then(() => {
        setReverts((n) => n + 1);
        onReverted?.();
      })
      .catch((e: unknown) => setRevertError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }))
      .finally(() => setBusy(null));
  };

  return (
    <section className="history-tab" data-testid="history-tab">
      <AsOf recordKey={recordKey} />
      {rows.error && <ErrorBanner error={rows.error} />}
      {revertError && <ErrorBanner error={revertError} />}
      <div className="muted small" data-testid="history-tab-total">
        {rows.total === null ? t("history.loading") : rows.total === 0 ? t("history.tabEmpty") : formatEntries(rows.total, lang, t)}
      </div>
      <ol className="save-list">
        {groups.map((g) => {
          const head = g.events[0];
          if (!head) return null;
          return (
            <li key={g.groupId} className="save" data-testid="history-save">
              <div className="save-head">
                <span className="save-time">{formatDateTime(head.happenedAt, lang)}</span>
                <span className={head.authorKind === "unknown" ? "save-author muted" : "save-author"} data-testid="save-author">
                  {authorText(head, t)}
                  {head.authorKind === "robot" && <span className="tag">{t("history.robot")}</span>}
                </span>
              </div>
              <div className="save-meta muted small">
                {sourceLabel(head.source, t)} · {syncLabel(head.syncState, t)}
              </div>
              <ul className="save-events">
                {g.events.map((e) => (
                  <EventLine key={e.seq} e={e} busy={busy === e.seq} onRevert={revert} />
                ))}
              </ul>
            </li>
          );
        })}
      </ol>
      {rows.hasMore && (
        <button type="button" className="link-button" disabled={rows.loading} onClick={rows.loadMore}>
          {t("history.more")}
        </button>
      )}
    </section>
  );
}

function EventLine({ e, busy, onRevert }: { e: HistoryEvent; busy: boolean; onRevert: (seq: number) => void }) {
  const { t } = useI18n();
  const action = undoActionOf(e);
  const field = fieldText(e);
  const before = oldText(e);
  const after = newText(e);
  return (
    <li className={e.hidden ? "history-event hidden-entry" : "history-event"} data-testid="history-event" data-event={e.event}>
      <span className="event-label">
        {e.hidden && <span className="tag tag-hidden">{t("history.hiddenMark")}</span>}
        {eventLabel(e.event, t)}
        {field && <span className="event-field"> «{field}»</span>}
      </span>
      {(before || after) && (
        <span className="event-values">
          {before && <span className="old-value" data-testid="old-value">{before}</span>}
          {before && after && <span className="arrow" aria-hidden="true"> → </span>}
          {after && <span className="new-value" data-testid="new-value">{after}</span>}
        </span>
      )}
      {e.note && <span className="event-note muted">{e.note}</span>}
      {e.syncState === "pending" && (
        <span className="tag tag-pending" data-testid="event-pending">
          {t("edit.pending")}
        </span>
      )}
      {action && (
        <button
          type="button"
          className="link-button small event-undo"
          data-testid={`history-${action}`}
          disabled={busy}
          onClick={() => onRevert(e.seq)}
        >
          {action === "restore" ? t("history.restoreEntry") : t("history.revert")}
        </button>
      )}
    </li>
  );
}

/** The record as it was at a chosen moment, rebuilt from its events. */
function AsOf({ recordKey }: { recordKey: RecordKey }) {
  const { t, lang } = useI18n();
  const [at, setAt] = useState(() => localInput(new Date()));
  const [shown, setShown] = useState<RecordAsOf | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const show = () => {
    const moment = new Date(at);
    if (Number.isNaN(moment.getTime())) return;
    setError(null);
    recordAsOf({ key: recordKey, at: moment.toISOString() })
      .then(setShown)
      .catch((e: unknown) => setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }));
  };
  return (
    <div className="as-of">
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          show();
        }}
      >
        <label className="filter">
          <span>{t("history.asOf")}</span>
          <input type="datetime-local" value={at} onChange={(e) => setAt(e.target.value)} data-testid="as-of-input" />
        </label>
        <button type="submit" className="secondary small" data-testid="as-of-show">
          {t("history.asOf.show")}
        </button>
        {shown && (
          <button type="button" className="link-button muted" onClick={() => setShown(null)}>
            {t("history.asOf.close")}
          </button>
        )}
      </form>
      {error && <ErrorBanner error={error} />}
      {shown && (
        <dl className="field-list as-of-fields" data-testid="as-of-fields" aria-label={`${t("history.asOf")} ${formatDateTime(shown.at, lang)}`}>
          {shown.fields
            .filter((f) => f.value !== null && f.value !== "")
            .map((f) => (
              <div className={f.changedSince ? "field-row changed" : "field-row"} key={f.field}>
                <dt title={f.field}>{f.label}</dt>
                <dd>
                  {f.value}
                  {f.changedSince && <span className="tag">{t("history.asOf.changed")}</span>}
                </dd>
              </div>
            ))}
        </dl>
      )}
    </div>
  );
}
