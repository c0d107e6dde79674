// Phones, e-mails and links in the edit form: drafts of the entries, the edits they make, and
// the problems the portal's field errors bring back.
import type { Language, MessageKey } from "../../lib/i18n";
import type { IpcError } from "../../lib/ipc/bindings/IpcError";
import type { FieldProblem } from "../../lib/ipc/bindings/FieldProblem";
import type { MultiField } from "../../lib/ipc/bindings/MultiField";
import type { MultiFieldEdit } from "../../lib/ipc/bindings/MultiFieldEdit";
import type { MultiFieldKind } from "../../lib/ipc/bindings/MultiFieldKind";

/** One phone or e-mail as the form holds it: an existing entry (`id`) or a new one (`id: null`). */
export interface EntryDraft {
  /** Stable while the form is open (React key). */
  uid: string;
  id: number | null;
  kind: MultiFieldKind;
  valueType: string;
  value: string;
  removed: boolean;
}

export const VALUE_TYPES: Record<MultiFieldKind, readonly string[]> = {
  PHONE: ["WORK", "MOBILE", "HOME", "FAX", "PAGER", "OTHER"],
  EMAIL: ["WORK", "HOME", "MAILING", "OTHER"],
  WEB: ["WORK", "HOME", "OTHER"],
  IM: ["TELEGRAM", "WHATSAPP", "VIBER", "SKYPE", "OTHER"],
  LINK: ["OTHER"],
};

export function entryDrafts(entries: readonly MultiField[]): EntryDraft[] {
  return entries.map((m) => ({
    uid: `mf${m.id}`,
    id: m.id,
    kind: m.kind,
    valueType: m.valueType,
    value: m.value,
    removed: false,
  }));
}

let counter = 0;
export function newEntry(kind: MultiFieldKind): EntryDraft {
  counter += 1;
  return { uid: `new${counter}`, id: null, kind, valueType: "WORK", value: "", removed: false };
}

/** The multi-field edits the drafts make: add, change, remove; unchanged entries make none. */
export function entryEdits(original: readonly MultiField[], drafts: readonly EntryDraft[]): MultiFieldEdit[] {
  const out: MultiFieldEdit[] = [];
  for (const d of drafts) {
    if (d.id === null) {
      if (!d.removed && d.value.trim() !== "") {
        out.push({ op: "add", kind: d.kind, valueType: d.valueType, value: d.value.trim() });
      }
      continue;
    }
    const was = original.find((m) => m.id === d.id);
    if (!was) continue;
    if (d.removed) out.push({ op: "remove", id: d.id });
    else if (was.value !== d.value.trim() || was.valueType !== d.valueType) {
      out.push({ op: "change", id: d.id, valueType: d.valueType, value: d.value.trim() });
    }
  }
  return out;
}

/** What is wrong with a phone or e-mail as typed; `null` when it is fine or left empty. */
export function entryProblem(d: EntryDraft): MessageKey | null {
  const v = d.value.trim();
  if (d.removed) return null;
  if (v === "") return d.id === null ? null : "edit.problem.emptyEntry";
  if (d.kind === "EMAIL" && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(v)) return "edit.problem.email";
  if (d.kind === "PHONE" && (!/^[\d\s()+\-.]+$/.test(v) || v.replace(/\D/g, "").length < 3)) return "edit.problem.phone";
  return null;
}

/**
 * Link ids as the form edits them: `contactIds` keeps its order (the first is the primary
 * contact); a single link (`companyId`) is an array of at most one id.
 */
export function linkIds(raw: unknown): number[] {
  const values = Array.isArray(raw) ? raw : raw === null || raw === undefined ? [] : [raw];
  return values.map((v) => Number(v)).filter((id) => Number.isFinite(id) && id !== 0);
}

/** The value a link field takes for the chosen ids; `undefined` when nothing changed. */
export function linkValue(raw: unknown, isMultiple: boolean, ids: readonly number[]): unknown {
  const before = linkIds(raw);
  const same = before.length === ids.length && before.every((id, i) => id === ids[i]);
  if (same) return undefined;
  return isMultiple ? [...ids] : (ids[0] ?? 0);
}

/** Moves an id to the front: it becomes the primary contact. */
export function makePrimary(ids: readonly number[], id: number): number[] {
  return [id, ...ids.filter((x) => x !== id)];
}

/** The field problems a refused save carries (`InvalidInput` with `params.problems`). */
export function refusedProblems(error: IpcError): FieldProblem[] {
  const text = error.params?.problems;
  if (error.code !== "invalidInput" || !text) return [];
  try {
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (p): p is FieldProblem =>
        typeof p === "object" && p !== null && typeof (p as FieldProblem).field === "string" && typeof (p as FieldProblem).messageRu === "string",
    );
  } catch {
    return [];
  }
}

/** A problem in the user's language. */
export function problemText(p: FieldProblem, lang: Language): string {
  return lang === "ru" ? p.messageRu : p.messageEn;
}

/** The form field a portal problem belongs to: phones and e-mails (`fm`, `fm:12`) to their section. */
export function problemField(p: FieldProblem): string {
  return p.field.startsWith("fm") ? "fm" : p.field;
}
