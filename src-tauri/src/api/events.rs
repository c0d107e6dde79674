//! Where the API layer sends its events: the Tauri window in the app, a list in tests.

use kartoteka_domain::ipc::AppEvent;
use std::sync::Arc;

/// Receives [`AppEvent`]s. Implemented by the shell over Tauri's `emit`.
pub trait EventSink: Send + Sync {
    fn send(&self, event: AppEvent);
}

pub type SharedSink = Arc<dyn EventSink>;
