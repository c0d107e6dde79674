//! End-to-end harness: the real app binary under Xvfb, driven through tauri-driver and
//! WebKitWebDriver. See `tests/tests/e2e_*.rs` for the stories and `.ci/dev e2e` for how to run them.
//!
//! Environment:
//! - `KARTOTEKA_APP`: the app binary (default: `target/app/debug/kartoteka`, then `target/debug/kartoteka`).
//! - `TAURI_DRIVER`: the tauri-driver binary (default: `PATH`, then `~/.cargo/bin/tauri-driver`).
//! - `KARTOTEKA_E2E_ARTIFACTS`: where screenshots and logs go (default: `tests/artifacts`).
//! - `DISPLAY`: an X server, e.g. from `xvfb-run -a`.

mod app;
mod driver;
mod keyring;
mod webdriver;

use std::path::{Path, PathBuf};

pub use app::AppUnderTest;
pub use driver::TauriDriver;
pub use keyring::TestKeyring;
pub use webdriver::{keys, Element, Session, WebDriver};

/// Why a story could not drive the app.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    /// Something the story needs is missing: the app binary, tauri-driver, a display.
    #[error("e2e setup: {0}")]
    Setup(String),
    /// The WebDriver remote end refused a command or answered nonsense.
    #[error("webdriver: {0}")]
    WebDriver(String),
    /// A condition did not come true in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A file could not be written or read.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl E2eError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// Where stories save screenshots and logs (gitignored).
pub fn artifacts_dir() -> PathBuf {
    std::env::var_os("KARTOTEKA_E2E_ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("artifacts"))
}

/// The app binary to test.
pub fn app_binary() -> Result<PathBuf, E2eError> {
    if let Some(path) = std::env::var_os("KARTOTEKA_APP") {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(E2eError::Setup(format!(
                "KARTOTEKA_APP={} is not a file",
                path.display()
            )))
        };
    }
    let root = workspace_root();
    let candidates = [
        root.join("target/app/debug/kartoteka"),
        root.join("target/debug/kartoteka"),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            E2eError::Setup(format!(
                "no app binary: set KARTOTEKA_APP or build it (cargo build -p kartoteka \
                 --target-dir target/app); looked at {candidates:?}"
            ))
        })
}

/// The tauri-driver binary.
pub fn tauri_driver_binary() -> Result<PathBuf, E2eError> {
    if let Some(path) = std::env::var_os("TAURI_DRIVER") {
        return Ok(PathBuf::from(path));
    }
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join("tauri-driver"))
                .collect()
        })
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cargo/bin/tauri-driver"));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| {
            E2eError::Setup(
                "tauri-driver not found: `cargo install tauri-driver --locked` or set TAURI_DRIVER"
                    .into(),
            )
        })
}
