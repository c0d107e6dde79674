import { describe, expect, it } from "vitest";
import { addProgress, overallPercent, withKnownTotal, type SyncSeen } from "./usePortal";

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

describe("overallPercent", () => {
  const counts = {
    counts: [
      { entityType: "lead" as const, count: 100 },
      { entityType: "deal" as const, count: 100 },
      { entityType: "contact" as const, count: 100 },
    ],
  };

  it("never goes back when the next type starts: one progress for the whole sync", () => {
    let seen: SyncSeen = {};
    const steps = [
      { entityType: "lead" as const, done: 50, total: 100 },
      { entityType: "lead" as const, done: 100, total: 100 },
      { entityType: "deal" as const, done: 0, total: null },
      { entityType: "deal" as const, done: 40, total: 100 },
      // A later phase of the leads counts from the start again: no step back either.
      { entityType: "lead" as const, done: 10, total: null },
      { entityType: "contact" as const, done: 100, total: 100 },
    ];
    const percents = steps.map((step) => {
      seen = addProgress(seen, step);
      return overallPercent(seen, counts);
    });
    expect(percents).toEqual([17, 33, 33, 47, 47, 80]);
    for (let i = 1; i < percents.length; i++) expect(percents[i]).toBeGreaterThanOrEqual(percents[i - 1] as number);
  });

  it("gives no percentage until the portal's counts are known (no jump back when they arrive)", () => {
    const seen = addProgress({}, { entityType: "lead", done: 25, total: 100 });
    expect(overallPercent(seen, null)).toBeNull();
    expect(overallPercent(seen, counts)).toBe(8);
  });
});
