import { describe, expect, it } from "vitest";
import { PAGE_SIZE, pagesForRange, RowCache } from "./pageCache";
import { listRequest } from "./RecordList";
import { NO_FILTERS, stageListId } from "./Filters";

describe("pagesForRange", () => {
  it("asks only for the pages covering the rows on screen", () => {
    expect(pagesForRange(0, 30, 1000)).toEqual([0]);
    expect(pagesForRange(PAGE_SIZE - 5, PAGE_SIZE + 5, 1000)).toEqual([0, 1]);
  });

  it("never asks beyond the end of the list", () => {
    expect(pagesForRange(0, 10_000, PAGE_SIZE + 1)).toEqual([0, 1]);
    expect(pagesForRange(0, 10, 0)).toEqual([]);
  });
});

describe("RowCache", () => {
  it("finds rows by their index across pages and forgets failed fetches", () => {
    const cache = new RowCache();
    const row = (id: number) => ({ key: { entityType: "deal" as const, id } }) as never;
    cache.markPending(1);
    expect(cache.has(1)).toBe(true);
    expect(cache.row(PAGE_SIZE)).toBeUndefined();
    cache.put(1, [row(7), row(8)]);
    expect(cache.row(PAGE_SIZE + 1)).toEqual(row(8));
    cache.markPending(2);
    cache.fail(2);
    expect(cache.has(2)).toBe(false);
  });
});

describe("listRequest", () => {
  it("maps search, sort and filters to the shell's request", () => {
    const req = listRequest(
      "deal",
      "  Иван ",
      [{ id: "amount", desc: true }],
      { stageId: "C1:WON", responsibleId: 5, categoryId: 1 },
      2,
    );
    expect(req).toEqual({
      entityType: "deal",
      search: "Иван",
      stageIds: ["C1:WON"],
      responsibleIds: [5],
      categoryIds: [1],
      sort: { field: "amount", descending: true },
      offset: 2 * PAGE_SIZE,
      limit: PAGE_SIZE,
    });
  });

  it("sends no search, sort or filter when none is chosen", () => {
    const req = listRequest("contact", "   ", [{ id: "phone", desc: false }], NO_FILTERS, 0);
    expect(req.search).toBeNull();
    expect(req.sort).toBeNull();
    expect(req.stageIds).toEqual([]);
    expect(req.responsibleIds).toEqual([]);
    expect(req.categoryIds).toEqual([]);
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
