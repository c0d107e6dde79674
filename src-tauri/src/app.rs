//! Application setup: logging, the shared state, the portal at start, the window.

use crate::api::events::EventSink;
use crate::api::Core;
use crate::launch::LaunchOptions;
use kartoteka_bitrix::KeyringSecretStore;
use kartoteka_domain::ipc::AppEvent;
use std::sync::Arc;
use tauri::{AppHandle, Manager};

/// Sends the API layer's events to the window.
struct WindowEvents(AppHandle);

impl EventSink for WindowEvents {
    fn send(&self, event: AppEvent) {
        crate::events::emit(&self.0, event);
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // A second init (tests) is harmless: keep the first subscriber.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}

/// Runs the desktop app until its window closes.
pub fn run() {
    init_tracing();
    let launch = LaunchOptions::from_args(std::env::args());
    tracing::info!(
        demo = launch.demo,
        demo_records = ?launch.demo_records,
        version = env!("CARGO_PKG_VERSION"),
        "Kartoteka starting"
    );

    let result = tauri::Builder::default()
        .plugin(crate::navigation::guard())
        .invoke_handler(crate::commands::handler())
        .setup(move |app| {
            let data_dir = app.path().app_data_dir()?;
            let secrets = Arc::new(KeyringSecretStore::new("kartoteka"));
            let events = Arc::new(WindowEvents(app.handle().clone()));
            let core = Arc::new(
                Core::new(events, data_dir, secrets).with_demo_records(launch.demo_records),
            );
            // XDG_DOWNLOAD_DIR when the desktop names one, else ~/Downloads.
            let downloads = app
                .path()
                .download_dir()
                .or_else(|_| app.path().home_dir().map(|home| home.join("Downloads")));
            core.set_downloads_dir(downloads.ok());
            app.manage(core.clone());
            let demo = launch.demo;
            tauri::async_runtime::spawn(async move {
                if let Err(error) = core.start(demo).await {
                    tracing::error!(code = ?error.code, "no portal available");
                }
            });
            Ok(())
        })
        .run(tauri::generate_context!("../tauri.conf.json"));
    if let Err(error) = result {
        tracing::error!(%error, "the app stopped with an error");
        std::process::exit(1);
    }
}
