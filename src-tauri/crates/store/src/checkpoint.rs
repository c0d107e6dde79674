//! WAL checkpoints off the writer's path. A pull commits a batch of several MB every few hundred
//! milliseconds; when the writer itself checkpoints (SQLite's auto-checkpoint), every few batches
//! one commit also copies 64 MiB back into the database and waits for its fsync — measured at
//! 250–400 ms of a 140 ms batch. A thread with its own connection runs a passive checkpoint
//! after each large commit instead, on the other core, while the writer goes on appending.

use crate::BUSY_TIMEOUT;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

/// The writer's own auto-checkpoint while a checkpointer runs: a safety net (1 GiB of WAL) that a
/// stalled checkpointer would hit, not the writer's routine.
pub(crate) const WRITER_FALLBACK_PAGES: i64 = 262_144;

pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Checkpoints completed so far (read by the tests).
    #[cfg_attr(not(test), allow(dead_code))]
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Starts the checkpoint thread on its own connection to the database at `path`. `None` if
    /// that connection cannot be opened (the writer then checkpoints by itself, as before).
    pub(crate) fn start(path: &Path) -> Option<Checkpointer> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "no checkpoint connection; the writer checkpoints");
                return None;
            }
        };
        if conn.busy_timeout(BUSY_TIMEOUT).is_err() {
            return None;
        }
        // One nudge waiting is enough: several commits during one checkpoint need one more.
        let (nudge, wake) = sync_channel::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("kartoteka-checkpoint".into())
            .spawn(move || {
                while wake.recv().is_ok() {
                    let done: Result<(i64, i64, i64), _> =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                        });
                    match done {
                        Ok((_, log, copied)) => {
                            counter.fetch_add(1, Ordering::Relaxed);
                            tracing::trace!(log, copied, "wal checkpoint");
                        }
                        Err(e) => tracing::debug!(error = %e, "wal checkpoint skipped"),
                    }
                }
            })
            .ok()?;
        Some(Checkpointer {
            nudge: Some(nudge),
            thread: Some(thread),
            done,
        })
    }

    /// Checkpoints completed so far.
    #[cfg(test)]
    pub(crate) fn completed(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Asks for a checkpoint soon; never waits.
    pub(crate) fn nudge(&self) {
        if let Some(n) = &self.nudge {
            match n.try_send(()) {
                Ok(()) | Err(TrySendError::Full(())) => {}
                Err(TrySendError::Disconnected(())) => {
                    tracing::debug!("checkpoint thread gone");
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread after the checkpoint it may be running.
        self.nudge.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::bench::synthetic_record;
    use crate::{Store, SyncCheckpoint};
    use kartoteka_domain::EntityType;
    use std::time::{Duration, Instant};

    fn wal_bytes(db: &std::path::Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    #[test]
    fn pulled_batches_are_checkpointed_by_the_thread_and_the_wal_starts_over() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("replica.db");
        let mut store = Store::open(&db).expect("open");
        let fallback: i64 = store
            .conn
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(
            fallback,
            super::WRITER_FALLBACK_PAGES,
            "the writer leaves routine checkpoints to the thread"
        );
        let batch = |from: i64| -> Vec<_> {
            (from..from + 500)
                .map(|id| synthetic_record(EntityType::Deal, id, 1))
                .collect()
        };
        let wait_for = |store: &Store, n: u64| {
            let start = Instant::now();
            while store.checkpointer.as_ref().map_or(0, |c| c.completed()) < n {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "no checkpoint after a pulled batch"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        };
        store
            .apply_pulled(EntityType::Deal, &batch(1), &SyncCheckpoint::default())
            .expect("first batch");
        wait_for(&store, 1);
        let after_first = wal_bytes(&db);
        assert!(after_first > 0, "the batch went through the WAL");
        // Checkpointed in full, so the next batch writes the WAL from its start again instead
        // of after the first batch's frames: the file does not grow by a second batch.
        store
            .apply_pulled(EntityType::Deal, &batch(501), &SyncCheckpoint::default())
            .expect("second batch");
        wait_for(&store, 2);
        let after_second = wal_bytes(&db);
        assert!(
            after_second < after_first + after_first / 2,
            "the WAL starts over after a full checkpoint: {after_first} then {after_second} bytes"
        );
    }
}
