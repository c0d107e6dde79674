//! Reading history: pages newest first (keyset on `(happened_ms, seq)`), exact totals from the
//! counters, streaming for exports, and the options the filters offer.

use super::write::HOUR_MS;
use crate::promote::{key_of, rid_of, search_query};
use crate::{Store, StoreError};
use chrono::{DateTime, TimeZone, Utc};
use kartoteka_domain::history::{HistoryAuthorOption, HistoryFieldOption};
use kartoteka_domain::{
    AuthorKind, HistoryCursor, HistoryEvent, HistoryEventCode, HistoryFilter, HistorySource,
    HistorySyncState,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, OptionalExtension, Row};

/// A filter plus who is looking: supervisors also see hidden entries (marked).
#[derive(Debug, Clone, Copy)]
pub struct HistoryQuery<'a> {
    pub filter: &'a HistoryFilter,
    pub include_hidden: bool,
}

/// Largest page the store returns.
const MAX_LIMIT: u32 = 1000;

const COLUMNS: &str = "e.seq, e.rid, e.happened_ms, \
     COALESCE((SELECT d.received_ms FROM history_delivery d WHERE d.seq = e.seq), e.received_ms) \
     AS received_ms, e.author_id, e.author_name, e.author_kind, e.source, \
     COALESCE((SELECT d.sync_state FROM history_delivery d WHERE d.seq = e.seq), e.sync_state) \
     AS sync_state, e.device_id, e.group_id, e.event, e.field, \
     e.field_label, e.old_value, e.new_value, e.old_display, e.new_display, e.record_title, e.note, \
     EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq AND m.reason = 'hidden') AS hidden";

pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .ok_or_else(|| StoreError::corrupt("history_events.happened_ms", ms.to_string()))
}

/// The filter as SQL conditions over `history_events e` (ANDed) and their parameters. The one
/// place where a history filter becomes SQL.
fn conditions(
    q: &HistoryQuery<'_>,
    plan: Plan,
) -> Result<(Vec<String>, Vec<SqlValue>), StoreError> {
    let f = q.filter;
    // With a record, its index (rid, happened_ms) is the one to use: a unary `+` keeps SQLite
    // (no ANALYZE statistics) from walking the event, author, field or source index instead.
    let by = if f.record.is_some() { "+" } else { "" };
    let mut conds: Vec<String> = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(key) = f.record {
        conds.push("e.rid = ?".into());
        params.push(rid_of(key)?.into());
    } else if let Some(t) = f.entity_type {
        conds.push("e.entity_type = ?".into());
        params.push(t.type_id().into());
    }
    if let Some(from) = f.from {
        conds.push("e.happened_ms >= ?".into());
        params.push(ms(from).into());
    }
    if let Some(to) = f.to {
        conds.push("e.happened_ms < ?".into());
        params.push(ms(to).into());
    }
    if let Some(a) = f.author_id {
        conds.push(format!("{by}e.author_id = ?"));
        params.push(a.into());
    }
    if !f.events.is_empty() {
        conds.push(format!(
            "{by}e.event IN ({})",
            vec!["?"; f.events.len()].join(", ")
        ));
        params.extend(
            f.events
                .iter()
                .map(|e| SqlValue::from(e.as_str().to_string())),
        );
    }
    if let Some(field) = f.field.as_deref().filter(|s| !s.is_empty()) {
        conds.push(format!("{by}e.field = ?"));
        params.push(field.to_string().into());
    }
    if let Some(s) = f.source {
        conds.push(format!("{by}e.source = ?"));
        params.push(s.as_str().to_string().into());
    }
    if let Some(text) = f.text.as_deref().and_then(search_query) {
        conds.push(match plan {
            Plan::ByText => "history_search MATCH ?".into(),
            // The unary `+` keeps SQLite from driving the query by the seq list (it would look
            // up and sort every match); the time index is walked and each row tested instead.
            Plan::ByTime => {
                "+e.seq IN (SELECT rowid FROM history_search WHERE history_search MATCH ?)".into()
            }
        });
        params.push(text.into());
    }
    if q.include_hidden {
        conds.push(
            "NOT EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq \
             AND m.reason = 'replaced')"
                .into(),
        );
    } else {
        conds.push("NOT EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq)".into());
    }
    Ok((conds, params))
}

/// How a query walks the events. `ByTime`: down the time (or record, author, …) index, keeping
/// what matches; `ByText`: from the words' matches in the full-text index, each looked up by its
/// seq and the few sorted by time. Rare words are fast only the second way (the first would walk
/// the whole time index to find 50), common ones only the first way (the second would sort all
/// their matches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    ByTime,
    ByText,
}

impl Plan {
    fn tables(self) -> &'static str {
        match self {
            Plan::ByTime => "history_events e",
            // CROSS JOIN fixes the order: the full-text matches outside, events by seq inside.
            Plan::ByText => {
                "history_search CROSS JOIN history_events e ON e.seq = history_search.rowid"
            }
        }
    }
}

/// Up to this many matches of the words, a text query starts from them.
const TEXT_DRIVES_BELOW: i64 = 4_000;

fn event_from(r: &Row<'_>) -> Result<HistoryEvent, StoreError> {
    let rid: i64 = r.get("rid")?;
    let parse_err = |column: &'static str, v: String| StoreError::corrupt(column, v);
    let kind: String = r.get("author_kind")?;
    let source: String = r.get("source")?;
    let state: String = r.get("sync_state")?;
    let event: String = r.get("event")?;
    Ok(HistoryEvent {
        seq: r.get("seq")?,
        record: if rid == 0 { None } else { Some(key_of(rid)?) },
        record_title: r.get("record_title")?,
        happened_at: time(r.get("happened_ms")?)?,
        received_at: r
            .get::<_, Option<i64>>("received_ms")?
            .map(time)
            .transpose()?,
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        author_kind: kind
            .parse::<AuthorKind>()
            .map_err(|_| parse_err("author_kind", kind.clone()))?,
        source: source
            .parse::<HistorySource>()
            .map_err(|_| parse_err("source", source.clone()))?,
        sync_state: state
            .parse::<HistorySyncState>()
            .map_err(|_| parse_err("sync_state", state.clone()))?,
        device_id: r.get("device_id")?,
        group_id: r.get("group_id")?,
        event: event
            .parse::<HistoryEventCode>()
            .map_err(|_| parse_err("event", event.clone()))?,
        field: r.get("field")?,
        field_label: r.get("field_label")?,
        old_value: r.get("old_value")?,
        new_value: r.get("new_value")?,
        old_display: r.get("old_display")?,
        new_display: r.get("new_display")?,
        note: r.get("note")?,
        hidden: r.get("hidden")?,
    })
}

/// True when the counters can answer: no record, no text, and a period on whole UTC hours.
fn countable(f: &HistoryFilter) -> bool {
    let aligned = |t: Option<DateTime<Utc>>| t.is_none_or(|t| ms(t) % HOUR_MS == 0);
    f.record.is_none()
        && f.text.as_deref().and_then(search_query).is_none()
        && aligned(f.from)
        && aligned(f.to)
}

impl Store {
    /// One page of events, newest first, starting after `cursor`. Returns the events and where
    /// the next page starts (`None` on the last page).
    pub fn history_page(
        &self,
        q: &HistoryQuery<'_>,
        cursor: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<(Vec<HistoryEvent>, Option<HistoryCursor>), StoreError> {
        let _span = tracing::debug_span!("store_history_page", limit).entered();
        let limit = limit.clamp(1, MAX_LIMIT);
        let plan = self.plan(q)?;
        let (mut conds, mut params) = conditions(q, plan)?;
        if let Some(c) = cursor {
            conds.push("(e.happened_ms, e.seq) < (?, ?)".into());
            params.push(c.happened_at_ms.into());
            params.push(c.seq.into());
        }
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE {} \
             ORDER BY e.happened_ms DESC, e.seq DESC LIMIT {}",
            plan.tables(),
            conds.join(" AND "),
            limit + 1
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut events = Vec::with_capacity(limit as usize);
        let mut more = false;
        while let Some(row) = rows.next()? {
            if events.len() == limit as usize {
                more = true;
                break;
            }
            events.push(event_from(row)?);
        }
        let next = if more {
            events.last().map(|e| HistoryCursor {
                happened_at_ms: ms(e.happened_at),
                seq: e.seq,
            })
        } else {
            None
        };
        Ok((events, next))
    }

    /// Every event the query matches, newest first, one at a time (exports: constant memory).
    /// `each` returns `false` to stop early.
    pub fn history_each(
        &self,
        q: &HistoryQuery<'_>,
        mut each: impl FnMut(HistoryEvent) -> Result<bool, StoreError>,
    ) -> Result<u64, StoreError> {
        let plan = self.plan(q)?;
        let (conds, params) = conditions(q, plan)?;
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE {} \
             ORDER BY e.happened_ms DESC, e.seq DESC",
            plan.tables(),
            conds.join(" AND ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(params))?;
        let mut n = 0u64;
        while let Some(row) = rows.next()? {
            n += 1;
            if !each(event_from(row)?)? {
                break;
            }
        }
        Ok(n)
    }

    /// The exact number of events the query matches.
    pub fn history_count(&self, q: &HistoryQuery<'_>) -> Result<u64, StoreError> {
        let _span = tracing::debug_span!("store_history_count").entered();
        if let Some(n) = self.count_text_only(q)? {
            return Ok(n);
        }
        if !countable(q.filter) {
            let plan = self.plan(q)?;
            let (conds, params) = conditions(q, plan)?;
            let sql = format!(
                "SELECT COUNT(*) FROM {} WHERE {}",
                plan.tables(),
                conds.join(" AND ")
            );
            let n: i64 = self
                .conn
                .prepare_cached(&sql)?
                .query_row(params_from_iter(params), |r| r.get(0))?;
            return Ok(n as u64);
        }
        let (conds, params) = conditions(q, Plan::ByTime)?;
        let counted = self.count_from_counters(q.filter)?;
        // Entries out of view (hidden, replaced) are few: count those the filter matches and
        // take them off.
        let masked_cond = if q.include_hidden {
            "m.reason = 'replaced'"
        } else {
            "1"
        };
        // `conditions` ends with the mask exclusion; the other conditions select the events.
        let selecting = &conds[..conds.len() - 1];
        let mut where_ = selecting.to_vec();
        where_.push(masked_cond.to_string());
        let sql = format!(
            // CROSS JOIN: the few masked entries drive the loop (a plain join let SQLite walk
            // every event the filter's index holds).
            "SELECT COUNT(*) FROM history_masked m CROSS JOIN history_events e ON e.seq = m.seq \
             WHERE {}",
            where_.join(" AND ")
        );
        let masked: i64 = self.conn.prepare_cached(&sql)?.query_row(
            params_from_iter(params.into_iter().take(param_count(selecting))),
            |r| r.get(0),
        )?;
        Ok((counted - masked).max(0) as u64)
    }

    /// The total of a filter made of words only: the full-text index counts its matches by
    /// itself; the few entries out of view that match are taken off.
    fn count_text_only(&self, q: &HistoryQuery<'_>) -> Result<Option<u64>, StoreError> {
        let f = q.filter;
        let Some(text) = f.text.as_deref().and_then(search_query) else {
            return Ok(None);
        };
        let only_text = HistoryFilter {
            text: f.text.clone(),
            ..HistoryFilter::default()
        };
        if *f != only_text {
            return Ok(None);
        }
        let matches: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM history_search WHERE history_search MATCH ?1")?
            .query_row([&text], |r| r.get(0))?;
        let masked_cond = if q.include_hidden {
            "AND m.reason = 'replaced'"
        } else {
            ""
        };
        let masked: i64 = self
            .conn
            .prepare_cached(&format!(
                "SELECT COUNT(*) FROM history_masked m WHERE m.seq IN \
                 (SELECT rowid FROM history_search WHERE history_search MATCH ?1) {masked_cond}"
            ))?
            .query_row([&text], |r| r.get(0))?;
        Ok(Some((matches - masked).max(0) as u64))
    }

    /// Whether a query starts from its words' full-text matches (few of them) or walks an index
    /// in time order (no words, or words that match a lot).
    fn plan(&self, q: &HistoryQuery<'_>) -> Result<Plan, StoreError> {
        let Some(text) = q.filter.text.as_deref().and_then(search_query) else {
            return Ok(Plan::ByTime);
        };
        let matches: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM (SELECT rowid FROM history_search \
                 WHERE history_search MATCH ?1 LIMIT ?2)",
            )?
            .query_row(rusqlite::params![text, TEXT_DRIVES_BELOW], |r| r.get(0))?;
        Ok(if matches < TEXT_DRIVES_BELOW {
            Plan::ByText
        } else {
            Plan::ByTime
        })
    }

    fn count_from_counters(&self, f: &HistoryFilter) -> Result<i64, StoreError> {
        let mut conds: Vec<String> = vec!["1".into()];
        let mut params: Vec<SqlValue> = Vec::new();
        let table = if f.from.is_none() && f.to.is_none() {
            "history_totals"
        } else {
            if let Some(from) = f.from {
                conds.push("hour >= ?".into());
                params.push((ms(from) / HOUR_MS).into());
            }
            if let Some(to) = f.to {
                conds.push("hour < ?".into());
                params.push((ms(to) / HOUR_MS).into());
            }
            "history_counts"
        };
        if let Some(t) = f.entity_type {
            conds.push("entity_type = ?".into());
            params.push(t.type_id().into());
        }
        if let Some(a) = f.author_id {
            conds.push("author_id = ?".into());
            params.push(a.into());
        }
        if !f.events.is_empty() {
            conds.push(format!(
                "event IN ({})",
                vec!["?"; f.events.len()].join(", ")
            ));
            params.extend(
                f.events
                    .iter()
                    .map(|e| SqlValue::from(e.as_str().to_string())),
            );
        }
        if let Some(field) = f.field.as_deref().filter(|s| !s.is_empty()) {
            conds.push("field = ?".into());
            params.push(field.to_string().into());
        }
        if let Some(s) = f.source {
            conds.push("source = ?".into());
            params.push(s.as_str().to_string().into());
        }
        let sql = format!(
            "SELECT COALESCE(SUM(n), 0) FROM {table} WHERE {}",
            conds.join(" AND ")
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(params), |r| r.get(0))?)
    }

    /// One event by its seq; `None` when there is none (or it is out of this viewer's view).
    pub fn history_event(
        &self,
        seq: i64,
        include_hidden: bool,
    ) -> Result<Option<HistoryEvent>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM history_events e WHERE e.seq = ?1");
        let ev = self
            .conn
            .prepare_cached(&sql)?
            .query_row([seq], |r| Ok(event_from(r)))
            .optional()?
            .transpose()?;
        Ok(ev.filter(|e| include_hidden || !e.hidden))
    }

    /// What the filters offer: the fields events speak of (with their latest label) and authors.
    pub fn history_facets(
        &self,
    ) -> Result<(Vec<HistoryFieldOption>, Vec<HistoryAuthorOption>), StoreError> {
        let mut fields = Vec::new();
        {
            let mut names = self.conn.prepare_cached(
                "SELECT DISTINCT field FROM history_totals WHERE field <> '' ORDER BY field",
            )?;
            let mut label = self.conn.prepare_cached(
                "SELECT field_label FROM history_events WHERE field = ?1 \
                 ORDER BY happened_ms DESC LIMIT 1",
            )?;
            let names: Vec<String> = names
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            for field in names {
                let l: Option<Option<String>> =
                    label.query_row([&field], |r| r.get(0)).optional()?;
                fields.push(HistoryFieldOption {
                    label: l.flatten().unwrap_or_else(|| field.clone()),
                    field,
                });
            }
        }
        fields.sort_by_key(|f| f.label.to_lowercase());
        let mut authors = Vec::new();
        {
            let mut ids = self.conn.prepare_cached(
                "SELECT DISTINCT author_id FROM history_totals WHERE author_id <> 0",
            )?;
            let mut latest = self.conn.prepare_cached(
                "SELECT author_name, author_kind FROM history_events WHERE author_id = ?1 \
                 ORDER BY happened_ms DESC LIMIT 1",
            )?;
            let mut user = self
                .conn
                .prepare_cached("SELECT name, last_name, kind FROM users WHERE id = ?1")?;
            let ids: Vec<i64> = ids.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
            for id in ids {
                let from_users: Option<(String, String, String)> = user
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let from_events: Option<(String, String)> = latest
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let (name, kind) = match (from_users, from_events) {
                    (Some((n, l, k)), _) => (
                        format!("{n} {l}").trim().to_string(),
                        if k == "technical" {
                            AuthorKind::Robot
                        } else {
                            AuthorKind::Person
                        },
                    ),
                    (None, Some((n, k))) => (n, k.parse().unwrap_or(AuthorKind::Person)),
                    (None, None) => (format!("#{id}"), AuthorKind::Person),
                };
                authors.push(HistoryAuthorOption { id, name, kind });
            }
        }
        authors.sort_by_key(|a| a.name.to_lowercase());
        Ok((fields, authors))
    }
}

/// How many `?` the conditions hold.
fn param_count(conds: &[String]) -> usize {
    conds.iter().map(|c| c.matches('?').count()).sum()
}
