//! History exports (product.md §4.3, performance.md P8): exactly what a filter shows, newest
//! first, to .xlsx (constant memory: one row in memory at a time) or CSV (UTF-8 with a BOM, so
//! Excel reads Cyrillic). Progress every [`PROGRESS_EVERY`] rows; cancellable; the file appears
//! under its final name only when complete.
//!
//! Values are text: a value that starts like a formula (`=`, `+`, `-`, `@`) never becomes one
//! (string cells in .xlsx; an apostrophe in front in CSV).

mod describe;
mod sheet;

pub use describe::{author, describe};

use describe::{entity_label, field_text, new_text, old_text, sync_state_label};
use kartoteka_domain::history::ExportFormat;
use kartoteka_domain::HistoryEvent;
use kartoteka_store::{HistoryQuery, Store, StoreError};
use sheet::{Cell, Sheet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// The page cache (KiB) an export's read connection needs: it reads each row once, so the
/// writer's large cache would only raise the export's memory (performance.md P8: ≤ 300 MB).
pub const EXPORT_CACHE_KIB: i64 = 16 * 1024;

/// Column ids, in the default order (the global History page uses the same ids).
pub const COLUMNS: &[&str] = &[
    "happenedAt",
    "entity",
    "title",
    "author",
    "event",
    "description",
    "field",
    "old",
    "new",
    "note",
    "source",
    "syncState",
];

/// Header texts, in the order of [`COLUMNS`]. Times are written in UTC (the viewer's zone is not
/// known to a file), and the header says so.
const HEADERS: &[&str] = &[
    "Дата (UTC)",
    "Сущность",
    "Название",
    "Автор",
    "Тип события",
    "Описание",
    "Поле",
    "Старое значение",
    "Новое значение",
    "Примечание",
    "Источник",
    "Состояние синхронизации",
];

/// Rows between two progress reports.
pub const PROGRESS_EVERY: u64 = 1_000;

/// The mark of an entry a supervisor hid (supervisors' exports include such entries).
const HIDDEN_MARK: &str = "скрыто";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportProgress {
    pub done: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOutcome {
    pub rows: u64,
    pub cancelled: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown export column `{0}`")]
    UnknownColumn(String),
    #[error("the export file has no folder to be written in: {0}")]
    BadPath(String),
    #[error("reading history: {0}")]
    Store(#[from] StoreError),
    #[error("writing the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("writing the .xlsx file: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("writing the CSV file: {0}")]
    Csv(#[from] csv::Error),
}

/// Writes the events `query` matches to `path` in `format`, newest first, with `columns` (ids
/// from [`COLUMNS`], in this order; empty = all). Reports progress every [`PROGRESS_EVERY`] rows;
/// when `cancel` is set, stops, removes what it wrote and returns `cancelled: true`. Writes a
/// temporary file beside `path` and renames it at the end, so `path` never holds half a file.
pub fn export_history(
    store: &Store,
    query: &HistoryQuery<'_>,
    format: ExportFormat,
    path: &Path,
    columns: &[String],
    progress: &mut dyn FnMut(ExportProgress),
    cancel: &AtomicBool,
) -> Result<ExportOutcome, ExportError> {
    let _span = tracing::info_span!("export_history", format = format.extension()).entered();
    let columns = resolve_columns(columns)?;
    let dir = match path.parent() {
        Some(d) if d.as_os_str().is_empty() => Path::new("."),
        Some(d) => d,
        None => return Err(ExportError::BadPath(path.display().to_string())),
    };
    let total = store.history_count(query)?;
    progress(ExportProgress { done: 0, total });

    // The file holds customers' data, so it is the user's alone from the start: tempfile creates
    // it 0600 on unix ("Permissions default to `0o600` for tempfiles", `Builder::permissions`),
    // and the rename keeps that mode, also over an older file. A folder the user chose keeps its
    // own mode (kartoteka_store::private_files).
    let tmp = tempfile::Builder::new()
        .prefix(".kartoteka-export-")
        .suffix(".part")
        .tempfile_in(dir)?;
    let mut sheet = Sheet::new(format, tmp.as_file().try_clone()?)?;
    let headers: Vec<&str> = columns.iter().map(|&c| HEADERS[c]).collect();
    sheet.header(&headers)?;

    let note_shown = columns.contains(&NOTE);
    let mut rows = 0u64;
    let mut cancelled = false;
    let mut failed: Option<ExportError> = None;
    let mut cells: Vec<Cell> = Vec::with_capacity(columns.len());
    store.history_each(query, |event| {
        if cancel.load(Ordering::Relaxed) {
            cancelled = true;
            return Ok(false);
        }
        cells.clear();
        cells.extend(columns.iter().map(|&c| cell(&event, c, note_shown)));
        if let Err(e) = sheet.row(&cells) {
            failed = Some(e);
            return Ok(false);
        }
        rows += 1;
        if rows.is_multiple_of(PROGRESS_EVERY) {
            progress(ExportProgress { done: rows, total });
        }
        Ok(true)
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    if cancelled || cancel.load(Ordering::Relaxed) {
        // Dropping `tmp` removes the partial file.
        drop(sheet);
        tracing::info!(rows, "export cancelled");
        return Ok(ExportOutcome {
            rows,
            cancelled: true,
        });
    }
    sheet.finish(tmp.as_file())?;
    tmp.persist(path).map_err(|e| ExportError::Io(e.error))?;
    progress(ExportProgress { done: rows, total });
    tracing::info!(rows, "export written");
    Ok(ExportOutcome {
        rows,
        cancelled: false,
    })
}

const HAPPENED_AT: usize = 0;
const DESCRIPTION: usize = 5;
const NOTE: usize = 9;

fn resolve_columns(columns: &[String]) -> Result<Vec<usize>, ExportError> {
    if columns.is_empty() {
        return Ok((0..COLUMNS.len()).collect());
    }
    columns
        .iter()
        .map(|c| {
            COLUMNS
                .iter()
                .position(|id| id == c)
                .ok_or_else(|| ExportError::UnknownColumn(c.clone()))
        })
        .collect()
}

/// The value of column `c` for `e`. A hidden entry is marked in the note column, or in the
/// description when the note column is not exported.
fn cell(e: &HistoryEvent, c: usize, note_shown: bool) -> Cell {
    let text = |s: Option<String>| Cell::Text(s.unwrap_or_default());
    match c {
        HAPPENED_AT => Cell::Time(e.happened_at),
        1 => text(e.record.map(|k| entity_label(k.entity_type).to_string())),
        2 => Cell::Text(e.record_title.clone()),
        3 => Cell::Text(describe::author(e)),
        4 => Cell::Text(e.event.label_ru().to_string()),
        DESCRIPTION if e.hidden && !note_shown => {
            Cell::Text(format!("{} ({HIDDEN_MARK})", describe(e)))
        }
        DESCRIPTION => Cell::Text(describe(e)),
        6 => text(field_text(e).map(str::to_string)),
        7 => text(old_text(e)),
        8 => text(new_text(e)),
        NOTE => Cell::Text(match (e.hidden, e.note.as_deref()) {
            (true, Some(n)) if !n.is_empty() => format!("{HIDDEN_MARK}; {n}"),
            (true, _) => HIDDEN_MARK.to_string(),
            (false, n) => n.unwrap_or_default().to_string(),
        }),
        10 => Cell::Text(e.source.label_ru().to_string()),
        _ => Cell::Text(sync_state_label(e.sync_state).to_string()),
    }
}

/// The P8 bound (performance.md): `rows` rows built from `sample` (cycled), written straight
/// to a constant-memory .xlsx with rust_xlsxwriter: no store, no query, no per-row describing.
/// Used by `kartoteka-cli bench history`; not by the app.
pub fn bench_raw_xlsx(sample: &[HistoryEvent], rows: u64, path: &Path) -> Result<(), ExportError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let prepared: Vec<Vec<Cell>> = sample
        .iter()
        .map(|e| (0..COLUMNS.len()).map(|c| cell(e, c, true)).collect())
        .collect();
    if prepared.is_empty() {
        return Ok(());
    }
    let ws = workbook.add_worksheet_with_constant_memory()?;
    for (col, h) in HEADERS.iter().enumerate() {
        ws.write_string(0, col as u16, *h)?;
    }
    for r in 0..rows.min(1_048_575) {
        let row = r as u32 + 1;
        for (col, c) in prepared[r as usize % prepared.len()].iter().enumerate() {
            match c {
                Cell::Time(t) => {
                    ws.write_datetime_with_format(row, col as u16, t.naive_utc(), &date)?;
                }
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    ws.write_string(row, col as u16, s)?;
                }
            }
        }
    }
    // Written as the app's exports are: the user's alone (0600 on unix).
    workbook.save_to_writer(kartoteka_store::create_private_file(path)?)?;
    Ok(())
}
