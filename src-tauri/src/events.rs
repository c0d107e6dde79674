//! The one event stream to the UI: every [`AppEvent`] goes out on [`EVENT_NAME`].

use kartoteka_domain::ipc::{AppEvent, EVENT_NAME};
use tauri::{AppHandle, Emitter, Runtime};

/// Sends an event to the UI. Callers send only after the data the event speaks of is committed.
pub fn emit<R: Runtime>(app: &AppHandle<R>, event: AppEvent) {
    if let Err(error) = app.emit(EVENT_NAME, &event) {
        tracing::warn!(%error, "could not emit an app event");
    }
}
