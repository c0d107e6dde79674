import { useEffect, useRef } from "react";
import { useI18n } from "../../lib/i18n";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import type { UncertainChoice } from "../../lib/ipc/bindings/UncertainChoice";
import { uncertainQuestion } from "./outbox";

interface Props {
  entry: OutboxEntry;
  busy?: boolean;
  onChoose: (choice: UncertainChoice) => void;
  onCancel: () => void;
}

/**
 * The question of a create that may or may not be on the portal: what is known, what to check
 * in Bitrix24, and the two answers. Neither answer has the keyboard (the user checks first);
 * Escape cancels, and Tab stays inside until it closes.
 */
export function UncertainDialog({ entry, busy = false, onChoose, onCancel }: Props) {
  const { t, lang } = useI18n();
  const cancelRef = useRef<HTMLButtonElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    cancelRef.current?.focus();
    return () => before?.focus?.();
  }, []);
  const title = t("outbox.uncertain.title");
  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onCancel()}>
      <div
        ref={boxRef}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid="uncertain-dialog"
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            onCancel();
          } else if (e.key === "Tab") {
            const focusable = Array.from(boxRef.current?.querySelectorAll<HTMLElement>("button") ?? []).filter((el) => !el.hasAttribute("disabled"));
            const first = focusable[0];
            const last = focusable[focusable.length - 1];
            if (e.shiftKey && document.activeElement === first) {
              e.preventDefault();
              last?.focus();
            } else if (!e.shiftKey && document.activeElement === last) {
              e.preventDefault();
              first?.focus();
            }
          }
        }}
      >
        <h2 className="dialog-title">{title}</h2>
        {uncertainQuestion(entry, t, lang).map((line) => (
          <p key={line}>{line}</p>
        ))}
        <div className="form-actions">
          <button type="button" className="primary" disabled={busy} onClick={() => onChoose("sendAgain")} data-testid="uncertain-send-again">
            {t("outbox.uncertain.sendAgain")}
          </button>
          <button type="button" className="secondary" disabled={busy} onClick={() => onChoose("arrived")} data-testid="uncertain-arrived">
            {t("outbox.uncertain.arrived")}
          </button>
          <button ref={cancelRef} type="button" className="secondary" onClick={onCancel} data-testid="uncertain-cancel">
            {t("edit.cancel")}
          </button>
        </div>
      </div>
    </div>
  );
}
