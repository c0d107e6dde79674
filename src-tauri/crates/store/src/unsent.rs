//! Why a queued entry is not sent: every open entry either goes to the portal or says why not,
//! in words (Russian, then English, in its `last_error`), so that nothing waits silently.
//!
//! - An entry whose value a portal would not keep as written (a replica may hold such entries
//!   from before the save refused them, see [`crate::limits`]) is rejected before it is sent.
//! - An entry that waits for a record created here says so, and is rejected when that record
//!   will never reach the portal (it was deleted before it was sent).

use crate::edit::{field_metas, load_local};
use crate::{Store, StoreError};
use kartoteka_domain::{EntityType, FieldMeta, OutboxOp, OutboxState, RecordKey};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// The words of one reason, as an entry's `last_error` shows them.
fn both(ru: &str, en: &str) -> String {
    format!("{ru} / {en}")
}

impl Store {
    /// Rejects every pending entry whose value a portal would not keep as written (an amount
    /// beyond `DECIMAL(18,2)`, …), with the reason in words; the rest is left as it is. Returns
    /// how many were rejected. The upload calls it before each run.
    pub fn refuse_unstorable(&mut self) -> Result<u64, StoreError> {
        let rows: Vec<(i64, i64, String, String, Option<String>)> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, entity_type, op, field, new_value FROM outbox \
                 WHERE state = 'pending' AND op IN ('update', 'create') ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut metas: HashMap<i64, Vec<FieldMeta>> = HashMap::new();
        let mut refused: Vec<(i64, String)> = Vec::new();
        for (id, t, op, field, new) in rows {
            let Some(new) = new else { continue };
            let new: Value = serde_json::from_str(&new)?;
            let Some(et) = EntityType::from_type_id(t) else {
                continue;
            };
            let metas = match metas.entry(t) {
                Entry::Occupied(o) => o.into_mut(),
                Entry::Vacant(v) => v.insert(field_metas(&self.conn, et)?),
            };
            let values: Vec<(&str, &Value)> = if op == OutboxOp::Create.as_str() {
                new.get("fields")
                    .and_then(Value::as_object)
                    .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
                    .unwrap_or_default()
            } else {
                vec![(field.as_str(), &new)]
            };
            let problem = values.into_iter().find_map(|(name, v)| {
                let meta = metas.iter().find(|m| m.name == name)?;
                crate::limits::value_problem(meta, v)
            });
            if let Some((ru, en)) = problem {
                refused.push((
                    id,
                    both(
                        &format!("Не отправлено: {ru}. Исправьте значение или отмените изменение"),
                        &format!("Not sent: {en}. Correct the value or discard the change"),
                    ),
                ));
            }
        }
        for (id, words) in &refused {
            tracing::warn!(
                entry = id,
                "an unsent value the portal would not keep is rejected"
            );
            self.upload_failed(&[*id], OutboxState::Rejected, words)?;
        }
        Ok(refused.len() as u64)
    }

    /// Entries that wait for records created here (`local`: their local ids) before they can be
    /// sent: each says what it waits for; one whose record will never reach the portal (deleted
    /// before it was sent) is rejected. An entry whose record has just been created is left for
    /// the next round. Returns how many were rejected.
    pub fn note_waiting(&mut self, waiting: &[(Vec<i64>, Vec<i64>)]) -> Result<u64, StoreError> {
        let mut rejected = 0;
        for (ids, local) in waiting {
            let mut state = None;
            let mut title = String::new();
            for id in local {
                let create: Option<(i64, String)> = self
                    .conn
                    .prepare_cached(
                        "SELECT entity_type, state FROM outbox WHERE op = 'create' \
                         AND record_id = ?1 ORDER BY id DESC LIMIT 1",
                    )?
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()?;
                let s = match &create {
                    Some((_, s)) => OutboxState::parse(s).unwrap_or(OutboxState::Discarded),
                    // No create names it any more: it reached the portal this round (its create
                    // and the values that named it follow the portal id now), or it is no record
                    // of this replica at all (it will never be created).
                    None if self.still_named(ids, *id)? => OutboxState::Discarded,
                    None => OutboxState::Done,
                };
                if let Some(key) = create.and_then(|(t, _)| {
                    EntityType::from_type_id(t).map(|entity_type| RecordKey {
                        entity_type,
                        id: *id,
                    })
                }) {
                    if let Some((r, _)) = load_local(&self.conn, key)? {
                        title = r.display_title();
                    }
                }
                // The worst of what it waits for decides.
                let rank = |s: OutboxState| match s {
                    OutboxState::Discarded => 3,
                    OutboxState::Pending | OutboxState::Sending | OutboxState::Done => 1,
                    _ => 2,
                };
                if state.is_none_or(|w| rank(s) > rank(w)) {
                    state = Some(s);
                }
            }
            let (next, words) = match state {
                None | Some(OutboxState::Done) => continue,
                Some(OutboxState::Pending | OutboxState::Sending) => (
                    OutboxState::Pending,
                    both(
                        &format!("Ждёт, пока на портале будет создана запись «{title}»"),
                        &format!("Waits until \"{title}\" is created on the portal"),
                    ),
                ),
                Some(OutboxState::Discarded) => {
                    rejected += ids.len() as u64;
                    (
                        OutboxState::Rejected,
                        both(
                            "Связанную запись удалили до отправки на портал: отмените это изменение",
                            "The linked record was deleted before it reached the portal: discard this change",
                        ),
                    )
                }
                Some(_) => (
                    OutboxState::Pending,
                    both(
                        &format!(
                            "Ждёт создания записи «{title}» на портале, а оно не удалось: см. её строку в очереди"
                        ),
                        &format!(
                            "Waits for \"{title}\" to be created on the portal, which failed: see its entry"
                        ),
                    ),
                ),
            };
            let already: bool = ids.iter().try_fold(true, |all, id| {
                let same: bool = self
                    .conn
                    .prepare_cached(
                        "SELECT EXISTS (SELECT 1 FROM outbox WHERE id = ?1 AND state = ?2 \
                         AND last_error IS ?3)",
                    )?
                    .query_row(params![id, next.as_str(), words], |r| r.get(0))?;
                Ok::<_, StoreError>(all && same)
            })?;
            if !already {
                self.upload_failed(ids, next, &words)?;
            }
        }
        Ok(rejected)
    }

    /// Whether any of the entries `ids` still holds the local id `id` in its value.
    fn still_named(&self, ids: &[i64], id: i64) -> Result<bool, StoreError> {
        fn names(v: &Value, id: i64) -> bool {
            match v {
                Value::Number(n) => n.as_i64() == Some(id),
                Value::String(s) => s.trim().parse::<i64>().ok() == Some(id),
                Value::Array(a) => a.iter().any(|x| names(x, id)),
                Value::Object(m) => m.values().any(|x| names(x, id)),
                _ => false,
            }
        }
        let mut stmt = self
            .conn
            .prepare_cached("SELECT new_value FROM outbox WHERE id = ?1")?;
        for e in ids {
            let text: Option<String> = stmt.query_row([e], |r| r.get(0)).optional()?.flatten();
            if let Some(t) = text {
                if names(&serde_json::from_str(&t)?, id) {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}
