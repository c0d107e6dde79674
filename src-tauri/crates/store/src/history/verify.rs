//! Tamper evidence: recompute every record's hash chain and name the first broken link.

use super::write::{event_hash, Hash};
use super::NewEvent;
use crate::promote::key_of;
use crate::{Store, StoreError};
use kartoteka_domain::RecordKey;
use std::collections::HashMap;

/// The first event whose stored hash does not match its content and its predecessor's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    pub seq: i64,
    pub record: Option<RecordKey>,
    pub reason: String,
}

impl Store {
    /// Checks every event, oldest first. `Ok(None)`: the whole history is intact. Also reports
    /// events whose text columns no longer parse (edited to nonsense) and chain tails that do
    /// not end where the events do (an event deleted from the end).
    pub fn verify_history(&self) -> Result<(u64, Option<BrokenLink>), StoreError> {
        let _span = tracing::info_span!("store_verify_history").entered();
        let mut stmt = self.conn.prepare(
            "SELECT seq, rid, happened_ms, received_ms, author_id, author_name, author_kind, \
             source, sync_state, device_id, group_id, event, field, field_label, old_value, \
             new_value, old_display, new_display, record_title, note, ref_seq, external_id, hash \
             FROM history_events ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        let mut tails: HashMap<i64, (i64, Hash)> = HashMap::new();
        let mut checked = 0u64;
        while let Some(r) = rows.next()? {
            let seq: i64 = r.get("seq")?;
            let rid: i64 = r.get("rid")?;
            let record = if rid == 0 { None } else { key_of(rid).ok() };
            let broken = |reason: String| {
                Ok((
                    checked,
                    Some(BrokenLink {
                        seq,
                        record,
                        reason,
                    }),
                ))
            };
            let Some(e) = event_from_row(r, record)? else {
                return broken("a coded column holds an unknown value".into());
            };
            let group: i64 = r.get("group_id")?;
            let stored: Vec<u8> = r.get("hash")?;
            let prev = tails.get(&rid).map(|(_, h)| *h).unwrap_or([0u8; 32]);
            let expected = event_hash(&prev, &e, rid, group);
            if stored.as_slice() != expected.as_slice() {
                return broken(
                    "the event's content or its place in the record's chain was changed".into(),
                );
            }
            tails.insert(rid, (seq, expected));
            checked += 1;
        }
        // Each chain must end where the recorded tail says: an event removed from the end (or
        // from the middle: caught above by its successor) shows here.
        let mut tail_stmt = self
            .conn
            .prepare("SELECT rid, last_seq, last_hash FROM history_chain ORDER BY rid")?;
        let mut tail_rows = tail_stmt.query([])?;
        while let Some(r) = tail_rows.next()? {
            let rid: i64 = r.get(0)?;
            let last_seq: i64 = r.get(1)?;
            let last_hash: Vec<u8> = r.get(2)?;
            let ok = tails
                .get(&rid)
                .is_some_and(|(s, h)| *s == last_seq && h.as_slice() == last_hash.as_slice());
            if !ok {
                return Ok((
                    checked,
                    Some(BrokenLink {
                        seq: last_seq,
                        record: if rid == 0 { None } else { key_of(rid).ok() },
                        reason: "the record's last event is missing or was replaced".into(),
                    }),
                ));
            }
        }
        Ok((checked, None))
    }
}

/// A stored event row as the content its hash covers; `None` when a coded column holds an
/// unknown value.
fn event_from_row(
    r: &rusqlite::Row<'_>,
    record: Option<RecordKey>,
) -> Result<Option<NewEvent>, StoreError> {
    let parse = |col: &str| -> Result<String, StoreError> { Ok(r.get::<_, String>(col)?) };
    let (Ok(kind), Ok(source), Ok(state), Ok(event)) = (
        parse("author_kind")?.parse(),
        parse("source")?.parse(),
        parse("sync_state")?.parse(),
        parse("event")?.parse(),
    ) else {
        return Ok(None);
    };
    Ok(Some(NewEvent {
        record,
        record_title: r.get("record_title")?,
        happened_ms: r.get("happened_ms")?,
        received_ms: r.get("received_ms")?,
        author_id: r.get("author_id")?,
        author_name: r.get("author_name")?,
        author_kind: kind,
        source,
        sync_state: state,
        device_id: r.get("device_id")?,
        event,
        field: r.get("field")?,
        field_label: r.get("field_label")?,
        old_value: r.get("old_value")?,
        new_value: r.get("new_value")?,
        old_display: r.get("old_display")?,
        new_display: r.get("new_display")?,
        note: r.get("note")?,
        ref_seq: r.get("ref_seq")?,
        external_id: r.get("external_id")?,
    }))
}

/// Moves a record's events from `old_rid` to `new_rid` (a record created here got its portal
/// id) and re-computes its chain, so `verify_history` still holds. With `old_rid == new_rid` it
/// re-computes the chain in place, after the one rewrite of an event's content: a "restored"
/// event naming a record created here, once that record has its portal id. Besides forgetting
/// a record (history/mod.rs), these are the only rewrites of event rows.
pub(crate) fn rekey_chain(
    conn: &rusqlite::Connection,
    old_rid: i64,
    new_rid: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE history_events SET rid = ?2 WHERE rid = ?1")?
        .execute([old_rid, new_rid])?;
    conn.prepare_cached("DELETE FROM history_chain WHERE rid = ?1")?
        .execute([old_rid])?;
    let record = key_of(new_rid).ok();
    let mut rows: Vec<(i64, NewEvent, i64)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, rid, happened_ms, received_ms, author_id, author_name, author_kind, \
             source, sync_state, device_id, group_id, event, field, field_label, old_value, \
             new_value, old_display, new_display, record_title, note, ref_seq, external_id, hash \
             FROM history_events WHERE rid = ?1 ORDER BY seq",
        )?;
        let mut q = stmt.query([new_rid])?;
        while let Some(r) = q.next()? {
            let seq: i64 = r.get("seq")?;
            let group: i64 = r.get("group_id")?;
            let e = event_from_row(r, record)?
                .ok_or_else(|| StoreError::corrupt("history_events", format!("seq {seq}")))?;
            rows.push((seq, e, group));
        }
    }
    let mut prev: Hash = [0u8; 32];
    let mut last = None;
    let mut put = conn.prepare_cached("UPDATE history_events SET hash = ?2 WHERE seq = ?1")?;
    for (seq, e, group) in &rows {
        let h = event_hash(&prev, e, new_rid, *group);
        put.execute(rusqlite::params![seq, &h[..]])?;
        prev = h;
        last = Some(*seq);
    }
    if let Some(seq) = last {
        conn.prepare_cached(
            "INSERT INTO history_chain (rid, last_seq, last_hash) VALUES (?1, ?2, ?3) \
             ON CONFLICT (rid) DO UPDATE SET last_seq = excluded.last_seq, \
             last_hash = excluded.last_hash",
        )?
        .execute(rusqlite::params![new_rid, seq, &prev[..]])?;
    }
    Ok(())
}
