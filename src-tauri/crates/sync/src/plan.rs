//! The sync decision, as a pure function: what one run has done so far in, the next action out.
//! The driver carries the action out, commits, updates the run state, and asks again.

use crate::model::{PullCheckpoint, Watermark};
use chrono::{DateTime, FixedOffset, TimeDelta};
use kartoteka_domain::EntityType;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// When a run compares the replica's id set with the portal's to find deletions and lost access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReconcilePolicy {
    /// Every run (costs one request per 2,500 records).
    Always,
    /// Only when the portal's count differs from the replica's after the incremental pass.
    WhenCountsDiffer,
    Never,
}

/// Back-off for calls that fail with "retry later" (rate limit, 5xx, timeouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per action, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The wait before attempt `n + 1` (n counts failures so far, from 1): base × 1.5ⁿ⁻¹, capped.
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1.5f64.powi(failures.saturating_sub(1).min(30) as i32);
        self.base_delay.mul_f64(factor).min(self.max_delay)
    }
}

/// What a sync run does and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The types to pull, in this order.
    pub entity_types: Vec<EntityType>,
    /// How far before the last seen `updatedTime` an incremental pass starts (commit lag, clock skew).
    pub overlap: TimeDelta,
    pub reconcile: ReconcilePolicy,
    /// With [`ReconcilePolicy::WhenCountsDiffer`]: compare id sets anyway once this long has
    /// passed since the last comparison (equal counts can hide a deletion plus regained access).
    pub full_reconcile_every: Option<TimeDelta>,
    /// Reload users, stages, pipelines and field metadata at the start of the run.
    pub refresh_reference: bool,
    /// Ask the portal for the record count before an initial pull, so progress has a total.
    pub progress_totals: bool,
    pub retry: RetryPolicy,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            // Companies first: the contacts, deals and leads that follow copy their names
            // into the search text as they are written (a company after them re-indexes them).
            entity_types: vec![
                EntityType::Company,
                EntityType::Contact,
                EntityType::Lead,
                EntityType::Deal,
            ],
            overlap: TimeDelta::minutes(5),
            reconcile: ReconcilePolicy::WhenCountsDiffer,
            full_reconcile_every: Some(TimeDelta::hours(1)),
            refresh_reference: true,
            progress_totals: true,
            retry: RetryPolicy {
                attempts: 6,
                base_delay: Duration::from_secs(1),
                max_delay: Duration::from_secs(30),
            },
        }
    }
}

/// Where the incremental pass of one type stands within a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdatedPass {
    #[default]
    NotStarted,
    Running {
        since: DateTime<FixedOffset>,
        after: Option<Watermark>,
    },
    Done,
}

/// Record counts on both sides, compared after the incremental pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountComparison {
    pub portal: u64,
    pub local: u64,
}

/// What the run has done for one type. `checkpoint` mirrors what the replica has committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TypeRun {
    pub checkpoint: PullCheckpoint,
    /// Portal count fetched for progress of the initial pull.
    pub total: Option<u64>,
    /// Records already in the replica when the count was taken (a resumed pull starts there).
    pub progress_base: u64,
    pub updated: UpdatedPass,
    pub counts: Option<CountComparison>,
    pub reconciled: bool,
    /// Records the initial pull brought this run (with `total` and `progress_base`: how many
    /// remain, so that a batch can carry the end of one type and the start of the next).
    pub initial_pulled: u64,
}

/// The in-memory state of one run; changed by the driver only after the replica commits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// Device time when the run started.
    pub now: DateTime<FixedOffset>,
    pub reference_refreshed: bool,
    /// The types' incremental passes were probed together this run (once; a type whose probe
    /// failed goes on alone).
    pub updated_probed: bool,
    pub types: BTreeMap<EntityType, TypeRun>,
}

impl RunState {
    pub fn new(
        now: DateTime<FixedOffset>,
        checkpoints: impl IntoIterator<Item = (EntityType, PullCheckpoint)>,
    ) -> Self {
        Self {
            now,
            reference_refreshed: false,
            updated_probed: false,
            types: checkpoints
                .into_iter()
                .map(|(t, checkpoint)| {
                    (
                        t,
                        TypeRun {
                            checkpoint,
                            ..TypeRun::default()
                        },
                    )
                })
                .collect(),
        }
    }
}

/// The next step of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncAction {
    RefreshReference,
    /// Record the portal's current time as the start of the pull (before the first record is read).
    MarkPullStart {
        entity_type: EntityType,
    },
    CountForProgress {
        entity_type: EntityType,
    },
    PullInitial {
        entity_type: EntityType,
        after_id: i64,
    },
    PullUpdated {
        entity_type: EntityType,
        since: DateTime<FixedOffset>,
        after: Option<Watermark>,
    },
    /// The first page of every type's incremental pass ([`updated_probes`]), in one request.
    ProbeUpdated,
    CompareCounts {
        entity_type: EntityType,
    },
    Reconcile {
        entity_type: EntityType,
    },
    Done,
}

/// The types whose incremental pass has not started, each with the time it starts from (the
/// last seen `updatedTime` less the overlap), in policy order.
pub fn updated_probes(run: &RunState, policy: &Policy) -> Vec<(EntityType, DateTime<FixedOffset>)> {
    policy
        .entity_types
        .iter()
        .filter_map(|t| {
            let state = run.types.get(t)?;
            let watermark = state.checkpoint.watermark?;
            (state.checkpoint.initial_done && state.updated == UpdatedPass::NotStarted)
                .then(|| (*t, watermark.time - policy.overlap))
        })
        .collect()
}

/// The pages of records a key-set chain needs to reach the end of a type whose remaining count
/// is known: the full pages, and one more that comes back short (or empty) to show the end.
/// `None` when the count is unknown, or already used up (the portal gained records meanwhile).
pub fn pages_to_end(state: &TypeRun) -> Option<usize> {
    let total = state.total?;
    let remaining = total.checked_sub(state.progress_base + state.initial_pulled)?;
    if remaining == 0 && state.initial_pulled > 0 {
        // Pulled as many as were counted but no short page yet: the count is stale.
        return None;
    }
    usize::try_from(remaining / PAGE_RECORDS + 1).ok()
}

/// Records in one list page.
const PAGE_RECORDS: u64 = 50;

/// The segments of the request that goes on with `first`'s initial pull: `first` for the
/// pages it still needs, then the next types (policy order, start marked, pull not done) for
/// the rest of the batch's `commands`. A type with no known remaining count takes what is left.
pub fn initial_segments(
    run: &RunState,
    policy: &Policy,
    first: EntityType,
    after_id: i64,
    commands: usize,
) -> Vec<(EntityType, i64, usize)> {
    let mut left = commands;
    let mut segments = Vec::new();
    let from = policy
        .entity_types
        .iter()
        .position(|t| *t == first)
        .unwrap_or(policy.entity_types.len());
    let rest = policy.entity_types.iter().skip(from + 1).filter_map(|t| {
        let state = run.types.get(t)?;
        let cp = state.checkpoint;
        (cp.watermark.is_some() && !cp.initial_done).then_some((*t, cp.initial_after_id))
    });
    for (t, after) in std::iter::once((first, after_id)).chain(rest) {
        if left == 0 {
            break;
        }
        let state = run.types.get(&t).copied().unwrap_or_default();
        let pages = pages_to_end(&state).unwrap_or(left).clamp(1, left);
        segments.push((t, after, pages));
        left -= pages;
    }
    segments
}

/// Decides the next action. Pure: the same state and policy always give the same action.
pub fn next_action(run: &RunState, policy: &Policy) -> SyncAction {
    use SyncAction::*;
    if policy.refresh_reference && !run.reference_refreshed {
        return RefreshReference;
    }
    // Every type's initial pull first, then the incremental passes: their first pages then go
    // to the portal together, in one request (a routine sync costs one, not one per type).
    // Every type's start is marked (a local write with the clock the reference batch read)
    // before any record is read, so that one request may carry the end of one type's initial
    // pull and the start of the next one's.
    for &entity_type in &policy.entity_types {
        let state = run.types.get(&entity_type).copied().unwrap_or_default();
        if state.checkpoint.watermark.is_none() {
            return MarkPullStart { entity_type };
        }
    }
    for &entity_type in &policy.entity_types {
        let state = run.types.get(&entity_type).copied().unwrap_or_default();
        let checkpoint = state.checkpoint;
        if !checkpoint.initial_done {
            if policy.progress_totals && state.total.is_none() {
                return CountForProgress { entity_type };
            }
            return PullInitial {
                entity_type,
                after_id: checkpoint.initial_after_id,
            };
        }
    }
    if !run.updated_probed && updated_probes(run, policy).len() > 1 {
        return ProbeUpdated;
    }
    for &entity_type in &policy.entity_types {
        let state = run.types.get(&entity_type).copied().unwrap_or_default();
        let checkpoint = state.checkpoint;
        let Some(watermark) = checkpoint.watermark else {
            return MarkPullStart { entity_type };
        };
        match state.updated {
            UpdatedPass::NotStarted => {
                return PullUpdated {
                    entity_type,
                    since: watermark.time - policy.overlap,
                    after: None,
                };
            }
            UpdatedPass::Running { since, after } => {
                return PullUpdated {
                    entity_type,
                    since,
                    after,
                }
            }
            UpdatedPass::Done => {}
        }
        if state.reconciled {
            continue;
        }
        let full_due = policy.full_reconcile_every.is_some_and(|every| {
            checkpoint
                .reconciled_at
                .is_none_or(|at| run.now - at >= every)
        });
        match (policy.reconcile, state.counts) {
            (ReconcilePolicy::Never, _) => {}
            (ReconcilePolicy::Always, _) => return Reconcile { entity_type },
            (ReconcilePolicy::WhenCountsDiffer, _) if full_due => return Reconcile { entity_type },
            (ReconcilePolicy::WhenCountsDiffer, None) => return CompareCounts { entity_type },
            (ReconcilePolicy::WhenCountsDiffer, Some(c)) if c.portal != c.local => {
                return Reconcile { entity_type }
            }
            (ReconcilePolicy::WhenCountsDiffer, Some(_)) => {}
        }
    }
    Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use EntityType::{Deal, Lead};

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap_or_else(|e| panic!("bad test time {s}: {e}"))
    }

    fn wm(time: &str, id: i64) -> Watermark {
        Watermark::new(at(time), id)
    }

    fn policy(reconcile: ReconcilePolicy) -> Policy {
        Policy {
            entity_types: vec![Lead, Deal],
            reconcile,
            full_reconcile_every: Some(TimeDelta::hours(1)),
            ..Policy::default()
        }
    }

    const NOW: &str = "2026-03-01T12:00:00+03:00";

    fn started(initial_after_id: i64, initial_done: bool) -> TypeRun {
        TypeRun {
            checkpoint: PullCheckpoint {
                initial_after_id,
                initial_done,
                watermark: Some(wm("2026-03-01T09:00:00+03:00", 0)),
                reconciled_at: Some(at("2026-03-01T11:30:00+03:00")),
                synced_at: None,
            },
            total: Some(10),
            ..TypeRun::default()
        }
    }

    fn finished() -> TypeRun {
        TypeRun {
            updated: UpdatedPass::Done,
            reconciled: true,
            ..started(500, true)
        }
    }

    fn run(reference: bool, lead: TypeRun, deal: TypeRun) -> RunState {
        RunState {
            now: at(NOW),
            reference_refreshed: reference,
            updated_probed: false,
            types: BTreeMap::from([(Lead, lead), (Deal, deal)]),
        }
    }

    #[rstest]
    #[case::reference_first_even_when_nothing_else_is_due(
        run(false, finished(), finished()),
        ReconcilePolicy::Never,
        SyncAction::RefreshReference
    )]
    #[case::fresh_replica_marks_the_pull_start_before_reading_records(
        run(true, TypeRun::default(), TypeRun::default()), ReconcilePolicy::Never,
        SyncAction::MarkPullStart { entity_type: Lead })]
    #[case::progress_total_is_fetched_once_before_the_initial_pull(
        run(true, TypeRun { total: None, ..started(0, false) }, finished()), ReconcilePolicy::Never,
        SyncAction::CountForProgress { entity_type: Lead })]
    #[case::initial_pull_resumes_after_the_committed_id(
        run(true, started(2500, false), finished()), ReconcilePolicy::Never,
        SyncAction::PullInitial { entity_type: Lead, after_id: 2500 })]
    #[case::every_start_is_marked_before_any_record_is_read(
        run(true, started(2500, false), TypeRun::default()), ReconcilePolicy::Never,
        SyncAction::MarkPullStart { entity_type: Deal })]
    #[case::finished_initial_pull_is_followed_by_an_incremental_pass_with_overlap(
        run(true, started(2500, true), finished()), ReconcilePolicy::Never,
        SyncAction::PullUpdated { entity_type: Lead, since: at("2026-03-01T08:55:00+03:00"), after: None })]
    #[case::every_initial_pull_comes_before_any_incremental_pass(
        run(true, started(2500, true), TypeRun::default()), ReconcilePolicy::Never,
        SyncAction::MarkPullStart { entity_type: Deal })]
    #[case::passes_of_several_types_start_with_one_probe(
        run(true, started(2500, true), started(700, true)),
        ReconcilePolicy::Always,
        SyncAction::ProbeUpdated
    )]
    #[case::incremental_pass_continues_after_the_last_row_without_moving_since(
        run(true, TypeRun { updated: UpdatedPass::Running {
            since: at("2026-03-01T08:55:00+03:00"), after: Some(wm("2026-03-01T09:10:00+03:00", 77)) },
            ..started(2500, true) }, finished()), ReconcilePolicy::Never,
        SyncAction::PullUpdated { entity_type: Lead, since: at("2026-03-01T08:55:00+03:00"),
            after: Some(wm("2026-03-01T09:10:00+03:00", 77)) })]
    #[case::second_type_starts_when_the_first_is_finished(
        run(true, finished(), TypeRun::default()), ReconcilePolicy::Never,
        SyncAction::MarkPullStart { entity_type: Deal })]
    #[case::counts_are_compared_after_the_incremental_pass(
        run(true, TypeRun { updated: UpdatedPass::Done, ..started(9, true) }, finished()),
        ReconcilePolicy::WhenCountsDiffer, SyncAction::CompareCounts { entity_type: Lead })]
    #[case::differing_counts_trigger_an_id_set_reconcile(
        run(true, TypeRun { updated: UpdatedPass::Done, counts: Some(CountComparison { portal: 9, local: 10 }),
            ..started(9, true) }, finished()),
        ReconcilePolicy::WhenCountsDiffer, SyncAction::Reconcile { entity_type: Lead })]
    #[case::equal_counts_skip_the_reconcile(
        run(true, TypeRun { updated: UpdatedPass::Done, counts: Some(CountComparison { portal: 10, local: 10 }),
            ..started(9, true) }, finished()),
        ReconcilePolicy::WhenCountsDiffer, SyncAction::Done)]
    #[case::equal_counts_still_reconcile_when_the_last_comparison_is_old(
        run(true, TypeRun { updated: UpdatedPass::Done, counts: Some(CountComparison { portal: 10, local: 10 }),
            checkpoint: PullCheckpoint { reconciled_at: Some(at("2026-03-01T10:59:59+03:00")), ..started(9, true).checkpoint },
            ..started(9, true) }, finished()),
        ReconcilePolicy::WhenCountsDiffer, SyncAction::Reconcile { entity_type: Lead })]
    #[case::never_compared_ids_is_a_due_reconcile(
        run(true, TypeRun { updated: UpdatedPass::Done,
            checkpoint: PullCheckpoint { reconciled_at: None, ..started(9, true).checkpoint },
            ..started(9, true) }, finished()),
        ReconcilePolicy::WhenCountsDiffer, SyncAction::Reconcile { entity_type: Lead })]
    #[case::always_reconciles_without_counting(
        run(true, TypeRun { updated: UpdatedPass::Done, ..started(9, true) }, finished()),
        ReconcilePolicy::Always, SyncAction::Reconcile { entity_type: Lead })]
    #[case::never_reconciles(
        run(true, TypeRun { updated: UpdatedPass::Done, ..started(9, true) }, finished()),
        ReconcilePolicy::Never, SyncAction::Done)]
    #[case::a_reconciled_type_is_not_reconciled_twice(
        run(true, finished(), finished()),
        ReconcilePolicy::Always,
        SyncAction::Done
    )]
    fn next_action_table(
        #[case] state: RunState,
        #[case] reconcile: ReconcilePolicy,
        #[case] expected: SyncAction,
    ) {
        assert_eq!(next_action(&state, &policy(reconcile)), expected);
    }

    #[test]
    fn a_batch_carries_the_end_of_one_type_and_the_start_of_the_next() {
        let p = policy(ReconcilePolicy::Never);
        // 10,588 leads counted, 10,000 pulled: 11 full pages and a short one remain.
        let lead = TypeRun {
            total: Some(10_588),
            initial_pulled: 10_000,
            ..started(10_000, false)
        };
        let deal = TypeRun {
            total: Some(21_176),
            ..started(0, false)
        };
        let state = run(true, lead, deal);
        assert_eq!(pages_to_end(&lead), Some(12));
        assert_eq!(
            initial_segments(&state, &p, Lead, 10_000, 50),
            vec![(Lead, 10_000, 12), (Deal, 0, 38)]
        );
        // 100 remaining: two full pages and an empty one to see the end.
        let exact = TypeRun {
            total: Some(100),
            ..started(0, false)
        };
        assert_eq!(pages_to_end(&exact), Some(3));
        // The last type takes only what it needs.
        let small_deal = TypeRun {
            total: Some(120),
            ..started(0, false)
        };
        let state = run(true, lead, small_deal);
        assert_eq!(
            initial_segments(&state, &p, Lead, 10_000, 50),
            vec![(Lead, 10_000, 12), (Deal, 0, 3)]
        );
        // No count, or a count already used up: the type takes the whole batch.
        let unknown = TypeRun {
            total: None,
            ..started(0, false)
        };
        assert_eq!(pages_to_end(&unknown), None);
        let stale = TypeRun {
            total: Some(50),
            initial_pulled: 50,
            ..started(50, false)
        };
        assert_eq!(pages_to_end(&stale), None);
        let state = run(true, stale, deal);
        assert_eq!(
            initial_segments(&state, &p, Lead, 50, 50),
            vec![(Lead, 50, 50)]
        );
        // A type whose start is not marked yet is not read ahead of its mark.
        let state = run(true, lead, TypeRun::default());
        assert_eq!(
            initial_segments(&state, &p, Lead, 10_000, 50),
            vec![(Lead, 10_000, 12)]
        );
    }

    #[test]
    fn the_probe_is_sent_once_a_run_and_then_types_go_on_alone() {
        let mut state = run(true, started(2500, true), started(700, true));
        let p = policy(ReconcilePolicy::Never);
        assert_eq!(
            updated_probes(&state, &p),
            vec![
                (Lead, at("2026-03-01T08:55:00+03:00")),
                (Deal, at("2026-03-01T08:55:00+03:00"))
            ],
            "each type starts from its watermark less the overlap"
        );
        state.updated_probed = true;
        assert_eq!(
            next_action(&state, &p),
            SyncAction::PullUpdated {
                entity_type: Lead,
                since: at("2026-03-01T08:55:00+03:00"),
                after: None
            },
            "a type whose probe failed is pulled on its own"
        );
        state.updated_probed = false;
        state.types.insert(Lead, finished());
        assert_eq!(updated_probes(&state, &p).len(), 1);
        assert!(
            matches!(
                next_action(&state, &p),
                SyncAction::PullUpdated {
                    entity_type: Deal,
                    ..
                }
            ),
            "one type alone needs no probe of its own"
        );
    }

    #[test]
    fn types_outside_the_policy_are_not_pulled() {
        let state = run(true, finished(), TypeRun::default());
        let only_leads = Policy {
            entity_types: vec![Lead],
            ..policy(ReconcilePolicy::Never)
        };
        assert_eq!(next_action(&state, &only_leads), SyncAction::Done);
    }

    #[test]
    fn skipping_reference_refresh_goes_straight_to_records() {
        let state = run(false, started(0, false), finished());
        let p = Policy {
            refresh_reference: false,
            ..policy(ReconcilePolicy::Never)
        };
        assert_eq!(
            next_action(&state, &p),
            SyncAction::PullInitial {
                entity_type: Lead,
                after_id: 0
            }
        );
    }

    #[test]
    fn retry_delay_grows_by_half_and_is_capped() {
        let r = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(4),
        };
        assert_eq!(r.delay(1), Duration::from_secs(2));
        assert_eq!(r.delay(2), Duration::from_secs(3));
        assert_eq!(r.delay(3), Duration::from_secs(4));
        assert_eq!(r.delay(40), Duration::from_secs(4));
    }
}
