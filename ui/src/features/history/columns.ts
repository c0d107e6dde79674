/** The global History page's columns: the same ids the export writes (kartoteka-export COLUMNS). */
export const HISTORY_COLUMNS = [
  "happenedAt",
  "entity",
  "title",
  "author",
  "event",
  "description",
  "field",
  "old",
  "new",
  "note",
  "source",
  "syncState",
] as const;

export type HistoryColumnId = (typeof HISTORY_COLUMNS)[number];

/** Order, visibility and widths (px) of the columns, as the user left them. */
export interface ColumnSettings {
  order: HistoryColumnId[];
  hidden: HistoryColumnId[];
  widths: Partial<Record<HistoryColumnId, number>>;
}

/** Default widths: the default columns fit a 1280-px window beside the sidebar. */
export const DEFAULT_WIDTHS: Record<HistoryColumnId, number> = {
  happenedAt: 150,
  entity: 90,
  title: 160,
  author: 140,
  event: 120,
  description: 210,
  field: 110,
  old: 110,
  new: 110,
  note: 120,
  source: 160,
  syncState: 120,
};

export const MIN_WIDTH = 60;
export const MAX_WIDTH = 800;

export const DEFAULT_COLUMNS: ColumnSettings = {
  order: [...HISTORY_COLUMNS],
  hidden: ["entity", "field", "note", "source", "syncState"],
  widths: {},
};

const isColumn = (x: unknown): x is HistoryColumnId => HISTORY_COLUMNS.includes(x as HistoryColumnId);

/** Reads saved settings; unknown ids are dropped and columns added since come at the end. */
export function loadColumnSettings(storage: Pick<Storage, "getItem"> | undefined, key: string): ColumnSettings {
  try {
    const raw = storage?.getItem(key);
    if (!raw) return DEFAULT_COLUMNS;
    const saved = JSON.parse(raw) as Partial<ColumnSettings>;
    const order = (Array.isArray(saved.order) ? saved.order : []).filter(isColumn);
    const unique = [...new Set(order)];
    for (const c of HISTORY_COLUMNS) if (!unique.includes(c)) unique.push(c);
    const hidden = (Array.isArray(saved.hidden) ? saved.hidden : []).filter(isColumn);
    const widths: ColumnSettings["widths"] = {};
    for (const [k, v] of Object.entries(saved.widths ?? {})) {
      if (isColumn(k) && typeof v === "number") widths[k] = clampWidth(v);
    }
    return { order: unique, hidden, widths };
  } catch {
    return DEFAULT_COLUMNS;
  }
}

export function storeColumnSettings(storage: Pick<Storage, "setItem"> | undefined, key: string, s: ColumnSettings): void {
  try {
    storage?.setItem(key, JSON.stringify(s));
  } catch {
    // Storage may be unavailable: the settings last for this session.
  }
}

export function clampWidth(w: number): number {
  return Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, w)));
}

export function widthOf(s: ColumnSettings, c: HistoryColumnId): number {
  return s.widths[c] ?? DEFAULT_WIDTHS[c];
}

/** The visible columns in their order (at least one stays visible). */
export function visibleColumns(s: ColumnSettings): HistoryColumnId[] {
  const shown = s.order.filter((c) => !s.hidden.includes(c));
  return shown.length > 0 ? shown : [s.order[0] ?? "happenedAt"];
}

/** Moves a column one place towards the start (-1) or the end (+1). */
export function moveColumn(s: ColumnSettings, c: HistoryColumnId, by: -1 | 1): ColumnSettings {
  const i = s.order.indexOf(c);
  const j = i + by;
  const other = s.order[j];
  if (i < 0 || other === undefined) return s;
  const order = [...s.order];
  order[i] = other;
  order[j] = c;
  return { ...s, order };
}

export function toggleColumn(s: ColumnSettings, c: HistoryColumnId): ColumnSettings {
  const hidden = s.hidden.includes(c) ? s.hidden.filter((x) => x !== c) : [...s.hidden, c];
  return { ...s, hidden };
}
