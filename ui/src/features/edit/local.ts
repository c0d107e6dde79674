import type { RecordKey } from "../../lib/ipc";

/** Ids from here up are this device's records not yet on the portal (`LOCAL_ID_BASE` in domain/src/edit.rs). */
export const LOCAL_ID_BASE = 2 ** 47;

export function isLocalRecord(key: RecordKey): boolean {
  return key.id >= LOCAL_ID_BASE;
}
