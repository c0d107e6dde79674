//! The outbox of unsent local edits: the queries the pull needs (which fields have unsent
//! edits), the list the panel shows, conflict resolution, discards, retries and reverts.

use crate::migrations::UNSENT_STATES_SQL;
use crate::promote::{hash64, promote, rid_of};
use crate::pull::Statements;
use crate::search::{company_dependents, reindex, search_body, Names};
use crate::{Store, StoreError};
use kartoteka_domain::{EntityType, MultiField, Record, RecordKey};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One field a person changed on this device. `field` is the portal's field name, or `fm` for
/// the multi-fields as a whole (then `value` is the new array).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalEdit {
    pub field: String,
    pub value: Value,
}

impl Store {
    /// The fields of a record that have unsent edits, in edit order, without repeats.
    pub fn pending_fields(&self, key: RecordKey) -> Result<Vec<String>, StoreError> {
        let sql = format!(
            "SELECT field FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
             AND state IN {UNSENT_STATES_SQL} ORDER BY id"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let mut out: Vec<String> = Vec::new();
        let mut rows = stmt.query(params![key.entity_type.type_id(), key.id])?;
        while let Some(row) = rows.next()? {
            let field: String = row.get("field")?;
            if !out.contains(&field) {
                out.push(field);
            }
        }
        Ok(out)
    }

    /// Whether a record has any unsent edit.
    pub fn has_pending_edits(&self, key: RecordKey) -> Result<bool, StoreError> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
             AND state IN {UNSENT_STATES_SQL})"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        Ok(stmt.query_row(params![key.entity_type.type_id(), key.id], |r| r.get(0))?)
    }

    /// Records an offline edit of an existing record in one transaction: the server version is
    /// kept in the mirror, the local row gets the new values, and each field gets an outbox entry
    /// with the server value it was changed from. Returns the outbox ids. (The history event joins
    /// this transaction in the history issue.)
    pub fn apply_local_edit(
        &mut self,
        key: RecordKey,
        edits: &[LocalEdit],
        created_at: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let _span = tracing::info_span!("store_local_edit", entity_type = %key.entity_type, id = key.id, fields = edits.len()).entered();
        let rid = rid_of(key)?;
        let tx = self.conn.transaction()?;
        let mut ids = Vec::with_capacity(edits.len());
        {
            let mut st = Statements::new(&tx)?;
            let current = st
                .current
                .query_row([rid], |r| {
                    Ok((r.get::<_, i64>("server_hash")?, r.get::<_, i64>("state")?))
                })
                .optional()?;
            let Some((server_hash, 0)) = current else {
                return Err(StoreError::InvalidKey {
                    entity_type: key.entity_type,
                    id: key.id,
                    reason: "no active record with this key",
                });
            };
            // The mirror keeps the server version from the first unsent edit on.
            tx.prepare_cached(
                "INSERT OR IGNORE INTO server_records (rid, fields, multi_fields, updated_time) \
                 SELECT f.rid, f.fields, f.multi_fields, r.updated_time \
                 FROM record_fields f JOIN records r ON r.rid = f.rid WHERE f.rid = ?1",
            )?
            .execute([rid])?;
            let (server_fields, server_multi): (String, String) = tx
                .prepare_cached("SELECT fields, multi_fields FROM server_records WHERE rid = ?1")?
                .query_row([rid], |r| Ok((r.get("fields")?, r.get("multi_fields")?)))?;
            let server_fields: Map<String, Value> = serde_json::from_str(&server_fields)?;
            let (local_fields, local_multi) = st.local.query_row([rid], |r| {
                Ok((
                    r.get::<_, String>("fields")?,
                    r.get::<_, String>("multi_fields")?,
                ))
            })?;
            let mut local = Record {
                key,
                updated_time: None,
                fields: serde_json::from_str(&local_fields)?,
                multi_fields: serde_json::from_str(&local_multi)?,
            };
            let mut insert = tx.prepare_cached(
                "INSERT INTO outbox (entity_type, record_id, field, base_value, new_value, \
                 created_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending')",
            )?;
            for edit in edits {
                let base = if edit.field == "fm" {
                    server_multi.clone()
                } else {
                    serde_json::to_string(server_fields.get(&edit.field).unwrap_or(&Value::Null))?
                };
                if edit.field == "fm" {
                    local.multi_fields =
                        serde_json::from_value::<Vec<MultiField>>(edit.value.clone())?;
                } else {
                    local.fields.insert(edit.field.clone(), edit.value.clone());
                }
                insert.execute(params![
                    key.entity_type.type_id(),
                    key.id,
                    edit.field,
                    base,
                    serde_json::to_string(&edit.value)?,
                    created_at
                ])?;
                ids.push(tx.last_insert_rowid());
            }
            let promoted = promote(&local);
            let mut names = Names::new(&tx)?;
            let body = search_body(&local, &promoted, &mut names)?;
            let search_hash = hash64(&[body.as_bytes()]);
            st.write_row(true, rid, key, &promoted, server_hash, search_hash)?;
            st.put_fields.execute(params![
                rid,
                serde_json::to_string(&local.fields)?,
                serde_json::to_string(&local.multi_fields)?
            ])?;
            st.unindex.execute([rid])?;
            st.index.execute(params![rid, body])?;
            st.write_links(rid, &local, true)?;
            if key.entity_type == EntityType::Company {
                // A renamed company: the rows that show its name search by the new one.
                let dependents = company_dependents(&tx, key.id)?;
                reindex(&tx, &mut names, &dependents)?;
            }
        }
        tx.commit()?;
        Ok(ids)
    }
}

/// The outbox as the panel and the command line show it.
pub(crate) mod listing {
    use crate::edit::{load_local, load_server, source_of, write_local, FM_PREFIX};
    use crate::history::{LocalActor, NewEvent, Observer};
    use crate::promote::rid_of;
    use crate::upload::set_delivery;
    use crate::{Store, StoreError};
    use kartoteka_domain::edit::{OutboxList, OutboxListRequest};
    use kartoteka_domain::{
        ConflictChoice, EditSaved, EntityType, HistoryEventCode, HistorySource, HistorySyncState,
        MultiField, MultiFieldEdit, OutboxEntry, OutboxOp, OutboxState, RecordEdit, RecordKey,
    };
    use rusqlite::{params, Connection, OptionalExtension};
    use serde_json::Value;

    fn parse_json(v: Option<String>) -> Result<Value, StoreError> {
        Ok(match v {
            Some(t) => serde_json::from_str(&t)?,
            None => Value::Null,
        })
    }

    fn field_label(conn: &Connection, t: EntityType, field: &str) -> Result<String, StoreError> {
        if field == "*" {
            return Ok("Запись".into());
        }
        if field.starts_with(FM_PREFIX) {
            return Ok("Телефон / e-mail".into());
        }
        Ok(conn
            .prepare_cached("SELECT label FROM field_meta WHERE entity_type = ?1 AND name = ?2")?
            .query_row(params![t.type_id(), field], |r| r.get::<_, String>(0))
            .optional()?
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| field.to_string()))
    }

    fn read_entry(conn: &Connection, r: &rusqlite::Row<'_>) -> Result<OutboxEntry, StoreError> {
        let t: i64 = r.get("entity_type")?;
        let entity_type = EntityType::from_type_id(t)
            .ok_or_else(|| StoreError::corrupt("outbox.entity_type", t.to_string()))?;
        let key = RecordKey {
            entity_type,
            id: r.get("record_id")?,
        };
        let field: String = r.get("field")?;
        let op: String = r.get("op")?;
        let state: String = r.get("state")?;
        let source: String = r.get("source")?;
        let op =
            OutboxOp::parse(&op).ok_or_else(|| StoreError::corrupt("outbox.op", op.clone()))?;
        let mine = parse_json(r.get("new_value")?)?;
        let mut record_title = r.get::<_, Option<String>>("title")?.unwrap_or_default();
        if record_title.is_empty() && op == OutboxOp::Create {
            // A create whose record left the replica (the user said it reached the portal,
            // where they cannot see it) is still named by its own values.
            record_title = kartoteka_domain::Record {
                key,
                updated_time: None,
                fields: mine
                    .get("fields")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default(),
                multi_fields: Vec::new(),
            }
            .display_title();
        }
        Ok(OutboxEntry {
            id: r.get("id")?,
            key,
            record_title,
            op,
            field_label: field_label(conn, entity_type, &field)?,
            field,
            base: parse_json(r.get("base_value")?)?,
            mine,
            theirs: r
                .get::<_, Option<String>>("theirs_value")?
                .map(|t| serde_json::from_str(&t))
                .transpose()?,
            texts: Default::default(),
            state: OutboxState::parse(&state)
                .ok_or_else(|| StoreError::corrupt("outbox.state", state.clone()))?,
            attempts: r.get::<_, i64>("attempts")? as u32,
            last_error: r.get("last_error")?,
            happened_ms: r
                .get::<_, Option<i64>>("happened_ms")?
                .unwrap_or_else(|| r.get::<_, i64>("created_at").unwrap_or(0) * 1000),
            source: source.parse().unwrap_or(HistorySource::DeviceOffline),
            uncertain: None,
        })
    }

    const SELECT: &str = "SELECT o.id, o.entity_type, o.record_id, o.field, o.op, o.state, \
         o.source, o.base_value, o.new_value, o.theirs_value, o.attempts, o.last_error, \
         o.happened_ms, o.created_at, r.title FROM outbox o \
         LEFT JOIN records r ON r.rid = o.entity_type * 281474976710656 + o.record_id";

    pub(crate) fn entry(conn: &Connection, id: i64) -> Result<OutboxEntry, StoreError> {
        let sql = format!("{SELECT} WHERE o.id = ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query([id])?;
        match rows.next()? {
            Some(r) => read_entry(conn, r),
            None => Err(StoreError::NotFound),
        }
    }

    /// Fills [`OutboxEntry::texts`] of field changes as history shows values: a link list as
    /// the titles of its records, a stage, user or list item by its name.
    fn add_texts(conn: &Connection, entries: &mut [OutboxEntry]) -> Result<(), StoreError> {
        let mut observers: std::collections::HashMap<EntityType, Observer<'_>> = Default::default();
        for e in entries.iter_mut() {
            if e.op != OutboxOp::Update || e.field.starts_with(FM_PREFIX) {
                continue;
            }
            let t = e.key.entity_type;
            let obs = match observers.entry(t) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(Observer::new(conn, t)?),
            };
            let record = load_local(conn, e.key)?.map(|(r, _)| r).unwrap_or_else(|| {
                kartoteka_domain::Record {
                    key: e.key,
                    updated_time: None,
                    fields: Default::default(),
                    multi_fields: Vec::new(),
                }
            });
            e.texts.base = obs.display_value(&e.field, &e.base, &record);
            e.texts.mine = obs.display_value(&e.field, &e.mine, &record);
            e.texts.theirs = e
                .theirs
                .as_ref()
                .and_then(|v| obs.display_value(&e.field, v, &record));
        }
        Ok(())
    }

    impl Store {
        /// Open entries (and, when asked, the last 500 closed ones), oldest first.
        pub fn outbox_list(&self, req: &OutboxListRequest) -> Result<OutboxList, StoreError> {
            let mut sql = format!("{SELECT} WHERE 1");
            if !req.include_closed {
                sql.push_str(" AND o.state NOT IN ('done', 'discarded')");
            }
            if req.record.is_some() {
                sql.push_str(" AND o.entity_type = ?1 AND o.record_id = ?2");
            }
            sql.push_str(" ORDER BY o.id DESC LIMIT 2000");
            let mut stmt = self.conn.prepare(&sql)?;
            let mut rows = match req.record {
                Some(k) => stmt.query(params![k.entity_type.type_id(), k.id])?,
                None => stmt.query([])?,
            };
            let mut entries = Vec::new();
            while let Some(r) = rows.next()? {
                entries.push(read_entry(&self.conn, r)?);
            }
            entries.reverse();
            add_texts(&self.conn, &mut entries)?;
            crate::uncertain::add_uncertain(&self.conn, &mut entries)?;
            let (open, conflicts, uncertain): (i64, i64, i64) = self.conn.query_row(
                "SELECT COUNT(*), COUNT(*) FILTER (WHERE state = 'conflict'), \
                 COUNT(*) FILTER (WHERE state = 'uncertain') FROM outbox \
                 WHERE state NOT IN ('done', 'discarded')",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            Ok(OutboxList {
                entries,
                open: open as u32,
                conflicts: conflicts as u32,
                uncertain: uncertain as u32,
            })
        }

        /// Settles a conflict on one field: mine (uploaded over theirs), theirs (my edit is
        /// dropped) or the original value (uploaded over theirs). Recorded as "resolved".
        pub fn resolve_conflict(
            &mut self,
            actor: &LocalActor,
            id: i64,
            choice: &ConflictChoice,
            now_ms: i64,
        ) -> Result<EditSaved, StoreError> {
            let actor = actor.clone();
            let choice = choice.clone();
            self.durable(|tx| {
                let e = entry(tx, id)?;
                if e.state != OutboxState::Conflict {
                    return Err(StoreError::NotAllowed("the entry is not in conflict"));
                }
                let theirs = e.theirs.clone().unwrap_or(Value::Null);
                let (local_value, state, note) = match choice {
                    ConflictChoice::Mine => (e.mine.clone(), "pending", "оставлено моё значение"),
                    ConflictChoice::Theirs => {
                        (theirs.clone(), "discarded", "принято значение с портала")
                    }
                    ConflictChoice::Original => {
                        (e.base.clone(), "pending", "возвращено исходное значение")
                    }
                };
                // The entry now starts from the portal's value.
                tx.prepare_cached(
                    "UPDATE outbox SET state = ?2, base_value = ?3, new_value = ?4, \
                     theirs_value = NULL, last_error = NULL WHERE id = ?1",
                )?
                .execute(params![
                    id,
                    state,
                    serde_json::to_string(&theirs)?,
                    serde_json::to_string(&local_value)?
                ])?;
                set_local_value(tx, e.key, &e.field, &local_value, &theirs)?;
                let mut observer = Observer::new(tx, e.key.entity_type)?;
                let mut ev = NewEvent::new(
                    Some(e.key),
                    HistoryEventCode::Resolved,
                    now_ms,
                    source_of(&actor),
                );
                ev.record_title = e.record_title.clone();
                ev.field = Some(e.field.clone());
                ev.field_label = Some(e.field_label.clone());
                ev.old_value = Some(theirs.to_string());
                ev.new_value = Some(local_value.to_string());
                ev.note = Some(note.into());
                let mut ev = actor.stamp_pub(ev);
                ev.sync_state = if state == "pending" {
                    HistorySyncState::Pending
                } else {
                    HistorySyncState::Local
                };
                let g = observer.writer.new_group();
                let seq = observer.writer.append(&ev, g)?;
                observer.finish(tx)?;
                if state == "pending" {
                    let mut seqs: Vec<i64> = tx
                        .prepare_cached("SELECT history_seqs FROM outbox WHERE id = ?1")?
                        .query_row([id], |r| r.get::<_, Option<String>>(0))?
                        .map(|t| serde_json::from_str(&t))
                        .transpose()?
                        .unwrap_or_default();
                    seqs.push(seq);
                    tx.prepare_cached("UPDATE outbox SET history_seqs = ?2 WHERE id = ?1")?
                        .execute(params![id, serde_json::to_string(&seqs)?])?;
                    set_delivery(tx, &seqs, HistorySyncState::Pending, None)?;
                }
                Ok(EditSaved {
                    key: e.key,
                    queued: u32::from(state == "pending"),
                    history_seqs: vec![seq],
                })
            })
        }

        /// Drops an unsent entry (the user confirmed): the field goes back to the portal's
        /// value, and the drop is recorded in history.
        pub fn discard_outbox_entry(
            &mut self,
            actor: &LocalActor,
            id: i64,
            now_ms: i64,
        ) -> Result<(), StoreError> {
            let actor = actor.clone();
            self.durable(|tx| {
                let e = entry(tx, id)?;
                if !e.state.is_open() {
                    return Err(StoreError::NotAllowed("the entry is already closed"));
                }
                if e.op == OutboxOp::Create && may_be_on_the_portal(tx, id, e.state)? {
                    return Err(StoreError::NotAllowed(
                        "the create may already be on the portal: it is looked up on the next \
                         upload, or waits for your decision, before it can be dropped",
                    ));
                }
                tx.prepare_cached("UPDATE outbox SET state = 'discarded' WHERE id = ?1")?
                    .execute([id])?;
                let server = load_server(tx, e.key)?;
                match e.op {
                    OutboxOp::Update => {
                        let server_value = match &server {
                            Some(s) if e.field.starts_with(FM_PREFIX) => {
                                serde_json::to_value(&s.multi_fields)?
                            }
                            Some(s) => s.fields.get(&e.field).cloned().unwrap_or(Value::Null),
                            None => Value::Null,
                        };
                        set_local_value(tx, e.key, &e.field, &server_value, &server_value)?;
                    }
                    OutboxOp::Create => {
                        // Never reached the portal: it leaves the lists here too.
                        tx.prepare_cached(
                            "UPDATE outbox SET state = 'discarded' WHERE entity_type = ?1 \
                             AND record_id = ?2 AND state NOT IN ('done', 'discarded')",
                        )?
                        .execute(params![e.key.entity_type.type_id(), e.key.id])?;
                        let moved = tx
                            .prepare_cached(
                                "UPDATE records SET state = 1 WHERE rid = ?1 AND state = 0",
                            )?
                            .execute([rid_of(e.key)?])?;
                        if moved > 0 {
                            let mut deltas = crate::lifecycle::CountDeltas::default();
                            deltas.add(e.key.entity_type, crate::RecordState::Active, -1);
                            deltas.add(e.key.entity_type, crate::RecordState::Deleted, 1);
                            deltas.write(tx)?;
                        }
                    }
                    OutboxOp::Delete => {
                        let moved = tx
                            .prepare_cached(
                                "UPDATE records SET state = 0, state_changed_at = NULL \
                                 WHERE rid = ?1 AND state = 1",
                            )?
                            .execute([rid_of(e.key)?])?;
                        if moved > 0 {
                            let mut deltas = crate::lifecycle::CountDeltas::default();
                            deltas.add(e.key.entity_type, crate::RecordState::Deleted, -1);
                            deltas.add(e.key.entity_type, crate::RecordState::Active, 1);
                            deltas.write(tx)?;
                        }
                    }
                }
                let seqs: Vec<i64> = tx
                    .prepare_cached("SELECT history_seqs FROM outbox WHERE id = ?1")?
                    .query_row([id], |r| r.get::<_, Option<String>>(0))?
                    .map(|t| serde_json::from_str(&t))
                    .transpose()?
                    .unwrap_or_default();
                set_delivery(tx, &seqs, HistorySyncState::Rejected, None)?;
                let mut observer = Observer::new(tx, e.key.entity_type)?;
                let mut ev = NewEvent::new(
                    Some(e.key),
                    HistoryEventCode::Reverted,
                    now_ms,
                    source_of(&actor),
                );
                ev.record_title = e.record_title.clone();
                ev.field = Some(e.field.clone());
                ev.field_label = Some(e.field_label.clone());
                ev.old_value = Some(e.mine.to_string());
                ev.note = Some("Неотправленное изменение отменено".into());
                ev.ref_seq = seqs.first().copied();
                let mut ev = actor.stamp_pub(ev);
                ev.sync_state = HistorySyncState::Local;
                let g = observer.writer.new_group();
                observer.writer.append(&ev, g)?;
                observer.finish(tx)?;
                Ok(())
            })
        }

        /// Puts entries back in the queue (one, or every rejected and gone one).
        pub fn retry_outbox(&mut self, id: Option<i64>) -> Result<u32, StoreError> {
            let n = match id {
                Some(id) => self.conn.execute(
                    "UPDATE outbox SET state = 'pending', last_error = NULL WHERE id = ?1 \
                     AND state IN ('rejected', 'gone', 'pending', 'sending')",
                    [id],
                )?,
                None => self.conn.execute(
                    "UPDATE outbox SET state = 'pending', last_error = NULL \
                     WHERE state IN ('rejected', 'gone')",
                    [],
                )?,
            };
            Ok(n as u32)
        }

        /// Undoes one history entry with a new edit, recorded as "reverted": a field goes back
        /// to its old value, a removed link or phone comes back, an added one goes.
        pub fn revert_history_event(
            &mut self,
            actor: &LocalActor,
            seq: i64,
            now_ms: i64,
        ) -> Result<EditSaved, StoreError> {
            let row = self
                .conn
                .prepare_cached(
                    "SELECT rid, event, field, old_value, new_value FROM history_events WHERE seq = ?1",
                )?
                .query_row([seq], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()?
                .ok_or(StoreError::NotFound)?;
            let (rid, event, field, old, new) = row;
            let key = crate::promote::key_of(rid)?;
            let (record, _) = load_local(&self.conn, key)?.ok_or(StoreError::NotFound)?;
            let code: HistoryEventCode = event
                .parse()
                .map_err(|_| StoreError::corrupt("history_events.event", event.clone()))?;
            let json = |v: &Option<String>| -> Result<Value, StoreError> {
                Ok(match v {
                    Some(t) => serde_json::from_str(t).unwrap_or(Value::String(t.clone())),
                    None => Value::Null,
                })
            };
            let mut edit = RecordEdit::default();
            match code {
                HistoryEventCode::FieldChanged | HistoryEventCode::StageChanged => {
                    let f = field.ok_or(StoreError::NotAllowed("the entry names no field"))?;
                    edit.fields.insert(f, json(&old)?);
                }
                HistoryEventCode::LinkAdded | HistoryEventCode::LinkRemoved => {
                    let v = json(if code == HistoryEventCode::LinkAdded {
                        &new
                    } else {
                        &old
                    })?;
                    let to: RecordKey = serde_json::from_value(v)?;
                    let (name, many) = link_field_of(key.entity_type, to.entity_type)
                        .ok_or(StoreError::NotAllowed("this link cannot be changed here"))?;
                    let add = code == HistoryEventCode::LinkRemoved;
                    if many {
                        let mut ids: Vec<Value> = record
                            .fields
                            .get(name)
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default();
                        let same = |v: &Value| {
                            v.as_i64() == Some(to.id) || v.as_str() == Some(&to.id.to_string())
                        };
                        if add {
                            if !ids.iter().any(same) {
                                ids.push(Value::from(to.id));
                            }
                        } else {
                            ids.retain(|v| !same(v));
                        }
                        edit.fields.insert(name.into(), Value::Array(ids));
                    } else {
                        edit.fields.insert(
                            name.into(),
                            if add { Value::from(to.id) } else { Value::Null },
                        );
                    }
                }
                HistoryEventCode::MultifieldAdded
                | HistoryEventCode::MultifieldRemoved
                | HistoryEventCode::MultifieldChanged => {
                    let old_m: Option<MultiField> =
                        old.as_deref().map(serde_json::from_str).transpose()?;
                    let new_m: Option<MultiField> =
                        new.as_deref().map(serde_json::from_str).transpose()?;
                    let present = |id: i64| record.multi_fields.iter().any(|m| m.id == id);
                    match (old_m, new_m) {
                        (Some(o), None) => edit.multi_fields.push(MultiFieldEdit::Add {
                            kind: o.kind,
                            value_type: o.value_type,
                            value: o.value,
                        }),
                        (None, Some(n)) if present(n.id) => {
                            edit.multi_fields.push(MultiFieldEdit::Remove { id: n.id })
                        }
                        (Some(o), Some(n)) if present(n.id) => {
                            edit.multi_fields.push(MultiFieldEdit::Change {
                                id: n.id,
                                value_type: o.value_type,
                                value: o.value,
                            })
                        }
                        _ => return Err(StoreError::NotAllowed("the entry is no longer there")),
                    }
                }
                _ => return Err(StoreError::NotAllowed("this entry cannot be reverted")),
            }
            self.save_edit(actor, key, &edit, now_ms, Some(seq), None)
        }
    }

    /// Whether a create may have reached the portal: it is going out, it waits for the user's
    /// word, or a send of it got no answer (`unanswered_ms`, also set on creates imported from
    /// a file and on those an older version sent). Dropping such a create would forget a record
    /// that may be on the portal; only a definite answer, or the user's decision, settles it.
    fn may_be_on_the_portal(
        conn: &Connection,
        id: i64,
        state: OutboxState,
    ) -> Result<bool, StoreError> {
        if matches!(state, OutboxState::Sending | OutboxState::Uncertain) {
            return Ok(true);
        }
        Ok(conn
            .prepare_cached("SELECT unanswered_ms IS NOT NULL FROM outbox WHERE id = ?1")?
            .query_row([id], |r| r.get(0))?)
    }

    /// The field of `from` that declares a link to a record of type `to`, and whether it holds
    /// several ids.
    fn link_field_of(from: EntityType, to: EntityType) -> Option<(&'static str, bool)> {
        use EntityType::*;
        match (from, to) {
            (Deal, Contact) | (Lead, Contact) | (Company, Contact) => Some(("contactIds", true)),
            (Contact, Company) => Some(("companyIds", true)),
            (Deal, Company) | (Lead, Company) => Some(("companyId", false)),
            (Deal, Lead) | (Contact, Lead) | (Company, Lead) => Some(("leadId", false)),
            _ => None,
        }
    }

    /// Sets one field (or the multi-fields) of a record's local version, and of its server
    /// mirror to `server_value` (the portal's value the entry now starts from).
    fn set_local_value(
        tx: &Connection,
        key: RecordKey,
        field: &str,
        local_value: &Value,
        server_value: &Value,
    ) -> Result<(), StoreError> {
        let Some((mut record, _)) = load_local(tx, key)? else {
            return Ok(());
        };
        if let Some(id) = field.strip_prefix(FM_PREFIX) {
            let id: i64 = id.parse().unwrap_or(0);
            let as_entry = |v: &Value| serde_json::from_value::<MultiField>(v.clone()).ok();
            if let Some(list) = local_value.as_array() {
                record.multi_fields = list
                    .iter()
                    .filter_map(|v| serde_json::from_value(v.clone()).ok())
                    .collect();
            } else {
                record.multi_fields.retain(|m| m.id != id);
                if let Some(m) = as_entry(local_value) {
                    record.multi_fields.push(m);
                }
            }
        } else if field != "*" {
            record.fields.insert(field.to_string(), local_value.clone());
            let rid = rid_of(key)?;
            if let Some(mut server) = load_server(tx, key)? {
                server
                    .fields
                    .insert(field.to_string(), server_value.clone());
                tx.prepare_cached("UPDATE server_records SET fields = ?2 WHERE rid = ?1")?
                    .execute(params![rid, serde_json::to_string(&server.fields)?])?;
            }
        }
        write_local(tx, &record, false)
    }
}
