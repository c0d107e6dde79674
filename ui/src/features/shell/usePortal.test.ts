import { describe, expect, it } from "vitest";
import { withKnownTotal } from "./usePortal";

describe("withKnownTotal", () => {
  it("keeps the total of the same type when a later step does not repeat it", () => {
    const first = { entityType: "lead" as const, done: 2500, total: 6117 };
    expect(withKnownTotal({ entityType: "lead", done: 6117, total: null }, first)).toEqual({
      entityType: "lead",
      done: 6117,
      total: 6117,
    });
  });

  it("never carries a total over to another type, and a new total wins", () => {
    const leads = { entityType: "lead" as const, done: 6117, total: 6117 };
    expect(withKnownTotal({ entityType: "deal", done: 10, total: null }, leads).total).toBeNull();
    expect(withKnownTotal({ entityType: "lead", done: 1, total: 99 }, leads).total).toBe(99);
    expect(withKnownTotal({ entityType: "lead", done: 1, total: null }, null).total).toBeNull();
  });
});
