//! The one write path of history events: every event the app records goes through
//! [`HistoryWriter::append`], inside the caller's transaction. It chains the event to its record's
//! previous one (SHA-256), indexes its text, and collects the counter deltas that
//! [`HistoryWriter::finish`] writes once per transaction.

use super::NewEvent;
use crate::promote::fold_yo;
use crate::StoreError;
use rusqlite::{params, CachedStatement, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub(crate) type Hash = [u8; 32];

/// Milliseconds in an hour: the grain of `history_counts`.
pub(crate) const HOUR_MS: i64 = 3_600_000;

/// A counter key: (hour, entity type, event, source, author id or 0, field or '').
type CountKey = (i64, i64, &'static str, &'static str, i64, String);

pub(crate) struct HistoryWriter<'c> {
    insert: CachedStatement<'c>,
    chain_get: CachedStatement<'c>,
    index: CachedStatement<'c>,
    mask: CachedStatement<'c>,
    tails: HashMap<i64, (i64, Hash)>,
    counts: HashMap<CountKey, i64>,
    next_group: i64,
    body: String,
}

/// The content a hash covers, in a fixed order with explicit separators (so that moving text
/// from one column into the next changes the hash).
pub(crate) fn event_hash(prev: &Hash, e: &NewEvent, rid: i64, group_id: i64) -> Hash {
    let mut h = Sha256::new();
    h.update(prev);
    let put_int = |h: &mut Sha256, v: Option<i64>| match v {
        Some(v) => {
            h.update([1u8]);
            h.update(v.to_le_bytes());
        }
        None => h.update([0u8]),
    };
    put_int(&mut h, Some(rid));
    put_int(&mut h, Some(e.happened_ms));
    put_int(&mut h, e.received_ms);
    put_int(&mut h, e.author_id);
    put_int(&mut h, Some(group_id));
    put_int(&mut h, e.ref_seq);
    let texts: [Option<&str>; 16] = [
        Some(&e.author_name),
        Some(e.author_kind.as_str()),
        Some(e.source.as_str()),
        Some(e.sync_state.as_str()),
        e.device_id.as_deref(),
        Some(e.event.as_str()),
        e.field.as_deref(),
        e.field_label.as_deref(),
        e.old_value.as_deref(),
        e.new_value.as_deref(),
        e.old_display.as_deref(),
        e.new_display.as_deref(),
        Some(&e.record_title),
        e.note.as_deref(),
        e.external_id.as_deref(),
        None,
    ];
    for t in texts {
        match t {
            Some(t) => {
                h.update([1u8]);
                h.update((t.len() as u64).to_le_bytes());
                h.update(t.as_bytes());
            }
            None => h.update([0u8]),
        }
    }
    h.finalize().into()
}

impl<'c> HistoryWriter<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        // Group ids start above the highest seq (a rowid: read from the table's end, not a scan
        // of 10M rows). A group's id never exceeds the seq of its first event, so ids handed out
        // this way never meet one already in the table.
        let next_group: i64 = conn.query_row(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM history_events",
            [],
            |r| r.get(0),
        )?;
        Ok(HistoryWriter {
            insert: conn.prepare_cached(
                "INSERT INTO history_events (rid, entity_type, happened_ms, received_ms, author_id, \
                 author_name, author_kind, source, sync_state, device_id, group_id, event, field, \
                 field_label, old_value, new_value, old_display, new_display, record_title, note, \
                 ref_seq, external_id, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
                 ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
            )?,
            chain_get: conn
                .prepare_cached("SELECT last_seq, last_hash FROM history_chain WHERE rid = ?1")?,
            index: conn
                .prepare_cached("INSERT INTO history_search (rowid, body) VALUES (?1, ?2)")?,
            mask: conn.prepare_cached(
                "INSERT OR IGNORE INTO history_masked (seq, reason, by_seq) VALUES (?1, ?2, ?3)",
            )?,
            tails: HashMap::new(),
            counts: HashMap::new(),
            next_group,
            body: String::with_capacity(256),
        })
    }

    /// A new group id: the events of one save share it.
    pub(crate) fn new_group(&mut self) -> i64 {
        let g = self.next_group;
        self.next_group += 1;
        g
    }

    /// Appends one event to `group_id`; returns its seq.
    pub(crate) fn append(&mut self, e: &NewEvent, group_id: i64) -> Result<i64, StoreError> {
        let rid = e.rid()?;
        let prev = match self.tails.get(&rid) {
            Some((_, h)) => *h,
            None => self
                .chain_get
                .query_row([rid], |r| r.get::<_, Vec<u8>>("last_hash"))
                .optional()?
                .and_then(|v| <Hash>::try_from(v.as_slice()).ok())
                .unwrap_or([0u8; 32]),
        };
        let hash = event_hash(&prev, e, rid, group_id);
        let entity_type = e.record.map_or(0, |k| k.entity_type.type_id());
        let seq = self.insert.insert(params![
            rid,
            entity_type,
            e.happened_ms,
            e.received_ms,
            e.author_id,
            e.author_name,
            e.author_kind.as_str(),
            e.source.as_str(),
            e.sync_state.as_str(),
            e.device_id,
            group_id,
            e.event.as_str(),
            e.field,
            e.field_label,
            e.old_value,
            e.new_value,
            e.old_display,
            e.new_display,
            e.record_title,
            e.note,
            e.ref_seq,
            e.external_id,
            &hash[..]
        ])?;
        self.tails.insert(rid, (seq, hash));

        self.body.clear();
        let parts = [
            Some(e.record_title.as_str()),
            e.field_label.as_deref(),
            e.old_display.as_deref().or(e.old_value.as_deref()),
            e.new_display.as_deref().or(e.new_value.as_deref()),
            e.note.as_deref(),
            Some(e.author_name.as_str()),
        ];
        for (i, part) in parts.iter().enumerate() {
            let Some(part) = part.filter(|p| !p.is_empty()) else {
                continue;
            };
            // A text already in the body adds no word to the index (detail = none keeps only
            // which rows hold a word): a `created` event's new value is the record's title.
            if parts[..i].contains(&Some(part)) {
                continue;
            }
            self.body.push_str(part);
            self.body.push('\n');
        }
        if !self.body.is_empty() {
            let body = fold_yo(&self.body);
            self.index.execute(params![seq, body])?;
        }

        let key: CountKey = (
            e.happened_ms.div_euclid(HOUR_MS),
            entity_type,
            e.event.as_str(),
            e.source.as_str(),
            e.author_id.unwrap_or(0),
            e.field.clone().unwrap_or_default(),
        );
        *self.counts.entry(key).or_insert(0) += 1;
        Ok(seq)
    }

    /// Takes `seq` out of the normal view (`hidden` or `replaced`) by the event `by_seq`.
    pub(crate) fn mask(&mut self, seq: i64, reason: &str, by_seq: i64) -> Result<(), StoreError> {
        self.mask.execute(params![seq, reason, by_seq])?;
        Ok(())
    }

    /// Writes the chain tails and the counters. Call once, before the transaction commits.
    pub(crate) fn finish(self, conn: &Connection) -> Result<(), StoreError> {
        let mut put_tail = conn.prepare_cached(
            "INSERT INTO history_chain (rid, last_seq, last_hash) VALUES (?1, ?2, ?3) \
             ON CONFLICT (rid) DO UPDATE SET last_seq = excluded.last_seq, \
             last_hash = excluded.last_hash",
        )?;
        for (rid, (seq, hash)) in &self.tails {
            put_tail.execute(params![rid, seq, &hash[..]])?;
        }
        let mut put_hour = conn.prepare_cached(
            "INSERT INTO history_counts (hour, entity_type, event, source, author_id, field, n) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (hour, entity_type, event, source, \
             author_id, field) DO UPDATE SET n = n + excluded.n",
        )?;
        let mut put_total = conn.prepare_cached(
            "INSERT INTO history_totals (entity_type, event, source, author_id, field, n) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (entity_type, event, source, \
             author_id, field) DO UPDATE SET n = n + excluded.n",
        )?;
        let mut totals: HashMap<(i64, &str, &str, i64, &str), i64> = HashMap::new();
        for ((hour, t, event, source, author, field), n) in &self.counts {
            put_hour.execute(params![hour, t, event, source, author, field, n])?;
            *totals
                .entry((*t, event, source, *author, field.as_str()))
                .or_insert(0) += n;
        }
        for ((t, event, source, author, field), n) in totals {
            put_total.execute(params![t, event, source, author, field, n])?;
        }
        Ok(())
    }
}
