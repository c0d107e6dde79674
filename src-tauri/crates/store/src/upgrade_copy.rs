//! The copy of a replica kept beside it while its schema is upgraded.
//!
//! Made with SQLite's `VACUUM INTO` (a consistent snapshot, WAL included, from the open
//! connection: <https://www.sqlite.org/lang_vacuum.html#vacuuminto>) before the first step runs.
//! It stays until a later process opens the upgraded file successfully, so a user whose first
//! session after an update goes wrong still has the file as the previous version left it.

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// When this process first opened a replica: copies older than that are from an earlier start.
static PROCESS_START: OnceLock<SystemTime> = OnceLock::new();

pub(crate) fn note_process_start() {
    PROCESS_START.get_or_init(SystemTime::now);
}

/// Where the copy of `path` made before upgrading it from schema `from` is kept:
/// `replica.db` → `replica.db.v4.bak`.
pub fn upgrade_copy_path(path: &Path, from: i64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".v{from}.bak"));
    path.with_file_name(name)
}

/// Writes the copy of the open database at `path` (schema `from`). A copy left by an earlier,
/// failed attempt is of the same untouched file and is replaced.
///
/// The copy holds what the replica holds, so it is the user's alone too: the file is created
/// empty and `0600` first ([`crate::private_files`]) and `VACUUM INTO` fills it ("the file named
/// by the INTO clause must not previously exist, or else it must be an empty file"); left to
/// SQLite, it would be created with SQLite's default mode (0644 less the umask).
pub(crate) fn make(
    conn: &Connection,
    path: &Path,
    from: i64,
) -> Result<PathBuf, Box<dyn std::error::Error + Send + Sync>> {
    let copy = upgrade_copy_path(path, from);
    if let Err(e) = std::fs::remove_file(&copy) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(copy = %copy.display(), error = %e, "old upgrade copy not removed");
        }
    }
    crate::private_files::create_private_new(&copy)?;
    let target = copy.to_string_lossy().into_owned();
    if let Err(e) = conn.execute("VACUUM INTO ?1", [&target]) {
        // No copy was made: leave no empty file that looks like one.
        let _ = std::fs::remove_file(&copy);
        return Err(e.into());
    }
    tracing::info!(copy = %copy.display(), from, "copy kept before the schema upgrade");
    Ok(copy)
}

/// Removes the upgrade copies of `path` made before this process started (this open of the
/// upgraded file succeeded, so they are no longer needed). Copies made by this process stay.
pub(crate) fn discard_earlier(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Some(start) = PROCESS_START.get().copied() else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!("{}.v", name.to_string_lossy());
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let file_name = file_name.to_string_lossy();
        let is_copy = file_name
            .strip_prefix(&prefix)
            .and_then(|rest| rest.strip_suffix(".bak"))
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
        if !is_copy {
            continue;
        }
        let made = entry.metadata().and_then(|m| m.modified());
        if made.is_ok_and(|made| made < start) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => tracing::info!(copy = %entry.path().display(), "upgrade copy removed"),
                Err(e) => {
                    tracing::warn!(copy = %entry.path().display(), error = %e, "upgrade copy not removed")
                }
            }
        }
    }
}
