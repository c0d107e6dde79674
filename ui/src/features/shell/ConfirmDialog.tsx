import { useEffect, useRef, type ReactNode } from "react";
import { useI18n } from "../../lib/i18n";

interface Props {
  title: string;
  children?: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}

/**
 * A modal question. The confirm button has the keyboard (Enter confirms), Escape cancels, and
 * Tab stays inside until it closes.
 */
export function ConfirmDialog({ title, children, confirmLabel, danger = false, busy = false, onConfirm, onCancel }: Props) {
  const { t } = useI18n();
  const confirmRef = useRef<HTMLButtonElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    confirmRef.current?.focus();
    return () => before?.focus?.();
  }, []);
  return (
    <div className="dialog-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onCancel()}>
      <div
        ref={boxRef}
        className="dialog"
        role="dialog"
        aria-modal="true"
        aria-label={title}
        data-testid="confirm-dialog"
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            e.stopPropagation();
            onCancel();
          } else if (e.key === "Tab") {
            const focusable = Array.from(boxRef.current?.querySelectorAll<HTMLElement>("button, input, select, textarea") ?? []).filter((el) => !el.hasAttribute("disabled"));
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
        {children}
        <div className="form-actions">
          <button ref={confirmRef} type="button" className={danger ? "primary danger" : "primary"} disabled={busy} onClick={onConfirm} data-testid="confirm-yes">
            {confirmLabel}
          </button>
          <button type="button" className="secondary" onClick={onCancel} data-testid="confirm-no">
            {t("edit.cancel")}
          </button>
        </div>
      </div>
    </div>
  );
}
