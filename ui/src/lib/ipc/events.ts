import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type { AppEvent } from "./bindings/AppEvent";

/** The one event name the shell emits on (`EVENT_NAME` in domain/src/ipc.rs). */
export const EVENT_NAME = "kartoteka://event";

/** Subscribes to the app's event stream; returns the function that unsubscribes. */
export function onAppEvent(handler: (event: AppEvent) => void): Promise<UnlistenFn> {
  return listen<AppEvent>(EVENT_NAME, (e) => handler(e.payload));
}
