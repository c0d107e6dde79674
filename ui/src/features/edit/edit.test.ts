import { describe, expect, it } from "vitest";
import { translate } from "../../lib/i18n";
import type { MultiField } from "../../lib/ipc/bindings/MultiField";
import { undoActionOf } from "../history/undo";
import {
  changedFields,
  decimalOf,
  editorKind,
  fromDraft,
  isEditable,
  problemOf,
  problemsOf,
  toDraft,
  type EditField,
} from "./fieldEdit";
import { hasPrimary } from "./LinksEditor";
import { entryEdits, entryDrafts, entryProblem, linkValue, makePrimary, newEntry, problemField, refusedProblems } from "./multiEdit";
import { formEdit } from "./RecordForm";
import { offeredLinkFields } from "./LinksEditor";
import { isLocalRecord, LOCAL_ID_BASE } from "./local";

function field(name: string, fieldType: EditField["fieldType"], raw: unknown, extra: Partial<EditField> = {}): EditField {
  return {
    name,
    label: name,
    fieldType,
    isCustom: name.startsWith("UF_"),
    raw,
    isRequired: false,
    isReadOnly: false,
    isImmutable: false,
    isMultiple: false,
    options: [],
    statusType: null,
    ...extra,
  };
}

describe("value ↔ edit per field type", () => {
  it.each([
    // [type, stored, draft shown, typed, value sent]
    ["string", "Поставка", "Поставка", "Поставка бетона", "Поставка бетона"],
    ["text", null, "", "line 1\nline 2", "line 1\nline 2"],
    ["integer", 42, "42", "1 000", 1000],
    ["double", "1500.00", "1500.00", "1 250,5", "1250.5"],
    ["money", "100|RUB", "100|RUB", "2 500,75|USD", "2500.75|USD"],
    ["date", "2026-03-01T00:00:00+03:00", "2026-03-01", "2026-04-15", "2026-04-15"],
    ["enumeration", "79", "79", "80", 80],
    ["user", 5, "5", "7", 7],
    ["crm_status", "SOURCE_CALL", "SOURCE_CALL", "WEB", "WEB"],
    ["crm_category", 0, "0", "1", 1],
    ["crm_currency", "RUB", "RUB", "EUR", "EUR"],
  ] as const)("%s: %j shows as %j; %j is sent as %j", (type, stored, shown, typed, sent) => {
    const f = field("f", type, stored);
    expect(toDraft(f)).toBe(shown);
    expect(fromDraft(f, typed)).toEqual(sent);
  });

  it("yes/no keeps the shape the portal used (Y/N, true/false, 1/0)", () => {
    expect(toDraft(field("opened", "boolean", "Y"))).toBe("Y");
    expect(fromDraft(field("opened", "boolean", "Y"), "N")).toBe("N");
    expect(fromDraft(field("UF_CRM_VIP", "boolean", true), "N")).toBe(false);
    expect(fromDraft(field("UF_CRM_VIP", "boolean", 0), "Y")).toBe(1);
    expect(toDraft(field("UF_CRM_VIP", "boolean", null))).toBe("N");
  });

  it("a date-time is edited in local time and sent with the local offset", () => {
    const f = field("closeDate", "datetime", "2026-03-01T09:30:00+00:00");
    const shown = toDraft(f);
    expect(shown).toMatch(/^2026-03-01T\d{2}:30$/);
    const sent = fromDraft(f, shown) as string;
    expect(new Date(sent).getTime()).toBe(new Date("2026-03-01T09:30:00Z").getTime());
    expect(sent).toMatch(/[+-]\d{2}:\d{2}$/);
  });

  it("multiple values are one input each; empty ones are dropped", () => {
    const f = field("UF_CRM_TAGS", "string", ["a", "b"], { isMultiple: true });
    expect(toDraft(f)).toEqual(["a", "b"]);
    expect(fromDraft(f, ["a", "", "c"])).toEqual(["a", "c"]);
    const e = field("UF_CRM_KIND", "enumeration", [1, 2], { isMultiple: true });
    expect(fromDraft(e, ["2", "3"])).toEqual([2, 3]);
  });

  it("user 0 is nobody; pipeline 0 is the default pipeline", () => {
    expect(toDraft(field("assignedById", "user", 0))).toBe("");
    expect(toDraft(field("categoryId", "crm_category", 0))).toBe("0");
  });

  it("only changed fields go into the edit", () => {
    const fields = [field("title", "string", "A"), field("opportunity", "double", 10), field("currencyId", "crm_currency", "RUB")];
    expect(changedFields(fields, { title: "A", opportunity: "10", currencyId: "USD" })).toEqual({ currencyId: "USD" });
    expect(changedFields(fields, {})).toEqual({});
  });

  it("read-only, bookkeeping and unknown types are not offered; immutable only when creating", () => {
    expect(isEditable(field("title", "string", "A", { isReadOnly: true }), "edit")).toBe(false);
    expect(isEditable(field("createdTime", "datetime", "x"), "edit")).toBe(false);
    expect(isEditable(field("UF_CRM_FILE", "file", null), "edit")).toBe(false);
    expect(isEditable(field("UF_CRM_X", { other: "resourcebooking" }, null), "edit")).toBe(false);
    const immutable = field("categoryId", "crm_category", 0, { isImmutable: true });
    expect(isEditable(immutable, "edit")).toBe(false);
    expect(isEditable(immutable, "create")).toBe(true);
    expect(editorKind(field("comments", "string", ""))).toBe("textarea");
  });
});

describe("validation before anything is queued", () => {
  it.each([
    ["double", "много", "edit.problem.number"],
    ["integer", "1.5", "edit.problem.integer"],
    ["date", "31.12.2026", "edit.problem.date"],
    ["date", "2026-13-45", "edit.problem.noSuchDate"],
    ["date", "2026-02-31", "edit.problem.noSuchDate"],
    ["date", "2026-02-29", "edit.problem.noSuchDate"],
    ["datetime", "2026-02-30T10:00", "edit.problem.noSuchDate"],
    ["money", "abc|RUB", "edit.problem.number"],
    ["url", "not a site", "edit.problem.url"],
  ] as const)("%s %j → %s", (type, typed, key) => {
    expect(problemOf(field("f", type, null), typed)).toBe(key);
  });

  it("a required field may not be emptied; the messages read in both languages", () => {
    const title = field("title", "string", "A", { isRequired: true });
    expect(problemOf(title, "  ")).toBe("edit.problem.required");
    expect(translate("ru", "edit.problem.required")).toBe("Обязательное поле");
    expect(translate("en", "edit.problem.required")).toBe("This field is required");
    expect(problemOf(title, "B")).toBeNull();
  });

  it("editing checks only what the user touched; creating checks every required field", () => {
    const fields = [field("title", "string", null, { isRequired: true }), field("opportunity", "double", null)];
    expect(problemsOf(fields, {}, "edit")).toEqual({});
    expect(problemsOf(fields, {}, "create")).toEqual({ title: "edit.problem.required" });
    expect(problemsOf(fields, { opportunity: "x" }, "edit")).toEqual({ opportunity: "edit.problem.number" });
  });

  it("decimal text keeps kopecks exactly", () => {
    expect(decimalOf("1 000 000,10")).toBe("1000000.10");
    expect(decimalOf("12a")).toBeNull();
  });

  it("refused saves bring their field problems from the shell", () => {
    const problems = [{ field: "fm:12", label: "Телефон", messageRu: "Неверный телефон", messageEn: "Bad phone" }];
    const found = refusedProblems({ code: "invalidInput", message: "x", params: { problems: JSON.stringify(problems) } });
    expect(found).toEqual(problems);
    expect(problemField(found[0]!)).toBe("fm");
    expect(refusedProblems({ code: "storage", message: "x" })).toEqual([]);
    expect(refusedProblems({ code: "invalidInput", message: "x", params: { problems: "{oops" } })).toEqual([]);
  });
});

describe("phones, e-mails and links", () => {
  const original: MultiField[] = [
    { id: 1, kind: "PHONE", valueType: "WORK", value: "+7 900 000-00-01" },
    { id: 2, kind: "EMAIL", valueType: "WORK", value: "a@example.com" },
    { id: 3, kind: "PHONE", valueType: "MOBILE", value: "+7 900 000-00-03" },
  ];

  it("add, change and remove one entry each; untouched entries make no edit", () => {
    const drafts = entryDrafts(original);
    drafts[0] = { ...drafts[0]!, value: "+7 900 000-00-99" };
    drafts[2] = { ...drafts[2]!, removed: true };
    drafts.push({ ...newEntry("EMAIL"), value: " b@example.com " });
    drafts.push(newEntry("PHONE"));
    expect(entryEdits(original, drafts)).toEqual([
      { op: "change", id: 1, valueType: "WORK", value: "+7 900 000-00-99" },
      { op: "remove", id: 3 },
      { op: "add", kind: "EMAIL", valueType: "WORK", value: "b@example.com" },
    ]);
  });

  it("checks e-mails and phones as typed", () => {
    expect(entryProblem({ ...newEntry("EMAIL"), value: "not-mail" })).toBe("edit.problem.email");
    expect(entryProblem({ ...newEntry("PHONE"), value: "call me" })).toBe("edit.problem.phone");
    expect(entryProblem({ ...newEntry("PHONE"), value: "+7 (900) 000-00-01" })).toBeNull();
    expect(entryProblem({ ...entryDrafts(original)[0]!, value: "" })).toBe("edit.problem.emptyEntry");
  });

  it("the primary contact is the first of contactIds; a single link is one id or 0", () => {
    expect(makePrimary([4, 5, 6], 6)).toEqual([6, 4, 5]);
    expect(linkValue([4, 5], true, [5, 4])).toEqual([5, 4]);
    expect(linkValue([4, 5], true, [4, 5])).toBeUndefined();
    expect(linkValue(0, false, [9])).toBe(9);
    expect(linkValue(9, false, [])).toBe(0);
  });

  it("a primary can be chosen for deal and lead contacts and a contact's companies, not a company's contacts", () => {
    expect(hasPrimary("deal", "contactIds")).toBe(true);
    expect(hasPrimary("lead", "contactIds")).toBe(true);
    expect(hasPrimary("contact", "companyIds")).toBe(true);
    expect(hasPrimary("company", "contactIds")).toBe(false);
  });

  it("a deal's old single contact field is not offered beside contactIds", () => {
    const offered = offeredLinkFields([
      field("contactId", "crm_contact", 4),
      field("contactIds", "crm_contact", [4], { isMultiple: true }),
      field("companyId", "crm_company", 7),
      field("title", "string", "x"),
    ]);
    expect(offered.map((f) => f.name)).toEqual(["contactIds", "companyId"]);
  });

  it("the form's edit holds changed fields, links and entries only", () => {
    const fields = [field("title", "string", "A")];
    const links = [field("contactIds", "crm_contact", [4, 5], { isMultiple: true }), field("companyId", "crm_company", 7)];
    const edit = formEdit(fields, { title: "B" }, links, { contactIds: [5, 4], companyId: [7] }, original, entryDrafts(original));
    expect(edit).toEqual({ fields: { title: "B", contactIds: [5, 4] }, multiFields: [] });
  });
});

describe("history and local records", () => {
  it("offers revert for changes and restore for removed links and entries", () => {
    const key = { entityType: "deal" as const, id: 1 };
    expect(undoActionOf({ event: "field_changed", record: key, hidden: false })).toBe("revert");
    expect(undoActionOf({ event: "link_removed", record: key, hidden: false })).toBe("restore");
    expect(undoActionOf({ event: "multifield_removed", record: key, hidden: false })).toBe("restore");
    expect(undoActionOf({ event: "view", record: key, hidden: false })).toBeNull();
    expect(undoActionOf({ event: "field_changed", record: key, hidden: true })).toBeNull();
    expect(undoActionOf({ event: "exported", record: null, hidden: false })).toBeNull();
  });

  it("records created here have ids from the local base up", () => {
    expect(isLocalRecord({ entityType: "contact", id: LOCAL_ID_BASE + 3 })).toBe(true);
    expect(isLocalRecord({ entityType: "contact", id: 12 })).toBe(false);
  });
});
