//! Applying a batch of pulled records: the hot path of a million-record pull.
//!
//! One transaction per batch: records, field maps, the server mirror, search, links, counters and
//! the checkpoint. Fields with unsent local edits keep their local value; the mirror still gets
//! the server's. Each changed record yields its field-level diff against the previous server
//! version, for the history.

use crate::diff::{diff_fields, FieldChange};
use crate::history::Observer;
use crate::lifecycle::{write_checkpoint, CountDeltas, SyncCheckpoint};
use crate::migrations::UNSENT_STATES_SQL;
use crate::promote::{declared_links, hash64, promote, rid, rid_of, DeclaredLink, Promoted};
use crate::search::{company_dependents, reindex, search_body, Names};
use crate::{RecordState, Store, StoreError};
use kartoteka_domain::{EntityType, Record, RecordKey};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Statement};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The changes observed in one record that already existed locally.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordChange {
    pub key: RecordKey,
    /// The server's `updatedTime` (UTC unix seconds) and `updatedBy`: who and when, for history.
    pub updated_time: i64,
    pub updated_by: Option<i64>,
    /// It was in the recycle bin or hidden and is back.
    pub restored: bool,
    pub changes: Vec<FieldChange>,
    /// Some changes are someone else's although `updatedBy` names this user (whose own write
    /// is the record's last update): history names no author for them.
    pub others_unnamed: bool,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyStats {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    /// Updated records in which at least one field kept its unsent local value.
    pub kept_local: u64,
    /// Updated records that came back from the recycle bin or from hidden.
    pub restored: u64,
    /// One entry per updated record (none for inserted or unchanged ones).
    pub changes: Vec<RecordChange>,
}

const MULTI_FIELDS: &str = "fm";

pub(crate) struct Statements<'c> {
    pub(crate) current: CachedStatement<'c>,
    previous_server: CachedStatement<'c>,
    pub(crate) local: CachedStatement<'c>,
    insert: CachedStatement<'c>,
    update: CachedStatement<'c>,
    pub(crate) put_fields: CachedStatement<'c>,
    put_mirror: CachedStatement<'c>,
    drop_mirror: CachedStatement<'c>,
    pub(crate) unindex: CachedStatement<'c>,
    pub(crate) index: CachedStatement<'c>,
    unlink: CachedStatement<'c>,
    link: CachedStatement<'c>,
    unblock: CachedStatement<'c>,
    outbox_values: CachedStatement<'c>,
    conn: &'c Connection,
    /// UPDATEs of a pulled record's row that leave out the indexed columns whose value did not
    /// change, by [`IndexedColumns::changed`] mask: SQLite rewrites the entries of every index
    /// whose column an UPDATE sets, changed or not (7 indexes on `records`).
    updates: HashMap<u8, Statement<'c>>,
}

/// A record row's indexed columns as stored (read with the row's hashes, before an update).
pub(crate) struct IndexedColumns {
    state: i64,
    title_sort: SqlValue,
    stage_id: SqlValue,
    assigned_by_id: SqlValue,
    opportunity_minor: SqlValue,
    created_time: SqlValue,
    updated_time: SqlValue,
}

impl IndexedColumns {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(IndexedColumns {
            state: r.get("state")?,
            title_sort: r.get("title_sort")?,
            stage_id: r.get("stage_id")?,
            assigned_by_id: r.get("assigned_by_id")?,
            opportunity_minor: r.get("opportunity_minor")?,
            created_time: r.get("created_time")?,
            updated_time: r.get("updated_time")?,
        })
    }

    /// One bit per indexed column that `p` changes (in the order of [`UPDATE_INDEXED`]).
    fn changed(&self, p: &Promoted) -> u8 {
        fn text(old: &SqlValue, new: Option<&str>) -> bool {
            match (old, new) {
                (SqlValue::Text(a), Some(b)) => a == b,
                (SqlValue::Null, None) => true,
                _ => false,
            }
        }
        fn int(old: &SqlValue, new: Option<i64>) -> bool {
            match (old, new) {
                (SqlValue::Integer(a), Some(b)) => *a == b,
                (SqlValue::Null, None) => true,
                _ => false,
            }
        }
        let same = [
            self.state == RecordState::Active.code(),
            text(&self.title_sort, Some(&p.title_sort)),
            text(&self.stage_id, p.stage_id.as_deref()),
            int(&self.assigned_by_id, p.assigned_by_id),
            int(&self.opportunity_minor, Some(p.opportunity_minor)),
            int(&self.created_time, Some(p.created_time)),
            int(&self.updated_time, Some(p.updated_time)),
        ];
        same.iter().enumerate().fold(
            0,
            |mask, (i, same)| if *same { mask } else { mask | 1 << i },
        )
    }
}

/// The indexed columns of `records` as set by the update statement, in mask bit order.
const UPDATE_INDEXED: [&str; 7] = [
    "state = 0",
    "title_sort = ?5",
    "stage_id = ?6",
    "assigned_by_id = ?8",
    "opportunity_minor = ?10",
    "created_time = ?15",
    "updated_time = ?16",
];

impl<'c> Statements<'c> {
    pub(crate) fn new(conn: &'c Connection) -> Result<Self, StoreError> {
        Ok(Statements {
            current: conn.prepare_cached(
                "SELECT server_hash, state, search_hash, state_changed_at, title, title_sort, \
                 stage_id, assigned_by_id, opportunity_minor, created_time, updated_time \
                 FROM records WHERE rid = ?1",
            )?,
            previous_server: conn.prepare_cached(
                "SELECT COALESCE(s.fields, f.fields) AS fields, \
                 COALESCE(s.multi_fields, f.multi_fields) AS multi_fields, \
                 s.rid IS NOT NULL AS has_mirror \
                 FROM record_fields f LEFT JOIN server_records s ON s.rid = f.rid WHERE f.rid = ?1",
            )?,
            local: conn
                .prepare_cached("SELECT fields, multi_fields FROM record_fields WHERE rid = ?1")?,
            insert: conn.prepare_cached(
                "INSERT INTO records (rid, entity_type, id, state, title, title_sort, stage_id, \
                 category_id, assigned_by_id, opportunity, opportunity_minor, currency_id, \
                 company_id, phone, email, created_time, updated_time, updated_by_id, \
                 server_hash, search_hash) VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, \
                 ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
            )?,
            update: conn.prepare_cached(
                "UPDATE records SET state = 0, title = ?4, title_sort = ?5, stage_id = ?6, \
                 category_id = ?7, assigned_by_id = ?8, opportunity = ?9, \
                 opportunity_minor = ?10, currency_id = ?11, company_id = ?12, phone = ?13, \
                 email = ?14, created_time = ?15, updated_time = ?16, updated_by_id = ?17, \
                 server_hash = ?18, search_hash = ?19, state_changed_at = NULL \
                 WHERE rid = ?1 AND entity_type = ?2 AND id = ?3",
            )?,
            put_fields: conn.prepare_cached(
                "INSERT INTO record_fields (rid, fields, multi_fields) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (rid) DO UPDATE SET fields = excluded.fields, \
                 multi_fields = excluded.multi_fields",
            )?,
            put_mirror: conn.prepare_cached(
                "INSERT INTO server_records (rid, fields, multi_fields, updated_time) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT (rid) DO UPDATE SET \
                 fields = excluded.fields, multi_fields = excluded.multi_fields, \
                 updated_time = excluded.updated_time",
            )?,
            drop_mirror: conn.prepare_cached("DELETE FROM server_records WHERE rid = ?1")?,
            unindex: conn.prepare_cached("DELETE FROM records_search WHERE rowid = ?1")?,
            index: conn
                .prepare_cached("INSERT INTO records_search (rowid, body) VALUES (?1, ?2)")?,
            unlink: conn.prepare_cached("DELETE FROM links WHERE from_rid = ?1")?,
            link: conn.prepare_cached(
                "INSERT OR REPLACE INTO links (from_rid, to_rid, is_primary, sort) \
                 VALUES (?1, ?2, ?3, ?4)",
            )?,
            unblock: conn.prepare_cached(
                "UPDATE outbox SET state = 'pending' WHERE entity_type = ?1 AND record_id = ?2 \
                 AND state = 'blocked'",
            )?,
            outbox_values: conn.prepare_cached(&format!(
                "SELECT field, new_value FROM outbox WHERE entity_type = ?1 AND record_id = ?2 \
                 AND state IN {UNSENT_STATES_SQL} ORDER BY id"
            ))?,
            conn,
            updates: HashMap::new(),
        })
    }

    /// Updates a record's row like [`Self::write_row`], leaving out the indexed columns whose
    /// stored value (`old`) is already the new one: same row, fewer index entries rewritten.
    pub(crate) fn update_row(
        &mut self,
        rid: i64,
        key: RecordKey,
        p: &Promoted,
        old: &IndexedColumns,
        server_hash: i64,
        search_hash: i64,
    ) -> Result<(), StoreError> {
        let mask = old.changed(p);
        let stmt = match self.updates.entry(mask) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let mut sql = String::from(
                    "UPDATE records SET title = ?4, category_id = ?7, opportunity = ?9, \
                     currency_id = ?11, company_id = ?12, phone = ?13, email = ?14, \
                     updated_by_id = ?17, server_hash = ?18, search_hash = ?19, \
                     state_changed_at = NULL",
                );
                for (i, set) in UPDATE_INDEXED.iter().enumerate() {
                    if mask & (1 << i) != 0 {
                        sql.push_str(", ");
                        sql.push_str(set);
                    }
                }
                sql.push_str(" WHERE rid = ?1 AND entity_type = ?2 AND id = ?3");
                e.insert(self.conn.prepare(&sql)?)
            }
        };
        execute_row(stmt, rid, key, p, server_hash, search_hash)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_row(
        &mut self,
        update: bool,
        rid: i64,
        key: RecordKey,
        p: &Promoted,
        server_hash: i64,
        search_hash: i64,
    ) -> Result<(), StoreError> {
        let stmt = if update {
            &mut self.update
        } else {
            &mut self.insert
        };
        execute_row(stmt, rid, key, p, server_hash, search_hash)
    }

    pub(crate) fn write_links(
        &mut self,
        rid: i64,
        record: &Record,
        replace: bool,
    ) -> Result<(), StoreError> {
        if replace {
            self.unlink.execute([rid])?;
        }
        for link in declared_links(record) {
            self.link
                .execute(params![rid, rid_of(link.to)?, link.is_primary, link.sort])?;
        }
        Ok(())
    }
}

/// The unsent edited fields of a type's records, read once per batch (the outbox is small).
/// Runs an insert or update of a `records` row: its 19 parameters in the statements' order.
fn execute_row(
    stmt: &mut rusqlite::Statement<'_>,
    rid: i64,
    key: RecordKey,
    p: &Promoted,
    server_hash: i64,
    search_hash: i64,
) -> Result<(), StoreError> {
    stmt.execute(params![
        rid,
        key.entity_type.type_id(),
        key.id,
        p.title,
        p.title_sort,
        p.stage_id,
        p.category_id,
        p.assigned_by_id,
        p.opportunity,
        p.opportunity_minor,
        p.currency_id,
        p.company_id,
        p.phone,
        p.email,
        p.created_time,
        p.updated_time,
        p.updated_by_id,
        server_hash,
        search_hash
    ])?;
    Ok(())
}

/// This user's writes that may be a record's last update, per record id of one type: entries
/// sent whose outcome is not known (still open after an attempt), and an upload's answered
/// record with the fields it wrote. Read once per batch (the outbox is small).
pub(crate) struct OwnWrites {
    /// This replica's user; `None` before the first sign-in (then nothing is "ours").
    me: Option<i64>,
    fields: HashMap<i64, Vec<String>>,
}

impl OwnWrites {
    fn in_flight(conn: &Connection, entity_type: EntityType) -> Result<Self, StoreError> {
        let me = conn
            .prepare_cached("SELECT value FROM replica_meta WHERE key = 'profile.user_id'")?
            .query_row([], |r| r.get::<_, String>(0))
            .optional()?
            .and_then(|v| v.parse().ok());
        let mut fields: HashMap<i64, Vec<String>> = HashMap::new();
        if me.is_some() {
            let mut stmt = conn.prepare_cached(
                "SELECT record_id, field FROM outbox WHERE entity_type = ?1 AND attempts > 0 \
                 AND state IN ('pending', 'sending')",
            )?;
            let mut rows = stmt.query([entity_type.type_id()])?;
            while let Some(row) = rows.next()? {
                fields
                    .entry(row.get("record_id")?)
                    .or_default()
                    .push(row.get("field")?);
            }
        }
        Ok(OwnWrites { me, fields })
    }

    fn of(&self, id: i64) -> Option<crate::history::OwnWrite<'_>> {
        let me = self.me?;
        self.fields
            .get(&id)
            .map(|fields| crate::history::OwnWrite { me, fields })
    }
}

fn unsent_fields(
    conn: &Connection,
    entity_type: EntityType,
) -> Result<HashMap<i64, Vec<String>>, StoreError> {
    let sql = format!(
        "SELECT record_id, field FROM outbox WHERE entity_type = ?1 AND state IN {UNSENT_STATES_SQL}"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query([entity_type.type_id()])?;
    let mut out: HashMap<i64, Vec<String>> = HashMap::new();
    while let Some(row) = rows.next()? {
        out.entry(row.get("record_id")?)
            .or_default()
            .push(row.get("field")?);
    }
    Ok(out)
}

impl Store {
    /// Applies one batch of pulled records of `entity_type` and saves `checkpoint`, all in one
    /// transaction: either everything is committed or nothing is.
    pub fn apply_pulled(
        &mut self,
        entity_type: EntityType,
        records: &[Record],
        checkpoint: &SyncCheckpoint,
    ) -> Result<ApplyStats, StoreError> {
        let _span = tracing::info_span!("store_apply_pulled", %entity_type, count = records.len())
            .entered();
        let tx = self.conn.transaction()?;
        let stats = apply_in(&tx, entity_type, records)?;
        write_checkpoint(&tx, entity_type, checkpoint)?;
        tx.commit()?;
        self.checkpoint_soon();
        tracing::debug!(
            inserted = stats.inserted,
            updated = stats.updated,
            unchanged = stats.unchanged,
            kept_local = stats.kept_local,
            "pulled batch applied"
        );
        Ok(stats)
    }
}

/// Applies pulled records inside the caller's transaction (the pull, and an upload's answered
/// items).
pub(crate) fn apply_in(
    tx: &Connection,
    entity_type: EntityType,
    records: &[Record],
) -> Result<ApplyStats, StoreError> {
    let form = FormData::load(tx, entity_type)?;
    let own = OwnWrites::in_flight(tx, entity_type)?;
    apply_records(tx, entity_type, records, Some(&form.form()), &own)
}

/// [`apply_in`] of the item an upload's write was answered with, already in the replica's form
/// ([`in_replica_form`]: the shift of a personal time zone must be taken off once, not twice).
/// `written` are the fields that write sent: its answer names this user as `updatedBy`, so
/// changes of other fields are not put under this user's name.
pub(crate) fn apply_answered(
    tx: &Connection,
    item: &Record,
    written: &[String],
) -> Result<ApplyStats, StoreError> {
    let entity_type = item.key.entity_type;
    let mut own = OwnWrites::in_flight(tx, entity_type)?;
    own.fields
        .entry(item.key.id)
        .or_default()
        .extend(written.iter().cloned());
    apply_records(tx, entity_type, std::slice::from_ref(item), None, &own)
}

fn apply_records(
    tx: &Connection,
    entity_type: EntityType,
    records: &[Record],
    form: Option<&ReplicaForm<'_>>,
    own: &OwnWrites,
) -> Result<ApplyStats, StoreError> {
    let mut stats = ApplyStats::default();
    let mut deltas = CountDeltas::default();
    {
        let unsent = unsent_fields(tx, entity_type)?;
        let mut st = Statements::new(tx)?;
        let mut observer = Observer::new(tx, entity_type)?;
        observer.defer_writes();
        let mut names = Names::new(tx)?;
        let mut renamed = Vec::new();
        let mut buf = JsonBuffers {
            fields: Vec::with_capacity(8192),
            multi: Vec::with_capacity(1024),
        };
        let mut later = Later::default();
        for record in records {
            apply_one(
                &mut st,
                &mut observer,
                &mut names,
                &mut buf,
                &mut later,
                entity_type,
                record,
                form,
                &unsent,
                own,
                &mut stats,
                &mut deltas,
                &mut renamed,
            )?;
        }
        later.write(&mut st)?;
        observer.finish(tx)?;
        // Companies new or renamed here: the rows that show their name search by it.
        for id in renamed {
            names.forget_company(id);
            let dependents = company_dependents(tx, id)?;
            reindex(tx, &mut names, &dependents)?;
        }
    }
    deltas.write(tx)?;
    // Changed on the portal: its timeline may hold another Kartoteka user's change log, or this
    // user's from another device (this device's own uploads come back unchanged: the upload
    // kept the portal's answer).
    let mut due = tx.prepare_cached("INSERT OR IGNORE INTO peer_log_due (rid) VALUES (?1)")?;
    for c in stats.changes.iter().filter(|c| !c.changes.is_empty()) {
        due.execute([rid(entity_type, c.key.id)?])?;
    }
    Ok(stats)
}

/// The fields of a type (standard and custom) of one field type, by the replica's metadata.
fn fields_of_type(
    tx: &Connection,
    entity_type: EntityType,
    field_type: &str,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx
        .prepare_cached("SELECT name FROM field_meta WHERE entity_type = ?1 AND field_type = ?2")?;
    let names = stmt
        .query_map(params![entity_type.type_id(), field_type], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(names)
}

/// What [`ReplicaForm`] borrows, read from the replica's metadata.
pub(crate) struct FormData {
    date_fields: Vec<String>,
    datetime_fields: Vec<String>,
    user_time: Option<kartoteka_domain::usertime::UserTime>,
}

impl FormData {
    pub(crate) fn load(tx: &Connection, entity_type: EntityType) -> Result<FormData, StoreError> {
        Ok(FormData {
            date_fields: fields_of_type(tx, entity_type, "date")?,
            datetime_fields: fields_of_type(tx, entity_type, "datetime")?,
            user_time: crate::history::user_time_in(tx)?,
        })
    }

    pub(crate) fn form(&self) -> ReplicaForm<'_> {
        ReplicaForm {
            date_fields: &self.date_fields,
            user_time: self
                .user_time
                .as_ref()
                .map(|u| (u, self.datetime_fields.as_slice())),
        }
    }
}

/// What puts a pulled record in the form the replica keeps (see [`in_replica_form`]).
pub(crate) struct ReplicaForm<'a> {
    pub date_fields: &'a [String],
    /// The signed-in user's personal time zone and the datetime fields it shifts.
    pub user_time: Option<(&'a kartoteka_domain::usertime::UserTime, &'a [String])>,
}

/// A copy of `record` in the form the replica keeps, or `None` when it is in it already: its
/// date-only fields hold `YYYY-MM-DD` (the portal sends 00:00 UTC of the date shown in its zone,
/// which moves with summer time: see [`kartoteka_domain::calendar_date`]; multiple date fields
/// element by element), and its primary link stands first in its list
/// ([`kartoteka_domain::record::primary_first`]), and its datetimes are the instants they stand
/// for even where a user's personal time zone shifted them
/// ([`kartoteka_domain::usertime::UserTime`]).
pub(crate) fn in_replica_form(record: &Record, form: &ReplicaForm<'_>) -> Option<Record> {
    let t = record.key.entity_type;
    if kartoteka_domain::record::primary_out_of_place(t, &record.fields).is_none()
        && !kartoteka_domain::dates_need_days(&record.fields, form.date_fields)
        && !form
            .user_time
            .is_some_and(|(u, fields)| u.needs(record, fields))
    {
        return None;
    }
    let mut out = record.clone();
    if let Some((u, fields)) = form.user_time {
        u.fix(&mut out, fields);
    }
    kartoteka_domain::record::primary_first(t, &mut out.fields);
    kartoteka_domain::dates_as_days(&mut out.fields, form.date_fields);
    Some(out)
}

/// The search-index and link writes of a batch, made after all its records' rows and in the
/// same order (like its history events, see `Observer::defer_writes`): each table is written in
/// one go instead of alternating between them for every record. Nothing in the loop reads
/// either table, so the result is the same.
#[derive(Default)]
struct Later {
    /// (rid, whether its previous text is removed first, its text).
    search: Vec<(i64, bool, String)>,
    /// (rid, whether its previous links are removed first, its links).
    links: Vec<(i64, bool, Vec<DeclaredLink>)>,
}

impl Later {
    fn write(self, st: &mut Statements<'_>) -> Result<(), StoreError> {
        for (rid, replace, body) in self.search {
            if replace {
                st.unindex.execute([rid])?;
            }
            st.index.execute(params![rid, body])?;
        }
        for (rid, replace, links) in self.links {
            if replace {
                st.unlink.execute([rid])?;
            }
            for link in links {
                st.link
                    .execute(params![rid, rid_of(link.to)?, link.is_primary, link.sort])?;
            }
        }
        Ok(())
    }
}

/// Serialization buffers reused across a batch (no per-record growth of fresh strings).
struct JsonBuffers {
    fields: Vec<u8>,
    multi: Vec<u8>,
}

fn utf8(bytes: &[u8]) -> Result<&str, StoreError> {
    std::str::from_utf8(bytes).map_err(|e| StoreError::corrupt("fields", e.to_string()))
}

#[allow(clippy::too_many_arguments)]
fn apply_one(
    st: &mut Statements<'_>,
    observer: &mut Observer<'_>,
    names: &mut Names<'_>,
    buf: &mut JsonBuffers,
    later: &mut Later,
    entity_type: EntityType,
    record: &Record,
    form: Option<&ReplicaForm<'_>>,
    unsent: &HashMap<i64, Vec<String>>,
    own: &OwnWrites,
    stats: &mut ApplyStats,
    deltas: &mut CountDeltas,
    renamed: &mut Vec<i64>,
) -> Result<(), StoreError> {
    let canonical;
    let record = match form.and_then(|f| in_replica_form(record, f)) {
        Some(r) => {
            canonical = r;
            &canonical
        }
        None => record,
    };
    let key = record.key;
    if key.entity_type != entity_type {
        return Err(StoreError::InvalidKey {
            entity_type: key.entity_type,
            id: key.id,
            reason: "record of another type in the batch",
        });
    }
    let rid = rid(entity_type, key.id)?;
    buf.fields.clear();
    serde_json::to_writer(&mut buf.fields, &record.fields)?;
    buf.multi.clear();
    serde_json::to_writer(&mut buf.multi, &record.multi_fields)?;
    let fields_json = utf8(&buf.fields)?;
    let multi_json = utf8(&buf.multi)?;
    let server_hash = hash64(&[fields_json.as_bytes(), multi_json.as_bytes()]);

    let current = st
        .current
        .query_row([rid], |r| {
            Ok((
                r.get::<_, i64>("server_hash")?,
                r.get::<_, i64>("state")?,
                r.get::<_, i64>("search_hash")?,
                r.get::<_, Option<i64>>("state_changed_at")?,
                r.get::<_, String>("title")?,
                IndexedColumns::read(r)?,
            ))
        })
        .optional()?;

    let is_company = entity_type == EntityType::Company;
    let Some((old_hash, old_state, old_search_hash, state_changed_at, old_title, old_indexed)) =
        current
    else {
        // New here: no previous version, so no diff to compute.
        let promoted = promote(record);
        let body = search_body(record, &promoted, names)?;
        if is_company {
            renamed.push(key.id);
        }
        let search_hash = hash64(&[body.as_bytes()]);
        st.write_row(false, rid, key, &promoted, server_hash, search_hash)?;
        st.put_fields
            .execute(params![rid, fields_json, multi_json])?;
        later.search.push((rid, false, body));
        later.links.push((rid, false, declared_links(record)));
        if unsent.contains_key(&key.id) {
            // Back after lost access: its blocked edits may go again.
            st.unblock.execute(params![entity_type.type_id(), key.id])?;
        }
        observer.created(record)?;
        deltas.add(entity_type, RecordState::Active, 1);
        stats.inserted += 1;
        return Ok(());
    };
    let old_state = RecordState::from_code(old_state)?;
    if old_hash == server_hash && old_state == RecordState::Active {
        stats.unchanged += 1;
        return Ok(());
    }

    // The previous server version, for the diff: the mirror if there is one, else the row itself.
    let (prev_fields, prev_multi, has_mirror) = st.previous_server.query_row([rid], |r| {
        Ok((
            r.get::<_, String>("fields")?,
            r.get::<_, String>("multi_fields")?,
            r.get::<_, bool>("has_mirror")?,
        ))
    })?;
    let mut changes = Vec::new();
    // Links declared by the previous version, when it is also the local one (no mirror).
    let mut prev_links = None;
    let restored = old_state != RecordState::Active;
    let mut others_unnamed = 0;
    if old_hash != server_hash {
        let same_multi = prev_multi == multi_json;
        let prev = Record {
            key,
            updated_time: None,
            fields: serde_json::from_str(&prev_fields)?,
            multi_fields: if old_state == RecordState::Hidden {
                Vec::new()
            } else if same_multi {
                record.multi_fields.clone()
            } else {
                serde_json::from_str(&prev_multi)?
            },
        };
        diff_fields(&prev.fields, &record.fields, &mut changes);
        if old_state == RecordState::Hidden {
            // Access came back: what this device forgot is new to it again.
            observer.created(record)?;
        } else {
            others_unnamed = observer.changed(
                &prev,
                record,
                restored.then_some(state_changed_at.unwrap_or(0)),
                own.of(key.id).as_ref(),
            )?;
        }
        if !has_mirror {
            prev_links = Some(declared_links(&prev));
        }
        if !same_multi {
            changes.push(FieldChange {
                field: MULTI_FIELDS.to_string(),
                old: serde_json::from_str(&prev_multi)?,
                new: serde_json::to_value(&record.multi_fields)?,
            });
        }
    } else if old_state == RecordState::Hidden {
        observer.created(record)?;
    } else if restored {
        observer.changed(record, record, Some(state_changed_at.unwrap_or(0)), None)?;
    }

    // The local view: the server version, except fields with unsent edits.
    let pending = unsent.get(&key.id).filter(|f| !f.is_empty());
    let merged;
    let local: &Record = match pending {
        Some(pending_fields) => {
            let (local_fields, local_multi) = if old_state == RecordState::Hidden {
                // The replica forgot the record when access was lost; the outbox kept the
                // values this user set.
                outbox_values(st, key)?
            } else {
                st.local.query_row([rid], |r| {
                    Ok((
                        r.get::<_, String>("fields")?,
                        r.get::<_, String>("multi_fields")?,
                    ))
                })?
            };
            merged = merge_unsent(record, pending_fields, &local_fields, &local_multi)?;
            st.put_mirror
                .execute(params![rid, fields_json, multi_json, promote_time(record)])?;
            stats.kept_local += 1;
            &merged
        }
        None => {
            if has_mirror {
                st.drop_mirror.execute([rid])?;
            }
            record
        }
    };
    let local_json = match pending {
        Some(_) => Some((
            serde_json::to_string(&local.fields)?,
            serde_json::to_string(&local.multi_fields)?,
        )),
        None => None,
    };
    let (local_fields_json, local_multi_json) = match &local_json {
        Some((f, m)) => (f.as_str(), m.as_str()),
        None => (fields_json, multi_json),
    };

    let promoted = promote(local);
    let body = search_body(local, &promoted, names)?;
    if is_company && (promoted.title != old_title || old_state == RecordState::Hidden) {
        renamed.push(key.id);
    }
    let search_hash = hash64(&[body.as_bytes()]);
    st.update_row(rid, key, &promoted, &old_indexed, server_hash, search_hash)?;
    st.put_fields
        .execute(params![rid, local_fields_json, local_multi_json])?;
    if search_hash != old_search_hash || old_state == RecordState::Hidden {
        later.search.push((rid, true, body));
    }
    // Most changes (stage, amount, responsible) leave the links alone: skip rewriting them.
    let links = declared_links(local);
    if pending.is_some() || prev_links.is_none_or(|prev| prev != links) {
        later.links.push((rid, true, links));
    }
    if restored {
        if old_state == RecordState::Hidden {
            st.unblock.execute(params![entity_type.type_id(), key.id])?;
        }
        deltas.add(entity_type, old_state, -1);
        deltas.add(entity_type, RecordState::Active, 1);
        stats.restored += 1;
    }
    stats.updated += 1;
    stats.changes.push(RecordChange {
        key,
        updated_time: promote_time(record),
        updated_by: record.id_field("updatedBy"),
        restored,
        changes,
        others_unnamed: others_unnamed > 0,
    });
    Ok(())
}

/// The values a record's unsent edits set, as the field map and multi-field JSON that
/// `merge_unsent` reads.
fn outbox_values(st: &mut Statements<'_>, key: RecordKey) -> Result<(String, String), StoreError> {
    let mut fields = Map::new();
    let mut multi = Value::Array(Vec::new());
    let mut rows = st
        .outbox_values
        .query(params![key.entity_type.type_id(), key.id])?;
    while let Some(row) = rows.next()? {
        let field: String = row.get("field")?;
        let value: Option<String> = row.get("new_value")?;
        let value: Value = match value {
            Some(v) => serde_json::from_str(&v)?,
            None => Value::Null,
        };
        if field == MULTI_FIELDS {
            multi = value;
        } else if field.starts_with(crate::edit::FM_PREFIX) || field == "*" {
            continue;
        } else {
            fields.insert(field, value);
        }
    }
    Ok((
        serde_json::to_string(&fields)?,
        serde_json::to_string(&multi)?,
    ))
}

fn promote_time(record: &Record) -> i64 {
    record
        .updated_time
        .map(|t| t.timestamp())
        .or_else(|| crate::promote::unix_time(record.field("updatedTime")))
        .unwrap_or(0)
}

/// The pulled record with each field that has an unsent edit replaced by its local value.
fn merge_unsent(
    pulled: &Record,
    pending_fields: &[String],
    local_fields: &str,
    local_multi: &str,
) -> Result<Record, StoreError> {
    let local: Map<String, Value> = serde_json::from_str(local_fields)?;
    let mut merged = pulled.clone();
    for field in pending_fields {
        if field == MULTI_FIELDS || field.starts_with(crate::edit::FM_PREFIX) {
            merged.multi_fields = serde_json::from_str(local_multi)?;
            continue;
        }
        match local.get(field) {
            Some(v) => {
                merged.fields.insert(field.clone(), v.clone());
            }
            None => {
                merged.fields.remove(field);
            }
        }
    }
    Ok(merged)
}

/// Brings records kept by an older replica into the form a pulled record now takes (the primary
/// link first, dates as `YYYY-MM-DD`), in the local version and the server mirror alike, and
/// writes the links of the changed local versions again. No history: nothing changed on the
/// portal. (A personal time zone's shift cannot be taken off here: an older replica never knew
/// the zone; records read again later are put right then.)
pub(crate) fn to_replica_form(tx: &Connection) -> Result<(), StoreError> {
    for t in EntityType::ALL {
        let dates = fields_of_type(tx, t, "date")?;
        let form = ReplicaForm {
            date_fields: &dates,
            user_time: None,
        };
        let (lo, hi) = (rid(t, 1)?, rid(t, crate::promote::MAX_ID)?);
        for table in ["record_fields", "server_records"] {
            let rows: Vec<(i64, String)> = tx
                .prepare(&format!(
                    "SELECT rid, fields FROM {table} WHERE rid BETWEEN ?1 AND ?2"
                ))?
                .query_map(params![lo, hi], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut update =
                tx.prepare(&format!("UPDATE {table} SET fields = ?2 WHERE rid = ?1"))?;
            for (row, json) in rows {
                let record = Record {
                    key: RecordKey {
                        entity_type: t,
                        id: row - lo + 1,
                    },
                    updated_time: None,
                    fields: serde_json::from_str(&json)?,
                    multi_fields: Vec::new(),
                };
                let Some(normal) = in_replica_form(&record, &form) else {
                    continue;
                };
                update.execute(params![row, serde_json::to_string(&normal.fields)?])?;
                if table == "record_fields" {
                    tx.prepare_cached("DELETE FROM links WHERE from_rid = ?1")?
                        .execute([row])?;
                    for link in declared_links(&normal) {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO links (from_rid, to_rid, is_primary, sort) \
                             VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![
                            row,
                            rid_of(link.to)?,
                            link.is_primary,
                            link.sort
                        ])?;
                    }
                }
            }
        }
    }
    Ok(())
}
