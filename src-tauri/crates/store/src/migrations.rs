//! The schema, as an append-only list of steps. Never edit a released step: add a new one.
//!
//! Step `n` (counting from 1) brings a database from `PRAGMA user_version = n - 1` to `n`. A step
//! is its SQL and, where SQL alone cannot do the work, a Rust function run right after it in the
//! same transaction. The function is part of the step value itself, so which step runs it can
//! never depend on how a build laid out its constants.
//!
//! [`upgrade`] runs every missing step in one transaction: a step that fails leaves the database
//! as it was.

use crate::StoreError;
use rusqlite::{Connection, Transaction};

/// Version 1: records, their full field maps, the server mirror, links, search, reference lists,
/// field metadata and the sync checkpoints.
pub const V1_SQL: &str = r#"
-- Records of the four types. `rid` = entity_type << 48 | id: a single integer key ordered by
-- (type, id), so a type's records in id order are a range of the table itself (all_ids).
-- Promoted columns hold what lists filter, sort and show; the full field map is in record_fields.
CREATE TABLE records (
    rid               INTEGER PRIMARY KEY,
    entity_type       INTEGER NOT NULL CHECK (entity_type BETWEEN 1 AND 4),
    id                INTEGER NOT NULL CHECK (id > 0),
    state             INTEGER NOT NULL DEFAULT 0,      -- 0 active, 1 deleted (recycle bin), 2 hidden (access lost)
    title             TEXT NOT NULL DEFAULT '',
    title_sort        TEXT NOT NULL DEFAULT '',        -- lower-cased title, the sort key
    stage_id          TEXT,
    category_id       INTEGER,
    assigned_by_id    INTEGER,
    opportunity       TEXT,                            -- decimal text, never a float
    opportunity_minor INTEGER NOT NULL DEFAULT 0,      -- the amount in minor units (kopecks), sort key
    currency_id       TEXT,
    company_id        INTEGER,
    phone             TEXT,                            -- first phone
    email             TEXT,                            -- first e-mail
    created_time      INTEGER NOT NULL DEFAULT 0,      -- UTC unix seconds
    updated_time      INTEGER NOT NULL DEFAULT 0,      -- UTC unix seconds
    updated_by_id     INTEGER,
    server_hash       INTEGER NOT NULL,                -- hash of the last server version (fields + multi-fields)
    search_hash       INTEGER NOT NULL DEFAULT 0,      -- hash of this record's text in records_search
    state_changed_at  INTEGER,                         -- when it went to the recycle bin or was hidden
    CHECK (rid = entity_type * 281474976710656 + id)
);
-- list_records, default order: a type's records by last change (also the updatedTime filter).
CREATE INDEX records_by_updated ON records (entity_type, updated_time);
-- list_records sorted by title.
CREATE INDEX records_by_title ON records (entity_type, title_sort);
-- list_records filtered by stage (a kanban column, the stage filter), by last change.
CREATE INDEX records_by_stage ON records (entity_type, stage_id, updated_time);
-- list_records filtered by responsible ("my deals"), by last change.
CREATE INDEX records_by_assignee ON records (entity_type, assigned_by_id, updated_time);
-- list_records in the recycle-bin and hidden views (few rows): non-active records by last change.
CREATE INDEX records_not_active ON records (entity_type, state, updated_time) WHERE state <> 0;

-- The full local version of each record: every field exactly as the portal sent it (with unsent
-- local edits applied) and the multi-fields (phones, e-mails, sites, messengers), as JSON.
CREATE TABLE record_fields (
    rid          INTEGER PRIMARY KEY REFERENCES records (rid),
    fields       TEXT NOT NULL,
    multi_fields TEXT NOT NULL
);

-- The last server version of a record whose local version differs from it (unsent edits).
-- For every other record the server version is its record_fields row (Store::server_version).
CREATE TABLE server_records (
    rid          INTEGER PRIMARY KEY REFERENCES records (rid),
    fields       TEXT NOT NULL,
    multi_fields TEXT NOT NULL,
    updated_time INTEGER NOT NULL DEFAULT 0
);

-- Links declared by a record's fields (deal -> contacts with primary flag and sort, deal -> company,
-- contact -> companies, lead -> contact/company, ... -> lead). `from_rid` declares, `to_rid` is named.
CREATE TABLE links (
    from_rid   INTEGER NOT NULL,
    to_rid     INTEGER NOT NULL,
    is_primary INTEGER NOT NULL DEFAULT 0,
    sort       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (from_rid, to_rid)
) WITHOUT ROWID;
-- get_record and the linked_to filter: the records that name this one (a contact's deals).
CREATE INDEX links_by_target ON links (to_rid);

-- list_records search: titles, names, phones (also digits only) and e-mails. rowid = records.rid.
CREATE VIRTUAL TABLE records_search USING fts5(
    body, content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Exact counts per type and state, maintained once per write transaction (counts, list totals).
CREATE TABLE record_counts (
    entity_type INTEGER NOT NULL,
    state       INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (entity_type, state)
) WITHOUT ROWID;

-- Portal users: names for authors and responsibles; robots and integrations flagged technical.
CREATE TABLE users (
    id        INTEGER PRIMARY KEY,
    name      TEXT NOT NULL,
    last_name TEXT NOT NULL,
    active    INTEGER NOT NULL,
    kind      TEXT NOT NULL                               -- 'person' | 'technical'
);

-- Reference lists of crm.status.list: stages, lead statuses, sources, types, ...
CREATE TABLE stages (
    list_id     TEXT NOT NULL,
    status_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    sort        INTEGER NOT NULL,
    semantics   TEXT NOT NULL,                            -- 'process' | 'success' | 'failure'
    color       TEXT,
    category_id INTEGER,
    PRIMARY KEY (list_id, status_id)
) WITHOUT ROWID;

-- Pipelines (crm.category.list).
CREATE TABLE categories (
    entity_type INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    name        TEXT NOT NULL,
    sort        INTEGER NOT NULL,
    is_default  INTEGER NOT NULL,
    PRIMARY KEY (entity_type, id)
) WITHOUT ROWID;

-- Field metadata (crm.item.fields): labels, types, enumeration options (JSON), in the portal's order.
CREATE TABLE field_meta (
    entity_type  INTEGER NOT NULL,
    name         TEXT NOT NULL,
    position     INTEGER NOT NULL,
    field_type   TEXT NOT NULL,
    label        TEXT NOT NULL,
    is_required  INTEGER NOT NULL,
    is_read_only INTEGER NOT NULL,
    is_immutable INTEGER NOT NULL,
    is_multiple  INTEGER NOT NULL,
    is_custom    INTEGER NOT NULL,
    status_type  TEXT,
    options      TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (entity_type, name)
) WITHOUT ROWID;

-- Pull checkpoints per entity type, written in the same transaction as the data they cover.
CREATE TABLE sync_state (
    entity_type         INTEGER PRIMARY KEY,
    last_id             INTEGER NOT NULL DEFAULT 0,       -- initial pull: highest id stored
    initial_done        INTEGER NOT NULL DEFAULT 0,
    updated_since_time  INTEGER,                          -- incremental watermark (updatedTime, id)
    updated_since_id    INTEGER,
    last_full_reconcile INTEGER,
    last_sync_at        INTEGER
);
"#;

/// Version 2: the outbox of unsent local edits (only the table and the pending-field queries for
/// now; the upload arrives with the outbox issue).
pub const V2_SQL: &str = r#"
CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,                      -- upload order
    entity_type INTEGER NOT NULL,
    record_id   INTEGER NOT NULL,
    field       TEXT NOT NULL,                            -- field name, 'fm' for multi-fields
    base_value  TEXT,                                     -- JSON: the server value the edit started from
    new_value   TEXT,                                     -- JSON
    created_at  INTEGER NOT NULL,                         -- device time, UTC unix seconds
    state       TEXT NOT NULL DEFAULT 'pending'           -- pending | sending | conflict | blocked | done | discarded
);
-- apply_pulled, pending_fields, has_pending_edits: a type's or a record's unsent edits.
CREATE INDEX outbox_unsent ON outbox (entity_type, record_id)
    WHERE state IN ('pending', 'sending', 'conflict', 'blocked');
"#;

/// Version 3: the history (product.md §4): append-only events with a hash chain per record, the
/// counters that give exact totals, full-text search over values, and the signed-in user's profile.
pub const V3_SQL: &str = r#"
-- History events, append-only: the application never updates or deletes a row (except that all
-- of a record's events leave the device when its user loses access to it, product.md §4.4).
-- seq is the append order. Times are UTC unix milliseconds.
CREATE TABLE history_events (
    seq          INTEGER PRIMARY KEY,
    rid          INTEGER NOT NULL,                 -- records.rid; 0 for events about no record (exports)
    entity_type  INTEGER NOT NULL,                 -- 1..4; 0 for no record
    happened_ms  INTEGER NOT NULL,
    received_ms  INTEGER,
    author_id    INTEGER,
    author_name  TEXT NOT NULL DEFAULT '',         -- as it was then
    author_kind  TEXT NOT NULL,                    -- person | robot | deviceUser
    source       TEXT NOT NULL,                    -- deviceOnline | deviceOffline | peerLog | observed | stageHistory
    sync_state   TEXT NOT NULL,                    -- synced | pending | conflict | rejected | local
    device_id    TEXT,
    group_id     INTEGER NOT NULL,                 -- one save of several fields = one group
    event        TEXT NOT NULL,                    -- HistoryEventCode::as_str
    field        TEXT,
    field_label  TEXT,                             -- the field's label as it was then
    old_value    TEXT,                             -- JSON as stored
    new_value    TEXT,
    old_display  TEXT,                             -- as displayed then
    new_display  TEXT,
    record_title TEXT NOT NULL DEFAULT '',         -- the record's title then
    note         TEXT,
    ref_seq      INTEGER,                          -- hidden: the entry hidden; stage history: the observed entry it replaces
    external_id  TEXT,                             -- the portal's id of the source entry ('stagehistory:2:17')
    hash         BLOB NOT NULL                     -- SHA-256 over the previous hash of the same rid and this row's content
);
-- history_page/history_count without a filter, and with a day or period: newest first by time.
CREATE INDEX history_by_time ON history_events (happened_ms);
-- A card's History tab and the record filter.
CREATE INDEX history_by_record ON history_events (rid, happened_ms);
-- The entity-type filter.
CREATE INDEX history_by_type ON history_events (entity_type, happened_ms);
-- The author filter and the "by me" preset.
CREATE INDEX history_by_author ON history_events (author_id, happened_ms);
-- The event-type filter.
CREATE INDEX history_by_event ON history_events (event, happened_ms);
-- The field filter (events about one field only).
CREATE INDEX history_by_field ON history_events (field, happened_ms) WHERE field IS NOT NULL;
-- The source filter.
CREATE INDEX history_by_source ON history_events (source, happened_ms);
-- Recording the portal's stage history (and later peer logs) twice is impossible: dedup by its id.
CREATE UNIQUE INDEX history_by_external ON history_events (external_id) WHERE external_id IS NOT NULL;

-- The end of each record's hash chain: the last event's seq and hash (append and verify).
CREATE TABLE history_chain (
    rid       INTEGER PRIMARY KEY,
    last_seq  INTEGER NOT NULL,
    last_hash BLOB NOT NULL
);

-- Entries taken out of the normal view: hidden by a supervisor (visible, marked, to supervisors)
-- or replaced by an exact entry (a stage move from the portal's stage history replaces the one
-- observed at sync). Written together with the event that does it; events themselves stay as
-- they were.
CREATE TABLE history_masked (
    seq    INTEGER PRIMARY KEY,
    reason TEXT NOT NULL,                          -- hidden | replaced
    by_seq INTEGER NOT NULL
);

-- Exact totals (history_count): events per UTC hour and per filterable attribute, maintained
-- once per write transaction. history_totals is the same without the hour (filters with no period).
CREATE TABLE history_counts (
    hour        INTEGER NOT NULL,
    entity_type INTEGER NOT NULL,
    event       TEXT NOT NULL,
    source      TEXT NOT NULL,
    author_id   INTEGER NOT NULL,                  -- 0 for none
    field       TEXT NOT NULL,                     -- '' for none
    n           INTEGER NOT NULL,
    PRIMARY KEY (hour, entity_type, event, source, author_id, field)
) WITHOUT ROWID;
CREATE TABLE history_totals (
    entity_type INTEGER NOT NULL,
    event       TEXT NOT NULL,
    source      TEXT NOT NULL,
    author_id   INTEGER NOT NULL,
    field       TEXT NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (entity_type, event, source, author_id, field)
) WITHOUT ROWID;
-- history_count with an author filter and no period (the "by me" preset over all time).
CREATE INDEX history_totals_by_author ON history_totals (author_id);

-- history_page with a text filter: record titles, field labels, displayed values, notes, authors.
-- rowid = history_events.seq.
CREATE VIRTUAL TABLE history_search USING fts5(
    body, content = '', contentless_delete = 1, detail = none,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- Small settings of this replica: the signed-in user, whether they are a supervisor, the device id,
-- the stage-history checkpoints.
CREATE TABLE replica_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"#;

/// Version 4: offline edits (product.md §5). Each outbox row is one field (or one multi-field
/// entry, or a whole create/delete) of one save, with the history event that records it; the
/// upload's progress (attempts, errors, the portal's value in a conflict) is kept on the row.
/// History events stay append-only: an event's delivery (pending → uploaded with the portal's
/// receive time, conflict, rejected) is a row in `history_delivery`.
pub const V4_SQL: &str = r#"
ALTER TABLE outbox ADD COLUMN op TEXT NOT NULL DEFAULT 'update';   -- update | create | delete
ALTER TABLE outbox ADD COLUMN group_id INTEGER;                   -- one save (history group id)
ALTER TABLE outbox ADD COLUMN history_seqs TEXT;                  -- JSON array: the events recording this change
ALTER TABLE outbox ADD COLUMN happened_ms INTEGER;                -- device time, UTC unix ms
ALTER TABLE outbox ADD COLUMN source TEXT NOT NULL DEFAULT 'deviceOffline';
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN theirs_value TEXT;                  -- JSON: the portal's value in a conflict
ALTER TABLE outbox ADD COLUMN origin_id TEXT;                     -- creates: originId sent to the portal
ALTER TABLE outbox ADD COLUMN done_ms INTEGER;                    -- when the portal took it

DROP INDEX outbox_unsent;
-- apply_pulled, pending_fields, outbox_list, the upload: every entry not yet done or discarded.
CREATE INDEX outbox_unsent ON outbox (entity_type, record_id)
    WHERE state IN ('pending', 'sending', 'conflict', 'blocked', 'rejected', 'gone');

-- The delivery of local edits' history events (the event rows are never updated).
CREATE TABLE history_delivery (
    seq         INTEGER PRIMARY KEY,                  -- history_events.seq
    sync_state  TEXT NOT NULL,                        -- synced | conflict | rejected | pending
    received_ms INTEGER                               -- when the portal received it
);

-- Change logs to publish on records' timelines after their edits were uploaded (retried until
-- published; crm.timeline.logmessage.add, or crm.timeline.comment.add when refused).
CREATE TABLE outbox_logs (
    id          INTEGER PRIMARY KEY,
    entity_type INTEGER NOT NULL,
    record_id   INTEGER NOT NULL,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    published   TEXT                                  -- 'logmessage:<id>' | 'comment:<id>'; NULL until published
);
-- upload: the change logs still to publish.
CREATE INDEX outbox_logs_unpublished ON outbox_logs (id) WHERE published IS NULL;

-- Records changed on the portal since their timelines were last read for other Kartoteka
-- users' change logs (filled by the pull, emptied by the peer-log reader).
CREATE TABLE peer_log_due (
    rid INTEGER PRIMARY KEY
);
"#;

/// Version 5: search finds what the user sees (substrings inside words, phones in any form, the
/// row's company and responsible names) and lists sort by amount and by creation time through an
/// index. The searchable text is written again by [`crate::search::rebuild`] in the same
/// transaction (it needs the Rust side: names, phones): see [`STEPS`].
pub const V5_SQL: &str = r#"
-- list_records search: a trigram index, so any 3+ characters find the records whose text holds
-- them ("расимова" finds "Герасимова") and two find a word's start. The text (search.rs) is the
-- title, name parts, the company's and the responsible's names, e-mails and phones as '#' and
-- digits. detail=full: a query is a phrase of trigrams, which needs their positions.
-- rowid = records.rid.
DROP TABLE records_search;
CREATE VIRTUAL TABLE records_search USING fts5(
    body, content = '', contentless_delete = 1, detail = full,
    tokenize = 'trigram remove_diacritics 1'
);
UPDATE records SET search_hash = 0;
-- list_records sorted by amount (keyset paging on opportunity_minor, rid).
CREATE INDEX records_by_amount ON records (entity_type, opportunity_minor);
-- list_records sorted by creation time (keyset paging on created_time, rid).
CREATE INDEX records_by_created ON records (entity_type, created_time);
"#;

/// Version 7: other Kartoteka users' change logs are read completely, and a create that may
/// have reached the portal unseen is known as such.
/// - Each record keeps how far its timeline was read (the newest log message and comment ids
///   taken), so the next read pages back to there and no further; and every replica has a
///   device id of its own (see [`give_device_id`]).
/// - A create the portal refused (a definite answer: nothing was made) is sent again without a
///   question, and the new state `uncertain` (a create whose tag's look-up cannot settle whether
///   it landed, waiting for the user) counts as unsent.
pub const V7_SQL: &str = r#"
-- How far each record's timeline has been read for other Kartoteka users' change logs: every
-- log message / comment with an id up to these was taken (peer_logs_due, apply_peer_logs).
CREATE TABLE peer_log_read (
    rid        INTEGER PRIMARY KEY,
    logmessage INTEGER NOT NULL DEFAULT 0,
    comment    INTEGER NOT NULL DEFAULT 0
);

-- Creates: when a send whose answer never came went out (UTC unix ms; 0: not known, e.g. a
-- create imported from a file or left "sending" by an older version). NULL: no send of this
-- create can have landed unseen (none yet, or every one was answered).
ALTER TABLE outbox ADD COLUMN unanswered_ms INTEGER;

DROP INDEX outbox_unsent;
-- apply_pulled, pending_fields, outbox_list, the upload: every entry not yet done or discarded.
CREATE INDEX outbox_unsent ON outbox (entity_type, record_id)
    WHERE state IN ('pending', 'sending', 'conflict', 'blocked', 'rejected', 'gone', 'uncertain');

-- What older versions left: a create still "sending" went out unanswered; a pending one with
-- attempts and no error was put back in the queue from "sending" (retry, or an import). A
-- refused one kept the portal's words in last_error: that answer was definite.
UPDATE outbox SET unanswered_ms = 0
    WHERE op = 'create' AND (state = 'sending'
        OR (state = 'pending' AND attempts > 0 AND last_error IS NULL));
"#;

/// Outbox states that count as "unsent": a pulled value never overwrites these fields.
/// Must match the partial index `outbox_unsent`.
pub(crate) const UNSENT_STATES_SQL: &str =
    "('pending', 'sending', 'conflict', 'blocked', 'rejected', 'gone', 'uncertain')";

/// Work a step needs beyond its SQL, run in the step's transaction right after the SQL.
pub type StepFn = fn(&Transaction) -> Result<(), StoreError>;

/// One step of the schema.
#[derive(Clone, Copy)]
pub struct Step {
    /// The SQL of the step (run with `execute_batch`).
    pub sql: &'static str,
    /// What SQL alone cannot do (e.g. text that needs Rust to compute), after `sql`.
    pub then: Option<StepFn>,
}

impl Step {
    const fn sql(sql: &'static str) -> Step {
        Step { sql, then: None }
    }
}

/// Version 5's search index is empty after its SQL: every record's text is written again.
fn rebuild_search(tx: &Transaction) -> Result<(), StoreError> {
    crate::search::rebuild(tx).map(drop)
}

/// Version 6 keeps no new table: records an older replica kept as the portal sent them take the
/// form a pulled record takes now (the primary link first in its list, dates as `YYYY-MM-DD`).
fn to_replica_form(tx: &Transaction) -> Result<(), StoreError> {
    crate::pull::to_replica_form(tx)
}

/// Version 7 gives every replica a random device id of its own: one made before had none until
/// an edit or a sync asked, and the CLI's first sync stored the same `unknown-device` in all.
/// A create's tag (`originId`, `{device}-{next local id}`) was made from that id, so two such
/// replicas could tag different creates alike, and the look-up by tag could take one for the
/// other. Creates never sent (no attempt, none unanswered: no item on the portal can carry
/// their tag), whether queued, held back or dropped with their record (a restore queues it
/// again), take the new id in their tag; one that went out keeps the tag it was sent with, by
/// which it is looked up.
fn give_device_id(tx: &Transaction) -> Result<(), StoreError> {
    let id = crate::history::give_device_id(tx)?;
    let retagged = tx.execute(
        "UPDATE outbox SET origin_id = ?1 || substr(origin_id, length('unknown-device') + 1) \
         WHERE op = 'create' AND attempts = 0 AND unanswered_ms IS NULL \
         AND substr(origin_id, 1, length('unknown-device-')) = 'unknown-device-'",
        [&id],
    )?;
    if retagged > 0 {
        tracing::info!(
            retagged,
            "unsent creates tagged with this replica's device id"
        );
    }
    Ok(())
}

/// Each step of the schema, oldest first: `STEPS[n - 1]` makes version `n`. Append only.
pub const STEPS: &[Step] = &[
    Step::sql(V1_SQL),
    Step::sql(V2_SQL),
    Step::sql(V3_SQL),
    Step::sql(V4_SQL),
    Step {
        sql: V5_SQL,
        then: Some(rebuild_search),
    },
    Step {
        sql: "",
        then: Some(to_replica_form),
    },
    Step {
        sql: V7_SQL,
        then: Some(give_device_id),
    },
];

/// The newest schema version this build understands.
pub const SUPPORTED_VERSION: i64 = STEPS.len() as i64;

/// Why an upgrade stopped: the version whose step failed and what the database said.
#[derive(Debug)]
pub struct StepFailed {
    pub version: i64,
    pub error: StoreError,
}

/// Brings a database of schema `found` (< [`SUPPORTED_VERSION`]) to the newest version: every
/// missing step, then `user_version`, in one transaction. On an error nothing is committed.
pub(crate) fn upgrade(conn: &mut Connection, found: i64) -> Result<(), StepFailed> {
    let begin = |error| StepFailed {
        version: found + 1,
        error,
    };
    let tx = conn.transaction().map_err(|e| begin(e.into()))?;
    let first = usize::try_from(found).unwrap_or(0);
    for (index, step) in STEPS.iter().enumerate().skip(first) {
        let version = index as i64 + 1;
        let failed = |error| StepFailed { version, error };
        tx.execute_batch(step.sql).map_err(|e| failed(e.into()))?;
        if let Some(then) = step.then {
            then(&tx).map_err(failed)?;
        }
    }
    let last = |error| StepFailed {
        version: SUPPORTED_VERSION,
        error,
    };
    tx.pragma_update(None, "user_version", SUPPORTED_VERSION)
        .map_err(|e| last(e.into()))?;
    tx.commit().map_err(|e| last(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_applies_to_an_empty_database() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory db");
        upgrade(&mut conn, 0).expect("migrate");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, SUPPORTED_VERSION);
    }

    #[test]
    fn a_failing_step_is_named_and_nothing_of_the_upgrade_stays() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory db");
        for step in &STEPS[..4] {
            conn.execute_batch(step.sql).expect("v1..v4");
        }
        // Version 5 creates this index: an object of that name makes its SQL fail.
        conn.execute_batch(
            "CREATE TABLE records_by_amount_taken (x); \
             CREATE INDEX records_by_amount ON records_by_amount_taken (x); \
             PRAGMA user_version = 4;",
        )
        .expect("v4 with a clash");
        let failed = upgrade(&mut conn, 4).expect_err("the clash stops the upgrade");
        assert_eq!(failed.version, 5);
        assert!(
            failed.error.to_string().contains("records_by_amount"),
            "{}",
            failed.error
        );
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, 4, "the version is the old one");
        let trigram: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'records_search' \
                 AND sql LIKE '%trigram%'",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(trigram, 0, "the step's earlier statements were rolled back");
    }
}
