import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { HistoryEventCode } from "../../lib/ipc/bindings/HistoryEventCode";
import type { HistoryFilter } from "../../lib/ipc/bindings/HistoryFilter";
import type { HistorySource } from "../../lib/ipc/bindings/HistorySource";

/** What the History page's filter bar holds. Days are local calendar days (`YYYY-MM-DD`). */
export interface HistoryFilterState {
  entityType: EntityType | null;
  /** A record's id (with `entityType`): that record's events only. */
  recordId: number | null;
  /** From this day on (inclusive). */
  fromDay: string | null;
  /** Up to and including this day. */
  toDay: string | null;
  authorId: number | null;
  event: HistoryEventCode | null;
  field: string | null;
  source: HistorySource | null;
  text: string;
}

export const NO_FILTER: HistoryFilterState = {
  entityType: null,
  recordId: null,
  fromDay: null,
  toDay: null,
  authorId: null,
  event: null,
  field: null,
  source: null,
  text: "",
};

export type PresetName = "today" | "yesterday" | "byMe";

/** A local calendar day as `YYYY-MM-DD`. */
export function dayOf(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** The start of a local day, as the instant the shell compares with. */
function startOfDay(day: string, plusDays = 0): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) return null;
  const d = new Date(Number(m[1]), Number(m[2]) - 1, Number(m[3]) + plusDays);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The request's filter for what the filter bar holds: whole local days, blank parts left out. */
export function toRequestFilter(s: HistoryFilterState): HistoryFilter {
  const text = s.text.trim();
  return {
    entityType: s.entityType,
    record: s.entityType && s.recordId !== null && s.recordId > 0 ? { entityType: s.entityType, id: s.recordId } : null,
    from: s.fromDay ? startOfDay(s.fromDay) : null,
    // The end day is included: up to the start of the next day.
    to: s.toDay ? startOfDay(s.toDay, 1) : null,
    authorId: s.authorId,
    events: s.event ? [s.event] : [],
    field: s.field,
    source: s.source,
    text: text === "" ? null : text,
  };
}

/** A preset applied to the current filter: today, yesterday (local days) or "by me". */
export function applyPreset(s: HistoryFilterState, preset: PresetName, now: Date, me: number | null): HistoryFilterState {
  if (preset === "byMe") return { ...s, authorId: me };
  const day = new Date(now.getFullYear(), now.getMonth(), now.getDate() - (preset === "yesterday" ? 1 : 0));
  return { ...s, fromDay: dayOf(day), toDay: dayOf(day) };
}

/** Which preset the filter is exactly on (for the pressed look of its button). */
export function activePresets(s: HistoryFilterState, now: Date, me: number | null): PresetName[] {
  const out: PresetName[] = [];
  for (const p of ["today", "yesterday"] as const) {
    const a = applyPreset(s, p, now, me);
    if (a.fromDay === s.fromDay && a.toDay === s.toDay) out.push(p);
  }
  if (me !== null && s.authorId === me) out.push("byMe");
  return out;
}

/** A filter the user saved under a name. */
export interface SavedFilter {
  name: string;
  filter: HistoryFilterState;
}

/** Where per-user settings of the History page are kept: per portal and portal user. */
export function userKey(kind: "columns" | "filters", portal: string, user: number | null): string {
  return `kartoteka.history.${kind}.${portal}.${user ?? "anyone"}`;
}

export function loadSavedFilters(storage: Pick<Storage, "getItem"> | undefined, key: string): SavedFilter[] {
  try {
    const raw = storage?.getItem(key);
    const list: unknown = raw ? JSON.parse(raw) : [];
    if (!Array.isArray(list)) return [];
    return list
      .filter((x): x is SavedFilter => typeof x === "object" && x !== null && typeof x.name === "string" && typeof x.filter === "object")
      .map((x) => ({ name: x.name, filter: { ...NO_FILTER, ...x.filter } }));
  } catch {
    return [];
  }
}

export function storeSavedFilters(storage: Pick<Storage, "setItem"> | undefined, key: string, list: SavedFilter[]): void {
  try {
    storage?.setItem(key, JSON.stringify(list));
  } catch {
    // Storage may be unavailable: the filters last for this session.
  }
}
