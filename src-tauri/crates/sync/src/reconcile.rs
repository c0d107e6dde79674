//! Finding deletions and lost (or regained) access by comparing id sets (CONTRACT §3, §7).

use crate::driver::SyncEngine;
use crate::error::{PortalFailure, SyncError};
use crate::event::{SyncEvent, SyncPhase, SyncSummary};
use crate::model::PullCheckpoint;
use crate::plan::RunState;
use crate::ports::{Portal, Replica};
use kartoteka_domain::{EntityType, Record};
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

/// What the portal said about the ids on which the two sides disagree.
#[derive(Debug, Default)]
pub(crate) struct ReconcileOutcome {
    /// Readable after all (missed by a list race, or access regained): upsert.
    pub found: Vec<Record>,
    /// `NOT_FOUND`: deleted on the portal.
    pub deleted: Vec<i64>,
    /// `ACCESS_DENIED`: the user may no longer read it.
    pub hidden: Vec<i64>,
}

impl<P: Portal, R: Replica> SyncEngine<P, R> {
    pub(crate) async fn reconcile(
        &self,
        cancel: &CancellationToken,
        t: EntityType,
        run: &RunState,
        summary: &mut SyncSummary,
    ) -> Result<PullCheckpoint, SyncError> {
        let portal_ids = self.portal_ids(cancel, t).await?;
        let local_ids: BTreeSet<i64> = self
            .with_replica(move |r| r.visible_ids(t))
            .await?
            .into_iter()
            .collect();
        let disputed: Vec<i64> = local_ids
            .symmetric_difference(&portal_ids)
            .copied()
            .collect();
        tracing::info!(entity_type = %t, portal = portal_ids.len(), local = local_ids.len(), disputed = disputed.len(), "reconciling");

        let mut outcome = ReconcileOutcome::default();
        for (n, &id) in disputed.iter().enumerate() {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            match self.call(cancel, || self.portal.get_record(t, id)).await {
                Ok(record) => outcome.found.push(record),
                Err(SyncError::Portal(e)) if e.kind == PortalFailure::NotFound => {
                    outcome.deleted.push(id)
                }
                Err(SyncError::Portal(e)) if e.kind == PortalFailure::AccessDenied => {
                    outcome.hidden.push(id)
                }
                Err(e) => return Err(e),
            }
            let done = n as u64 + 1;
            (self.events)(&SyncEvent::Progress {
                entity_type: Some(t),
                phase: SyncPhase::Reconcile,
                done,
                total: Some(disputed.len() as u64),
            });
        }

        self.refresh_linking(cancel, t, &outcome, run, summary)
            .await?;

        // Deletions and hidings first; the checkpoint that says "compared" goes last, so a run
        // killed in between compares again.
        let now = run.now;
        let current = run.types.get(&t).map(|s| s.checkpoint).unwrap_or_default();
        let checkpoint = PullCheckpoint {
            reconciled_at: Some(now),
            ..current
        };
        let pulled = outcome.found.len() as u64;
        let ReconcileOutcome {
            found,
            deleted,
            hidden,
        } = outcome;
        let (deleted, hidden) = self
            .with_replica(move |r| {
                Ok((
                    r.mark_deleted(t, &deleted, now)?,
                    r.mark_hidden(t, &hidden, now)?,
                ))
            })
            .await?;
        let counts = self.apply(t, found, checkpoint).await?;
        tracing::info!(entity_type = %t, deleted, hidden, found = pulled, "reconciled");
        let s = summary.entry(t);
        s.pulled += pulled;
        s.inserted += counts.inserted;
        s.updated += counts.updated;
        s.unchanged += counts.unchanged;
        s.deleted += deleted;
        s.hidden += hidden;
        Ok(checkpoint)
    }

    /// Re-reads the records that linked to the deleted ones: the portal removed those links
    /// without bumping their `updatedTime` (CONTRACT §10 #18), so no incremental pass sees it.
    async fn refresh_linking(
        &self,
        cancel: &CancellationToken,
        t: EntityType,
        outcome: &ReconcileOutcome,
        run: &RunState,
        summary: &mut SyncSummary,
    ) -> Result<(), SyncError> {
        if outcome.deleted.is_empty() {
            return Ok(());
        }
        let deleted = outcome.deleted.clone();
        let linking = self
            .with_replica(move |r| {
                let mut keys = BTreeSet::new();
                for id in deleted {
                    keys.extend(r.records_linking_to(t, id)?);
                }
                Ok(keys)
            })
            .await?;
        let mut fresh: BTreeMap<EntityType, Vec<Record>> = BTreeMap::new();
        for key in linking {
            // Types this run does not sync are left alone.
            if !run.types.contains_key(&key.entity_type) {
                continue;
            }
            if key.entity_type == t && outcome.deleted.contains(&key.id) {
                continue;
            }
            match self
                .call(cancel, || self.portal.get_record(key.entity_type, key.id))
                .await
            {
                Ok(record) => fresh.entry(key.entity_type).or_default().push(record),
                // Gone or hidden too: the next reconcile of that type deals with it.
                Err(SyncError::Portal(e))
                    if matches!(
                        e.kind,
                        PortalFailure::NotFound | PortalFailure::AccessDenied
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        for (other, records) in fresh {
            let checkpoint = run
                .types
                .get(&other)
                .map(|s| s.checkpoint)
                .unwrap_or_default();
            let pulled = records.len() as u64;
            let counts = self.apply(other, records, checkpoint).await?;
            tracing::info!(entity_type = %other, pulled, updated = counts.updated, "re-read records linking to deleted ones");
            let s = summary.entry(other);
            s.pulled += pulled;
            s.inserted += counts.inserted;
            s.updated += counts.updated;
            s.unchanged += counts.unchanged;
        }
        Ok(())
    }

    /// Every id of the type the portal lists for the user (key-set paging, ids only).
    async fn portal_ids(
        &self,
        cancel: &CancellationToken,
        t: EntityType,
    ) -> Result<BTreeSet<i64>, SyncError> {
        let mut ids = BTreeSet::new();
        let mut after_id = 0i64;
        loop {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let (page, exhausted) = self
                .call(cancel, || self.portal.list_ids(t, after_id))
                .await?;
            let last = page.iter().copied().max().unwrap_or(after_id);
            ids.extend(page);
            if exhausted || last <= after_id {
                return Ok(ids);
            }
            after_id = last;
        }
    }
}
