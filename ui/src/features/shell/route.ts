import type { EntityType } from "../../lib/ipc/bindings/EntityType";
import type { RecordKey } from "../../lib/ipc/bindings/RecordKey";

/** Which screen is shown. Kept as plain state: a desktop app has no address bar. */
export type Route =
  | { kind: "overview" }
  | { kind: "records"; entityType: EntityType; open?: RecordKey; creating?: boolean }
  | { kind: "history"; open?: RecordKey }
  | { kind: "outbox"; open?: RecordKey }
  | { kind: "connect" };

export function sameRoute(a: Route, b: Route): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "records" && b.kind === "records") return a.entityType === b.entityType;
  return true;
}

/** Alt+1 … Alt+7 switch sections, in sidebar order. */
export const SECTION_ROUTES: readonly Route[] = [
  { kind: "overview" },
  { kind: "records", entityType: "lead" },
  { kind: "records", entityType: "deal" },
  { kind: "records", entityType: "contact" },
  { kind: "records", entityType: "company" },
  { kind: "history" },
  { kind: "outbox" },
];

export function routeForShortcut(key: string): Route | undefined {
  const n = Number.parseInt(key, 10);
  if (!Number.isInteger(n) || n < 1) return undefined;
  return SECTION_ROUTES[n - 1];
}
