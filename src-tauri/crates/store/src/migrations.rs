//! The schema, as an append-only list of migrations. Never edit a released step: add a new one.
//!
//! Every step is kept as a named constant, so the upgrade tests can build a database exactly as an
//! older version of the app left it (see `tests/migrations.rs`).

use rusqlite_migration::{Migrations, M};

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

/// Outbox states that count as "unsent": a pulled value never overwrites these fields.
/// Must match the partial index `outbox_unsent`.
pub(crate) const UNSENT_STATES_SQL: &str = "('pending', 'sending', 'conflict', 'blocked')";

/// Each step of the schema, oldest first. Append only.
pub const STEPS: &[&str] = &[V1_SQL, V2_SQL];

/// The newest schema version this build understands.
pub const SUPPORTED_VERSION: i64 = STEPS.len() as i64;

pub(crate) fn migrations() -> Migrations<'static> {
    Migrations::new(STEPS.iter().map(|sql| M::up(sql)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_applies_to_an_empty_database() {
        let mut conn = rusqlite::Connection::open_in_memory().expect("memory db");
        migrations().validate().expect("migrations are valid");
        migrations().to_latest(&mut conn).expect("migrate");
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(v, SUPPORTED_VERSION);
    }
}
