//! IPC commands, one file per area. Each is one line over the API layer; names are `area_verb`,
//! each takes one request struct and returns one response or an `{code, message}` error.
//! Every name here is also listed in `build.rs` (its permission), `capabilities/main.json` and
//! the UI's `ui/src/lib/ipc/commands.ts`; `tests/tests/ipc_commands.rs` fails when they differ.

pub mod history;
pub mod outbox;
pub mod portal;
pub mod records;
pub mod sync;

/// Registers every command with Tauri.
pub fn handler<R: tauri::Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static
{
    tauri::generate_handler![
        portal::portal_status,
        portal::portal_counts,
        portal::portal_connect,
        portal::portal_use_demo,
        records::records_list,
        records::record_get,
        records::references_list,
        records::record_update,
        records::record_create,
        records::record_delete,
        records::record_restore,
        sync::sync_start,
        sync::sync_status,
        sync::sync_set_offline,
        history::history_list,
        history::history_facets,
        history::record_as_of,
        history::history_hide,
        history::history_export,
        history::history_export_cancel,
        history::history_revert,
        outbox::outbox_list,
        outbox::outbox_resolve,
        outbox::outbox_retry,
        outbox::outbox_settle,
        outbox::outbox_discard,
        outbox::outbox_export,
        outbox::outbox_import,
    ]
}
