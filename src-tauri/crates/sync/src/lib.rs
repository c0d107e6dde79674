//! Kartoteka's pull sync: a pure planner ([`plan::next_action`]) decides the next step from the
//! run's state; the driver ([`SyncEngine`]) carries it out against the Bitrix24 client and the
//! SQLite replica; the [`SyncScheduler`] runs it at start, on a timer, on demand and on reconnect.
//!
//! Guarantees: the per-type checkpoint is committed in the same transaction as the records it
//! covers, so a run killed at any moment resumes without a gap, a duplicate or a full refetch;
//! pulled data never overwrites fields with unsent local edits (the replica enforces it); events
//! are sent after the data they report is committed.

mod bitrix_portal;
pub mod driver;
pub mod error;
pub mod event;
pub mod model;
pub mod plan;
pub mod ports;
pub mod push;
mod reconcile;
pub mod scheduler;
mod store_replica;
mod timeline;
pub mod uncertain;
pub mod upload;

pub use bitrix_portal::{portal_error, BitrixPortal};
pub use driver::{system_clock, Clock, SharedReplica, SyncEngine};
pub use error::{PortalError, PortalFailure, SyncError, SyncErrorCode};
pub use event::{no_events, EventSink, SyncEvent, SyncPhase, SyncSummary, TypeSummary};
pub use model::{ApplyCounts, PullCheckpoint, PulledChunk, ReferenceData, SignedIn, Watermark};
pub use plan::{next_action, Policy, ReconcilePolicy, RetryPolicy, SyncAction};
pub use ports::{Portal, Replica};
pub use push::{UploadSummary, Uploader};
pub use reconcile::PROBE_BATCH;
pub use scheduler::{
    Connectivity, RunFuture, RunningProgress, SchedulerConfig, StatusBoard, SyncScheduler,
    SyncStatus,
};
pub use store_replica::{checkpoint_from_store, checkpoint_to_store};
pub use tokio_util::sync::CancellationToken;
