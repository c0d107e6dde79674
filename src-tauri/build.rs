//! Reads the app's Tauri config from the repository root and generates the permissions of our
//! IPC commands. With an app manifest, a command the capabilities do not list is refused.

/// Every IPC command the shell registers. Keep in step with `src/commands/mod.rs`
/// (`tests/tests/ipc_commands.rs` checks).
const COMMANDS: &[&str] = &[
    "portal_status",
    "portal_counts",
    "portal_connect",
    "portal_use_demo",
    "records_list",
    "record_get",
    "references_list",
    "sync_start",
    "sync_status",
    "history_list",
    "history_facets",
    "record_as_of",
    "history_hide",
    "history_export",
    "history_export_cancel",
    "record_update",
    "record_create",
    "record_delete",
    "record_restore",
    "sync_set_offline",
    "history_revert",
    "outbox_list",
    "outbox_resolve",
    "outbox_retry",
    "outbox_settle",
    "outbox_discard",
    "outbox_export",
    "outbox_import",
];

fn main() {
    let attributes = tauri_build::Attributes::new()
        .config_path("../tauri.conf.json")
        .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS));
    if let Err(error) = tauri_build::try_build(attributes) {
        // A build script reports failure by panicking; the message names what is wrong.
        panic!("tauri build step failed: {error:#}");
    }
}
