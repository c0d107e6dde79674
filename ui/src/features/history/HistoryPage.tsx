import { getCoreRowModel, useReactTable } from "@tanstack/react-table";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useI18n } from "../../lib/i18n";
import { historyFacets, historyHide, IpcFailure, type IpcError, type RecordKey } from "../../lib/ipc";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { HistoryFacets } from "../../lib/ipc/bindings/HistoryFacets";
import { VirtualTable } from "../../lib/table/VirtualTable";
import { useDebounced } from "../records/useDebounced";
import { ErrorBanner } from "../shell/ErrorBanner";
import { ColumnChooser } from "./ColumnChooser";
import { loadColumnSettings, storeColumnSettings, visibleColumns, type ColumnSettings } from "./columns";
import { ExportControls } from "./ExportControls";
import { FilterBar } from "./FilterBar";
import { loadSavedFilters, NO_FILTER, storeSavedFilters, toRequestFilter, userKey, type HistoryFilterState } from "./filter";
import { historyColumns } from "./historyColumns";
import { formatEntries } from "./plural";
import { useHistoryRows } from "./useHistoryRows";

const PAGE_SIZE = 100;
/** Placeholder rows below the loaded ones while more exist: scrolling into them loads the next page. */
const LOOKAHEAD = 20;

interface Props {
  /** The portal's name: column settings and saved filters are kept per portal and user. */
  portalName: string;
  /** Bumped when data changed (a sync finished): the page reloads. */
  revision: number;
  onOpen: (key: RecordKey) => void;
}

function storage(): Storage | undefined {
  return typeof window === "undefined" ? undefined : window.localStorage;
}

/** The global History page: every event of every record, filtered, counted, exported. */
export function HistoryPage({ portalName, revision, onOpen }: Props) {
  const { t, lang } = useI18n();
  const [facets, setFacets] = useState<HistoryFacets | null>(null);
  const [filterState, setFilterState] = useState<HistoryFilterState>(NO_FILTER);
  const [reload, setReload] = useState(0);
  const [selected, setSelected] = useState(0);
  const [error, setError] = useState<IpcError | null>(null);
  const me = facets?.me ?? null;
  const columnsKey = userKey("columns", portalName, me);
  const filtersKey = userKey("filters", portalName, me);
  const [settings, setSettings] = useState<ColumnSettings>(() => loadColumnSettings(storage(), columnsKey));
  const [saved, setSaved] = useState(() => loadSavedFilters(storage(), filtersKey));

  useEffect(() => {
    historyFacets()
      .then(setFacets)
      .catch(() => setFacets(null));
  }, [revision, reload]);
  // The user is known once the facets arrive: their own settings apply.
  useEffect(() => {
    setSettings(loadColumnSettings(storage(), columnsKey));
    setSaved(loadSavedFilters(storage(), filtersKey));
  }, [columnsKey, filtersKey]);

  const changeSettings = (s: ColumnSettings) => {
    setSettings(s);
    storeColumnSettings(storage(), columnsKey, s);
  };
  const changeSaved = (list: typeof saved) => {
    setSaved(list);
    storeSavedFilters(storage(), filtersKey, list);
  };

  const text = useDebounced(filterState.text, 250);
  const filter = useMemo(() => toRequestFilter({ ...filterState, text }), [filterState, text]);
  const rows = useHistoryRows(filter, PAGE_SIZE, revision * 1000 + reload);
  useEffect(() => setSelected(0), [filter]);

  const visible = visibleColumns(settings);
  const columns = useMemo(() => historyColumns(settings, visible, t, lang, onOpen), [settings, visible.join(","), t, lang, onOpen]);
  const table = useReactTable<HistoryEvent>({ data: [], columns, getCoreRowModel: getCoreRowModel() });

  const { events, hasMore, loadMore } = rows;
  const onRangeChange = useCallback(
    (_start: number, end: number) => {
      if (hasMore && end >= events.length - LOOKAHEAD / 2) loadMore();
    },
    [hasMore, events.length, loadMore],
  );
  const rowAt = useCallback((i: number) => events[i], [events]);
  const activate = useCallback(
    (i: number) => {
      const key = events[i]?.record;
      if (key) onOpen(key);
    },
    [events, onOpen],
  );

  const current = events[selected];
  const fail = (e: unknown) => setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) });

  return (
    <div className="page records history-page" data-testid="history-page">
      <FilterBar
        value={filterState}
        onChange={setFilterState}
        facets={facets}
        saved={saved}
        onSave={(name) => changeSaved([...saved.filter((s) => s.name !== name), { name, filter: filterState }])}
        onDeleteSaved={(name) => changeSaved(saved.filter((s) => s.name !== name))}
      />
      <div className="toolbar">
        <span className="history-total" data-testid="history-total" data-total={rows.total ?? ""} aria-live="polite">
          {rows.total === null ? t("history.loading") : formatEntries(rows.total, lang, t)}
        </span>
        {facets?.isSupervisor && current && !current.hidden && current.event !== "hidden" && (
          <HideEntry
            event={current}
            onHidden={() => setReload((n) => n + 1)}
            onError={fail}
          />
        )}
        <div className="toolbar-right">
          <ExportControls filter={filter} columns={visible} onError={setError} onDone={() => setReload((n) => n + 1)} />
          <ColumnChooser value={settings} onChange={changeSettings} />
        </div>
      </div>
      {(error ?? rows.error) && <ErrorBanner error={(error ?? rows.error) as IpcError} onRetry={() => {
        setError(null);
        setReload((n) => n + 1);
      }} />}
      {rows.total === 0 ? (
        <div className="empty-state">
          <p>{t("history.empty")}</p>
        </div>
      ) : (
        <div className="history-table" data-testid="history-table">
          <VirtualTable
            table={table}
            total={events.length + (hasMore ? LOOKAHEAD : 0)}
            selected={selected}
            onSelect={setSelected}
            onActivate={activate}
            onRangeChange={onRangeChange}
            rowAt={rowAt}
            rowHeight={36}
            label={t("history.title")}
            overflow="scroll"
          />
        </div>
      )}
    </div>
  );
}

/** A supervisor hides the selected entry, with a reason (the hiding is itself recorded). */
function HideEntry({ event, onHidden, onError }: { event: HistoryEvent; onHidden: () => void; onError: (e: unknown) => void }) {
  const { t } = useI18n();
  const [reason, setReason] = useState<string | null>(null);
  useEffect(() => setReason(null), [event.seq]);
  if (reason === null) {
    return (
      <button type="button" className="link-button" data-testid="hide-entry" onClick={() => setReason("")}>
        {t("history.hide")}
      </button>
    );
  }
  return (
    <form
      className="inline-form"
      onSubmit={(e) => {
        e.preventDefault();
        historyHide({ seq: event.seq, reason })
          .then(onHidden)
          .catch(onError)
          .finally(() => setReason(null));
      }}
    >
      <input autoFocus value={reason} placeholder={t("history.hide.reason")} aria-label={t("history.hide.reason")} onChange={(e) => setReason(e.target.value)} />
      <button type="submit" className="secondary small" disabled={reason.trim() === ""}>
        {t("history.hide.confirm")}
      </button>
      <button type="button" className="link-button muted" onClick={() => setReason(null)}>
        {t("history.hide.cancel")}
      </button>
    </form>
  );
}
