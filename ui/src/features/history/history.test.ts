import { describe, expect, it } from "vitest";
import { translate, type MessageKey, type Params } from "../../lib/i18n";
import type { HistoryEvent } from "../../lib/ipc/bindings/HistoryEvent";
import { DEFAULT_COLUMNS, loadColumnSettings, moveColumn, toggleColumn, visibleColumns } from "./columns";
import { authorText, describeEvent, newText, valueText } from "./describe";
import { activePresets, applyPreset, NO_FILTER, toRequestFilter, userKey } from "./filter";
import { groupBySave } from "./grouping";
import { formatEntries } from "./plural";

const ru = (key: MessageKey, params?: Params) => translate("ru", key, params);
const en = (key: MessageKey, params?: Params) => translate("en", key, params);

function event(over: Partial<HistoryEvent> = {}): HistoryEvent {
  return {
    seq: 1,
    record: { entityType: "deal", id: 5 },
    recordTitle: "Поставка",
    happenedAt: "2026-11-27T10:00:00Z",
    receivedAt: null,
    authorId: 2,
    authorName: "Мария Петрова",
    authorKind: "person",
    source: "observed",
    syncState: "synced",
    deviceId: null,
    groupId: 1,
    event: "field_changed",
    field: "opportunity",
    fieldLabel: "Сумма",
    oldValue: "\"100\"",
    newValue: "\"200\"",
    oldDisplay: null,
    newDisplay: null,
    note: null,
    hidden: false,
    ...over,
  };
}

describe("counts read naturally", () => {
  it("uses the language's plural rules, not hand-made ones", () => {
    expect(formatEntries(1, "ru", ru)).toBe("1 запись");
    expect(formatEntries(3, "ru", ru)).toBe("3 записи");
    expect(formatEntries(25, "ru", ru)).toBe("25 записей");
    expect(formatEntries(21, "ru", ru)).toBe("21 запись");
    expect(formatEntries(11, "ru", ru)).toBe("11 записей");
    expect(formatEntries(0, "ru", ru)).toBe("0 записей");
    expect(formatEntries(1, "en", en)).toBe("1 entry");
    expect(formatEntries(1234, "en", en)).toBe("1,234 entries");
  });
});

describe("filter → request", () => {
  it("leaves out what is not chosen and blank text", () => {
    expect(toRequestFilter({ ...NO_FILTER, text: "   " })).toEqual({
      entityType: null,
      record: null,
      from: null,
      to: null,
      authorId: null,
      events: [],
      field: null,
      source: null,
      text: null,
    });
  });

  it("turns local days into an inclusive period and a record id into its key", () => {
    const f = toRequestFilter({
      ...NO_FILTER,
      entityType: "deal",
      recordId: 7,
      fromDay: "2026-11-26",
      toDay: "2026-11-27",
      event: "link_removed",
      text: " Иванов ",
    });
    expect(f.record).toEqual({ entityType: "deal", id: 7 });
    expect(f.from).toBe(new Date(2026, 10, 26).toISOString());
    expect(f.to).toBe(new Date(2026, 10, 28).toISOString());
    expect(f.events).toEqual(["link_removed"]);
    expect(f.text).toBe("Иванов");
    // A record id without a type names no record.
    expect(toRequestFilter({ ...NO_FILTER, recordId: 7 }).record).toBeNull();
  });

  it("presets pick today, yesterday (local days) and the signed-in user", () => {
    const now = new Date(2026, 0, 1, 9, 30);
    const today = applyPreset(NO_FILTER, "today", now, 1);
    expect([today.fromDay, today.toDay]).toEqual(["2026-01-01", "2026-01-01"]);
    const yesterday = applyPreset(NO_FILTER, "yesterday", now, 1);
    expect([yesterday.fromDay, yesterday.toDay]).toEqual(["2025-12-31", "2025-12-31"]);
    const byMe = applyPreset(today, "byMe", now, 1);
    expect(byMe.authorId).toBe(1);
    expect(activePresets(byMe, now, 1)).toEqual(["today", "byMe"]);
    expect(activePresets(NO_FILTER, now, 1)).toEqual([]);
  });

  it("keeps settings apart per portal and user", () => {
    expect(userKey("columns", "p.bitrix24.ru", 1)).not.toBe(userKey("columns", "p.bitrix24.ru", 2));
    expect(userKey("filters", "a", 1)).not.toBe(userKey("filters", "b", 1));
  });
});

describe("authors", () => {
  it("names an author the portal does not give as unknown, in both languages, never as nobody", () => {
    const unknown = event({ authorId: null, authorName: "", authorKind: "unknown" });
    expect(authorText(unknown, ru)).toBe("Автор неизвестен");
    expect(authorText(unknown, en)).toBe("Unknown author");
    // An older entry recorded without a name reads the same.
    expect(authorText(event({ authorId: null, authorName: "" }), en)).toBe("Unknown author");
    expect(authorText(event(), en)).toBe("Мария Петрова");
  });
});

describe("grouping by save", () => {
  it("keeps one block per group in the order of their newest event", () => {
    const events = [
      event({ seq: 9, groupId: 3 }),
      event({ seq: 8, groupId: 3 }),
      event({ seq: 7, groupId: 2 }),
      event({ seq: 6, groupId: 1 }),
      event({ seq: 5, groupId: 1 }),
    ];
    const groups = groupBySave(events);
    expect(groups.map((g) => g.groupId)).toEqual([3, 2, 1]);
    expect(groups.map((g) => g.events.map((e) => e.seq))).toEqual([[9, 8], [7], [6, 5]]);
  });
});

describe("column settings", () => {
  it("drops unknown columns, adds new ones at the end and bounds widths", () => {
    const storage = {
      getItem: () => JSON.stringify({ order: ["title", "nonsense", "happenedAt"], hidden: ["entity"], widths: { title: 5000, bogus: 3 } }),
    };
    const s = loadColumnSettings(storage, "k");
    expect(s.order.slice(0, 2)).toEqual(["title", "happenedAt"]);
    expect(s.order).toHaveLength(12);
    expect(s.hidden).toEqual(["entity"]);
    expect(s.widths).toEqual({ title: 800 });
    expect(loadColumnSettings({ getItem: () => "{broken" }, "k")).toEqual(DEFAULT_COLUMNS);
  });

  it("moves and hides columns; one column always stays", () => {
    const moved = moveColumn(DEFAULT_COLUMNS, "title", -1);
    expect(moved.order.slice(0, 3)).toEqual(["happenedAt", "title", "entity"]);
    expect(moveColumn(DEFAULT_COLUMNS, "happenedAt", -1)).toBe(DEFAULT_COLUMNS);
    let s = DEFAULT_COLUMNS;
    for (const c of DEFAULT_COLUMNS.order) s = s.hidden.includes(c) ? s : toggleColumn(s, c);
    expect(visibleColumns(s)).toEqual(["happenedAt"]);
  });
});

describe("descriptions", () => {
  it("show recorded display values, else stored ones, as plain text", () => {
    expect(describeEvent(event(), ru)).toBe("Сумма: 100 → 200");
    const removed = event({
      event: "link_removed",
      fieldLabel: "Контакт",
      oldValue: '{"entityType":"contact","id":3}',
      oldDisplay: "<img src=x onerror=alert(1)> Иванов",
      newValue: null,
    });
    expect(describeEvent(removed, ru)).toBe("Удалено: Контакт — <img src=x onerror=alert(1)> Иванов");
    expect(describeEvent(removed, en)).toBe("Removed: Контакт — <img src=x onerror=alert(1)> Иванов");
    expect(valueText(null, "[1,2]")).toBe("1, 2");
    expect(valueText(null, "not json")).toBe("not json");
  });
  it("never show a restore's reference as data: its display form, or nothing", () => {
    const reference = '{"entityType":"lead","id":140737488355330}';
    const old = event({ event: "restored", field: null, fieldLabel: null, oldValue: null, newValue: reference, note: "Восстановлена как новая запись" });
    expect(newText(old)).toBe("");
    expect(describeEvent(old, ru)).not.toContain("{");
    const named = event({ event: "restored", field: null, fieldLabel: null, oldValue: null, newValue: reference, newDisplay: "«Заявка» #41" });
    expect(newText(named)).toBe("«Заявка» #41");
  });
});
