//! The raw-SQLite bounds of the history benchmark (performance.md P3–P5), measured on the same
//! `history_events` table the store reads: the bare query a filter needs, without the masks,
//! the tie-break on `seq` or the counters. `kartoteka-cli bench history` prints the store's
//! figures beside these; nothing here is used by the app.

use crate::promote::{rid_of, search_query};
use crate::{Store, StoreError};
use kartoteka_domain::HistoryFilter;
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

/// The bare conditions of `f` over `history_events`.
fn raw_conditions(f: &HistoryFilter) -> Result<(String, Vec<SqlValue>), StoreError> {
    // With a record, the record's index is the natural plan (as in the store's query).
    let by = if f.record.is_some() { "+" } else { "" };
    let mut conds: Vec<String> = vec!["1".into()];
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(key) = f.record {
        conds.push("rid = ?".into());
        params.push(rid_of(key)?.into());
    } else if let Some(t) = f.entity_type {
        conds.push("entity_type = ?".into());
        params.push(t.type_id().into());
    }
    if let Some(from) = f.from {
        conds.push("happened_ms >= ?".into());
        params.push(from.timestamp_millis().into());
    }
    if let Some(to) = f.to {
        conds.push("happened_ms < ?".into());
        params.push(to.timestamp_millis().into());
    }
    if let Some(a) = f.author_id {
        conds.push(format!("{by}author_id = ?"));
        params.push(a.into());
    }
    if !f.events.is_empty() {
        conds.push(format!(
            "{by}event IN ({})",
            vec!["?"; f.events.len()].join(", ")
        ));
        params.extend(
            f.events
                .iter()
                .map(|e| SqlValue::from(e.as_str().to_string())),
        );
    }
    if let Some(field) = &f.field {
        conds.push(format!("{by}field = ?"));
        params.push(field.clone().into());
    }
    if let Some(s) = f.source {
        conds.push(format!("{by}source = ?"));
        params.push(s.as_str().to_string().into());
    }
    if let Some(text) = f.text.as_deref().and_then(search_query) {
        conds.push("seq IN (SELECT rowid FROM history_search WHERE history_search MATCH ?)".into());
        params.push(text.into());
    }
    Ok((conds.join(" AND "), params))
}

impl Store {
    /// Bound for a first page: `SELECT * … WHERE <filter> ORDER BY happened_ms DESC LIMIT n`,
    /// reading every column of every row. Returns the rows read.
    pub fn bench_raw_history_page(&self, f: &HistoryFilter, n: u32) -> Result<usize, StoreError> {
        let (conds, params) = raw_conditions(f)?;
        let sql = format!(
            "SELECT * FROM history_events WHERE {conds} ORDER BY happened_ms DESC LIMIT {n}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut read = 0;
        while let Some(r) = rows.next()? {
            for i in 0..columns {
                let _: rusqlite::types::Value = r.get(i)?;
            }
            read += 1;
        }
        Ok(read)
    }

    /// Bound for an exact total without counters: `COUNT(*)` over the index the filter uses.
    pub fn bench_raw_history_count(&self, f: &HistoryFilter) -> Result<u64, StoreError> {
        let (conds, params) = raw_conditions(f)?;
        let sql = format!("SELECT COUNT(*) FROM history_events WHERE {conds}");
        let n: i64 = self
            .conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(params), |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Bound for text search: the bare FTS5 query, newest (highest rowid) first.
    pub fn bench_raw_history_search(&self, words: &str, n: u32) -> Result<usize, StoreError> {
        let Some(q) = search_query(words) else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT rowid FROM history_search WHERE history_search MATCH ?1 \
             ORDER BY rowid DESC LIMIT {n}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([q], |r| r.get::<_, i64>(0))?;
        let mut read = 0;
        for r in rows {
            r?;
            read += 1;
        }
        Ok(read)
    }
}
