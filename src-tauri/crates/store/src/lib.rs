//! Kartoteka's local SQLite replica: records of the four CRM types with every field, the mirror
//! of the last server version, links, search, reference lists, field metadata, pull checkpoints
//! and the outbox table. The only place in the app with SQL.
//!
//! One [`Store`] is one connection. Writes take `&mut self`; the app keeps one writer and may
//! open further `Store`s on the same file for reading (WAL lets readers run beside the writer).
//!
//! Layout, in short (the schema with a comment per table and index is in [`migrations`]):
//! - `records`: one narrow row per record, keyed by `rid = entity_type << 48 | id`, with the
//!   promoted columns lists filter and sort by; `record_fields`: the full local field map and
//!   multi-fields as JSON; `records_search`: FTS5 over titles, names, phones and e-mails.
//! - The server mirror is sparse: `server_records` holds the last server version only of records
//!   whose local version differs (unsent edits); for every other record the local version *is*
//!   the last server version. [`Store::server_version`] hides the difference. This halves the
//!   bytes a million-record pull writes. Whoever clears a record's last unsent edit must also
//!   drop its `server_records` row (the next pull does it in any case).
//! - `links`: one row per link a record's fields declare, readable from both ends.
//! - Counters per type and state are kept in `record_counts`, written once per transaction.

pub mod bench;
pub mod bench_history;
mod checkpoint;
mod detail;
mod diff;
mod edit;
mod error;
pub mod history;
mod lifecycle;
mod limits;
pub mod migrations;
mod outbox;
pub mod private_files;
mod promote;
mod pull;
mod query;
mod read;
mod reference;
mod search;
mod uncertain;
mod unsent;
mod upgrade_copy;
mod upload;

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

pub use detail::{
    EntityCounts, LinkDirection, LinkedRecord, RecordDetail, ServerVersion, LINKS_ON_CARD,
};
pub use diff::FieldChange;
pub use edit::ORIGINATOR_ID;
pub use error::StoreError;
pub use history::{
    BrokenLink, HistoryQuery, LocalActor, NewEvent, PeerLogDue, Profile, StageHistoryEntry,
    TimelineLog, TimelineMarks,
};
pub use lifecycle::SyncCheckpoint;
pub use outbox::LocalEdit;
pub use private_files::{create_private_file, make_private, private_dir, write_private_file};
pub use pull::{ApplyStats, RecordChange};
pub use query::{
    Cursor, Page, RecordFilter, RecordPage, RecordRow, RecordView, SortField, SortKey,
};
pub use read::ReadPool;
pub use upgrade_copy::upgrade_copy_path;
pub use upload::{
    multi_by_id, EditsAuthor, ExportedEdit, ExportedEdits, PendingLog, QueuedEntry, QueuedRecord,
    EDITS_FILE_FORMAT, EDITS_FILE_FORMAT_V1, LOG_MARKER,
};

/// Where a record is, as far as lists are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum RecordState {
    /// In the lists.
    Active,
    /// Deleted on the portal; its last version stays here (recycle bin).
    Deleted,
    /// The user lost access; removed from lists and search, unsent edits kept as blocked.
    Hidden,
}

impl RecordState {
    pub(crate) const fn code(self) -> i64 {
        match self {
            RecordState::Active => 0,
            RecordState::Deleted => 1,
            RecordState::Hidden => 2,
        }
    }

    pub(crate) fn from_code(code: i64) -> Result<Self, StoreError> {
        match code {
            0 => Ok(RecordState::Active),
            1 => Ok(RecordState::Deleted),
            2 => Ok(RecordState::Hidden),
            other => Err(StoreError::corrupt("records.state", other.to_string())),
        }
    }
}

/// The local replica.
pub struct Store {
    conn: Connection,
    /// Checkpoints the WAL on its own thread (file databases).
    checkpointer: Option<checkpoint::Checkpointer>,
}

/// Page cache: 256 MiB (negative = KiB). A large cache doubles update speed (performance.md).
const CACHE_SIZE_KIB: i64 = -262_144;
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
pub(crate) const STATEMENT_CACHE: usize = 64;
const WAL_CHECKPOINT_PAGES: i64 = 16_384;
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

impl Store {
    /// Opens (or creates) the replica at `path` and brings its schema up to date. A database
    /// written by a newer version is refused with [`StoreError::TooNew`] and left untouched.
    ///
    /// Before an upgrade, a copy of the file as it is is written beside it
    /// ([`upgrade_copy_path`]); it stays there until the file is opened again by a later process
    /// (the next start of the app or of the CLI). An upgrade that fails commits nothing and
    /// answers [`StoreError::UpgradeFailed`], which names the failed step and the copy.
    ///
    /// The file, its `-wal` and `-shm` are the user's alone ([`private_files`]): a new file is
    /// created `0600` on unix, and ones an earlier version left readable by others are narrowed
    /// before SQLite opens them. The folder the file is in is left as it is.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let _span = tracing::info_span!("store_open").entered();
        upgrade_copy::note_process_start();
        private_files::make_replica_private(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        let mut store = Self::prepare(conn, Some(path))?;
        store.checkpointer = checkpoint::Checkpointer::start(path);
        if store.checkpointer.is_some() {
            store.conn.pragma_update(
                None,
                "wal_autocheckpoint",
                checkpoint::WRITER_FALLBACK_PAGES,
            )?;
        }
        Ok(store)
    }

    /// After a large commit: the WAL is copied back into the database on the checkpoint thread.
    pub(crate) fn checkpoint_soon(&self) {
        if let Some(c) = &self.checkpointer {
            c.nudge();
        }
    }

    /// A private in-memory replica, for unit tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Self::prepare(Connection::open_in_memory()?, None)
    }

    fn prepare(mut conn: Connection, file: Option<&Path>) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Read the version before anything writes to the file.
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let supported = migrations::SUPPORTED_VERSION;
        if found > supported {
            tracing::warn!(
                found,
                supported,
                "database is newer than this build; refusing"
            );
            return Err(StoreError::TooNew { found, supported });
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", CACHE_SIZE_KIB)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Checkpoint the WAL every 64 MiB instead of every 4 MiB: a pull commits a batch of
        // ~5 MB each time, and the default checkpoints (with an fsync) after every one of them,
        // halving pull speed (measured with bench::run). The WAL file is cut back to this size.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
        if found < supported {
            // A file with data in it is copied first; a new one (version 0) has nothing to keep.
            let copy = match file {
                Some(path) if found > 0 => {
                    Some(upgrade_copy::make(&conn, path, found).map_err(|e| {
                        StoreError::UpgradeFailed {
                            from: found,
                            to: supported,
                            step: None,
                            reason: e.to_string(),
                            copy: None,
                        }
                    })?)
                }
                _ => None,
            };
            migrations::upgrade(&mut conn, found).map_err(|failed| {
                tracing::error!(from = found, step = failed.version, error = %failed.error, "schema upgrade failed");
                StoreError::UpgradeFailed {
                    from: found,
                    to: supported,
                    step: Some(failed.version),
                    reason: failed.error.to_string(),
                    copy,
                }
            })?;
            tracing::info!(from = found, to = supported, "database schema upgraded");
        } else if let Some(path) = file {
            upgrade_copy::discard_earlier(path);
        }
        // After the upgrade, so that a failed one leaves even the journal mode as it was.
        if file.is_some() {
            let mode: String =
                conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                tracing::warn!(mode = %mode, "WAL journal not available");
            }
        }
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(Store {
            conn,
            checkpointer: None,
        })
    }

    /// Shrinks this connection's page cache to `kib` KiB. For connections that stream once
    /// through many rows (exports): the default cache (256 MiB) pays off for the writer, not there.
    pub fn limit_page_cache(&self, kib: i64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "cache_size", -kib.max(64))?;
        Ok(())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }
}
