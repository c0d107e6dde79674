// The outbox panel's pure parts: entries grouped by record, values as text, states in words.
import type { MessageKey } from "../../lib/i18n";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import type { OutboxState } from "../../lib/ipc/bindings/OutboxState";
import type { RecordKey } from "../../lib/ipc/bindings/RecordKey";

export interface OutboxGroup {
  key: RecordKey;
  title: string;
  entries: OutboxEntry[];
  /** Entries of this record in conflict: the group is shown first. */
  conflicts: number;
}

/**
 * Entries by record, in the order they will be uploaded (each record's oldest edit first);
 * records with a conflict come first, since they wait for the user.
 */
export function groupOutbox(entries: readonly OutboxEntry[]): OutboxGroup[] {
  const groups = new Map<string, OutboxGroup & { first: number }>();
  for (const e of entries) {
    const id = `${e.key.entityType}:${e.key.id}`;
    let g = groups.get(id);
    if (!g) {
      g = { key: e.key, title: e.recordTitle, entries: [], conflicts: 0, first: e.happenedMs };
      groups.set(id, g);
    }
    g.entries.push(e);
    g.first = Math.min(g.first, e.happenedMs);
    if (e.state === "conflict") g.conflicts += 1;
  }
  return [...groups.values()]
    .map((g) => ({ ...g, entries: [...g.entries].sort((a, b) => a.happenedMs - b.happenedMs || a.id - b.id) }))
    .sort((a, b) => Number(b.conflicts > 0) - Number(a.conflicts > 0) || a.first - b.first)
    .map(({ first: _first, ...g }) => g);
}

/** A JSON value of an entry as text: strings as they are, lists joined, nothing as a dash. */
export function outboxValueText(v: unknown): string {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.length === 0 ? "—" : v.map(outboxValueText).join(", ");
  if (typeof v === "object") {
    // A phone or e-mail entry: its value (and kind).
    const o = v as Record<string, unknown>;
    if (typeof o.value === "string") return [o.value, typeof o.valueType === "string" ? `(${o.valueType})` : ""].filter(Boolean).join(" ");
    // A create: its fields, then its phones and e-mails.
    if (typeof o.fields === "object" && o.fields !== null) {
      const parts = Object.entries(o.fields as Record<string, unknown>)
        .filter(([, x]) => x !== null && x !== "" && !(Array.isArray(x) && x.length === 0))
        .map(([k, x]) => `${k}: ${outboxValueText(x)}`);
      if (Array.isArray(o.fm)) parts.push(...o.fm.map(outboxValueText));
      return parts.length > 0 ? parts.join("; ") : "—";
    }
  }
  return JSON.stringify(v);
}

/** One of an entry's three values for a person: the replica's words (titles, names) where it has them. */
export function entryValueText(e: Pick<OutboxEntry, "base" | "mine" | "theirs" | "texts">, which: "base" | "mine" | "theirs"): string {
  return e.texts[which] ?? outboxValueText(e[which]);
}

export const stateKey = (s: OutboxState): MessageKey => `outbox.state.${s}`;

/** Whether the user can act on an entry with Retry (it failed or waits) and Discard (not yet closed). */
export function canRetry(s: OutboxState): boolean {
  return s === "rejected" || s === "gone" || s === "pending" || s === "blocked";
}

export function canDiscard(s: OutboxState): boolean {
  return s !== "done" && s !== "discarded" && s !== "sending";
}

/** The field an entry changes, for a person: its label, or "whole record" for a create/delete. */
export function entryFieldLabel(e: Pick<OutboxEntry, "field" | "fieldLabel">, t: (k: MessageKey) => string): string {
  if (e.field === "*") return t("outbox.field.all");
  return e.fieldLabel || e.field;
}
