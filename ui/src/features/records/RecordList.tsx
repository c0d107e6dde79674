import { getCoreRowModel, useReactTable, type SortingState } from "@tanstack/react-table";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useI18n } from "../../lib/i18n";
import { formatCount } from "../../lib/format";
import {
  IpcFailure,
  recordsList,
  referencesList,
  type EntityType,
  type IpcError,
  type RecordKey,
  type RecordListRow,
  type RecordsListRequest,
  type ReferenceLists,
} from "../../lib/ipc";
import { VirtualTable } from "../../lib/table/VirtualTable";
import { ErrorBanner } from "../shell/ErrorBanner";
import { SearchIcon } from "../shell/icons";
import { columnsFor, DEFAULT_SORT, SORTABLE } from "./columns";
import { ENTITY_NAV_KEY } from "./entities";
import { Filters, type FilterState, NO_FILTERS } from "./Filters";
import { PAGE_SIZE, RowCache } from "./pageCache";
import { useDebounced } from "./useDebounced";

interface Props {
  entityType: EntityType;
  /** Bumped when records changed (sync finished, local edit): the list reloads. */
  revision: number;
  /** A sync is running: an empty list may only mean its records have not arrived yet. */
  syncing?: boolean;
  onOpen: (key: RecordKey) => void;
  /** Opens the create form for the list's type. */
  onCreate?: () => void;
  searchRef: React.RefObject<HTMLInputElement | null>;
}

/** Builds the request for one page from what the user has chosen. */
export function listRequest(
  entityType: EntityType,
  search: string,
  sorting: SortingState,
  filters: FilterState,
  cursor: string | null,
): RecordsListRequest {
  const first = sorting[0];
  const field = first ? SORTABLE[first.id] : undefined;
  const text = search.trim();
  return {
    entityType,
    search: text === "" ? null : text,
    stageIds: filters.stageId ? [filters.stageId] : [],
    responsibleIds: filters.responsibleId !== null ? [filters.responsibleId] : [],
    categoryId: filters.categoryId,
    sort: first && field ? { field, descending: first.desc } : null,
    cursor,
    limit: PAGE_SIZE,
  };
}

/**
 * What the search box says about text the search cannot use (the replica's search, search.rs):
 * text with no letter or digit finds nothing; a single character is not a search yet (the list
 * stays unfiltered until a second one). `null` when the text is searched as typed.
 */
export function searchHint(text: string): "list.searchNoLetters" | "list.searchTooShort" | null {
  const s = text.trim();
  if (s === "") return null;
  if (!/[\p{L}\p{N}]/u.test(s)) return "list.searchNoLetters";
  if (/^[\d\s()\-.+\u00a0]+$/.test(s)) {
    // A phone number: one run of digits; after a + even one digit is a number's start.
    return s.startsWith("+") || s.replace(/\D/g, "").length >= 2 ? null : "list.searchTooShort";
  }
  const longest = Math.max(
    ...s.split(/\s+/).map((w) => [...w.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "")].length),
  );
  return longest < 2 ? "list.searchTooShort" : null;
}

export function RecordList({ entityType, revision, syncing = false, onOpen, onCreate, searchRef }: Props) {
  const { t, lang } = useI18n();
  const [search, setSearch] = useState("");
  const debouncedSearch = useDebounced(search, 150);
  const [sorting, setSorting] = useState<SortingState>(DEFAULT_SORT);
  const [filters, setFilters] = useState<FilterState>(NO_FILTERS);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [selected, setSelected] = useState(0);
  const [references, setReferences] = useState<ReferenceLists | null>(null);
  const [, setTick] = useState(0);
  const cache = useRef(new RowCache());
  const generation = useRef(0);

  // A new type starts from a clean slate (App mounts one list per type, so the previous type's
  // rows are never shown under this title).
  useEffect(() => {
    setSearch("");
    setSorting(DEFAULT_SORT);
    setFilters(NO_FILTERS);
    setReferences(null);
  }, [entityType]);

  // Stages, pipelines and users for the filters; asked again whenever records changed (the first
  // sync brings them), so the filters appear as soon as their data does.
  useEffect(() => {
    let live = true;
    referencesList({ entityType })
      .then((r) => live && setReferences(r))
      .catch(() => {
        // Keep what was shown; the next change asks again.
      });
    return () => {
      live = false;
    };
  }, [entityType, revision]);

  const lastRange = useRef({ start: 0, end: 0 });

  const fetchMore = useCallback(
    (gen: number) => {
      const rows = cache.current;
      if (!rows.needsMore(lastRange.current.end)) return;
      const cursor = rows.begin();
      recordsList(listRequest(entityType, debouncedSearch, sorting, filters, cursor))
        .then((result) => {
          if (gen !== generation.current) return;
          rows.append(result.rows, result.nextCursor);
          // A later page of a filtered list is not counted again: the first page's total holds.
          if (result.total !== null) setTotal(Number(result.total));
          setTick((n) => n + 1);
          // Keep going while the rows on screen are not all loaded (a jump far down the list).
          fetchMore(gen);
        })
        .catch((e: unknown) => {
          if (gen !== generation.current) return;
          rows.fail();
          setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) });
        });
    },
    [entityType, debouncedSearch, sorting, filters],
  );

  // Any change of what is asked for restarts the list from the first page.
  useEffect(() => {
    generation.current += 1;
    cache.current = new RowCache();
    lastRange.current = { start: 0, end: 0 };
    setTotal(null);
    setError(null);
    setSelected(0);
    fetchMore(generation.current);
  }, [fetchMore, revision]);

  const onRangeChange = useCallback(
    (start: number, end: number) => {
      lastRange.current = { start, end };
      fetchMore(generation.current);
    },
    [fetchMore],
  );

  const columns = useMemo(() => columnsFor(entityType, t, lang), [entityType, t, lang]);
  const table = useReactTable<RecordListRow>({
    data: [],
    columns,
    state: { sorting },
    onSortingChange: setSorting,
    manualSorting: true,
    // Some order is always in force (and shown): a third click does not fall back to an unmarked one.
    enableSortingRemoval: false,
    getCoreRowModel: getCoreRowModel(),
  });

  const hint = searchHint(debouncedSearch);
  const rowAt = useCallback((i: number) => cache.current.row(i), []);
  const activate = useCallback(
    (i: number) => {
      const row = cache.current.row(i);
      if (row) onOpen(row.key);
    },
    [onOpen],
  );

  return (
    <div className="page records">
      <div className="toolbar">
        <label className="search">
          <SearchIcon />
          <input
            ref={searchRef}
            type="search"
            value={search}
            placeholder={t("list.search")}
            aria-label={t("list.search")}
            onChange={(e) => setSearch(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape" && search !== "") {
                // Escape in the search clears the search only: the open card stays.
                e.preventDefault();
                e.stopPropagation();
                setSearch("");
                return;
              }
              if (e.key === "ArrowDown" || e.key === "Enter") {
                e.preventDefault();
                document.querySelector<HTMLElement>("[data-testid=vtable-body]")?.focus();
              }
            }}
          />
        </label>
        <Filters entityType={entityType} references={references} value={filters} onChange={setFilters} />
        {hint && (
          <span className="search-hint muted" role="status" data-testid="search-hint">
            {t(hint)}
          </span>
        )}
        <span className="found muted" aria-live="polite">
          {total === null ? t("list.loading") : t("list.found", { n: formatCount(total, lang) })}
        </span>
        {onCreate && (
          <button type="button" className="primary small new-record" data-testid="list-new" onClick={onCreate}>
            + {t("edit.new")}
          </button>
        )}
      </div>
      {error && <ErrorBanner error={error} onRetry={() => {
            setError(null);
            fetchMore(generation.current);
          }} />}
      {total === 0 ? (
        <div className="empty-state">
          <p>
            {syncing && debouncedSearch.trim() === "" && filters === NO_FILTERS ? t("list.notReady") : t("list.empty")}
          </p>
        </div>
      ) : (
        <VirtualTable
          table={table}
          total={total ?? 0}
          selected={selected}
          onSelect={setSelected}
          onActivate={activate}
          onRangeChange={onRangeChange}
          rowAt={rowAt}
          label={t(ENTITY_NAV_KEY[entityType])}
        />
      )}
    </div>
  );
}
