//! What a running sync tells the world: progress, the summary, or the failure. The shell forwards
//! these to the UI; the CLI prints them. Each event is sent after the data it reports is committed.

use crate::error::SyncErrorCode;
use kartoteka_domain::ipc::ErrorCode;
use kartoteka_domain::EntityType;
use serde::Serialize;
use std::sync::Arc;

/// The phase a progress event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncPhase {
    Reference,
    Initial,
    Incremental,
    Reconcile,
}

/// What happened to one entity type's records in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeSummary {
    pub entity_type: EntityType,
    /// Records read from the portal (including ones that turned out unchanged).
    pub pulled: u64,
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub deleted: u64,
    pub hidden: u64,
}

impl TypeSummary {
    pub fn new(entity_type: EntityType) -> Self {
        Self {
            entity_type,
            pulled: 0,
            inserted: 0,
            updated: 0,
            unchanged: 0,
            deleted: 0,
            hidden: 0,
        }
    }
}

/// The result of one sync run.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncSummary {
    pub types: Vec<TypeSummary>,
    /// HTTP requests made during the run, all of them.
    pub requests: u64,
    /// Of `requests`, those that read records (initial and incremental pulls).
    pub pull_requests: u64,
    /// Of `pull_requests`, those of initial pulls (key-set by id): the figure performance.md P1
    /// compares with ⌈N / 2,500⌉.
    pub initial_pull_requests: u64,
    /// Stage moves recorded from the portal's stage history.
    pub stage_moves: u64,
    /// Of `requests`, those that read the portal's stage history (after the records: the
    /// records are in the replica, and on screen, before it is read).
    pub stage_history_requests: u64,
    /// Of `seconds`, the time spent reading and recording stage history.
    pub stage_history_seconds: f64,
    pub seconds: f64,
}

impl SyncSummary {
    pub fn for_type(&self, t: EntityType) -> TypeSummary {
        self.types
            .iter()
            .find(|s| s.entity_type == t)
            .copied()
            .unwrap_or(TypeSummary::new(t))
    }

    pub(crate) fn entry(&mut self, t: EntityType) -> &mut TypeSummary {
        let index = match self.types.iter().position(|s| s.entity_type == t) {
            Some(i) => i,
            None => {
                self.types.push(TypeSummary::new(t));
                self.types.len() - 1
            }
        };
        &mut self.types[index]
    }

    pub fn total_pulled(&self) -> u64 {
        self.types.iter().map(|s| s.pulled).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum SyncEvent {
    Started,
    /// `done` of `total` records of one type; `total` is unknown for incremental passes.
    Progress {
        entity_type: Option<EntityType>,
        phase: SyncPhase,
        done: u64,
        total: Option<u64>,
    },
    Finished {
        summary: SyncSummary,
    },
    Failed {
        code: SyncErrorCode,
        /// What the user is told (the client's classification for portal failures).
        user_code: ErrorCode,
        message: String,
    },
}

/// Where events go: a callback (the CLI prints, the shell emits to the window, tests collect).
pub type EventSink = Arc<dyn Fn(&SyncEvent) + Send + Sync>;

/// A sink that drops every event.
pub fn no_events() -> EventSink {
    Arc::new(|_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_in_camel_case_with_a_kind_tag() {
        let e = SyncEvent::Progress {
            entity_type: Some(EntityType::Deal),
            phase: SyncPhase::Initial,
            done: 50,
            total: Some(120),
        };
        let json = serde_json::to_value(&e).unwrap_or_default();
        assert_eq!(
            json,
            serde_json::json!({"kind":"progress","entityType":"deal","phase":"initial","done":50,"total":120})
        );
        let failed = SyncEvent::Failed {
            code: SyncErrorCode::Offline,
            user_code: ErrorCode::Offline,
            message: "x".into(),
        };
        assert_eq!(
            serde_json::to_value(&failed).unwrap_or_default()["code"],
            "offline"
        );
    }
}
