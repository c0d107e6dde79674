import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";

/**
 * What the History tab offers for an entry: "revert" for a change (a new edit setting the value
 * back), "restore" for a removed link or phone/e-mail; nothing for views, exports, hidden entries
 * or whole-record events (the recycle bin restores deleted records).
 */
export function undoActionOf(e: Pick<HistoryEvent, "event" | "record" | "hidden">): "revert" | "restore" | null {
  if (!e.record || e.hidden) return null;
  switch (e.event) {
    case "field_changed":
    case "stage_changed":
    case "multifield_changed":
    case "multifield_added":
    case "link_added":
      return "revert";
    case "link_removed":
    case "multifield_removed":
      return "restore";
    default:
      return null;
  }
}
