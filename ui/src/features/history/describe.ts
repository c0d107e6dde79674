import type { MessageKey, Translate } from "../../lib/i18n";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import type { HistoryEventCode } from "../../lib/ipc/bindings/HistoryEventCode";
import type { HistorySource } from "../../lib/ipc/bindings/HistorySource";
import type { HistorySyncState } from "../../lib/ipc/bindings/HistorySyncState";

export const EVENT_CODES: readonly HistoryEventCode[] = [
  "view",
  "created",
  "field_changed",
  "stage_changed",
  "multifield_added",
  "multifield_changed",
  "multifield_removed",
  "link_added",
  "link_removed",
  "deleted",
  "restored",
  "activity_created",
  "product_changed",
  "conflict",
  "resolved",
  "reverted",
  "exported",
  "hidden",
];

export const SOURCES: readonly HistorySource[] = ["deviceOnline", "deviceOffline", "peerLog", "observed", "stageHistory"];

/**
 * Who made the change. A change whose author the portal does not name (a colleague's change
 * seen in the answer to our own upload, a deletion, a restore) says so rather than showing
 * nothing; so does an older entry recorded without a name.
 */
export const authorText = (e: HistoryEvent, t: Translate) =>
  e.authorKind === "unknown" || e.authorName === "" ? t("history.unknownAuthor") : e.authorName;

export const eventLabel = (code: HistoryEventCode, t: Translate) => t(`history.event.${code}` as MessageKey);
export const sourceLabel = (s: HistorySource, t: Translate) => t(`history.source.${s}` as MessageKey);
export const syncLabel = (s: HistorySyncState, t: Translate) => t(`history.sync.${s}` as MessageKey);

/**
 * A value as text: the display form recorded with the event, else the stored JSON (a JSON
 * string without its quotes). Never markup: callers render it as a text node.
 */
export function valueText(display: string | null, stored: string | null): string {
  if (display !== null && display !== "") return display;
  if (stored === null) return "";
  try {
    const v: unknown = JSON.parse(stored);
    if (v === null) return "";
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    if (Array.isArray(v)) return v.map((x) => (typeof x === "object" ? JSON.stringify(x) : String(x))).join(", ");
  } catch {
    // Not JSON: the text as it is.
  }
  return stored;
}

/**
 * Events whose stored values are references for the app, not values for a person: an export's
 * filter, the record a restore created or came from (shown by its display form only).
 */
const storesReferences = (e: HistoryEvent) => e.event === "exported" || e.event === "restored";

export const oldText = (e: HistoryEvent) => (storesReferences(e) ? e.oldDisplay ?? "" : valueText(e.oldDisplay, e.oldValue));
/** The new value (see `storesReferences` for the events that store references instead). */
export const newText = (e: HistoryEvent) => (storesReferences(e) ? (e.event === "exported" ? "" : e.newDisplay ?? "") : valueText(e.newDisplay, e.newValue));
export const fieldText = (e: HistoryEvent) => e.fieldLabel ?? e.field ?? "";

/** One line saying what happened, in the user's language. */
export function describeEvent(e: HistoryEvent, t: Translate): string {
  const field = fieldText(e);
  switch (e.event) {
    case "created":
      return t("history.describe.created", { title: newText(e) || e.recordTitle });
    case "field_changed":
    case "stage_changed":
    case "multifield_changed":
    case "reverted":
      return t("history.describe.changed", { field, old: oldText(e) || "—", new: newText(e) || "—" });
    case "multifield_added":
    case "link_added":
      return t("history.describe.added", { field, value: newText(e) });
    case "multifield_removed":
    case "link_removed":
      return t("history.describe.removed", { field, value: oldText(e) });
    case "hidden":
      return t("history.describe.hidden", { reason: e.note ?? "" });
    default:
      return e.note ? `${eventLabel(e.event, t)}: ${e.note}` : eventLabel(e.event, t);
  }
}
