//! The portal's stage history (`crm.stagehistory.list`, deals and leads) as `stage_changed`
//! events at their exact times. A move already observed at sync (from the record's diff) is
//! replaced by the exact entry: one event, with the exact time and the mover (`movedBy`).

use super::observe::stage_list_id;
use super::write::HistoryWriter;
use super::NewEvent;
use crate::promote::{rid_of, unix_time};
use crate::{Store, StoreError};
use kartoteka_domain::{
    AuthorKind, EntityType, HistoryEventCode, HistorySource, HistorySyncState, RecordKey,
};
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

/// One row of `crm.stagehistory.list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageHistoryEntry {
    /// The row's `ID` (ascending within a type).
    pub id: i64,
    /// `TYPE_ID`: 1 created, 2 intermediate stage, 3 final stage, 5 pipeline changed.
    pub type_id: i64,
    /// `OWNER_ID`: the deal or lead.
    pub owner_id: i64,
    /// `CREATED_TIME` as UTC unix milliseconds.
    pub created_ms: i64,
    /// `STAGE_ID` (deals) or `STATUS_ID` (leads).
    pub stage_id: String,
    pub category_id: Option<i64>,
}

fn meta_key(t: EntityType) -> String {
    format!("stagehistory.{}.last_id", t.type_id())
}

impl Store {
    /// The highest stage-history row id recorded for a type (0 before the first).
    pub fn stage_history_checkpoint(&self, t: EntityType) -> Result<i64, StoreError> {
        Ok(self
            .meta(&meta_key(t))?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Records stage-history rows (ascending by id) and advances the type's checkpoint, in one
    /// transaction. Rows of records this replica does not hold are skipped; a row recorded
    /// before is never recorded again. Returns how many events were recorded.
    pub fn apply_stage_history(
        &mut self,
        t: EntityType,
        entries: &[StageHistoryEntry],
    ) -> Result<u64, StoreError> {
        let _span =
            tracing::info_span!("store_apply_stage_history", count = entries.len()).entered();
        let names = self.stage_names(t)?;
        let users = self.user_names()?;
        let tx = self.conn.transaction()?;
        let mut recorded = 0u64;
        let mut last_id = 0;
        {
            let mut w = HistoryWriter::new(&tx)?;
            let mut seen =
                tx.prepare_cached("SELECT 1 FROM history_events WHERE external_id = ?1")?;
            // Only the last move's time and author are needed of the fields: SQLite picks the
            // two out (a full parse of every record's fields was a tenth of this apply).
            let mut record = tx.prepare_cached(
                "SELECT r.title, r.state, json_extract(f.fields, '$.movedTime'), \
                 json_extract(f.fields, '$.movedBy') FROM records r JOIN record_fields f \
                 ON f.rid = r.rid WHERE r.rid = ?1",
            )?;
            let mut observed = tx.prepare_cached(
                "SELECT e.seq, e.old_value, e.old_display, e.author_id, e.author_name, \
                 e.author_kind FROM history_events e WHERE e.rid = ?1 AND e.event = 'stage_changed' \
                 AND e.source = 'observed' AND e.new_value = ?2 AND e.happened_ms >= ?3 \
                 AND NOT EXISTS (SELECT 1 FROM history_masked m WHERE m.seq = e.seq) \
                 ORDER BY e.happened_ms LIMIT 1",
            )?;
            let mut previous = tx.prepare_cached(
                "SELECT new_value, new_display FROM history_events WHERE rid = ?1 \
                 AND event = 'stage_changed' AND happened_ms < ?2 \
                 ORDER BY happened_ms DESC, seq DESC LIMIT 1",
            )?;
            for entry in entries {
                last_id = last_id.max(entry.id);
                let external = format!("stagehistory:{}:{}", t.type_id(), entry.id);
                if entry.type_id == 1 || seen.exists([&external])? {
                    continue;
                }
                let key = RecordKey {
                    entity_type: t,
                    id: entry.owner_id,
                };
                let Ok(rid) = rid_of(key) else { continue };
                let Some((title, state, moved_time, moved_by)) = record
                    .query_row([rid], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, rusqlite::types::Value>(3)?,
                        ))
                    })
                    .optional()?
                else {
                    continue;
                };
                if state == 2 {
                    continue;
                }
                let stage_json = Value::String(entry.stage_id.clone()).to_string();
                let list = stage_list_id(t, entry.category_id);
                let stage_name = names
                    .iter()
                    .find(|(l, s, _)| *l == list && *s == entry.stage_id)
                    .or_else(|| names.iter().find(|(_, s, _)| *s == entry.stage_id))
                    .map(|(_, _, n)| n.clone())
                    .unwrap_or_else(|| entry.stage_id.clone());

                let mut e = NewEvent::new(
                    Some(key),
                    HistoryEventCode::StageChanged,
                    entry.created_ms,
                    HistorySource::StageHistory,
                );
                e.sync_state = HistorySyncState::Synced;
                e.record_title = title;
                e.field = Some("stageId".into());
                e.field_label = Some(
                    if t == EntityType::Lead {
                        "Статус"
                    } else {
                        "Стадия"
                    }
                    .into(),
                );
                e.new_value = Some(stage_json.clone());
                e.new_display = Some(stage_name);
                e.external_id = Some(external);
                // The mover: only the latest move is known (movedBy at movedTime).
                let moved_at = unix_time(moved_time.map(Value::String).as_ref()).map(|s| s * 1000);
                let moved_by = match moved_by {
                    rusqlite::types::Value::Integer(id) => Some(id),
                    rusqlite::types::Value::Text(t) => t.parse().ok(),
                    _ => None,
                };
                if moved_at == Some(entry.created_ms) {
                    if let Some(id) = moved_by {
                        e.author_id = Some(id);
                        let (name, robot) =
                            users.get(&id).cloned().unwrap_or((format!("#{id}"), false));
                        e.author_name = name;
                        e.author_kind = if robot {
                            AuthorKind::Robot
                        } else {
                            AuthorKind::Person
                        };
                    }
                }
                let replaced = observed
                    .query_row(params![rid, stage_json, entry.created_ms], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, Option<i64>>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })
                    .optional()?;
                match &replaced {
                    Some((_, old_value, old_display, author_id, author_name, kind)) => {
                        e.old_value = old_value.clone();
                        e.old_display = old_display.clone();
                        if e.author_id.is_none() {
                            e.author_id = *author_id;
                            e.author_name = author_name.clone();
                            e.author_kind = kind.parse().unwrap_or(AuthorKind::Person);
                        }
                    }
                    None => {
                        if let Some((v, d)) = previous
                            .query_row(params![rid, entry.created_ms], |r| {
                                Ok((
                                    r.get::<_, Option<String>>(0)?,
                                    r.get::<_, Option<String>>(1)?,
                                ))
                            })
                            .optional()?
                        {
                            e.old_value = v;
                            e.old_display = d;
                        }
                    }
                }
                let g = w.new_group();
                let seq = w.append(&e, g)?;
                if let Some((observed_seq, ..)) = replaced {
                    w.mask(observed_seq, "replaced", seq)?;
                }
                recorded += 1;
            }
            w.finish(&tx)?;
        }
        if last_id > 0 {
            let current: i64 = tx
                .query_row(
                    "SELECT value FROM replica_meta WHERE key = ?1",
                    [meta_key(t)],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            tx.execute(
                "INSERT INTO replica_meta (key, value) VALUES (?1, ?2) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![meta_key(t), current.max(last_id).to_string()],
            )?;
        }
        tx.commit()?;
        self.checkpoint_soon();
        Ok(recorded)
    }

    fn stage_names(&self, _t: EntityType) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT list_id, status_id, name FROM stages")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    pub(crate) fn user_names(
        &self,
    ) -> Result<std::collections::HashMap<i64, (String, bool)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, name, last_name, kind FROM users")?;
        let mut rows = stmt.query([])?;
        let mut out = std::collections::HashMap::new();
        while let Some(r) = rows.next()? {
            let name: String = r.get(1)?;
            let last: String = r.get(2)?;
            let kind: String = r.get(3)?;
            out.insert(
                r.get::<_, i64>(0)?,
                (
                    format!("{name} {last}").trim().to_string(),
                    kind == "technical",
                ),
            );
        }
        Ok(out)
    }
}
