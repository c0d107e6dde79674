//! The store side of the upload (product.md §5): the queue as the sync engine reads it, and the
//! outcomes it records. Every outcome is one transaction; the engine changes its own state only
//! after it commits.

use crate::edit::{load_local, load_server, write_local, FM_PREFIX};
use crate::history::rekey_chain;
use crate::promote::rid_of;
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{HistorySyncState, MultiField, OutboxOp, OutboxState, Record, RecordKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// One queued change as the upload reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEntry {
    pub id: i64,
    pub op: OutboxOp,
    /// A `crm.item` field, `fm:<entry id>`, or `*` (create, delete).
    pub field: String,
    pub base: Value,
    pub new: Value,
    pub origin_id: Option<String>,
    pub state: OutboxState,
    pub attempts: u32,
    pub happened_ms: i64,
    /// A create: when a send of it went out that got no answer (0: the time is not known);
    /// `None` when no send of it can have landed unseen (see `crate::uncertain`).
    pub unanswered_ms: Option<i64>,
}

impl QueuedEntry {
    /// A create that may be on the portal already: looked up by its tag before it is sent.
    pub fn may_have_landed(&self) -> bool {
        self.unanswered_ms.is_some() || self.state == OutboxState::Sending
    }
}

/// A record's queued changes, in edit order.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedRecord {
    pub key: RecordKey,
    pub entries: Vec<QueuedEntry>,
}

/// A change log waiting to be published on a record's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLog {
    pub id: i64,
    pub key: RecordKey,
    pub title: String,
    pub body: String,
    pub attempts: u32,
}

/// The marker that opens the machine-readable block of a published change log.
pub const LOG_MARKER: &str = "[kartoteka v1]";

fn entry_from_row(r: &rusqlite::Row<'_>) -> Result<QueuedEntry, StoreError> {
    let op: String = r.get("op")?;
    let state: String = r.get("state")?;
    let json = |col: &str| -> Result<Value, StoreError> {
        Ok(match r.get::<_, Option<String>>(col)? {
            Some(t) => serde_json::from_str(&t)?,
            None => Value::Null,
        })
    };
    Ok(QueuedEntry {
        id: r.get("id")?,
        op: OutboxOp::parse(&op).ok_or_else(|| StoreError::corrupt("outbox.op", op.clone()))?,
        field: r.get("field")?,
        base: json("base_value")?,
        new: json("new_value")?,
        origin_id: r.get("origin_id")?,
        state: OutboxState::parse(&state)
            .ok_or_else(|| StoreError::corrupt("outbox.state", state.clone()))?,
        attempts: r.get::<_, i64>("attempts")? as u32,
        happened_ms: r
            .get::<_, Option<i64>>("happened_ms")?
            .unwrap_or_else(|| r.get::<_, i64>("created_at").unwrap_or(0) * 1000),
        unanswered_ms: r.get("unanswered_ms")?,
    })
}

pub(crate) fn seqs_of(conn: &Connection, ids: &[i64]) -> Result<Vec<i64>, StoreError> {
    let mut out = Vec::new();
    let mut stmt = conn.prepare_cached("SELECT history_seqs FROM outbox WHERE id = ?1")?;
    for id in ids {
        let text: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?.flatten();
        if let Some(t) = text {
            out.extend(serde_json::from_str::<Vec<i64>>(&t)?);
        }
    }
    Ok(out)
}

pub(crate) fn set_delivery(
    conn: &Connection,
    seqs: &[i64],
    state: HistorySyncState,
    received_ms: Option<i64>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO history_delivery (seq, sync_state, received_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (seq) DO UPDATE SET sync_state = excluded.sync_state, \
         received_ms = COALESCE(excluded.received_ms, history_delivery.received_ms)",
    )?;
    for s in seqs {
        stmt.execute(params![s, state.as_str(), received_ms])?;
    }
    Ok(())
}

/// Replaces record ids inside link fields (`contactIds`, `companyId`, …) of a field map.
fn replace_link_ids(fields: &mut serde_json::Map<String, Value>, old: i64, new: i64) -> bool {
    let mut changed = false;
    for name in kartoteka_domain::record::LINK_FIELDS {
        if let Some(v) = fields.get_mut(name) {
            changed |= replace_number(v, old, new);
        }
    }
    changed
}

fn replace_number(v: &mut Value, old: i64, new: i64) -> bool {
    match v {
        Value::Number(n) if n.as_i64() == Some(old) => {
            *v = json!(new);
            true
        }
        Value::String(s) if s == &old.to_string() => {
            *v = json!(new);
            true
        }
        Value::Array(items) => {
            let mut changed = false;
            for i in items.iter_mut() {
                changed |= replace_number(i, old, new);
            }
            changed
        }
        _ => false,
    }
}

impl Store {
    /// Records with changes to upload (pending, or sending when a run was cut off), oldest
    /// first, at most `max_records`. Creates come before the records that link to them because
    /// their entries are older.
    pub fn upload_queue(&self, max_records: usize) -> Result<Vec<QueuedRecord>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, entity_type, record_id, op, field, base_value, new_value, origin_id, \
             state, attempts, happened_ms, created_at, unanswered_ms FROM outbox \
             WHERE state IN ('pending', 'sending') ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut order: Vec<RecordKey> = Vec::new();
        let mut by_key: BTreeMap<RecordKey, Vec<QueuedEntry>> = BTreeMap::new();
        while let Some(r) = rows.next()? {
            let t: i64 = r.get("entity_type")?;
            let key = RecordKey {
                entity_type: kartoteka_domain::EntityType::from_type_id(t)
                    .ok_or_else(|| StoreError::corrupt("outbox.entity_type", t.to_string()))?,
                id: r.get("record_id")?,
            };
            let e = entry_from_row(r)?;
            let list = by_key.entry(key).or_default();
            if list.is_empty() {
                if order.len() >= max_records {
                    by_key.remove(&key);
                    continue;
                }
                order.push(key);
            }
            list.push(e);
        }
        Ok(order
            .into_iter()
            .filter_map(|key| {
                by_key
                    .remove(&key)
                    .map(|entries| QueuedRecord { key, entries })
            })
            .collect())
    }

    /// Marks entries as being sent (committed before the request goes out, so that after a crash
    /// the outcome is known to be uncertain).
    pub fn mark_sending(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?1 \
                 AND state IN ('pending', 'sending')",
            )?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks as being sent the entries whose values are still those the upload read (`read`:
    /// id and value), and returns their ids. An entry saved again, discarded or undone since it
    /// was read is left as it is: its write waits for the next round, which reads it anew.
    pub fn mark_sending_as_read(&mut self, read: &[(i64, Value)]) -> Result<Vec<i64>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut marked = Vec::with_capacity(read.len());
        {
            let mut current = tx.prepare_cached(
                "SELECT new_value FROM outbox WHERE id = ?1 AND state IN ('pending', 'sending')",
            )?;
            let mut mark = tx.prepare_cached(
                "UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?1",
            )?;
            for (id, value) in read {
                let Some(now) = current
                    .query_row([id], |r| r.get::<_, Option<String>>(0))
                    .optional()?
                else {
                    continue;
                };
                let now: Value = now
                    .map(|t| serde_json::from_str(&t))
                    .transpose()?
                    .unwrap_or(Value::Null);
                if &now == value {
                    mark.execute([id])?;
                    marked.push(*id);
                }
            }
        }
        tx.commit()?;
        Ok(marked)
    }

    /// Puts entries marked as being sent back in the queue, unsent (their write was held back).
    pub fn unmark_sending(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = 'pending', attempts = MAX(attempts - 1, 0) \
                 WHERE id = ?1 AND state = 'sending'",
            )?;
            for id in ids {
                stmt.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The portal took these entries (or already had their values). `item` is the record as the
    /// portal answered: it becomes the new server version (our fields raise no "observed"
    /// events), and other users' changes of other fields merge in, recorded as observed — never
    /// under this user's name, which the item's `updatedBy` gives after our write. A change log
    /// to publish is queued in the same transaction.
    pub fn upload_succeeded(
        &mut self,
        key: RecordKey,
        ids: &[i64],
        item: Option<&Record>,
        received_ms: i64,
        publish: bool,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        finish_entries(&tx, key, ids, item, received_ms, publish)?;
        tx.commit()?;
        Ok(())
    }

    /// Entries whose portal value changed since our base: each waits for the user's choice,
    /// with the portal's value kept. Other fields go on.
    pub fn upload_conflicts(&mut self, conflicts: &[(i64, Value)]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = 'conflict', theirs_value = ?2, last_error = NULL \
                 WHERE id = ?1",
            )?;
            for (id, theirs) in conflicts {
                stmt.execute(params![id, serde_json::to_string(theirs)?])?;
                let seqs = seqs_of(&tx, &[*id])?;
                set_delivery(&tx, &seqs, HistorySyncState::Conflict, None)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// An attempt that did not land: `state` says what happens next (pending: retried later;
    /// rejected, gone, blocked: waits for the user), `error` is shown in the outbox.
    pub fn upload_failed(
        &mut self,
        ids: &[i64],
        state: OutboxState,
        error: &str,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE outbox SET state = ?2, last_error = ?3 WHERE id = ?1 \
                 AND state NOT IN ('done', 'discarded')",
            )?;
            for id in ids {
                stmt.execute(params![id, state.as_str(), error])?;
            }
            if state == OutboxState::Rejected {
                let seqs = seqs_of(&tx, ids)?;
                set_delivery(&tx, &seqs, HistorySyncState::Rejected, None)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A record created here got its portal id: everything keyed by the local id follows (the
    /// record, its fields, links both ways, search, history with its chain, the outbox, other
    /// records' link fields and queued values that name it), then the create is done with the
    /// answered item as the server version.
    pub fn assign_portal_id(
        &mut self,
        local: RecordKey,
        portal_id: i64,
        create_entry: i64,
        item: &Record,
        received_ms: i64,
        publish: bool,
    ) -> Result<(), StoreError> {
        let _span = tracing::info_span!("store_assign_portal_id", entity_type = %local.entity_type, portal_id).entered();
        let tx = self.conn.transaction()?;
        let new_key = RecordKey {
            entity_type: local.entity_type,
            id: portal_id,
        };
        rekey(&tx, local, new_key)?;
        finish_entries(
            &tx,
            new_key,
            &[create_entry],
            Some(item),
            received_ms,
            publish,
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Change logs still to publish after the one with id `after`, oldest first (a run walks
    /// them once).
    pub fn pending_logs(&self, after: i64, limit: usize) -> Result<Vec<PendingLog>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, entity_type, record_id, title, body, attempts FROM outbox_logs \
             WHERE published IS NULL AND id > ?1 ORDER BY id LIMIT ?2",
        )?;
        let mut rows = stmt.query(params![after, limit as i64])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let t: i64 = r.get(1)?;
            out.push(PendingLog {
                id: r.get(0)?,
                key: RecordKey {
                    entity_type: kartoteka_domain::EntityType::from_type_id(t).ok_or_else(
                        || StoreError::corrupt("outbox_logs.entity_type", t.to_string()),
                    )?,
                    id: r.get(2)?,
                },
                title: r.get(3)?,
                body: r.get(4)?,
                attempts: r.get::<_, i64>(5)? as u32,
            });
        }
        Ok(out)
    }

    /// A change log reached the timeline (`how`: `logmessage:<id>` or `comment:<id>`).
    pub fn log_published(&mut self, id: i64, how: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox_logs SET published = ?2, last_error = NULL WHERE id = ?1",
            )?
            .execute(params![id, how])?;
        Ok(())
    }

    pub fn log_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE outbox_logs SET attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            )?
            .execute(params![id, error])?;
        Ok(())
    }

    /// How change logs are published on this portal: `None` (log messages) or `comment` (log
    /// messages were refused: the signed-in user is not an administrator).
    pub fn log_channel(&self) -> Result<Option<String>, StoreError> {
        self.meta("upload.log_channel")
    }

    pub fn set_log_channel(&mut self, channel: &str) -> Result<(), StoreError> {
        self.set_meta("upload.log_channel", channel)
    }

    /// Whether anything waits for upload or publishing.
    pub fn upload_due(&self) -> Result<bool, StoreError> {
        Ok(self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE state IN ('pending', 'sending')) \
             OR EXISTS (SELECT 1 FROM outbox_logs WHERE published IS NULL)",
            [],
            |r| r.get(0),
        )?)
    }
}

fn finish_entries(
    tx: &Connection,
    key: RecordKey,
    ids: &[i64],
    item: Option<&Record>,
    received_ms: i64,
    publish: bool,
) -> Result<(), StoreError> {
    // The log's row id is chosen here (rows of outbox_logs are never deleted, so the next id is
    // new) to go into the log itself: a reader knows the log again when it was published twice.
    let log = if publish {
        let row: i64 = tx.query_row(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM outbox_logs",
            [],
            |r| r.get(0),
        )?;
        let log_id = format!("{}:{row}", crate::history::device_id_in(tx)?);
        change_log(tx, key, ids, &log_id)?.map(|(title, body)| (row, title, body))
    } else {
        None
    };
    let mut fields: Vec<String> = Vec::new();
    {
        let mut done = tx.prepare_cached(
            "UPDATE outbox SET state = 'done', done_ms = ?2, last_error = NULL, \
             theirs_value = NULL WHERE id = ?1 AND state <> 'discarded' RETURNING field",
        )?;
        for id in ids {
            if let Some(f) = done
                .query_row(params![id, received_ms], |r| r.get::<_, String>(0))
                .optional()?
            {
                fields.push(f);
            }
        }
    }
    let seqs = seqs_of(tx, ids)?;
    set_delivery(tx, &seqs, HistorySyncState::Synced, Some(received_ms))?;
    if let Some((row, title, body)) = &log {
        tx.prepare_cached(
            "INSERT INTO outbox_logs (id, entity_type, record_id, title, body) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![row, key.entity_type.type_id(), key.id, title, body])?;
    }
    let Some(item) = item else {
        return rebase_later_changes(tx, key, ids, None);
    };
    // In the replica's form once (dates, the primary first, true instants), for the uses below.
    let form = crate::pull::FormData::load(tx, key.entity_type)?;
    let normal = crate::pull::in_replica_form(item, &form.form());
    let item = normal.as_ref().unwrap_or(item);
    rebase_later_changes(tx, key, ids, Some(item))?;
    // Our uploaded fields become part of the server version first, so the item raises no
    // "observed" events for them; the rest of the item is applied as a pull would, except that
    // its `updatedBy` (us: our write is its last update) names nobody for the other fields'
    // changes (see `history/attribute.rs`).
    let rid = rid_of(key)?;
    if let Some(mut server) = load_server(tx, key)? {
        for f in &fields {
            if f.starts_with(FM_PREFIX) {
                server.multi_fields = item.multi_fields.clone();
            } else if f == "*" {
                server.fields = item.fields.clone();
                server.multi_fields = item.multi_fields.clone();
            } else if let Some(v) = item.fields.get(f) {
                server.fields.insert(f.clone(), v.clone());
            }
        }
        let has_mirror: bool = tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM server_records WHERE rid = ?1)")?
            .query_row([rid], |r| r.get(0))?;
        let (f, m) = (
            serde_json::to_string(&server.fields)?,
            serde_json::to_string(&server.multi_fields)?,
        );
        if has_mirror {
            tx.prepare_cached(
                "UPDATE server_records SET fields = ?2, multi_fields = ?3 WHERE rid = ?1",
            )?
            .execute(params![rid, f, m])?;
        } else {
            tx.prepare_cached(
                "UPDATE record_fields SET fields = ?2, multi_fields = ?3 WHERE rid = ?1",
            )?
            .execute(params![rid, f, m])?;
        }
    }
    crate::pull::apply_answered(tx, item, &fields)?;
    Ok(())
}

/// A deleted record restored as a new one says which: once the new one has its portal id, the
/// old one's "restored" event names it by that id (its chain is hashed again, as for a rekey).
fn name_restored_copy(tx: &Connection, old: RecordKey, new: RecordKey) -> Result<(), StoreError> {
    let was = json!({"entityType": old.entity_type, "id": old.id}).to_string();
    let now = json!({"entityType": new.entity_type, "id": new.id}).to_string();
    let events: Vec<(i64, i64, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT seq, rid, record_title FROM history_events WHERE event = 'restored' \
             AND new_value = ?1",
        )?;
        let rows = stmt.query_map([&was], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (seq, rid, title) in events {
        tx.prepare_cached(
            "UPDATE history_events SET new_value = ?2, new_display = ?3 WHERE seq = ?1",
        )?
        .execute(params![seq, now, crate::edit::record_ref_text(&title, new)])?;
        rekey_chain(tx, rid, rid)?;
    }
    Ok(())
}

/// A field edited again while its change was in flight: once the portal took that change, the
/// later one is a change against what the portal now holds (the answered value, else the value
/// sent), not against the older base, so it never conflicts with the user's own write.
fn rebase_later_changes(
    tx: &Connection,
    key: RecordKey,
    done: &[i64],
    item: Option<&Record>,
) -> Result<(), StoreError> {
    let mut sent =
        tx.prepare_cached("SELECT field, new_value FROM outbox WHERE id = ?1 AND op = 'update'")?;
    let mut rebase = tx.prepare_cached(
        "UPDATE outbox SET base_value = ?4 WHERE entity_type = ?1 AND record_id = ?2 \
         AND field = ?3 AND op = 'update' AND state NOT IN ('done', 'discarded')",
    )?;
    for id in done {
        let Some((field, new)) = sent
            .query_row([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
            })
            .optional()?
        else {
            continue;
        };
        let answered = item.and_then(|item| match field.strip_prefix(FM_PREFIX) {
            Some(fm) => {
                let fm: i64 = fm.parse().ok()?;
                let m = item.multi_fields.iter().find(|m| m.id == fm)?;
                serde_json::to_string(m).ok()
            }
            None => item.fields.get(&field).map(Value::to_string),
        });
        let Some(base) = answered.or(new) else {
            continue;
        };
        rebase.execute(params![key.entity_type.type_id(), key.id, field, base])?;
    }
    Ok(())
}

fn rekey(tx: &Connection, old: RecordKey, new: RecordKey) -> Result<(), StoreError> {
    let (old_rid, new_rid) = (rid_of(old)?, rid_of(new)?);
    // record_fields and server_records reference records (rid): checked at commit, when every
    // row has moved.
    tx.pragma_update(None, "defer_foreign_keys", "ON")?;
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM records WHERE rid = ?1)")?
        .query_row([new_rid], |r| r.get(0))?;
    if exists {
        // A pull already brought the created record: the local copy leaves, its history and
        // queue move over.
        for sql in [
            "DELETE FROM record_fields WHERE rid = ?1",
            "DELETE FROM server_records WHERE rid = ?1",
            "DELETE FROM links WHERE from_rid = ?1",
            "DELETE FROM records_search WHERE rowid = ?1",
            "DELETE FROM records WHERE rid = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([old_rid])?;
        }
        tx.prepare_cached(
            "UPDATE record_counts SET n = n - 1 WHERE entity_type = ?1 AND state = 0",
        )?
        .execute([old.entity_type.type_id()])?;
    } else {
        tx.prepare_cached("UPDATE records SET rid = ?2, id = ?3 WHERE rid = ?1")?
            .execute(params![old_rid, new_rid, new.id])?;
        for sql in [
            "UPDATE record_fields SET rid = ?2 WHERE rid = ?1",
            "UPDATE server_records SET rid = ?2 WHERE rid = ?1",
            "UPDATE links SET from_rid = ?2 WHERE from_rid = ?1",
        ] {
            tx.prepare_cached(sql)?.execute([old_rid, new_rid])?;
        }
        tx.prepare_cached("DELETE FROM records_search WHERE rowid = ?1")?
            .execute([old_rid])?;
        if let Some((mut record, _)) = load_local(tx, new)? {
            record.key = new;
            record.fields.insert("id".into(), json!(new.id));
            write_local(tx, &record, false)?;
        }
    }
    // Records that link to it: their link fields name the new id.
    let linking: Vec<i64> = {
        let mut stmt = tx.prepare_cached("SELECT from_rid FROM links WHERE to_rid = ?1")?;
        let rows = stmt.query_map([old_rid], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    tx.prepare_cached("UPDATE OR REPLACE links SET to_rid = ?2 WHERE to_rid = ?1")?
        .execute([old_rid, new_rid])?;
    for from in linking {
        let key = crate::promote::key_of(from)?;
        if let Some((mut record, _)) = load_local(tx, key)? {
            if replace_link_ids(&mut record.fields, old.id, new.id) {
                write_local(tx, &record, false)?;
            }
        }
    }
    rekey_chain(tx, old_rid, new_rid)?;
    name_restored_copy(tx, old, new)?;
    let t = old.entity_type.type_id();
    tx.prepare_cached(
        "UPDATE outbox SET record_id = ?3 WHERE entity_type = ?1 AND record_id = ?2",
    )?
    .execute(params![t, old.id, new.id])?;
    tx.prepare_cached(
        "UPDATE outbox_logs SET record_id = ?3 WHERE entity_type = ?1 AND record_id = ?2",
    )?
    .execute(params![t, old.id, new.id])?;
    // Queued values of other records that name it (a deal's contactIds with the new contact).
    let open: Vec<(i64, String, Option<String>, Option<String>)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, field, base_value, new_value FROM outbox \
             WHERE state NOT IN ('done', 'discarded') AND (field IN ('contactIds', 'contactId', \
             'companyIds', 'companyId', 'leadId') OR field = '*')",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    let mut put =
        tx.prepare_cached("UPDATE outbox SET base_value = ?2, new_value = ?3 WHERE id = ?1")?;
    for (id, field, base, value) in open {
        let mut base: Value = base
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or(Value::Null);
        let mut value: Value = value
            .as_deref()
            .map(serde_json::from_str)
            .transpose()?
            .unwrap_or(Value::Null);
        let changed = if field == "*" {
            match value.get_mut("fields").and_then(Value::as_object_mut) {
                Some(fields) => replace_link_ids(fields, old.id, new.id),
                None => false,
            }
        } else {
            let a = replace_number(&mut value, old.id, new.id);
            replace_number(&mut base, old.id, new.id) || a
        };
        if changed {
            put.execute(params![
                id,
                serde_json::to_string(&base)?,
                serde_json::to_string(&value)?
            ])?;
        }
    }
    Ok(())
}

/// The multi-field entries of a record's server version (for the upload's `fm` object).
pub fn multi_by_id(record: &Record) -> BTreeMap<i64, MultiField> {
    record
        .multi_fields
        .iter()
        .map(|m| (m.id, m.clone()))
        .collect()
}

/// The change log of uploaded entries as it is published on the record's timeline: a title, a
/// readable summary in Russian (the users' first language), and a machine-readable block after
/// [`LOG_MARKER`] that other installations read back into their history. `log_id`
/// (`<device>:<outbox_logs.id>`) names this log for good, however many times it is published.
fn change_log(
    tx: &Connection,
    key: RecordKey,
    ids: &[i64],
    log_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let mut changes = Vec::new();
    let mut lines = Vec::new();
    let mut happened = 0i64;
    let mut source = String::new();
    let mut author: Option<(Option<i64>, String, Option<String>)> = None;
    let mut row_stmt = tx.prepare_cached(
        "SELECT op, field, base_value, new_value, happened_ms, source, history_seqs FROM outbox \
         WHERE id = ?1",
    )?;
    let mut ev_stmt = tx.prepare_cached(
        "SELECT field_label, old_display, new_display, author_id, author_name, device_id, event \
         FROM history_events WHERE seq = ?1",
    )?;
    for id in ids {
        let Some((op, field, base, new, at, src, seqs)) = row_stmt
            .query_row([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .optional()?
        else {
            continue;
        };
        happened = happened.max(at.unwrap_or(0));
        source = src;
        let seqs: Vec<i64> = seqs
            .map(|t| serde_json::from_str(&t))
            .transpose()?
            .unwrap_or_default();
        let mut label = field.clone();
        for seq in &seqs {
            let row = ev_stmt
                .query_row([seq], |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, Option<i64>>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                        r.get::<_, String>(6)?,
                    ))
                })
                .optional()?;
            if let Some((l, old_d, new_d, a_id, a_name, device, event)) = row {
                if author.is_none() {
                    author = Some((a_id, a_name, device));
                }
                if let Some(l) = l.clone() {
                    label = l;
                }
                let line = match event.as_str() {
                    "created" => "Запись создана".to_string(),
                    "deleted" => "Запись удалена".to_string(),
                    "link_added" => {
                        format!("Добавлена связь «{}»: {}", label, new_d.unwrap_or_default())
                    }
                    "link_removed" => {
                        format!("Удалена связь «{}»: {}", label, old_d.unwrap_or_default())
                    }
                    "reverted" | "resolved" => continue,
                    _ => format!(
                        "{}: {} → {}",
                        label,
                        old_d.unwrap_or_else(|| "—".into()),
                        new_d.unwrap_or_else(|| "—".into())
                    ),
                };
                lines.push(format!("• {line}"));
            }
        }
        let parse = |v: Option<String>| -> Value {
            v.and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(Value::Null)
        };
        changes.push(json!({
            "op": op, "field": field, "label": label, "old": parse(base), "new": parse(new)
        }));
    }
    if changes.is_empty() {
        return Ok(None);
    }
    let (author_id, author_name, device) = author.unwrap_or((None, String::new(), None));
    let when = chrono::DateTime::from_timestamp_millis(happened).unwrap_or_default();
    let offline = source == "deviceOffline";
    let title = if offline {
        "Картотека: изменения, сделанные офлайн"
    } else {
        "Картотека: изменения"
    };
    let block = json!({
        "logId": log_id,
        "record": {"entityTypeId": key.entity_type.type_id(), "id": key.id},
        "authorId": author_id,
        "author": author_name,
        "device": device,
        "happenedAt": when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "source": source,
        "changes": changes,
    });
    let body = format!(
        "{} {} (UTC), {}{}\n{}\n\n{LOG_MARKER}{}",
        if offline {
            "Изменено офлайн"
        } else {
            "Изменено"
        },
        when.format("%d.%m.%Y %H:%M"),
        author_name,
        if offline {
            ", загружено позже"
        } else {
            ""
        },
        lines.join("\n"),
        block
    );
    Ok(Some((title.to_string(), body)))
}

/// Unsent edits written to a file (sign-out, switching portals, deleting local data) and read
/// back: the portal-independent part of each open entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedEdit {
    pub entity_type: kartoteka_domain::EntityType,
    pub record_id: i64,
    pub op: OutboxOp,
    pub field: String,
    pub base: Value,
    pub value: Value,
    pub happened_ms: i64,
    pub origin_id: Option<String>,
}

/// The file format of exported unsent edits: which portal and user they were made for, and
/// the edits. A file of the first format names neither.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedEdits {
    pub format: String,
    /// The portal's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portal: Option<String>,
    /// The user who made the edits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EditsAuthor>,
    pub edits: Vec<ExportedEdit>,
}

/// [`ExportedEdits::user`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EditsAuthor {
    pub id: i64,
    pub name: String,
}

/// The `format` of [`ExportedEdits`] written now.
pub const EDITS_FILE_FORMAT: &str = "kartoteka-unsent-edits/2";
/// The first format, which names no portal and no user.
pub const EDITS_FILE_FORMAT_V1: &str = "kartoteka-unsent-edits/1";

/// Where a file of unsent edits may go: a replica of the same portal signed in as the same user.
/// A file that names neither (the first format, or one written by a replica that had not
/// signed in since it was upgraded) goes in only when the user confirms it came from here
/// (`origin_confirmed`).
fn check_origin(
    file: &ExportedEdits,
    here_portal: Option<&str>,
    here_user: Option<i64>,
    here_user_name: &str,
    origin_confirmed: bool,
) -> Result<(), StoreError> {
    // What the file names must match; what it (or this replica, not signed in since it was
    // upgraded) does not name, the user confirms.
    let portal_differs = matches!((&file.portal, here_portal),
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b));
    let user_differs = matches!((&file.user, here_user), (Some(u), Some(id)) if u.id != id);
    let unnamed = file.portal.is_none()
        || file.user.is_none()
        || here_portal.is_none()
        || here_user.is_none();
    if file.format == EDITS_FILE_FORMAT && !portal_differs && !user_differs && unnamed {
        return if origin_confirmed {
            Ok(())
        } else {
            Err(StoreError::EditsOriginUnknown {
                here_portal: here_portal.map(str::to_string),
                here_user: here_user_name.to_string(),
            })
        };
    }
    if file.format == EDITS_FILE_FORMAT_V1 {
        return if origin_confirmed {
            Ok(())
        } else {
            Err(StoreError::EditsOriginUnknown {
                here_portal: here_portal.map(str::to_string),
                here_user: here_user_name.to_string(),
            })
        };
    }
    if file.format != EDITS_FILE_FORMAT {
        return Err(StoreError::corrupt("edits file", file.format.clone()));
    }
    let same_portal = match (&file.portal, here_portal) {
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    let same_user = matches!((&file.user, here_user), (Some(u), Some(id)) if u.id == id);
    if same_portal && same_user {
        return Ok(());
    }
    Err(StoreError::ForeignEdits {
        file_portal: file.portal.clone().unwrap_or_default(),
        file_user: file
            .user
            .as_ref()
            .map(|u| u.name.clone())
            .unwrap_or_default(),
        here_portal: here_portal.unwrap_or_default().to_string(),
        here_user: here_user_name.to_string(),
    })
}

impl Store {
    /// Every open entry (not yet uploaded or discarded), for a file.
    pub fn export_unsent_edits(&self) -> Result<ExportedEdits, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, entity_type, record_id, op, field, base_value, new_value, origin_id, \
             state, attempts, happened_ms, created_at, unanswered_ms FROM outbox \
             WHERE state NOT IN ('done', 'discarded') ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut edits = Vec::new();
        while let Some(r) = rows.next()? {
            let t: i64 = r.get("entity_type")?;
            let e = entry_from_row(r)?;
            edits.push(ExportedEdit {
                entity_type: kartoteka_domain::EntityType::from_type_id(t)
                    .ok_or_else(|| StoreError::corrupt("outbox.entity_type", t.to_string()))?,
                record_id: r.get("record_id")?,
                op: e.op,
                field: e.field,
                base: e.base,
                value: e.new,
                happened_ms: e.happened_ms,
                origin_id: e.origin_id,
            });
        }
        let user = match self.profile()?.user_id {
            Some(id) => Some(EditsAuthor {
                id,
                name: self.user_name(id)?,
            }),
            None => None,
        };
        Ok(ExportedEdits {
            format: EDITS_FILE_FORMAT.into(),
            portal: self.portal_host()?,
            user,
            edits,
        })
    }

    fn user_name(&self, id: i64) -> Result<String, StoreError> {
        Ok(self
            .users()?
            .into_iter()
            .find(|u| u.id == id)
            .map(|u| u.display_name())
            .unwrap_or_else(|| format!("#{id}")))
    }

    /// Queues exported edits again (after signing in anew): one durable save per record and
    /// kind. Only a replica of the portal and user the file names takes it
    /// ([`StoreError::ForeignEdits`] otherwise); a file of the first format, which names
    /// neither, only with `origin_confirmed` ([`StoreError::EditsOriginUnknown`] otherwise).
    /// Each change keeps the value it was made against, so the upload finds a field changed
    /// since a conflict, as for any edit. Creates keep their tag and count as sent without an
    /// answer at a time not known (the file does not say whether an attempt reached the portal),
    /// so the upload looks them up before sending.
    /// Returns how many entries were queued; edits of records this replica does not hold are
    /// skipped.
    pub fn import_unsent_edits(
        &mut self,
        actor: &crate::LocalActor,
        file: &ExportedEdits,
        now_ms: i64,
        origin_confirmed: bool,
    ) -> Result<u32, StoreError> {
        let here_user_name = match actor.user_id {
            Some(id) => self.user_name(id)?,
            None => String::new(),
        };
        check_origin(
            file,
            self.portal_host()?.as_deref(),
            actor.user_id,
            &here_user_name,
            origin_confirmed,
        )?;
        let mut queued = 0;
        let mut created: std::collections::HashMap<(i64, i64), RecordKey> = Default::default();
        for e in &file.edits {
            let key = RecordKey {
                entity_type: e.entity_type,
                id: e.record_id,
            };
            match e.op {
                OutboxOp::Create => {
                    // Already queued here (or uploaded from here): never a second record.
                    let known: bool = match &e.origin_id {
                        Some(origin) => self.conn.query_row(
                            "SELECT EXISTS (SELECT 1 FROM outbox WHERE origin_id = ?1 \
                             AND state <> 'discarded')",
                            [origin],
                            |r| r.get(0),
                        )?,
                        None => false,
                    };
                    if known {
                        continue;
                    }
                    let mut edit = kartoteka_domain::RecordEdit::default();
                    if let Some(f) = e.value.get("fields").and_then(Value::as_object) {
                        edit.fields = f.clone();
                    }
                    for m in e
                        .value
                        .get("fm")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Ok(m) = serde_json::from_value::<MultiField>(m.clone()) {
                            edit.multi_fields
                                .push(kartoteka_domain::MultiFieldEdit::Add {
                                    kind: m.kind,
                                    value_type: m.value_type,
                                    value: m.value,
                                });
                        }
                    }
                    let saved = self.create_record(actor, e.entity_type, &edit, now_ms)?;
                    if let Some(origin) = &e.origin_id {
                        self.conn.execute(
                            "UPDATE outbox SET origin_id = ?3, attempts = 1, unanswered_ms = 0 \
                             WHERE entity_type = ?1 AND record_id = ?2 AND op = 'create'",
                            params![saved.key.entity_type.type_id(), saved.key.id, origin],
                        )?;
                    }
                    created.insert((e.entity_type.type_id(), e.record_id), saved.key);
                    queued += saved.queued;
                }
                OutboxOp::Delete => {
                    // Deleted here already (a second import of the same file): nothing to do.
                    if matches!(load_local(&self.conn, key)?, Some((_, RecordState::Active))) {
                        queued += self.delete_record(actor, key, now_ms)?.queued;
                    }
                }
                OutboxOp::Update => {
                    let key = created
                        .get(&(e.entity_type.type_id(), e.record_id))
                        .copied()
                        .unwrap_or(key);
                    let Some((record, _)) = load_local(&self.conn, key)? else {
                        continue;
                    };
                    let mut edit = kartoteka_domain::RecordEdit::default();
                    if let Some(id) = e.field.strip_prefix(FM_PREFIX) {
                        let id: i64 = id.parse().unwrap_or(0);
                        let m: Option<MultiField> = serde_json::from_value(e.value.clone()).ok();
                        let present = record.multi_fields.iter().any(|x| x.id == id);
                        edit.multi_fields.push(match (m, present) {
                            (Some(m), true) => kartoteka_domain::MultiFieldEdit::Change {
                                id,
                                value_type: m.value_type,
                                value: m.value,
                            },
                            (Some(m), false) => kartoteka_domain::MultiFieldEdit::Add {
                                kind: m.kind,
                                value_type: m.value_type,
                                value: m.value,
                            },
                            (None, true) => kartoteka_domain::MultiFieldEdit::Remove { id },
                            (None, false) => continue,
                        });
                    } else {
                        edit.fields.insert(e.field.clone(), e.value.clone());
                    }
                    queued += self
                        .save_edit(actor, key, &edit, now_ms, None, Some(&e.base))?
                        .queued;
                }
            }
        }
        Ok(queued)
    }
}
