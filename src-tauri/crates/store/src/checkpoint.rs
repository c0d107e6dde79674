//! WAL checkpoints off the writer's path. A pull commits a batch of several MB every few hundred
//! milliseconds; when the writer itself checkpoints (SQLite's auto-checkpoint), every few batches
//! one commit also copies 64 MiB back into the database and waits for its fsync — measured at
//! 250–400 ms of a 140 ms batch. A thread with its own connection runs a passive checkpoint
//! after each large commit instead, on the other core, while the writer goes on appending.

use crate::BUSY_TIMEOUT;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::thread::JoinHandle;

/// The writer's own auto-checkpoint while a checkpointer runs: a safety net (1 GiB of WAL) that a
/// stalled checkpointer would hit, not the writer's routine.
pub(crate) const WRITER_FALLBACK_PAGES: i64 = 262_144;

pub(crate) struct Checkpointer {
    nudge: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
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
        })
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
