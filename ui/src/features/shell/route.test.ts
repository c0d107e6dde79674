import { describe, expect, it } from "vitest";
import { routeForShortcut, sameRoute } from "./route";

describe("section shortcuts", () => {
  it("Alt+1…7 follow the sidebar order", () => {
    expect(routeForShortcut("1")).toEqual({ kind: "overview" });
    expect(routeForShortcut("3")).toEqual({ kind: "records", entityType: "deal" });
    expect(routeForShortcut("6")).toEqual({ kind: "history" });
    expect(routeForShortcut("7")).toEqual({ kind: "outbox" });
    expect(routeForShortcut("8")).toBeUndefined();
    expect(routeForShortcut("x")).toBeUndefined();
  });

  it("a list with an open card is still the same section", () => {
    expect(
      sameRoute(
        { kind: "records", entityType: "deal", open: { entityType: "deal", id: 1 } },
        { kind: "records", entityType: "deal" },
      ),
    ).toBe(true);
    expect(sameRoute({ kind: "records", entityType: "deal" }, { kind: "records", entityType: "lead" })).toBe(false);
  });
});
