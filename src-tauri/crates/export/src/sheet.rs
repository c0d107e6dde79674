//! The two file formats behind one row-at-a-time writer.

use crate::ExportError;
use chrono::{DateTime, Utc};
use kartoteka_domain::history::ExportFormat;
use rust_xlsxwriter::{Format, Workbook};
use std::fs::File;
use std::io::{BufWriter, Write};

/// One cell of an exported row.
pub(crate) enum Cell {
    /// A real date and time (an Excel datetime in .xlsx), in UTC.
    Time(DateTime<Utc>),
    /// Text, never a formula.
    Text(String),
}

/// Rows one .xlsx worksheet holds (Excel's limit), header included.
const XLSX_MAX_ROWS: u32 = 1_048_576;

pub(crate) enum Sheet {
    Xlsx(Box<XlsxSheet>),
    Csv(Box<csv::Writer<BufWriter<File>>>),
}

pub(crate) struct XlsxSheet {
    workbook: Workbook,
    headers: Vec<String>,
    date: Format,
    /// The worksheet being written and its next row.
    index: usize,
    row: u32,
}

impl Sheet {
    pub(crate) fn new(format: ExportFormat, file: File) -> Result<Sheet, ExportError> {
        Ok(match format {
            ExportFormat::Xlsx => Sheet::Xlsx(Box::new(XlsxSheet {
                workbook: Workbook::new(),
                headers: Vec::new(),
                date: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
                index: 0,
                row: 0,
            })),
            ExportFormat::Csv => {
                let mut out = BufWriter::with_capacity(256 * 1024, file);
                // The byte order mark: Excel reads the file as UTF-8 (Cyrillic) only with it.
                out.write_all("\u{feff}".as_bytes())?;
                Sheet::Csv(Box::new(csv::Writer::from_writer(out)))
            }
        })
    }

    pub(crate) fn header(&mut self, headers: &[&str]) -> Result<(), ExportError> {
        match self {
            Sheet::Xlsx(x) => {
                x.headers = headers.iter().map(|h| h.to_string()).collect();
                x.add_worksheet()
            }
            Sheet::Csv(w) => Ok(w.write_record(headers)?),
        }
    }

    pub(crate) fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        match self {
            Sheet::Xlsx(x) => x.row(cells),
            Sheet::Csv(w) => {
                for c in cells {
                    match c {
                        Cell::Time(t) => {
                            w.write_field(t.format("%Y-%m-%d %H:%M:%S").to_string())?
                        }
                        Cell::Text(s) if starts_like_formula(s) => {
                            w.write_field(format!("'{s}"))?
                        }
                        Cell::Text(s) => w.write_field(s)?,
                    }
                }
                w.write_record(None::<&[u8]>)?;
                Ok(())
            }
        }
    }

    /// Completes the file (the .xlsx is assembled into `file` here).
    pub(crate) fn finish(self, file: &File) -> Result<(), ExportError> {
        match self {
            Sheet::Xlsx(mut x) => {
                x.workbook.save_to_writer(file)?;
                file.sync_all()?;
            }
            Sheet::Csv(w) => {
                let out = w
                    .into_inner()
                    .map_err(|e| ExportError::Io(e.into_error()))?;
                let file = out
                    .into_inner()
                    .map_err(|e| ExportError::Io(e.into_error()))?;
                file.sync_all()?;
            }
        }
        Ok(())
    }
}

impl XlsxSheet {
    /// A new constant-memory worksheet with the header row, frozen, and column widths.
    fn add_worksheet(&mut self) -> Result<(), ExportError> {
        let bold = Format::new().set_bold();
        let n = self.workbook.worksheets().len();
        let ws = self.workbook.add_worksheet_with_constant_memory()?;
        ws.set_name(if n == 0 {
            "История".to_string()
        } else {
            format!("История ({})", n + 1)
        })?;
        for (col, h) in self.headers.iter().enumerate() {
            let col = col as u16;
            ws.set_column_width(col, width(h))?;
            ws.write_string_with_format(0, col, h, &bold)?;
        }
        ws.set_freeze_panes(1, 0)?;
        self.index = n;
        self.row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        if self.row >= XLSX_MAX_ROWS {
            self.add_worksheet()?;
        }
        let row = self.row;
        let ws = self.workbook.worksheet_from_index(self.index)?;
        for (col, c) in cells.iter().enumerate() {
            let col = col as u16;
            match c {
                Cell::Time(t) => {
                    ws.write_datetime_with_format(row, col, t.naive_utc(), &self.date)?;
                }
                // A string cell: Excel never evaluates it, whatever it starts with.
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    ws.write_string(row, col, s)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }
}

/// A column width that fits typical values of the column with this header.
fn width(header: &str) -> f64 {
    match header {
        "Описание" => 60.0,
        "Название" | "Старое значение" | "Новое значение" | "Примечание" => {
            30.0
        }
        _ => 20.0,
    }
}

/// Text that a spreadsheet would take for a formula (CSV injection).
fn starts_like_formula(s: &str) -> bool {
    matches!(
        s.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    )
}

#[cfg(test)]
mod tests {
    use super::starts_like_formula;

    #[test]
    fn formula_starts_are_recognised() {
        for s in ["=1+1", "+7 999", "-5", "@SUM(A1)", "\tx"] {
            assert!(starts_like_formula(s), "{s}");
        }
        for s in ["", "Иван", "100", "'=quoted"] {
            assert!(!starts_like_formula(s), "{s}");
        }
    }
}
