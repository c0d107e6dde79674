import { describe, expect, it } from "vitest";
import type { OutboxEntry } from "../../lib/ipc/bindings/OutboxEntry";
import { translate, type MessageKey } from "../../lib/i18n";
import { canDiscard, canRetry, entryValueText, groupOutbox, outboxValueText, uncertainQuestion } from "./outbox";

function entry(id: number, recordId: number, happenedMs: number, extra: Partial<OutboxEntry> = {}): OutboxEntry {
  return {
    id,
    key: { entityType: "deal", id: recordId },
    recordTitle: `Deal ${recordId}`,
    op: "update",
    field: "title",
    fieldLabel: "Title",
    base: "a",
    mine: "b",
    theirs: null,
    texts: { base: null, mine: null, theirs: null },
    state: "pending",
    attempts: 0,
    lastError: null,
    happenedMs,
    source: "deviceOffline",
    uncertain: null,
    ...extra,
  };
}

describe("outbox grouping", () => {
  it("groups by record in upload order, records waiting on a conflict first", () => {
    const groups = groupOutbox([
      entry(3, 20, 300),
      entry(1, 10, 100),
      entry(2, 10, 50, { field: "opportunity" }),
      entry(4, 30, 400, { state: "conflict", theirs: "c" }),
    ]);
    expect(groups.map((g) => g.key.id)).toEqual([30, 10, 20]);
    expect(groups[0]!.conflicts).toBe(1);
    expect(groups[1]!.entries.map((e) => e.id)).toEqual([2, 1]);
  });

  it("shows values as text, never markup", () => {
    expect(outboxValueText("<b>x</b>")).toBe("<b>x</b>");
    expect(outboxValueText(null)).toBe("—");
    expect(outboxValueText([5, 7])).toBe("5, 7");
    expect(outboxValueText({ value: "+7 900", valueType: "WORK" })).toBe("+7 900 (WORK)");
    expect(outboxValueText(1500)).toBe("1500");
    expect(outboxValueText({ fields: { name: "Анна", lastName: "Б", secondName: "" }, fm: [{ value: "+7 1", valueType: "WORK" }] })).toBe(
      "name: Анна; lastName: Б; +7 1 (WORK)",
    );
  });

  it("offers retry for refused or waiting entries and discard until an entry is closed", () => {
    expect(canRetry("rejected")).toBe(true);
    expect(canRetry("done")).toBe(false);
    expect(canDiscard("conflict")).toBe(true);
    expect(canDiscard("sending")).toBe(false);
    expect(canDiscard("discarded")).toBe(false);
  });
});

describe("entryValueText", () => {
  it("shows the replica's words for a value and the raw value where it has none", () => {
    const e = { base: [111, 159], mine: [159, 161], theirs: [159], texts: { base: "Анна Б, Вера Г", mine: "Вера Г, Олег Д", theirs: null } };
    expect(entryValueText(e, "base")).toBe("Анна Б, Вера Г");
    expect(entryValueText(e, "mine")).toBe("Вера Г, Олег Д");
    expect(entryValueText(e, "theirs")).toBe("159");
  });
});

describe("a create not known to have reached the portal", () => {
  const uncertain = entry(9, 40, 900, {
    op: "create",
    field: "*",
    recordTitle: "ООО Для Ирины",
    state: "uncertain",
    attempts: 1,
    uncertain: { sentMs: Date.UTC(2026, 2, 2, 9, 30), assigneeId: 2, assigneeName: "Ирина Волкова", laterEntries: 2 },
  });
  const en = (key: MessageKey, params?: Record<string, string | number>) => translate("en", key, params);
  const ru = (key: MessageKey, params?: Record<string, string | number>) => translate("ru", key, params);

  it("waits for the user: shown first, neither retried nor discarded", () => {
    expect(groupOutbox([entry(1, 10, 100), uncertain]).map((g) => g.key.id)).toEqual([40, 10]);
    expect(canRetry("uncertain")).toBe(false);
    expect(canDiscard("uncertain")).toBe(false);
  });

  it("says when it was sent, whose it would be, what to check and what 'it is there' does", () => {
    const text = uncertainQuestion(uncertain, en, "en").join("\n");
    expect(text).toContain("“ООО Для Ирины” was sent on ");
    expect(text).toContain("the portal did not answer");
    expect(text).toContain("assigned to Ирина Волкова");
    expect(text).toContain("Check in Bitrix24");
    expect(text).toContain("2 later change(s)");
    expect(text).toContain("leaves your lists");
    const russian = uncertainQuestion(uncertain, ru, "ru").join("\n");
    expect(russian).toContain("«ООО Для Ирины» отправлена ");
    expect(russian).toContain("Ответственный в ней — Ирина Волкова");
    expect(russian).toContain("Проверьте в Битрикс24");
  });

  it("says so when the time of the send is not known, and leaves out changes there are none of", () => {
    const imported = { ...uncertain, uncertain: { sentMs: null, assigneeId: null, assigneeName: "", laterEntries: 0 } };
    const text = uncertainQuestion(imported, en, "en");
    expect(text[0]).toBe("“ООО Для Ирины” was sent before, but the portal's answer is not known.");
    expect(text.join("\n")).not.toContain("later change");
    expect(text[1]).toContain("You may not be able to see such records");
  });
});
