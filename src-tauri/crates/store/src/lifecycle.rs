//! Pull checkpoints, deletions, lost access, id reconciliation and the per-type counters.

use crate::history::{HistoryWriter, NewEvent};
use crate::promote::{rid_of, rid_range};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{AuthorKind, HistoryEventCode, HistorySource};
use kartoteka_domain::{EntityType, RecordKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Where the pull of one entity type stands. Written in the same transaction as the records it
/// covers, so after a crash the pull resumes exactly after the last committed batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct SyncCheckpoint {
    /// Initial pull: the highest id stored so far (the next page starts after it).
    #[ts(type = "number")]
    pub last_id: i64,
    pub initial_done: bool,
    /// Incremental pull watermark: `updatedTime` (UTC unix seconds) and id of the last record seen.
    #[ts(type = "number | null")]
    pub updated_since_time: Option<i64>,
    #[ts(type = "number | null")]
    pub updated_since_id: Option<i64>,
    /// When the id sets were last compared with the portal (UTC unix seconds).
    #[ts(type = "number | null")]
    pub last_full_reconcile: Option<i64>,
    /// When this type last finished a sync (UTC unix seconds).
    #[ts(type = "number | null")]
    pub last_sync_at: Option<i64>,
}

pub(crate) fn write_checkpoint(
    conn: &Connection,
    entity_type: EntityType,
    cp: &SyncCheckpoint,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO sync_state (entity_type, last_id, initial_done, updated_since_time, \
         updated_since_id, last_full_reconcile, last_sync_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
         ON CONFLICT (entity_type) DO UPDATE SET last_id = excluded.last_id, \
         initial_done = excluded.initial_done, updated_since_time = excluded.updated_since_time, \
         updated_since_id = excluded.updated_since_id, \
         last_full_reconcile = excluded.last_full_reconcile, last_sync_at = excluded.last_sync_at",
    )?;
    stmt.execute(params![
        entity_type.type_id(),
        cp.last_id,
        cp.initial_done,
        cp.updated_since_time,
        cp.updated_since_id,
        cp.last_full_reconcile,
        cp.last_sync_at
    ])?;
    Ok(())
}

/// Changes to the per-type, per-state counters, collected during a transaction and written once
/// at its end (4.4× cheaper than triggers, performance.md).
#[derive(Debug, Default)]
pub(crate) struct CountDeltas([[i64; 3]; 5]);

impl CountDeltas {
    pub(crate) fn add(&mut self, entity_type: EntityType, state: RecordState, delta: i64) {
        self.0[entity_type.type_id() as usize][state.code() as usize] += delta;
    }

    pub(crate) fn write(&self, conn: &Connection) -> Result<(), StoreError> {
        let mut stmt = conn.prepare_cached(
            "INSERT INTO record_counts (entity_type, state, n) VALUES (?1, ?2, ?3) \
             ON CONFLICT (entity_type, state) DO UPDATE SET n = n + excluded.n",
        )?;
        for (type_id, states) in self.0.iter().enumerate() {
            for (state, delta) in states.iter().enumerate() {
                if *delta != 0 {
                    stmt.execute(params![type_id as i64, state as i64, delta])?;
                }
            }
        }
        Ok(())
    }
}

impl Store {
    /// The pull checkpoint of one type; the default (nothing pulled yet) when there is none.
    pub fn sync_checkpoint(&self, entity_type: EntityType) -> Result<SyncCheckpoint, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT last_id, initial_done, updated_since_time, updated_since_id, \
             last_full_reconcile, last_sync_at FROM sync_state WHERE entity_type = ?1",
        )?;
        let cp = stmt
            .query_row([entity_type.type_id()], |r| {
                Ok(SyncCheckpoint {
                    last_id: r.get("last_id")?,
                    initial_done: r.get("initial_done")?,
                    updated_since_time: r.get("updated_since_time")?,
                    updated_since_id: r.get("updated_since_id")?,
                    last_full_reconcile: r.get("last_full_reconcile")?,
                    last_sync_at: r.get("last_sync_at")?,
                })
            })
            .optional()?;
        Ok(cp.unwrap_or_default())
    }

    /// Saves a checkpoint on its own (e.g. after a reconcile that changed no record).
    pub fn save_checkpoint(
        &mut self,
        entity_type: EntityType,
        checkpoint: &SyncCheckpoint,
    ) -> Result<(), StoreError> {
        write_checkpoint(&self.conn, entity_type, checkpoint)
    }

    /// Ids of the type's active records, ascending: what the replica believes the portal shows
    /// this user. Sync compares it with the portal's id list to find deletions and lost access.
    pub fn all_ids(&self, entity_type: EntityType) -> Result<Vec<i64>, StoreError> {
        let (lo, hi) = rid_range(entity_type);
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM records WHERE rid BETWEEN ?1 AND ?2 AND state = 0 ORDER BY rid",
        )?;
        let ids = stmt
            .query_map([lo, hi], |r| r.get::<_, i64>("id"))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// Moves records the portal deleted to the recycle bin: they keep their last version and stay
    /// searchable in the recycle-bin view. Returns how many changed state.
    pub fn mark_deleted(&mut self, keys: &[RecordKey], at: i64) -> Result<u64, StoreError> {
        self.move_to_state(keys, RecordState::Deleted, at)
    }

    /// Removes records the user can no longer read from every view and from search. Their unsent
    /// edits stay in the outbox, marked `blocked`. Returns how many changed state.
    pub fn mark_hidden(&mut self, keys: &[RecordKey], at: i64) -> Result<u64, StoreError> {
        self.move_to_state(keys, RecordState::Hidden, at)
    }

    fn move_to_state(
        &mut self,
        keys: &[RecordKey],
        target: RecordState,
        at: i64,
    ) -> Result<u64, StoreError> {
        let _span = tracing::info_span!("store_move_to_state", count = keys.len()).entered();
        let tx = self.conn.transaction()?;
        let mut deltas = CountDeltas::default();
        let mut changed = 0u64;
        let mut deleted = Vec::new();
        {
            let mut read = tx.prepare_cached("SELECT state FROM records WHERE rid = ?1")?;
            let mut write = tx.prepare_cached(
                "UPDATE records SET state = ?2, state_changed_at = ?3 WHERE rid = ?1",
            )?;
            let mut unindex = tx.prepare_cached("DELETE FROM records_search WHERE rowid = ?1")?;
            let mut block = tx.prepare_cached(
                "UPDATE outbox SET state = 'blocked' WHERE entity_type = ?1 AND record_id = ?2 \
                 AND state IN ('pending', 'sending', 'conflict', 'blocked')",
            )?;
            for key in keys {
                let rid = rid_of(*key)?;
                let Some(code) = read.query_row([rid], |r| r.get::<_, i64>(0)).optional()? else {
                    continue;
                };
                let from = RecordState::from_code(code)?;
                // A record this device forgot (access lost) has nothing to put in the recycle
                // bin: it stays a tombstone.
                if from == target || from == RecordState::Hidden {
                    continue;
                }
                write.execute(params![rid, target.code(), at])?;
                if target == RecordState::Hidden {
                    unindex.execute([rid])?;
                    block.execute(params![key.entity_type.type_id(), key.id])?;
                    // product.md §4.4: the record's data and its history leave the device; only
                    // the key stays (a tombstone), so that blocked edits still name their record.
                    forget_record(&tx, rid)?;
                }
                if target == RecordState::Deleted {
                    deleted.push(*key);
                }
                deltas.add(key.entity_type, from, -1);
                deltas.add(key.entity_type, target, 1);
                changed += 1;
            }
        }
        if !deleted.is_empty() {
            record_deletions(&tx, &deleted, at)?;
        }
        deltas.write(&tx)?;
        tx.commit()?;
        tracing::info!(changed, state = ?target, "records moved");
        Ok(changed)
    }
}

/// Takes one active record out of the replica as one the user cannot read (inside the caller's
/// transaction): hidden, out of search, its data and history forgotten, its key kept. Its
/// outbox entries are the caller's to settle. Returns whether it changed state.
pub(crate) fn hide_unreadable(
    conn: &Connection,
    key: RecordKey,
    at: i64,
) -> Result<bool, StoreError> {
    let rid = rid_of(key)?;
    let from = conn
        .prepare_cached("SELECT state FROM records WHERE rid = ?1")?
        .query_row([rid], |r| r.get::<_, i64>(0))
        .optional()?;
    let Some(from) = from.map(RecordState::from_code).transpose()? else {
        return Ok(false);
    };
    if from == RecordState::Hidden {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE records SET state = ?2, state_changed_at = ?3 WHERE rid = ?1")?
        .execute(params![rid, RecordState::Hidden.code(), at])?;
    conn.prepare_cached("DELETE FROM records_search WHERE rowid = ?1")?
        .execute([rid])?;
    forget_record(conn, rid)?;
    let mut deltas = CountDeltas::default();
    deltas.add(key.entity_type, from, -1);
    deltas.add(key.entity_type, RecordState::Hidden, 1);
    deltas.write(conn)?;
    Ok(true)
}

/// One `deleted` event per record found deleted on the portal (observed at sync: the portal
/// does not say who deleted it or exactly when).
fn record_deletions(conn: &Connection, keys: &[RecordKey], at: i64) -> Result<(), StoreError> {
    let mut w = HistoryWriter::new(conn)?;
    let mut title = conn.prepare_cached("SELECT title FROM records WHERE rid = ?1")?;
    for key in keys {
        let mut e = NewEvent::new(
            Some(*key),
            HistoryEventCode::Deleted,
            at * 1000,
            HistorySource::Observed,
        );
        e.author_kind = AuthorKind::Unknown;
        e.record_title = title
            .query_row([rid_of(*key)?], |r| r.get(0))
            .optional()?
            .unwrap_or_default();
        let g = w.new_group();
        w.append(&e, g)?;
    }
    w.finish(conn)
}

/// Removes everything the replica holds about a record the user lost access to, history
/// included, except its key. Counters are taken down by what leaves.
fn forget_record(conn: &Connection, rid: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE records SET title = '', title_sort = '', stage_id = NULL, category_id = NULL,          assigned_by_id = NULL, opportunity = NULL, opportunity_minor = 0, currency_id = NULL,          company_id = NULL, phone = NULL, email = NULL, created_time = 0, updated_time = 0,          updated_by_id = NULL, server_hash = 0, search_hash = 0 WHERE rid = ?1",
    )?
    .execute([rid])?;
    conn.prepare_cached(
        "UPDATE record_fields SET fields = '{}', multi_fields = '[]' WHERE rid = ?1",
    )?
    .execute([rid])?;
    conn.prepare_cached("DELETE FROM server_records WHERE rid = ?1")?
        .execute([rid])?;
    conn.prepare_cached("DELETE FROM links WHERE from_rid = ?1")?
        .execute([rid])?;
    crate::history::forget_history(conn, rid)
}
