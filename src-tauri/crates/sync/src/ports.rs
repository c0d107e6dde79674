//! The two sides sync connects, as the driver sees them. The real implementations are the
//! Bitrix24 client ([`crate::BitrixPortal`]) and the SQLite replica ([`kartoteka_store::Store`]);
//! the seam keeps the driver's I/O in one place and the planner pure.

use crate::error::PortalError;
use crate::model::{ApplyCounts, PullCheckpoint, PulledChunk, ReferenceData, Watermark};
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::{EntityType, Record, RecordKey};
use kartoteka_store::StageHistoryEntry;
use std::future::Future;

/// One probed id: its record, or why the portal did not give it (`NotFound`, `AccessDenied`, …).
pub type Probed = (i64, Result<Record, PortalError>);

/// The Bitrix24 portal, read side.
pub trait Portal: Send + Sync {
    /// The portal's current time, in its own offset.
    fn server_time(
        &self,
    ) -> impl Future<Output = Result<DateTime<FixedOffset>, PortalError>> + Send;
    /// How many records of a type the user may read (advisory; used for progress and reconcile).
    fn count(&self, t: EntityType) -> impl Future<Output = Result<u64, PortalError>> + Send;
    /// One request carrying several types' initial pulls: per segment `(type, after_id,
    /// pages)`, that type's records after `after_id` (up to `pages` × 50), or `None` when that
    /// segment failed on its own (the type is read again later).
    fn pull_spanning(
        &self,
        segments: &[(EntityType, i64, usize)],
    ) -> impl Future<Output = Result<Vec<Option<PulledChunk>>, PortalError>> + Send;
    /// One request: records updated at or after `since`, ascending by `(updatedTime, id)`,
    /// continuing strictly after `after` when given.
    fn pull_updated(
        &self,
        t: EntityType,
        since: DateTime<FixedOffset>,
        after: Option<Watermark>,
    ) -> impl Future<Output = Result<PulledChunk, PortalError>> + Send;
    /// One request for several types: the first page of each one's incremental pass (as
    /// [`Portal::pull_updated`] with no `after`), each type with its own chunk or failure.
    /// `stage_probes` (type, after id) add the first page of stage-history scans to the same
    /// request, each with its rows and whether that page was the last.
    #[allow(clippy::type_complexity)]
    fn probe_updated(
        &self,
        probes: &[(EntityType, DateTime<FixedOffset>)],
        stage_probes: &[(EntityType, i64)],
    ) -> impl Future<
        Output = Result<
            (
                Vec<Result<PulledChunk, PortalError>>,
                Vec<Result<(Vec<StageHistoryEntry>, bool), PortalError>>,
            ),
            PortalError,
        >,
    > + Send;
    /// One request: ids greater than `after_id`, ascending; `true` when no more remain.
    fn list_ids(
        &self,
        t: EntityType,
        after_id: i64,
    ) -> impl Future<Output = Result<(Vec<i64>, bool), PortalError>> + Send;
    /// One record; fails with `NotFound` (deleted) or `AccessDenied` (hidden from the user).
    fn get_record(
        &self,
        t: EntityType,
        id: i64,
    ) -> impl Future<Output = Result<Record, PortalError>> + Send;
    /// Up to [`PROBE_BATCH`](crate::reconcile::PROBE_BATCH) records in one request, each id with
    /// its record or its own failure (`NotFound`, `AccessDenied`, …).
    fn get_records(
        &self,
        t: EntityType,
        ids: &[i64],
    ) -> impl Future<Output = Result<Vec<Probed>, PortalError>> + Send;
    /// Users, stages, pipelines, and field metadata of the given types.
    fn reference(
        &self,
        types: &[EntityType],
    ) -> impl Future<Output = Result<ReferenceData, PortalError>> + Send;
    /// Stage-history rows (deals, leads) with id above `after_id`, ascending; `true` when the
    /// scan reached the end. `more_expected`: the previous call stopped short of the end, so
    /// there is no point in a cheap single-page probe first.
    fn stage_history(
        &self,
        t: EntityType,
        after_id: i64,
        more_expected: bool,
    ) -> impl Future<Output = Result<(Vec<StageHistoryEntry>, bool), PortalError>> + Send;
    /// HTTP requests made so far by this client.
    fn requests_made(&self) -> u64;
}

/// The local replica, write side. Calls are blocking (SQLite); the driver runs them off the
/// async threads.
pub trait Replica: Send + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    fn checkpoint(&self, t: EntityType) -> Result<PullCheckpoint, Self::Error>;
    fn save_checkpoint(
        &mut self,
        t: EntityType,
        checkpoint: &PullCheckpoint,
    ) -> Result<(), Self::Error>;
    /// Upserts the records and writes the checkpoint in one transaction. Fields with unsent local
    /// edits are never overwritten.
    fn apply_pulled(
        &mut self,
        t: EntityType,
        records: &[Record],
        checkpoint: &PullCheckpoint,
    ) -> Result<ApplyCounts, Self::Error>;
    /// Ids of the records the replica shows (neither deleted nor hidden).
    fn visible_ids(&self, t: EntityType) -> Result<Vec<i64>, Self::Error>;
    fn visible_count(&self, t: EntityType) -> Result<u64, Self::Error>;
    fn mark_deleted(
        &mut self,
        t: EntityType,
        ids: &[i64],
        at: DateTime<FixedOffset>,
    ) -> Result<u64, Self::Error>;
    fn mark_hidden(
        &mut self,
        t: EntityType,
        ids: &[i64],
        at: DateTime<FixedOffset>,
    ) -> Result<u64, Self::Error>;
    /// Records whose own fields link to this one (a deleted contact's deals): the portal drops
    /// such links without bumping the linking record's `updatedTime`, so sync re-reads them.
    fn records_linking_to(&self, t: EntityType, id: i64) -> Result<Vec<RecordKey>, Self::Error>;
    fn replace_reference(&mut self, reference: &ReferenceData) -> Result<(), Self::Error>;
    /// The portal's clock as it printed it lately (its offset now: REST datetimes of a user
    /// with a personal time zone are read back by it).
    fn note_portal_time(&mut self, t: DateTime<FixedOffset>) -> Result<(), Self::Error>;
    /// The highest stage-history row id recorded for a type.
    fn stage_history_checkpoint(&self, t: EntityType) -> Result<i64, Self::Error>;
    /// Records stage-history rows as history events and advances the checkpoint (one
    /// transaction). Returns how many events were recorded.
    fn apply_stage_history(
        &mut self,
        t: EntityType,
        entries: &[StageHistoryEntry],
    ) -> Result<u64, Self::Error>;
}
