//! Read-only connections for screens. The writer (sync, edits) holds its connection for a whole
//! write transaction — a pull commits 2,500 records at a time — so a list or card read through
//! the writer's connection waits for that transaction. WAL lets readers run beside the writer:
//! each read sees the last committed state, never waits for the writer, and the writer never
//! waits for it.

use crate::migrations::SUPPORTED_VERSION;
use crate::{Store, StoreError, BUSY_TIMEOUT};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

/// A reader's page cache: 32 MiB. Readers walk indexes and fetch 50 rows a page; the writer's
/// 256 MiB pays off for updates, not here, and each reader's cache adds to the app's memory.
const READER_CACHE_KIB: i64 = -32_768;

impl Store {
    /// Opens a read-only connection to a replica the app has already opened (and migrated) with
    /// [`Store::open`]. Any write through it fails; reads never wait for a write transaction
    /// held on another connection (WAL). A file of another schema version is refused.
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let _span = tracing::info_span!("store_open_reader").entered();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if found > SUPPORTED_VERSION {
            return Err(StoreError::TooNew {
                found,
                supported: SUPPORTED_VERSION,
            });
        }
        if found < SUPPORTED_VERSION {
            // Only the writer migrates; a reader of an older schema would read wrong columns.
            return Err(StoreError::corrupt(
                "user_version",
                format!("schema {found} not migrated (open the writer first)"),
            ));
        }
        conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.set_prepared_statement_cache_capacity(crate::STATEMENT_CACHE);
        Ok(Store {
            conn,
            checkpointer: None,
        })
    }
}

/// A few read-only connections to one replica, shared by the screens' requests: a request takes
/// a free one (or waits for the least recently handed out when all are busy).
pub struct ReadPool {
    readers: Vec<Mutex<Store>>,
    next: AtomicUsize,
}

impl ReadPool {
    /// Opens `size` (at least 1) read-only connections to the replica at `path`.
    pub fn open(path: &Path, size: usize) -> Result<ReadPool, StoreError> {
        let readers = (0..size.max(1))
            .map(|_| Store::open_reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadPool {
            readers,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs a read on one of the pool's connections.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        let store = self.take();
        f(&store)
    }

    fn take(&self) -> MutexGuard<'_, Store> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let n = self.readers.len();
        for k in 0..n {
            if let Ok(guard) = self.readers[(start + k) % n].try_lock() {
                return guard;
            }
        }
        self.readers[start % n]
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_cannot_write() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.db");
        let _writer = Store::open(&path).expect("writer");
        let reader = Store::open_reader(&path).expect("reader");
        let wrote = reader.conn.execute(
            "INSERT INTO replica_meta (key, value) VALUES ('x', 'y')",
            [],
        );
        assert!(wrote.is_err(), "a screen's connection must never write");
    }

    #[test]
    fn a_reader_refuses_a_file_that_was_never_migrated() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("empty.db");
        Connection::open(&path)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x)"))
            .expect("plain file");
        assert!(Store::open_reader(&path).is_err());
    }
}
