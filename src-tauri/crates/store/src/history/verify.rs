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
            let parse = |col: &str| -> Result<String, StoreError> { Ok(r.get::<_, String>(col)?) };
            let (Ok(kind), Ok(source), Ok(state), Ok(event)) = (
                parse("author_kind")?.parse(),
                parse("source")?.parse(),
                parse("sync_state")?.parse(),
                parse("event")?.parse(),
            ) else {
                return broken("a coded column holds an unknown value".into());
            };
            let e = NewEvent {
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
