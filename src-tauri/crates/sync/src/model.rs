//! The values sync moves between the portal and the replica: checkpoints, pulled chunks,
//! reference lists, apply counts.

use chrono::{DateTime, FixedOffset};
use kartoteka_domain::{Category, EntityType, FieldMeta, Record, Stage, User};
use serde::Serialize;
use std::collections::BTreeMap;

/// A point in the portal's `(updatedTime, id)` order: incremental pulls continue after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Watermark {
    pub time: DateTime<FixedOffset>,
    pub id: i64,
}

impl Watermark {
    pub fn new(time: DateTime<FixedOffset>, id: i64) -> Self {
        Self { time, id }
    }

    /// The watermark of a pulled record (`None` when the portal sent no `updatedTime`).
    pub fn of(record: &Record) -> Option<Self> {
        record.updated_time.map(|time| Self {
            time,
            id: record.key.id,
        })
    }
}

/// How far the pull of one entity type has got, as the replica keeps it. It is written in the
/// same transaction as the records it covers, so after a crash it never claims more than is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PullCheckpoint {
    /// Initial pull: the highest id applied so far (the key-set cursor).
    pub initial_after_id: i64,
    /// The initial pull has read the last page.
    pub initial_done: bool,
    /// Incremental pull: the newest `(updatedTime, id)` applied. While the initial pull runs it
    /// holds the portal time at which that pull began (id 0), so every change made during the
    /// initial pull is caught by the first incremental pass.
    pub watermark: Option<Watermark>,
    /// When the id sets were last compared with the portal (device time).
    pub reconciled_at: Option<DateTime<FixedOffset>>,
    /// When a run last finished this type (device time).
    pub synced_at: Option<DateTime<FixedOffset>>,
}

/// One request's worth of pulled records (up to 50 chained pages of 50).
#[derive(Debug, Clone, Default)]
pub struct PulledChunk {
    pub records: Vec<Record>,
    /// No more rows after this chunk.
    pub exhausted: bool,
}

impl PulledChunk {
    /// The highest id in the chunk, for key-set paging by id.
    pub fn last_id(&self) -> Option<i64> {
        self.records.iter().map(|r| r.key.id).max()
    }

    /// The last `(updatedTime, id)` in the chunk, for key-set paging by update time.
    pub fn last_watermark(&self) -> Option<Watermark> {
        self.records.iter().filter_map(Watermark::of).max()
    }
}

/// Users, stages, pipelines and field metadata: everything a list or a card needs besides records.
#[derive(Debug, Clone, Default)]
pub struct ReferenceData {
    pub users: Vec<User>,
    pub stages: Vec<Stage>,
    pub categories: Vec<Category>,
    pub fields: BTreeMap<EntityType, Vec<FieldMeta>>,
    /// The webhook's user and whether they are a supervisor (may hide history entries).
    pub signed_in: Option<SignedIn>,
    /// The portal's clock when the reference data was read, if the portal told it (it then
    /// serves as the run's pull-start marker, with no `server.time` request of its own).
    pub server_time: Option<DateTime<FixedOffset>>,
    /// Records of each type the user may read, counted in the same request (progress totals).
    pub counts: BTreeMap<EntityType, u64>,
    /// The portal refused to list users (the webhook lacks a user scope): `users` and the
    /// signed-in user's time zone are unknown, and the replica keeps what it knew.
    pub users_refused: bool,
}

/// Who the webhook acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: i64,
    /// A portal administrator or a department head.
    pub is_supervisor: bool,
    /// A portal administrator (`user.admin`): reads every record.
    pub is_admin: bool,
    /// Their personal time zone (`TIME_ZONE`), if set.
    pub time_zone: Option<String>,
    /// The portal's host, as the connection names it (`portal.bitrix24.ru`).
    pub portal_host: String,
    /// The scopes Kartoteka uses that the webhook lacks; `None` when the portal did not list
    /// its scopes.
    pub missing_scopes: Option<Vec<kartoteka_domain::ipc::WebhookScope>>,
}

/// What applying a chunk did to the replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyCounts {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
}
