// The outbox panel's pure parts: entries grouped by record, values as text, states in words.
import { formatDateTime } from "../../lib/format";
import type { Language, MessageKey, Translate } from "../../lib/i18n";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import type { OutboxState } from "../../lib/ipc/bindings/OutboxState";
import type { RecordKey } from "../../lib/ipc/bindings/RecordKey";

export interface OutboxGroup {
  key: RecordKey;
  title: string;
  entries: OutboxEntry[];
  /** Entries of this record in conflict: the group is shown first. */
  conflicts: number;
  /** Creates of this record not known to have reached the portal: shown first too. */
  uncertain: number;
}

/**
 * Entries by record, in the order they will be uploaded (each record's oldest edit first);
 * records with a conflict or an uncertain create come first, since they wait for the user.
 */
export function groupOutbox(entries: readonly OutboxEntry[]): OutboxGroup[] {
  const groups = new Map<string, OutboxGroup & { first: number }>();
  for (const e of entries) {
    const id = `${e.key.entityType}:${e.key.id}`;
    let g = groups.get(id);
    if (!g) {
      g = { key: e.key, title: e.recordTitle, entries: [], conflicts: 0, uncertain: 0, first: e.happenedMs };
      groups.set(id, g);
    }
    g.entries.push(e);
    g.first = Math.min(g.first, e.happenedMs);
    if (e.state === "conflict") g.conflicts += 1;
    if (e.state === "uncertain") g.uncertain += 1;
  }
  const waits = (g: OutboxGroup) => Number(g.conflicts + g.uncertain > 0);
  return [...groups.values()]
    .map((g) => ({ ...g, entries: [...g.entries].sort((a, b) => a.happenedMs - b.happenedMs || a.id - b.id) }))
    .sort((a, b) => waits(b) - waits(a) || a.first - b.first)
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
  // Sending or uncertain: it may be on the portal already; the user says first (Decide).
  return s !== "done" && s !== "discarded" && s !== "sending" && s !== "uncertain";
}

/**
 * What an uncertain create tells the user before they choose, paragraph by paragraph: when it
 * was sent, why Kartoteka cannot check, what to check, and what "it is there" does.
 */
export function uncertainQuestion(e: Pick<OutboxEntry, "recordTitle" | "uncertain">, t: Translate, lang: Language): string[] {
  const u = e.uncertain;
  const title = e.recordTitle;
  const sent = u?.sentMs ? t("outbox.uncertain.sent", { title, time: formatDateTime(new Date(u.sentMs).toISOString(), lang) }) : t("outbox.uncertain.sentEarlier", { title });
  const why = u && u.assigneeName ? t("outbox.uncertain.assignee", { name: u.assigneeName }) : t("outbox.uncertain.noAssignee");
  const out = [sent, why, t("outbox.uncertain.check", { title })];
  if (u && u.laterEntries > 0) out.push(t("outbox.uncertain.later", { n: u.laterEntries }));
  out.push(t("outbox.uncertain.arrivedNote"));
  return out;
}

/** The field an entry changes, for a person: its label, or "whole record" for a create/delete. */
export function entryFieldLabel(e: Pick<OutboxEntry, "field" | "fieldLabel">, t: (k: MessageKey) => string): string {
  if (e.field === "*") return t("outbox.field.all");
  return e.fieldLabel || e.field;
}
