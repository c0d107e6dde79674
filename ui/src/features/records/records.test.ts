import { describe, expect, it } from "vitest";
import { PAGE_SIZE, RowCache } from "./pageCache";
import { listRequest, searchHint } from "./RecordList";
import { NO_FILTERS, stageListId } from "./Filters";
import { columnsFor } from "./columns";

describe("RowCache", () => {
  const row = (id: number) => ({ key: { entityType: "deal" as const, id } }) as never;

  it("fetches the first page, then further pages only while rows on screen are missing", () => {
    const cache = new RowCache();
    expect(cache.needsMore(0)).toBe(true);
    expect(cache.begin()).toBeNull();
    // One fetch at a time: pages start where the previous one ended.
    expect(cache.needsMore(0)).toBe(false);
    cache.append([row(1), row(2)], "after-2");
    expect(cache.row(1)).toEqual(row(2));
    expect(cache.needsMore(1)).toBe(false);
    expect(cache.needsMore(2)).toBe(true);
    expect(cache.begin()).toBe("after-2");
    cache.append([row(3)], null);
    // The last page has no cursor: nothing more to fetch.
    expect(cache.needsMore(100)).toBe(false);
    expect(cache.loaded).toBe(3);
  });

  it("allows a retry after a failed fetch", () => {
    const cache = new RowCache();
    cache.begin();
    cache.fail();
    expect(cache.needsMore(0)).toBe(true);
  });
});

describe("listRequest", () => {
  it("maps search, sort and filters to the shell's request", () => {
    const req = listRequest(
      "deal",
      "  Иван ",
      [{ id: "title", desc: true }],
      { stageId: "C1:WON", responsibleId: 5, categoryId: 1 },
      "cursor-3",
    );
    expect(req).toEqual({
      entityType: "deal",
      search: "Иван",
      stageIds: ["C1:WON"],
      responsibleIds: [5],
      categoryId: 1,
      sort: { field: "title", descending: true },
      cursor: "cursor-3",
      limit: PAGE_SIZE,
    });
  });

  it("sorts by amount and by created time, the columns the replica indexes", () => {
    const amount = listRequest("deal", "", [{ id: "amount", desc: true }], NO_FILTERS, null);
    expect(amount.sort).toEqual({ field: "amount", descending: true });
    const created = listRequest("lead", "", [{ id: "created", desc: false }], NO_FILTERS, null);
    expect(created.sort).toEqual({ field: "createdTime", descending: false });
    for (const type of ["lead", "deal", "contact", "company"] as const) {
      const ids = columnsFor(type, (k) => k, "en").map((c) => c.id);
      expect(ids, type).toContain("created");
    }
  });

  it("sends no search, sort or filter when none is chosen", () => {
    const req = listRequest("contact", "   ", [{ id: "phone", desc: false }], NO_FILTERS, null);
    expect(req.search).toBeNull();
    expect(req.sort).toBeNull();
    expect(req.stageIds).toEqual([]);
    expect(req.responsibleIds).toEqual([]);
    expect(req.categoryId).toBeNull();
    expect(req.cursor).toBeNull();
  });
});

describe("stageListId", () => {
  it("names the reference list of each type's stages", () => {
    expect(stageListId("lead", null)).toBe("STATUS");
    expect(stageListId("deal", null)).toBe("DEAL_STAGE");
    expect(stageListId("deal", 0)).toBe("DEAL_STAGE");
    expect(stageListId("deal", 3)).toBe("DEAL_STAGE_3");
    expect(stageListId("contact", null)).toBeNull();
  });
});

describe("valueTypeLabel", () => {
  it("names phone and e-mail kinds in the user's language and keeps messenger names", async () => {
    const { valueTypeLabel } = await import("./RecordCard");
    const { translate } = await import("../../lib/i18n");
    const ru = (key: Parameters<typeof translate>[1]) => translate("ru", key);
    const en = (key: Parameters<typeof translate>[1]) => translate("en", key);
    expect(valueTypeLabel("WORK", ru)).toBe("рабочий");
    expect(valueTypeLabel("MOBILE", en)).toBe("mobile");
    expect(valueTypeLabel("TELEGRAM", ru)).toBe("TELEGRAM");
  });
});

describe("searchHint", () => {
  it("says why text finds nothing or is not searched yet, and stays quiet for real searches", () => {
    expect(searchHint("<")).toBe("list.searchNoLetters");
    expect(searchHint(" -- ")).toBe("list.searchNoLetters");
    expect(searchHint("и")).toBe("list.searchTooShort");
    expect(searchHint("7")).toBe("list.searchTooShort");
    expect(searchHint("")).toBeNull();
    expect(searchHint("ив")).toBeNull();
    expect(searchHint("+7")).toBeNull();
    expect(searchHint("8 9")).toBeNull();
    expect(searchHint("a.b")).toBeNull();
  });
});
