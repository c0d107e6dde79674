//! Finding deletions and lost (or regained) access by comparing id sets (CONTRACT §3, §7).

use crate::driver::SyncEngine;
use crate::error::{PortalError, PortalFailure, SyncError};
use crate::event::{SyncEvent, SyncPhase, SyncSummary};
use crate::model::PullCheckpoint;
use crate::plan::RunState;
use crate::ports::{Portal, Probed, Replica};
use kartoteka_domain::{EntityType, Record};
use std::collections::{BTreeMap, BTreeSet};
use tokio_util::sync::CancellationToken;

/// How many disputed ids one `batch` request probes (a batch holds 50 commands).
pub const PROBE_BATCH: usize = 50;

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

        // Probed 50 to a `batch` request, each batch committed before the next is asked for:
        // a run stopped midway (cancelled, killed, offline) keeps what it learned, and the next
        // run's comparison no longer disputes those ids, so it goes on where this one stopped.
        let current = run.types.get(&t).map(|s| s.checkpoint).unwrap_or_default();
        let now = run.now;
        let mut done = 0u64;
        let (mut pulled, mut deleted, mut hidden) = (0u64, 0u64, 0u64);
        for ids in disputed.chunks(PROBE_BATCH) {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let answers = self.call(cancel, || self.probe(t, ids)).await?;
            let mut outcome = ReconcileOutcome::default();
            for (id, answer) in answers {
                match answer {
                    Ok(record) => outcome.found.push(record),
                    Err(e) if e.kind == PortalFailure::NotFound => outcome.deleted.push(id),
                    Err(e) if e.kind == PortalFailure::AccessDenied => outcome.hidden.push(id),
                    Err(e) => return Err(SyncError::Portal(e)),
                }
            }
            self.refresh_linking(cancel, t, &outcome, run, summary)
                .await?;
            let ReconcileOutcome {
                found,
                deleted: gone,
                hidden: denied,
            } = outcome;
            let (d, h) = self
                .with_replica(move |r| {
                    Ok((
                        r.mark_deleted(t, &gone, now)?,
                        r.mark_hidden(t, &denied, now)?,
                    ))
                })
                .await?;
            let found_here = found.len() as u64;
            let counts = self.apply(t, found, current).await?;
            let s = summary.entry(t);
            s.pulled += found_here;
            s.inserted += counts.inserted;
            s.updated += counts.updated;
            s.unchanged += counts.unchanged;
            s.deleted += d;
            s.hidden += h;
            (pulled, deleted, hidden) = (pulled + found_here, deleted + d, hidden + h);
            done += ids.len() as u64;
            (self.events)(&SyncEvent::Progress {
                entity_type: Some(t),
                phase: SyncPhase::Reconcile,
                done,
                total: Some(disputed.len() as u64),
            });
        }

        // The checkpoint that says "compared" goes last, so a run killed before it compares
        // again (only what is still disputed).
        let checkpoint = PullCheckpoint {
            reconciled_at: Some(now),
            ..current
        };
        self.apply(t, Vec::new(), checkpoint).await?;
        tracing::info!(entity_type = %t, deleted, hidden, found = pulled, "reconciled");
        Ok(checkpoint)
    }

    /// One `batch` of `crm.item.get`: a failure that says nothing about the record (busy,
    /// offline) fails the whole batch, so that it is retried as one.
    async fn probe(&self, t: EntityType, ids: &[i64]) -> Result<Vec<Probed>, PortalError> {
        let answers = self.portal.get_records(t, ids).await?;
        if let Some(e) = answers.iter().find_map(|(_, a)| match a {
            Err(e)
                if !matches!(
                    e.kind,
                    PortalFailure::NotFound | PortalFailure::AccessDenied
                ) =>
            {
                Some(e.clone())
            }
            _ => None,
        }) {
            return Err(e);
        }
        Ok(answers)
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
        let mut wanted: BTreeMap<EntityType, Vec<i64>> = BTreeMap::new();
        for key in linking {
            // Types this run does not sync are left alone.
            if !run.types.contains_key(&key.entity_type) {
                continue;
            }
            if key.entity_type == t && outcome.deleted.contains(&key.id) {
                continue;
            }
            wanted.entry(key.entity_type).or_default().push(key.id);
        }
        // Re-read 50 to a `batch`, like the probes.
        let mut fresh: BTreeMap<EntityType, Vec<Record>> = BTreeMap::new();
        for (other, ids) in wanted {
            for chunk in ids.chunks(PROBE_BATCH) {
                for (_, answer) in self.call(cancel, || self.probe(other, chunk)).await? {
                    // Gone or hidden too: the next reconcile of that type deals with it.
                    if let Ok(record) = answer {
                        fresh.entry(other).or_default().push(record);
                    }
                }
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
