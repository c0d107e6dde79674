import { useEffect, useState } from "react";
import { formatCount } from "../../lib/format";
import { useI18n } from "../../lib/i18n";
import { historyExport, historyExportCancel, IpcFailure, onAppEvent, type IpcError } from "../../lib/ipc";
import type { ExportFormat } from "../../lib/ipc/bindings/ExportFormat";
import type { HistoryExportResult } from "../../lib/ipc/bindings/HistoryExportResult";
import type { HistoryFilter } from "../../lib/ipc/bindings/HistoryFilter";
import { formatEntries } from "./plural";

interface Props {
  filter: HistoryFilter;
  columns: string[];
  onError: (e: IpcError) => void;
  onDone: () => void;
}

/** Export of exactly what the filter shows, to .xlsx or CSV, with progress and cancel. */
export function ExportControls({ filter, columns, onError, onDone }: Props) {
  const { t, lang } = useI18n();
  const [running, setRunning] = useState(false);
  const [progress, setProgress] = useState<{ rows: number; total: number } | null>(null);
  const [result, setResult] = useState<HistoryExportResult | null>(null);

  useEffect(() => {
    let unlisten: (() => void) | undefined;
    let live = true;
    onAppEvent((e) => {
      if (e.type === "historyExportProgress") setProgress({ rows: Number(e.rows), total: Number(e.total) });
    })
      .then((u) => (live ? (unlisten = u) : u()))
      .catch(() => {});
    return () => {
      live = false;
      unlisten?.();
    };
  }, []);

  const start = (format: ExportFormat) => {
    setRunning(true);
    setResult(null);
    setProgress(null);
    historyExport({ filter, format, path: null, columns })
      .then((r) => {
        setResult(r);
        onDone();
      })
      .catch((e: unknown) => onError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) }))
      .finally(() => setRunning(false));
  };

  const percent = progress && progress.total > 0 ? Math.round((100 * progress.rows) / progress.total) : 0;
  return (
    <div className="export-controls">
      <button type="button" className="secondary small" disabled={running} data-testid="export-xlsx" onClick={() => start("xlsx")}>
        {t("history.export.xlsx")}
      </button>
      <button type="button" className="secondary small" disabled={running} data-testid="export-csv" onClick={() => start("csv")}>
        {t("history.export.csv")}
      </button>
      {running && (
        <span className="export-progress" data-testid="export-progress">
          {t("history.export.progress", {
            done: formatCount(progress?.rows ?? 0, lang),
            total: formatCount(progress?.total ?? 0, lang),
          })}
          <span className="sync-mini" role="progressbar" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
            <span className="sync-bar-fill" style={{ width: `${percent}%`, display: "block" }} />
          </span>
          <button type="button" className="link-button" data-testid="export-cancel" onClick={() => void historyExportCancel().catch(() => {})}>
            {t("history.export.cancel")}
          </button>
        </span>
      )}
      {result && !running && (
        <span className="muted export-result" data-testid="export-result" data-path={result.path} data-rows={Number(result.rows)} data-cancelled={result.cancelled}>
          {result.cancelled
            ? t("history.export.cancelled")
            : t("history.export.done", { rows: formatEntries(Number(result.rows), lang, t), path: result.path })}
        </span>
      )}
    </div>
  );
}
