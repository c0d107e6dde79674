import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";

/** One save: the events recorded together (one group id), in the order they came. */
export interface SaveGroup {
  groupId: number;
  events: HistoryEvent[];
}

/**
 * Groups events (newest first) by save. Groups keep the order of their first event; a group
 * split across two pages joins up again.
 */
export function groupBySave(events: readonly HistoryEvent[]): SaveGroup[] {
  const groups: SaveGroup[] = [];
  const byId = new Map<number, SaveGroup>();
  for (const e of events) {
    let g = byId.get(e.groupId);
    if (!g) {
      g = { groupId: e.groupId, events: [] };
      byId.set(e.groupId, g);
      groups.push(g);
    }
    g.events.push(e);
  }
  return groups;
}
