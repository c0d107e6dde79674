//! The driver: asks the planner for the next action, carries it out against the portal and the
//! replica, and updates the run state only after the replica has committed.

use crate::error::{PortalError, SyncError};
use crate::event::{EventSink, SyncEvent, SyncPhase, SyncSummary};
use crate::model::{ApplyCounts, PullCheckpoint, PulledChunk};
use crate::plan::{next_action, CountComparison, Policy, RunState, SyncAction, UpdatedPass};
use crate::ports::{Portal, Replica};
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::{EntityType, Record};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// The replica as sync shares it with the rest of the app.
pub type SharedReplica<R> = Arc<Mutex<R>>;

/// Supplies the device's current time (passed in so tests control it).
pub type Clock = Arc<dyn Fn() -> DateTime<FixedOffset> + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(|| chrono::Utc::now().fixed_offset())
}

/// A chunk read while the previous one was being written.
struct ReadAhead {
    action: SyncAction,
    /// What the request carried: each part's own pull action and its chunk (`None`: that part
    /// failed on its own and is read again later).
    parts: Result<Vec<(SyncAction, Option<PulledChunk>)>, PortalError>,
}

/// Stage-history first pages read with the probe batch: per type, the id they were read after,
/// the rows, and whether the page was the last.
type StageFirst =
    std::collections::BTreeMap<EntityType, (i64, Vec<kartoteka_store::StageHistoryEntry>, bool)>;

/// List pages one request carries (one `batch` of chained `crm.item.list` commands).
const INITIAL_PAGES_PER_REQUEST: usize = 50;

/// Runs pull syncs of one portal into one replica.
pub struct SyncEngine<P: Portal, R: Replica> {
    pub(crate) portal: Arc<P>,
    pub(crate) replica: SharedReplica<R>,
    pub(crate) policy: Policy,
    pub(crate) events: EventSink,
    pub(crate) clock: Clock,
}

impl<P: Portal, R: Replica> SyncEngine<P, R> {
    pub fn new(
        portal: Arc<P>,
        replica: SharedReplica<R>,
        policy: Policy,
        events: EventSink,
    ) -> Self {
        Self {
            portal,
            replica,
            policy,
            events,
            clock: system_clock(),
        }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    /// One sync run: reference data, then per type the initial pull (resumed where the last run
    /// stopped), an incremental pass, and a reconcile when due. Cancellation is checked between
    /// requests; whatever was committed stays committed.
    #[tracing::instrument(skip_all, fields(types = self.policy.entity_types.len()))]
    pub async fn run(&self, cancel: &CancellationToken) -> Result<SyncSummary, SyncError> {
        let started = Instant::now();
        let requests_at_start = self.portal.requests_made();
        (self.events)(&SyncEvent::Started);
        let mut summary = SyncSummary::default();
        let result = self.run_actions(cancel, &mut summary).await;
        summary.requests = self
            .portal
            .requests_made()
            .saturating_sub(requests_at_start);
        summary.seconds = started.elapsed().as_secs_f64();
        match result {
            Ok(()) => {
                tracing::info!(
                    requests = summary.requests,
                    pulled = summary.total_pulled(),
                    "sync finished"
                );
                (self.events)(&SyncEvent::Finished {
                    summary: summary.clone(),
                });
                Ok(summary)
            }
            Err(e) => {
                tracing::warn!(code = ?e.code(), requests = summary.requests, "sync stopped");
                (self.events)(&SyncEvent::Failed {
                    code: e.code(),
                    user_code: e.user_code(),
                    message: e.to_string(),
                });
                Err(e)
            }
        }
    }

    async fn run_actions(
        &self,
        cancel: &CancellationToken,
        summary: &mut SyncSummary,
    ) -> Result<(), SyncError> {
        let types = self.policy.entity_types.clone();
        let checkpoints = self
            .with_replica(move |r| {
                types
                    .iter()
                    .map(|&t| Ok((t, r.checkpoint(t)?)))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let mut run = RunState::new((self.clock)(), checkpoints);
        let mut ahead: Option<ReadAhead> = None;
        // One `server.time` per run serves every type's start marker (an earlier marker only
        // widens the first incremental window).
        let mut portal_time: Option<DateTime<FixedOffset>> = None;
        let mut stage_first = StageFirst::new();
        loop {
            if cancel.is_cancelled() {
                return Err(SyncError::Cancelled);
            }
            let action = next_action(&run, &self.policy);
            tracing::debug!(?action, "sync step");
            let requests_before = self.portal.requests_made();
            let is_pull = matches!(
                action,
                SyncAction::PullInitial { .. }
                    | SyncAction::PullUpdated { .. }
                    | SyncAction::ProbeUpdated
            );
            match action {
                SyncAction::Done => {
                    let t = Instant::now();
                    let before = self.portal.requests_made();
                    self.pull_stage_history(cancel, summary, stage_first)
                        .await?;
                    summary.stage_history_requests =
                        self.portal.requests_made().saturating_sub(before);
                    summary.stage_history_seconds = t.elapsed().as_secs_f64();
                    return self.finish(&run).await;
                }
                SyncAction::RefreshReference => {
                    // The reference batch also read the portal's clock: the start marker of
                    // every type this run begins (read before any record, as it must be).
                    if let Some(t) = self.refresh_reference(cancel, &mut run).await? {
                        portal_time.get_or_insert(t);
                    }
                }
                SyncAction::MarkPullStart { entity_type } => {
                    let now = match portal_time {
                        Some(t) => t,
                        None => {
                            let t = self.call(cancel, || self.portal.server_time()).await?;
                            self.with_replica(move |r| r.note_portal_time(t)).await?;
                            t
                        }
                    };
                    portal_time = Some(now);
                    self.mark_pull_start(&mut run, entity_type, now).await?
                }
                SyncAction::CountForProgress { entity_type } => {
                    let total = self.call(cancel, || self.portal.count(entity_type)).await?;
                    let base = self
                        .with_replica(move |r| r.visible_count(entity_type))
                        .await?;
                    let entry = type_run(&mut run, entity_type);
                    entry.total = Some(total);
                    entry.progress_base = base;
                }
                SyncAction::PullInitial { .. } | SyncAction::PullUpdated { .. } => {
                    self.pull(cancel, &mut run, action, &mut ahead, summary)
                        .await?
                }
                SyncAction::ProbeUpdated => {
                    self.probe_updated(cancel, &mut run, summary, &mut stage_first)
                        .await?
                }
                SyncAction::CompareCounts { entity_type } => {
                    let portal = self.call(cancel, || self.portal.count(entity_type)).await?;
                    let local = self
                        .with_replica(move |r| r.visible_count(entity_type))
                        .await?;
                    type_run(&mut run, entity_type).counts =
                        Some(CountComparison { portal, local });
                }
                SyncAction::Reconcile { entity_type } => {
                    let checkpoint = self.reconcile(cancel, entity_type, &run, summary).await?;
                    let entry = type_run(&mut run, entity_type);
                    entry.checkpoint = checkpoint;
                    entry.reconciled = true;
                }
            }
            if is_pull {
                let made = self.portal.requests_made().saturating_sub(requests_before);
                summary.pull_requests += made;
                if matches!(action, SyncAction::PullInitial { .. }) {
                    summary.initial_pull_requests += made;
                }
            }
        }
    }

    /// The portal's stage history of deals and leads since the last row recorded, as history
    /// events (after the records, so the moves find their records and the observed diffs).
    async fn pull_stage_history(
        &self,
        cancel: &CancellationToken,
        summary: &mut SyncSummary,
        mut stage_first: StageFirst,
    ) -> Result<(), SyncError> {
        for t in [EntityType::Lead, EntityType::Deal] {
            if !self.policy.entity_types.contains(&t) {
                continue;
            }
            let mut after = self
                .with_replica(move |r| r.stage_history_checkpoint(t))
                .await?;
            let mut more_expected = false;
            // The first page, when the probe batch already read it from where the replica is.
            let mut first = stage_first
                .remove(&t)
                .filter(|(from, _, _)| *from == after)
                .map(|(_, entries, exhausted)| (entries, exhausted));
            loop {
                if cancel.is_cancelled() {
                    return Err(SyncError::Cancelled);
                }
                let (entries, exhausted) = match first.take() {
                    Some(page) => page,
                    None => {
                        self.call(cancel, || {
                            self.portal.stage_history(t, after, more_expected)
                        })
                        .await?
                    }
                };
                more_expected = !exhausted;
                let Some(last) = entries.iter().map(|e| e.id).max() else {
                    break;
                };
                after = last;
                let recorded = self
                    .with_replica(move |r| r.apply_stage_history(t, &entries))
                    .await?;
                summary.stage_moves += recorded;
                if exhausted {
                    break;
                }
            }
        }
        Ok(())
    }

    /// Stamps every pulled type with the time this run finished it.
    async fn finish(&self, run: &RunState) -> Result<(), SyncError> {
        let now = (self.clock)();
        let stamped: Vec<(EntityType, PullCheckpoint)> = run
            .types
            .iter()
            .filter(|(t, _)| self.policy.entity_types.contains(t))
            .map(|(&t, s)| {
                (
                    t,
                    PullCheckpoint {
                        synced_at: Some(now),
                        ..s.checkpoint
                    },
                )
            })
            .collect();
        self.with_replica(move |r| {
            stamped
                .iter()
                .try_for_each(|(t, cp)| r.save_checkpoint(*t, cp))
        })
        .await
    }

    /// Reloads the reference data; returns the portal's clock read in the same request.
    async fn refresh_reference(
        &self,
        cancel: &CancellationToken,
        run: &mut RunState,
    ) -> Result<Option<DateTime<FixedOffset>>, SyncError> {
        let types = self.policy.entity_types.clone();
        let reference = self.call(cancel, || self.portal.reference(&types)).await?;
        let server_time = reference.server_time;
        // The counts that came with it are the progress totals of the initial pulls to come
        // (no count request of their own).
        if self.policy.progress_totals {
            let due: Vec<(EntityType, u64)> = reference
                .counts
                .iter()
                .filter(|(t, _)| {
                    run.types
                        .get(t)
                        .is_none_or(|s| !s.checkpoint.initial_done && s.total.is_none())
                })
                .map(|(t, n)| (*t, *n))
                .collect();
            for (t, total) in due {
                let base = self.with_replica(move |r| r.visible_count(t)).await?;
                let entry = type_run(run, t);
                entry.total = Some(total);
                entry.progress_base = base;
            }
        }
        let fields: usize = reference.fields.values().map(Vec::len).sum();
        tracing::info!(
            users = reference.users.len(),
            stages = reference.stages.len(),
            fields,
            "reference refreshed"
        );
        self.with_replica(move |r| r.replace_reference(&reference))
            .await?;
        run.reference_refreshed = true;
        (self.events)(&SyncEvent::Progress {
            entity_type: None,
            phase: SyncPhase::Reference,
            done: 1,
            total: Some(1),
        });
        Ok(server_time)
    }

    async fn mark_pull_start(
        &self,
        run: &mut RunState,
        t: EntityType,
        now: DateTime<FixedOffset>,
    ) -> Result<(), SyncError> {
        let current = type_run(run, t).checkpoint;
        let checkpoint = PullCheckpoint {
            watermark: Some(crate::Watermark::new(now, 0)),
            ..current
        };
        self.apply(t, Vec::new(), checkpoint).await?;
        type_run(run, t).checkpoint = checkpoint;
        Ok(())
    }

    /// One pull step (initial or incremental). While the chunk is written, the next one is read.
    /// An initial pull's request may carry the end of one type and the start of the next ones
    /// ([`crate::plan::initial_segments`]); each part is committed in its own transaction.
    async fn pull(
        &self,
        cancel: &CancellationToken,
        run: &mut RunState,
        action: SyncAction,
        ahead: &mut Option<ReadAhead>,
        summary: &mut SyncSummary,
    ) -> Result<(), SyncError> {
        let parts = match ahead.take() {
            Some(ReadAhead {
                action: a,
                parts: Ok(parts),
            }) if a == action => parts,
            _ => self.call(cancel, || self.fetch(run, action)).await?,
        };
        // Where each part leaves its type, and what the run looks like once all are committed.
        let mut after = run.clone();
        let mut steps = Vec::with_capacity(parts.len());
        for (part, chunk) in parts {
            let Some(chunk) = chunk else { continue };
            let t = entity_type_of(part);
            let current = type_run(&mut after, t).checkpoint;
            let (checkpoint, updated) = advance(part, &current, &chunk, run.now);
            let entry = type_run(&mut after, t);
            entry.checkpoint = checkpoint;
            if let Some(pass) = updated {
                entry.updated = pass;
            }
            if matches!(part, SyncAction::PullInitial { .. }) {
                entry.initial_pulled += chunk.records.len() as u64;
            }
            steps.push((part, checkpoint, updated, chunk));
        }
        // The next pull, read while these parts are written.
        let next = match next_action(&after, &self.policy) {
            a @ (SyncAction::PullInitial { .. } | SyncAction::PullUpdated { .. }) => Some(a),
            other => {
                tracing::debug!(?other, "nothing to read ahead");
                None
            }
        };
        let read_next = async {
            match next {
                Some(a) if !cancel.is_cancelled() => Some(ReadAhead {
                    action: a,
                    parts: self.fetch(&after, a).await,
                }),
                _ => None,
            }
        };
        let write = async {
            let mut written = Vec::with_capacity(steps.len());
            for (part, checkpoint, updated, chunk) in steps {
                let t = entity_type_of(part);
                let pulled = chunk.records.len() as u64;
                let counts = self.apply(t, chunk.records, checkpoint).await?;
                written.push((part, checkpoint, updated, pulled, counts));
            }
            Ok::<_, SyncError>(written)
        };
        let (written, read) = tokio::join!(write, read_next);
        // A part that failed to commit fails the run; the next run starts from the replica's
        // checkpoints, which hold every part committed before it.
        let written = written?;
        *ahead = read;
        for (part, checkpoint, updated, pulled, counts) in written {
            self.record_step(run, part, checkpoint, updated, pulled, counts, summary);
        }
        Ok(())
    }

    /// The first page of every type's incremental pass in one request. Each type's page is
    /// applied in its own transaction; a type whose page came back full goes on from it, and a
    /// type whose command failed starts its pass alone (with its own retries) afterwards.
    async fn probe_updated(
        &self,
        cancel: &CancellationToken,
        run: &mut RunState,
        summary: &mut SyncSummary,
        stage_first: &mut StageFirst,
    ) -> Result<(), SyncError> {
        let probes = crate::plan::updated_probes(run, &self.policy);
        run.updated_probed = true;
        // The stage history's first pages ride along (read now, recorded after the records).
        let mut stage_probes = Vec::new();
        for t in [EntityType::Lead, EntityType::Deal] {
            if self.policy.entity_types.contains(&t) {
                let after = self
                    .with_replica(move |r| r.stage_history_checkpoint(t))
                    .await?;
                stage_probes.push((t, after));
            }
        }
        let (answers, stage_answers) = self
            .call(cancel, || self.portal.probe_updated(&probes, &stage_probes))
            .await?;
        for ((t, after), answer) in stage_probes.into_iter().zip(stage_answers) {
            match answer {
                Ok((entries, exhausted)) => {
                    stage_first.insert(t, (after, entries, exhausted));
                }
                Err(e) => {
                    tracing::info!(entity = %t, error = %e, "stage-history probe failed; read later");
                }
            }
        }
        for ((t, since), answer) in probes.into_iter().zip(answers) {
            let chunk = match answer {
                Ok(chunk) => chunk,
                Err(e) => {
                    tracing::info!(entity = %t, error = %e, "probe failed; the type's pass goes on alone");
                    continue;
                }
            };
            let action = SyncAction::PullUpdated {
                entity_type: t,
                since,
                after: None,
            };
            let current = type_run(run, t).checkpoint;
            let (checkpoint, updated) = advance(action, &current, &chunk, run.now);
            let pulled = chunk.records.len() as u64;
            let counts = self.apply(t, chunk.records, checkpoint).await?;
            self.record_step(run, action, checkpoint, updated, pulled, counts, summary);
        }
        Ok(())
    }

    /// After a pull step committed: the run state, the summary and a progress event.
    #[allow(clippy::too_many_arguments)]
    fn record_step(
        &self,
        run: &mut RunState,
        action: SyncAction,
        checkpoint: PullCheckpoint,
        updated: Option<crate::plan::UpdatedPass>,
        pulled: u64,
        counts: ApplyCounts,
        summary: &mut SyncSummary,
    ) {
        let t = entity_type_of(action);
        let entry = type_run(run, t);
        entry.checkpoint = checkpoint;
        if let Some(pass) = updated {
            entry.updated = pass;
        }
        if matches!(action, SyncAction::PullInitial { .. }) {
            entry.initial_pulled += pulled;
        }
        let (total, base) = (entry.total, entry.progress_base);
        let s = summary.entry(t);
        s.pulled += pulled;
        s.inserted += counts.inserted;
        s.updated += counts.updated;
        s.unchanged += counts.unchanged;
        let (phase, done, total) = match action {
            SyncAction::PullInitial { .. } => (SyncPhase::Initial, base + s.pulled, total),
            _ => (SyncPhase::Incremental, s.pulled, None),
        };
        let done = total.map_or(done, |n| done.min(n));
        (self.events)(&SyncEvent::Progress {
            entity_type: Some(t),
            phase,
            done,
            total,
        });
    }

    /// One request for a pull action: its parts, each with its own pull action and chunk.
    async fn fetch(
        &self,
        run: &RunState,
        action: SyncAction,
    ) -> Result<Vec<(SyncAction, Option<PulledChunk>)>, PortalError> {
        tracing::debug!(?action, "fetch starts");
        match action {
            SyncAction::PullInitial {
                entity_type,
                after_id,
            } => {
                let segments = crate::plan::initial_segments(
                    run,
                    &self.policy,
                    entity_type,
                    after_id,
                    INITIAL_PAGES_PER_REQUEST,
                );
                let chunks = self.portal.pull_spanning(&segments).await?;
                Ok(segments
                    .iter()
                    .zip(chunks)
                    .map(|(&(t, after, _), chunk)| {
                        (
                            SyncAction::PullInitial {
                                entity_type: t,
                                after_id: after,
                            },
                            chunk,
                        )
                    })
                    .collect())
            }
            SyncAction::PullUpdated {
                entity_type,
                since,
                after,
            } => {
                let chunk = self.portal.pull_updated(entity_type, since, after).await?;
                Ok(vec![(action, Some(chunk))])
            }
            _ => Ok(Vec::new()),
        }
    }

    pub(crate) async fn apply(
        &self,
        t: EntityType,
        records: Vec<Record>,
        checkpoint: PullCheckpoint,
    ) -> Result<ApplyCounts, SyncError> {
        self.with_replica(move |r| r.apply_pulled(t, &records, &checkpoint))
            .await
    }

    /// Runs a blocking replica call off the async threads.
    pub(crate) async fn with_replica<T, F>(&self, f: F) -> Result<T, SyncError>
    where
        T: Send + 'static,
        F: FnOnce(&mut R) -> Result<T, R::Error> + Send + 'static,
    {
        let replica = Arc::clone(&self.replica);
        tokio::task::spawn_blocking(move || {
            let mut guard = replica.lock().map_err(|_| SyncError::TaskFailed)?;
            f(&mut guard).map_err(SyncError::replica)
        })
        .await
        .map_err(|_| SyncError::TaskFailed)?
    }

    /// A portal call, retried with back-off while it fails with "retry later"; cancellable.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        cancel: &CancellationToken,
        mut f: F,
    ) -> Result<T, SyncError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortalError>>,
    {
        let retry = self.policy.retry;
        let mut failures = 0u32;
        loop {
            let result = tokio::select! {
                r = f() => r,
                _ = cancel.cancelled() => return Err(SyncError::Cancelled),
            };
            match result {
                Ok(v) => return Ok(v),
                Err(e) if e.is_retryable() && failures + 1 < retry.attempts.max(1) => {
                    failures += 1;
                    let wait = retry.delay(failures);
                    tracing::warn!(
                        failures,
                        wait_ms = wait.as_millis() as u64,
                        "portal busy or unreachable; retrying"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = cancel.cancelled() => return Err(SyncError::Cancelled),
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn entity_type_of(action: SyncAction) -> EntityType {
    match action {
        SyncAction::MarkPullStart { entity_type }
        | SyncAction::CountForProgress { entity_type }
        | SyncAction::PullInitial { entity_type, .. }
        | SyncAction::PullUpdated { entity_type, .. }
        | SyncAction::CompareCounts { entity_type }
        | SyncAction::Reconcile { entity_type } => entity_type,
        SyncAction::RefreshReference | SyncAction::ProbeUpdated | SyncAction::Done => {
            EntityType::Lead
        }
    }
}

/// Where a pull step leaves the type: the checkpoint to commit with the chunk, and the
/// incremental pass's new position (the planner, asked again, says what comes next).
fn advance(
    action: SyncAction,
    current: &PullCheckpoint,
    chunk: &PulledChunk,
    now: DateTime<FixedOffset>,
) -> (PullCheckpoint, Option<UpdatedPass>) {
    match action {
        SyncAction::PullInitial { after_id, .. } => {
            let last_id = chunk.last_id().unwrap_or(after_id).max(after_id);
            // A page that brings nothing new ends the pull, whatever the portal claims.
            let done = chunk.exhausted || last_id == after_id;
            // A finished initial pull is a fresh picture of the id set: no reconcile is due yet.
            let reconciled_at = if done {
                current.reconciled_at.or(Some(now))
            } else {
                current.reconciled_at
            };
            let checkpoint = PullCheckpoint {
                initial_after_id: last_id,
                initial_done: done,
                reconciled_at,
                ..*current
            };
            (checkpoint, None)
        }
        SyncAction::PullUpdated { since, after, .. } => {
            let last = chunk.last_watermark();
            let moved = match (last, after) {
                (Some(l), Some(a)) => l > a,
                (Some(_), None) => true,
                (None, _) => false,
            };
            let done = chunk.exhausted || !moved;
            let watermark = current.watermark.max(last);
            let checkpoint = PullCheckpoint {
                watermark,
                ..*current
            };
            let pass = if done {
                UpdatedPass::Done
            } else {
                UpdatedPass::Running { since, after: last }
            };
            (checkpoint, Some(pass))
        }
        _ => (*current, None),
    }
}

pub(crate) fn type_run(run: &mut RunState, t: EntityType) -> &mut crate::plan::TypeRun {
    run.types.entry(t).or_default()
}
