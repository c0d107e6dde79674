import { useCallback, useEffect, useRef, useState } from "react";
import { historyList, IpcFailure, type IpcError } from "../../lib/ipc";
import type { HistoryCursor } from "../../lib/ipc/bindings/HistoryCursor";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { HistoryFilter } from "../../lib/ipc/bindings/HistoryFilter";

export interface HistoryRows {
  events: HistoryEvent[];
  /** The exact number of events the filter matches (`null` until the first page arrives). */
  total: number | null;
  hasMore: boolean;
  loading: boolean;
  error: IpcError | null;
  /** Fetches the next page (keyset: after the last event loaded), unless one is on its way. */
  loadMore: () => void;
}

/**
 * The events a filter matches, newest first, a page at a time: never more than what was
 * scrolled to. `reload` (a number) restarts from the first page.
 */
export function useHistoryRows(filter: HistoryFilter, pageSize: number, reload: number): HistoryRows {
  const [events, setEvents] = useState<HistoryEvent[]>([]);
  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<IpcError | null>(null);
  const [loading, setLoading] = useState(false);
  const [hasMore, setHasMore] = useState(false);
  const state = useRef<{ gen: number; cursor: HistoryCursor | null; busy: boolean; done: boolean }>({
    gen: 0,
    cursor: null,
    busy: false,
    done: false,
  });
  const key = JSON.stringify(filter);

  const fetchPage = useCallback(
    (first: boolean) => {
      const s = state.current;
      if (s.busy || (!first && s.done)) return;
      s.busy = true;
      const gen = s.gen;
      setLoading(true);
      historyList({ filter: JSON.parse(key) as HistoryFilter, cursor: first ? null : s.cursor, limit: pageSize, withTotal: first })
        .then((page) => {
          if (gen !== state.current.gen) return;
          s.cursor = page.nextCursor;
          s.done = page.nextCursor === null;
          setEvents((prev) => (first ? page.events : [...prev, ...page.events]));
          if (page.total !== null) setTotal(Number(page.total));
          setHasMore(!s.done);
        })
        .catch((e: unknown) => {
          if (gen !== state.current.gen) return;
          setError(e instanceof IpcFailure ? e.error : { code: "internal", message: String(e) });
        })
        .finally(() => {
          if (gen !== state.current.gen) return;
          s.busy = false;
          setLoading(false);
        });
    },
    [key, pageSize],
  );

  useEffect(() => {
    state.current = { gen: state.current.gen + 1, cursor: null, busy: false, done: false };
    setEvents([]);
    setTotal(null);
    setError(null);
    setHasMore(false);
    fetchPage(true);
  }, [fetchPage, reload]);

  const loadMore = useCallback(() => fetchPage(false), [fetchPage]);
  return { events, total, hasMore, loading, error, loadMore };
}
