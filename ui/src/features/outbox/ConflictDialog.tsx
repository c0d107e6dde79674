import { useEffect, useRef, useState } from "react";
import { useI18n } from "../../lib/i18n";
import { IpcFailure, outboxResolve, type IpcError } from "../../lib/ipc";
import type { ConflictChoice } from "../../lib/ipc/bindings/ConflictChoice";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import { ErrorBanner } from "../shell/ErrorBanner";
import { entryFieldLabel, entryValueText } from "./outbox";

interface Props {
  /** The record's entries in conflict: one row per field. */
  entries: OutboxEntry[];
  title: string;
  onDone: () => void;
  onClose: () => void;
}

const CHOICES: { choice: ConflictChoice["choice"]; key: "conflict.mine" | "conflict.theirs" | "conflict.original"; value: (e: OutboxEntry) => string }[] = [
  { choice: "mine", key: "conflict.mine", value: (e) => entryValueText(e, "mine") },
  { choice: "theirs", key: "conflict.theirs", value: (e) => entryValueText(e, "theirs") },
  { choice: "original", key: "conflict.original", value: (e) => entryValueText(e, "base") },
];

/** A conflict field by field: keep mine, take theirs, or go back to the original; each choice is saved at once. */
export function ConflictDialog({ entries, title, onDone, onClose }: Props) {
  const { t } = useI18n();
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [settled, setSettled] = useState<number[]>([]);
  const boxRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    boxRef.current?.querySelector<HTMLElement>("button")?.focus();
  }, []);
  const open = entries.filter((e) => !settled.includes(e.id));
  useEffect(() => {
    if (entries.length > 0 && open.length === 0) onDone();
  }, [open.length, entries.length, onDone]);

  const choose = (e: OutboxEntry, choice: ConflictChoice["choice"]) => {
    setBusy(e.id);
    setError(null);
    outboxResolve({ id: e.id, choice: { choice } as ConflictChoice })
      .then(() => setSettled((s) => [...s, e.id]))
      .catch((x: unknown) => setError(x instanceof IpcFailure ? x.error : { code: "internal", message: String(x) }))
      .finally(() => setBusy(null));
  };

  return (
    <div className="dialog-backdrop">
      <div
        ref={boxRef}
        className="dialog wide"
        role="dialog"
        aria-modal="true"
        aria-label={t("conflict.title", { title })}
        data-testid="conflict-dialog"
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            onClose();
          }
        }}
      >
        <h2 className="dialog-title">{t("conflict.title", { title })}</h2>
        <p className="muted">{t("conflict.lead")}</p>
        {error && <ErrorBanner error={error} />}
        <table className="conflict-table">
          <thead>
            <tr>
              <th>{t("outbox.col.field")}</th>
              {CHOICES.map((c) => (
                <th key={c.choice}>{t(c.key)}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {open.map((e) => (
              <tr key={e.id} data-testid="conflict-row">
                <th scope="row">{entryFieldLabel(e, t)}</th>
                {CHOICES.map((c) => (
                  <td key={c.choice}>
                    <button
                      type="button"
                      className="choice"
                      disabled={busy !== null}
                      data-testid={`conflict-${c.choice}`}
                      aria-label={`${entryFieldLabel(e, t)}: ${t(c.key)} — ${c.value(e)}`}
                      onClick={() => choose(e, c.choice)}
                    >
                      {c.value(e)}
                    </button>
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        <div className="form-actions">
          <button type="button" className="secondary" onClick={onClose}>
            {t("conflict.close")}
          </button>
        </div>
      </div>
    </div>
  );
}
