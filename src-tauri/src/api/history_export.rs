//! `history_export`: exactly what the History page's filter shows, to .xlsx or CSV, off the UI
//! thread on a read connection of its own (sync and the page keep working), with progress
//! events, cancel, and an `exported` event when it is done.

use crate::api::history::{from_history_store, local_actor, normalized, query_of};
use crate::api::Core;
use chrono::{DateTime, Local, Utc};
use kartoteka_domain::history::{
    ExportFormat, HistoryExportRequest, HistoryExportResult, HistoryFilter,
};
use kartoteka_domain::ipc::{AppEvent, ErrorCode, IpcError};
use kartoteka_export::{export_history, ExportError, ExportProgress, EXPORT_CACHE_KIB};
use kartoteka_store::Store;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// The default file: `<downloads>/kartoteka-history-2026-11-27-1530.xlsx`, with `-2`, `-3`, …
/// when that name is taken.
pub fn default_export_path(dir: &Path, now: DateTime<Local>, format: ExportFormat) -> PathBuf {
    let stem = format!("kartoteka-history-{}", now.format("%Y-%m-%d-%H%M"));
    let ext = format.extension();
    let mut path = dir.join(format!("{stem}.{ext}"));
    let mut n = 2;
    while path.exists() {
        path = dir.join(format!("{stem}-{n}.{ext}"));
        n += 1;
    }
    path
}

fn from_export(error: &ExportError) -> IpcError {
    let code = match error {
        ExportError::UnknownColumn(_) | ExportError::BadPath(_) => ErrorCode::InvalidInput,
        _ => ErrorCode::Storage,
    };
    IpcError::new(code, error.to_string())
}

/// Clears the "running" flag however the export ends.
struct Running<'a>(&'a Core);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.history.export_running.store(false, Ordering::SeqCst);
    }
}

impl Core {
    pub async fn history_export(
        &self,
        request: HistoryExportRequest,
    ) -> Result<HistoryExportResult, IpcError> {
        if self.history.export_running.swap(true, Ordering::SeqCst) {
            return Err(IpcError::new(
                ErrorCode::InvalidInput,
                "an export is already running",
            ));
        }
        let _running = Running(self);
        self.history.export_cancel.store(false, Ordering::SeqCst);
        let db = self
            .history
            .replica_path()
            .ok_or_else(|| IpcError::new(ErrorCode::Storage, "the local database is not open"))?;
        let path = match request.path.as_deref().map(str::trim) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => {
                let dir = self.history.downloads_dir().ok_or_else(|| {
                    IpcError::new(ErrorCode::InvalidInput, "no Downloads folder is known")
                })?;
                std::fs::create_dir_all(&dir)
                    .map_err(|e| IpcError::new(ErrorCode::Storage, e.to_string()))?;
                default_export_path(&dir, Local::now(), request.format)
            }
        };
        let filter = normalized(request.filter);
        let cancel = self.history.export_cancel.clone();
        let events = self.events.clone();
        let format = request.format;
        let columns = request.columns;
        let target = path.clone();
        let job_filter = filter.clone();
        tracing::info!(format = format.extension(), "history export started");
        let outcome = tokio::task::spawn_blocking(move || {
            // A read connection of its own: the export never holds the replica's lock.
            let store = Store::open(&db).map_err(|e| from_history_store(&e))?;
            store
                .limit_page_cache(EXPORT_CACHE_KIB)
                .map_err(|e| from_history_store(&e))?;
            let profile = store.profile().map_err(|e| from_history_store(&e))?;
            let q = query_of(&job_filter, &profile);
            let mut progress = |p: ExportProgress| {
                events.send(AppEvent::HistoryExportProgress {
                    rows: p.done,
                    total: p.total,
                });
            };
            export_history(
                &store,
                &q,
                format,
                &target,
                &columns,
                &mut progress,
                &cancel,
            )
            .map_err(|e| from_export(&e))
        })
        .await
        .map_err(|e| IpcError::new(ErrorCode::Internal, e.to_string()))??;
        tracing::info!(
            rows = outcome.rows,
            cancelled = outcome.cancelled,
            "history export ended"
        );
        if !outcome.cancelled {
            self.record_export(&filter, format, outcome.rows);
        }
        Ok(HistoryExportResult {
            path: path.display().to_string(),
            rows: outcome.rows,
            cancelled: outcome.cancelled,
        })
    }

    /// Asks the running export to stop; it removes what it wrote.
    pub async fn history_export_cancel(&self) -> Result<(), IpcError> {
        self.history.export_cancel.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Records an `exported` event; a failure is logged (the file is written).
    fn record_export(&self, filter: &HistoryFilter, format: ExportFormat, rows: u64) {
        let online = self.is_online();
        let at_ms = Utc::now().timestamp_millis();
        let recorded = self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_history_store(&e))?;
            store
                .record_export(&actor, at_ms, filter, rows, format.extension())
                .map_err(|e| from_history_store(&e))
        });
        if let Err(error) = recorded {
            tracing::warn!(code = ?error.code, "the export was not recorded");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_default_file_is_dated_and_never_overwrites_an_earlier_export() {
        let dir = tempfile::tempdir().expect("temp dir");
        let now = Local
            .with_ymd_and_hms(2026, 11, 27, 15, 30, 0)
            .single()
            .expect("a local time");
        let first = default_export_path(dir.path(), now, ExportFormat::Xlsx);
        assert_eq!(
            first.file_name().and_then(|n| n.to_str()),
            Some("kartoteka-history-2026-11-27-1530.xlsx")
        );
        std::fs::write(&first, b"x").expect("write");
        let second = default_export_path(dir.path(), now, ExportFormat::Xlsx);
        assert_eq!(
            second.file_name().and_then(|n| n.to_str()),
            Some("kartoteka-history-2026-11-27-1530-2.xlsx")
        );
        let csv = default_export_path(dir.path(), now, ExportFormat::Csv);
        assert!(csv.to_string_lossy().ends_with("1530.csv"));
    }
}
