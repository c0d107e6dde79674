import { flexRender, type Table } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from "react";

interface Props<Row> {
  table: Table<Row>;
  /** The number of rows in the whole list (rows not fetched yet show as placeholders). */
  total: number;
  rowHeight?: number;
  /** The index of the keyboard-selected row. */
  selected: number;
  onSelect: (index: number) => void;
  onActivate: (index: number) => void;
  /** Called with the range of row indexes on screen, so the owner can fetch them. */
  onRangeChange: (start: number, end: number) => void;
  /** The row at an index, or undefined while it loads. */
  rowAt: (index: number) => Row | undefined;
  label: string;
  /**
   * What happens to columns wider than the table: `drop` leaves the least important ones out
   * (record lists), `scroll` keeps every column the user chose and scrolls sideways (History).
   */
  overflow?: "drop" | "scroll";
}

/** Horizontal padding of a cell (both sides), added to each column's minimum width. */
const CELL_PADDING = 24;

/**
 * How many of the columns (in their order of importance) fit in `width` pixels at their minimum
 * widths; the first column always stays. Columns that do not fit are left out rather than
 * squeezed or scrolled sideways.
 */
export function columnsThatFit(minWidths: readonly number[], width: number): number {
  let used = 0;
  let n = 0;
  for (const min of minWidths) {
    used += min + CELL_PADDING;
    if (n > 0 && used > width) break;
    n += 1;
  }
  return n;
}

/**
 * A table that renders only the rows on screen: TanStack Table for columns, headers and sorting,
 * TanStack Virtual for the rows. Arrow keys, PageUp/PageDown, Home/End move the selection;
 * Enter opens the selected row.
 */
export function VirtualTable<Row>({
  table,
  total,
  rowHeight = 40,
  selected,
  onSelect,
  onActivate,
  onRangeChange,
  rowAt,
  label,
  overflow = "drop",
}: Props<Row>) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const rootRef = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(1000);
  useLayoutEffect(() => {
    const el = rootRef.current;
    if (!el) return;
    const measure = () => setWidth(el.clientWidth || 1000);
    measure();
    if (typeof ResizeObserver === "undefined") return;
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const virtualizer = useVirtualizer({
    count: total,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => rowHeight,
    overscan: 12,
    // Before the first layout (and in tests without layout) assume a window-sized viewport.
    initialRect: { width: 1000, height: 600 },
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? -1;

  useEffect(() => {
    if (last >= first) onRangeChange(first, last);
  }, [first, last, onRangeChange]);

  const allColumns = table.getVisibleLeafColumns();
  const fit =
    overflow === "scroll"
      ? allColumns.length
      : columnsThatFit(
          allColumns.map((c) => c.columnDef.minSize ?? 80),
          width,
        );
  const columns = allColumns.slice(0, fit);
  const shown = new Set(columns.map((c) => c.id));
  const template = columns.map((c) => `minmax(${c.columnDef.minSize ?? 80}px, ${c.getSize()}fr)`).join(" ");

  const move = (to: number) => {
    if (total === 0) return;
    const next = Math.max(0, Math.min(total - 1, to));
    onSelect(next);
    virtualizer.scrollToIndex(next, { align: "auto" });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const pageRows = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? 400) / rowHeight) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(selected + 1),
      ArrowUp: () => move(selected - 1),
      PageDown: () => move(selected + pageRows),
      PageUp: () => move(selected - pageRows),
      Home: () => move(0),
      End: () => move(total - 1),
      Enter: () => selected >= 0 && selected < total && onActivate(selected),
    };
    const action = keys[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  };

  return (
    <div className="vtable" role="grid" aria-label={label} aria-rowcount={total} aria-colcount={columns.length} ref={rootRef}>
      {table.getHeaderGroups().map((group) => (
        <div className="vtable-head" role="row" key={group.id} style={{ gridTemplateColumns: template }}>
          {group.headers.filter((header) => shown.has(header.column.id)).map((header) => {
            const sorted = header.column.getIsSorted();
            const canSort = header.column.getCanSort();
            return (
              <div
                role="columnheader"
                key={header.id}
                className="vtable-th"
                data-testid={`th-${header.column.id}`}
                aria-sort={
                  !canSort ? undefined : sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"
                }
              >
                {canSort ? (
                  <button type="button" className="th-button" onClick={header.column.getToggleSortingHandler()}>
                    {flexRender(header.column.columnDef.header, header.getContext())}
                    <span className={sorted ? "sort-mark" : "sort-mark idle"} aria-hidden="true">
                      {sorted === "asc" ? "▲" : sorted === "desc" ? "▼" : "↕"}
                    </span>
                  </button>
                ) : (
                  flexRender(header.column.columnDef.header, header.getContext())
                )}
              </div>
            );
          })}
        </div>
      ))}
      <div className="vtable-body" ref={scrollRef} tabIndex={0} onKeyDown={onKeyDown} data-testid="vtable-body">
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const row = rowAt(item.index);
            const isSelected = item.index === selected;
            return (
              <div
                role="row"
                aria-rowindex={item.index + 1}
                aria-selected={isSelected}
                key={item.key}
                className={isSelected ? "vtable-row selected" : "vtable-row"}
                style={{
                  gridTemplateColumns: template,
                  height: item.size,
                  transform: `translateY(${item.start}px)`,
                }}
                onClick={() => onSelect(item.index)}
                onDoubleClick={() => onActivate(item.index)}
              >
                {row
                  ? columns.map((column) => {
                      const cell = column.columnDef.cell;
                      return (
                        <div role="gridcell" className="vtable-td" key={column.id}>
                          {typeof cell === "function"
                            ? flexRender(cell, {
                                // The columns read `row.original` only; a full Row model is not
                                // built for rows that are fetched lazily.
                                row: { original: row },
                                getValue: () => undefined,
                              } as never)
                            : null}
                        </div>
                      );
                    })
                  : columns.map((column) => (
                      <div role="gridcell" className="vtable-td" key={column.id}>
                        <span className="skeleton" />
                      </div>
                    ))}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
