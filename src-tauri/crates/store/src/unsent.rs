//! Why a queued entry is not sent: every open entry either goes to the portal or says why not,
//! in words (Russian, then English, in its `last_error`), so that nothing waits silently.
//!
//! - An entry whose value a portal would not keep as written (a replica may hold such entries
//!   from before the save refused them, see [`crate::limits`]) is rejected before it is sent.
//! - An entry that waits for a record created here says so, and is rejected when that record
//!   will never reach the portal (it was deleted before it was sent) or reached it with an id
//!   this device cannot learn (the user said an uncertain create arrived).

use crate::edit::{field_metas, load_local};
use crate::{Store, StoreError};
use kartoteka_domain::{EntityType, FieldMeta, OutboxOp, OutboxState, RecordKey};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;
use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// What an entry waiting for a record created here waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaited {
    /// Created on the portal this round: the entry goes in the next one.
    Created,
    /// The create is queued or being sent.
    Coming,
    /// The create may have reached the portal: the user says.
    Uncertain,
    /// The create failed (refused, …): see its entry.
    Failed,
    /// It will never be created (deleted before it was sent).
    Never,
    /// On the portal, by the user's word, with an id this device never learns.
    ArrivedUnseen,
}

impl Awaited {
    /// The worst of what an entry waits for decides what it says.
    fn rank(self) -> u8 {
        match self {
            Awaited::Created | Awaited::Coming => 1,
            Awaited::Uncertain | Awaited::Failed => 2,
            Awaited::Never | Awaited::ArrivedUnseen => 3,
        }
    }
}

/// A created record's title from its create's values (`new_value`), as a list row shows it.
fn created_title(key: RecordKey, new: Option<&str>) -> String {
    let fields = new
        .and_then(|t| serde_json::from_str::<Value>(t).ok())
        .and_then(|v| v.get("fields").and_then(Value::as_object).cloned())
        .unwrap_or_default();
    kartoteka_domain::Record {
        key,
        updated_time: None,
        fields,
        multi_fields: Vec::new(),
    }
    .display_title()
}

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
            let mut state: Option<Awaited> = None;
            let mut title = String::new();
            for id in local {
                let create: Option<(i64, String, Option<String>)> = self
                    .conn
                    .prepare_cached(
                        "SELECT entity_type, state, new_value FROM outbox WHERE op = 'create' \
                         AND record_id = ?1 ORDER BY id DESC LIMIT 1",
                    )?
                    .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                    .optional()?;
                let s = match &create {
                    // Done, yet still under its local id: the user said it reached the portal,
                    // whose id for it this device never learns.
                    Some((_, s, _)) if s == OutboxState::Done.as_str() => Awaited::ArrivedUnseen,
                    Some((_, s, _)) => match OutboxState::parse(s) {
                        Some(OutboxState::Pending | OutboxState::Sending) => Awaited::Coming,
                        Some(OutboxState::Uncertain) => Awaited::Uncertain,
                        Some(OutboxState::Discarded) | None => Awaited::Never,
                        Some(_) => Awaited::Failed,
                    },
                    // No create names it any more: it reached the portal this round (its create
                    // and the values that named it follow the portal id now), or it is no record
                    // of this replica at all (it will never be created).
                    None if self.still_named(ids, *id)? => Awaited::Never,
                    None => Awaited::Created,
                };
                if let Some((t, _, new)) = &create {
                    let key = EntityType::from_type_id(*t).map(|entity_type| RecordKey {
                        entity_type,
                        id: *id,
                    });
                    if let Some(key) = key {
                        if let Some((r, _)) = load_local(&self.conn, key)? {
                            title = r.display_title();
                        }
                        if s == Awaited::ArrivedUnseen {
                            // The local copy left the replica; the create still names it.
                            title = created_title(key, new.as_deref());
                        }
                    }
                }
                // The worst of what it waits for decides.
                if state.is_none_or(|w| s.rank() > w.rank()) {
                    state = Some(s);
                }
            }
            let (next, words) = match state {
                None | Some(Awaited::Created) => continue,
                Some(Awaited::Coming) => (
                    OutboxState::Pending,
                    both(
                        &format!("Ждёт, пока на портале будет создана запись «{title}»"),
                        &format!("Waits until \"{title}\" is created on the portal"),
                    ),
                ),
                Some(Awaited::Never) => {
                    rejected += ids.len() as u64;
                    (
                        OutboxState::Rejected,
                        both(
                            "Связанную запись удалили до отправки на портал: отмените это изменение",
                            "The linked record was deleted before it reached the portal: discard this change",
                        ),
                    )
                }
                Some(Awaited::ArrivedUnseen) => {
                    rejected += ids.len() as u64;
                    (
                        OutboxState::Rejected,
                        both(
                            &format!(
                                "Запись «{title}» есть на портале, но её номер здесь неизвестен (вам она не видна): уберите связь или отмените изменение"
                            ),
                            &format!(
                                "\"{title}\" is on the portal, but its id is not known here (you cannot see it): remove the link or discard this change"
                            ),
                        ),
                    )
                }
                Some(Awaited::Uncertain) => (
                    OutboxState::Pending,
                    both(
                        &format!(
                            "Ждёт, пока вы скажете, есть ли на портале запись «{title}»: см. её строку в очереди"
                        ),
                        &format!(
                            "Waits until you say whether \"{title}\" is on the portal: see its entry"
                        ),
                    ),
                ),
                Some(Awaited::Failed) => (
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
