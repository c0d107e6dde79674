// Editing a record's fields: which input each field gets from its metadata, the stored value
// turned into what the input holds (a draft) and back, and the checks made before a save.
// Pure functions; the forms only render what these decide.
import { calendarDay } from "../../lib/format";
import type { MessageKey } from "../../lib/i18n";
import type { CardField } from "../../lib/ipc/bindings/CardField";
import type { FieldMeta } from "../../lib/ipc/bindings/FieldMeta";
import type { FieldType } from "../../lib/ipc/bindings/FieldType";

/** The input a field is edited with. */
export type EditorKind =
  | "text"
  | "textarea"
  | "integer"
  | "number"
  | "money"
  | "date"
  | "datetime"
  | "enum"
  | "bool"
  | "user"
  | "status"
  | "category"
  | "currency"
  | "readonly";

/** What the form knows of a field: the card's field, or a type's metadata on a create form. */
export type EditField = Pick<
  CardField,
  "name" | "label" | "fieldType" | "isCustom" | "raw" | "isRequired" | "isReadOnly" | "isImmutable" | "isMultiple" | "options" | "statusType"
>;

/** A field of a record not yet created: its metadata, no value. */
export function fieldOfMeta(meta: FieldMeta): EditField {
  return { ...meta, raw: null };
}

/** What an input holds: text (a select's id, "Y"/"N" for yes/no), or one text per value. */
export type Draft = string | string[];

/** Fields the portal keeps for itself, even when its metadata forgets to say read-only. */
const BOOKKEEPING = new Set([
  "id",
  "createdTime",
  "updatedTime",
  "createdBy",
  "updatedBy",
  "movedTime",
  "movedBy",
  "lastActivityTime",
  "lastActivityBy",
  "entityTypeId",
  "stageSemanticId",
  "opportunityAccount",
  "taxValueAccount",
  "accountCurrencyId",
]);

export function typeName(t: FieldType): string {
  return typeof t === "string" ? t : "other";
}

export function editorKind(f: Pick<EditField, "name" | "fieldType">): EditorKind {
  if (BOOKKEEPING.has(f.name)) return "readonly";
  switch (typeName(f.fieldType)) {
    case "string":
    case "url":
      return f.name === "comments" ? "textarea" : "text";
    case "text":
      return "textarea";
    case "integer":
      return "integer";
    case "double":
      return "number";
    case "money":
      return "money";
    case "date":
      return "date";
    case "datetime":
      return "datetime";
    case "enumeration":
      return "enum";
    case "boolean":
      return "bool";
    case "user":
    case "employee":
      return "user";
    case "crm_status":
      return "status";
    case "crm_category":
      return "category";
    case "crm_currency":
      return "currency";
    default:
      // Files, addresses, links to other records (edited in the links section) and types this
      // version does not know are shown, not edited.
      return "readonly";
  }
}

/** Whether the form offers the field: not read-only, not bookkeeping; immutable ones only at creation. */
export function isEditable(f: EditField, mode: "edit" | "create"): boolean {
  if (f.isReadOnly || editorKind(f) === "readonly") return false;
  return mode === "create" || !f.isImmutable;
}

const pad = (n: number) => String(n).padStart(2, "0");

/**
 * What a date or date-time input's draft holds when the person typed a day that does not exist
 * (31.02): the WebView then empties the input's value and reports `validity.badInput`. The form
 * keeps this marker instead of an empty value, so the field is refused in words and never sent
 * as cleared.
 */
export const UNREADABLE_DATE = "\u0000unreadable-date";

/** The draft a date or date-time input's value makes: its value, or [`UNREADABLE_DATE`]. */
export function dateInputDraft(input: Pick<HTMLInputElement, "value" | "validity">): string {
  return input.value === "" && input.validity?.badInput ? UNREADABLE_DATE : input.value;
}

/** Whether text starting `YYYY-MM-DD` names a day that exists (`2026-02-31` does not). */
export function isRealDay(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(0);
  day.setUTCFullYear(y, mo - 1, d);
  return day.getUTCFullYear() === y && day.getUTCMonth() === mo - 1 && day.getUTCDate() === d;
}

/** `YYYY-MM-DDTHH:MM` of a moment in local time (what a datetime-local input holds). */
export function localDateTime(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value as ISO 8601 with the local offset (`…T15:30:00+03:00`). */
export function isoWithOffset(local: string): string | null {
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) return null;
  const offset = -d.getTimezoneOffset();
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${local.length === 16 ? `${local}:00` : local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

function isEmptyRaw(raw: unknown): boolean {
  return raw === null || raw === undefined || raw === "" || (Array.isArray(raw) && raw.length === 0);
}

/** One stored value as the input shows it. */
export function scalarDraft(kind: EditorKind, raw: unknown): string {
  if (isEmptyRaw(raw)) return kind === "bool" ? "N" : "";
  switch (kind) {
    case "bool":
      return raw === true || raw === 1 || raw === "Y" || raw === "1" ? "Y" : "N";
    case "date":
      return calendarDay(String(raw)) ?? "";
    case "datetime": {
      const d = new Date(String(raw));
      return Number.isNaN(d.getTime()) ? "" : localDateTime(d);
    }
    case "user":
    case "enum":
    case "category":
      // 0 is "nobody" for a user, but the default pipeline for a category.
      return kind === "user" && Number(raw) === 0 ? "" : String(raw);
    default:
      return typeof raw === "object" ? JSON.stringify(raw) : String(raw);
  }
}

/** A field's stored value as the form's draft. */
export function toDraft(f: EditField): Draft {
  const kind = editorKind(f);
  if (f.isMultiple) {
    const values = Array.isArray(f.raw) ? f.raw : isEmptyRaw(f.raw) ? [] : [f.raw];
    return values.map((v) => scalarDraft(kind, v)).filter((v) => v !== "");
  }
  return scalarDraft(kind, Array.isArray(f.raw) ? f.raw[0] : f.raw);
}

/** Decimal text as typed (`1 250,5`) in the portal's form (`1250.5`); `null` when it is not a number. */
export function decimalOf(text: string): string | null {
  const t = text.replace(/[\s\u00a0]/g, "").replace(",", ".");
  return /^-?\d+(\.\d+)?$/.test(t) ? t : null;
}

/** Money drafts are `amount|CURRENCY`, as the portal keeps custom money fields. */
export function splitMoney(draft: string): { amount: string; currency: string } {
  const [amount = "", currency = ""] = draft.split("|");
  return { amount, currency };
}

/** One input's text as the value sent to the portal. */
export function scalarValue(kind: EditorKind, draft: string, raw: unknown): unknown {
  const text = draft.trim();
  switch (kind) {
    case "text":
    case "textarea":
      return draft;
    case "integer":
      return text === "" ? null : Number.parseInt(text.replace(/[\s\u00a0]/g, ""), 10);
    case "number":
      return text === "" ? null : (decimalOf(text) ?? text);
    case "money": {
      const { amount, currency } = splitMoney(text);
      if (amount.trim() === "") return "";
      return `${decimalOf(amount) ?? amount}|${currency}`;
    }
    case "bool": {
      const yes = text === "Y";
      // Keep the shape the portal used: true/false, 1/0 or "Y"/"N".
      if (typeof raw === "boolean") return yes;
      if (typeof raw === "number") return yes ? 1 : 0;
      return yes ? "Y" : "N";
    }
    case "date":
      return text === "" ? "" : text;
    case "datetime":
      return text === "" ? "" : (isoWithOffset(text) ?? text);
    case "user":
    case "enum":
    case "category":
      return text === "" ? null : Number(text);
    default:
      return text;
  }
}

/** The draft as the value of the field in a `RecordEdit`. */
export function fromDraft(f: EditField, draft: Draft): unknown {
  const kind = editorKind(f);
  const first = Array.isArray(f.raw) ? f.raw[0] : f.raw;
  if (Array.isArray(draft)) {
    return draft.filter((d) => d.trim() !== "").map((d) => scalarValue(kind, d, first));
  }
  return scalarValue(kind, draft, first);
}

function sameDraft(a: Draft, b: Draft): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    const x = Array.isArray(a) ? a : [a];
    const y = Array.isArray(b) ? b : [b];
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  return a === b;
}

/** The changed fields only, each with its new value. */
export function changedFields(
  fields: readonly EditField[],
  drafts: Readonly<Record<string, Draft>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const draft = drafts[f.name];
    if (draft === undefined) continue;
    if (sameDraft(draft, toDraft(f))) continue;
    out[f.name] = fromDraft(f, draft);
  }
  return out;
}

function isBlank(draft: Draft | undefined): boolean {
  if (draft === undefined) return true;
  return Array.isArray(draft) ? draft.every((d) => d.trim() === "") : draft.trim() === "";
}

/** What is wrong with a draft, as a dictionary key; `null` when it can be saved. */
export function problemOf(f: EditField, draft: Draft | undefined): MessageKey | null {
  const kind = editorKind(f);
  if (f.isRequired && kind !== "bool" && isBlank(draft)) return "edit.problem.required";
  if (draft === undefined) return null;
  const values = (Array.isArray(draft) ? draft : [draft]).map((d) => d.trim()).filter((d) => d !== "");
  for (const v of values) {
    switch (kind) {
      case "integer":
        if (!/^-?\d+$/.test(v.replace(/[\s\u00a0]/g, ""))) return "edit.problem.integer";
        break;
      case "number":
        if (decimalOf(v) === null) return "edit.problem.number";
        break;
      case "money": {
        const { amount, currency } = splitMoney(v);
        if (amount.trim() !== "" && decimalOf(amount) === null) return "edit.problem.number";
        if (amount.trim() !== "" && currency.trim() === "") return "edit.problem.currency";
        break;
      }
      case "date":
        if (v === UNREADABLE_DATE) return "edit.problem.noSuchDate";
        if (!/^\d{4}-\d{2}-\d{2}$/.test(v)) return "edit.problem.date";
        if (!isRealDay(v)) return "edit.problem.noSuchDate";
        break;
      case "datetime":
        if (v === UNREADABLE_DATE) return "edit.problem.noSuchDate";
        if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) || isoWithOffset(v) === null) return "edit.problem.date";
        if (!isRealDay(v)) return "edit.problem.noSuchDate";
        break;
      case "text":
        if (typeName(f.fieldType) === "url" && !/^(https?:\/\/)?[^\s]+\.[^\s]+$/i.test(v)) return "edit.problem.url";
        break;
    }
  }
  return null;
}

/** Problems of every offered field, by field name. */
export function problemsOf(
  fields: readonly EditField[],
  drafts: Readonly<Record<string, Draft>>,
  mode: "edit" | "create",
): Record<string, MessageKey> {
  const out: Record<string, MessageKey> = {};
  for (const f of fields) {
    if (!isEditable(f, mode)) continue;
    // An untouched field of an existing record is the portal's business, unless it is required
    // and empty after the user's change.
    const draft = drafts[f.name] ?? (mode === "edit" ? undefined : toDraft(f));
    if (mode === "edit" && draft === undefined) continue;
    const problem = problemOf(f, draft);
    if (problem) out[f.name] = problem;
  }
  return out;
}
