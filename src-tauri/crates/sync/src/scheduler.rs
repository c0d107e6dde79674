//! Runs sync on its own: at start, every few minutes, on demand, and after reconnect. While the
//! portal is unreachable it retries with back-off; the first success after failures is the
//! reconnect. Its status (online/offline, last sync, running progress) is a watch channel the
//! shell forwards to the UI.

use crate::driver::Clock;
use crate::error::{SyncError, SyncErrorCode};
use crate::event::{EventSink, SyncEvent, SyncPhase, SyncSummary};
use chrono::{DateTime, FixedOffset};
use kartoteka_domain::EntityType;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Whether the portal answered the last attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Connectivity {
    /// No sync has finished or failed yet.
    Unknown,
    Online,
    Offline,
}

/// A running sync's latest progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunningProgress {
    pub entity_type: Option<EntityType>,
    pub phase: SyncPhase,
    pub done: u64,
    pub total: Option<u64>,
}

/// The last failure, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastFailure {
    pub code: SyncErrorCode,
    /// What the user is told (the client's classification for portal failures).
    pub user_code: kartoteka_domain::ipc::ErrorCode,
    pub message: String,
}

/// What the user always sees about sync.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    pub connectivity: Connectivity,
    pub running: bool,
    pub progress: Option<RunningProgress>,
    pub last_sync_at: Option<DateTime<FixedOffset>>,
    pub last_summary: Option<SyncSummary>,
    pub last_failure: Option<LastFailure>,
    /// Failed runs in a row (reset by a success).
    pub failures: u32,
    /// Successful runs that followed one or more failures.
    pub reconnects: u32,
    /// Runs started so far.
    pub runs: u64,
}

impl Default for SyncStatus {
    fn default() -> Self {
        Self {
            connectivity: Connectivity::Unknown,
            running: false,
            progress: None,
            last_sync_at: None,
            last_summary: None,
            last_failure: None,
            failures: 0,
            reconnects: 0,
            runs: 0,
        }
    }
}

/// The status channel. Create it first, hand [`StatusBoard::sink`] to the engine so progress
/// reaches the status, then give the board to [`SyncScheduler::spawn`].
#[derive(Clone)]
pub struct StatusBoard {
    tx: Arc<watch::Sender<SyncStatus>>,
}

impl Default for StatusBoard {
    fn default() -> Self {
        Self::new()
    }
}

impl StatusBoard {
    pub fn new() -> Self {
        Self {
            tx: Arc::new(watch::Sender::new(SyncStatus::default())),
        }
    }

    /// An event sink that records progress in the status, then passes each event on.
    pub fn sink(&self, next: EventSink) -> EventSink {
        let tx = Arc::clone(&self.tx);
        Arc::new(move |event: &SyncEvent| {
            if let SyncEvent::Progress {
                entity_type,
                phase,
                done,
                total,
            } = *event
            {
                tx.send_modify(|s| {
                    s.progress = Some(RunningProgress {
                        entity_type,
                        phase,
                        done,
                        total,
                    })
                });
            }
            next(event)
        })
    }

    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> SyncStatus {
        self.tx.borrow().clone()
    }

    fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        self.tx.send_modify(f);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerConfig {
    pub run_at_start: bool,
    /// Time between runs while online.
    pub interval: Duration,
    /// Back-off while offline: base × 1.5ⁿ⁻¹, capped.
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            run_at_start: true,
            interval: Duration::from_secs(5 * 60),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(5 * 60),
        }
    }
}

impl SchedulerConfig {
    fn backoff(&self, failures: u32) -> Duration {
        let factor = 1.5f64.powi(failures.saturating_sub(1).min(30) as i32);
        self.retry_base.mul_f64(factor).min(self.retry_max)
    }
}

/// One sync run, as the scheduler starts it.
pub type RunFuture = Pin<Box<dyn Future<Output = Result<SyncSummary, SyncError>> + Send>>;

enum Command {
    SyncNow,
    Reconnected,
    CancelRun,
}

/// The background task and the handle that steers it.
pub struct SyncScheduler {
    commands: mpsc::UnboundedSender<Command>,
    board: StatusBoard,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl SyncScheduler {
    /// Starts the scheduler task. `run` starts one sync with the given cancellation token.
    pub fn spawn<F>(board: StatusBoard, config: SchedulerConfig, clock: Clock, run: F) -> Self
    where
        F: Fn(CancellationToken) -> RunFuture + Send + Sync + 'static,
    {
        let (commands, rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(schedule(
            board.clone(),
            config,
            clock,
            run,
            rx,
            shutdown.clone(),
        ));
        Self {
            commands,
            board,
            shutdown,
            task,
        }
    }

    /// Sync now (the user pressed "sync", or a local edit wants uploading).
    pub fn sync_now(&self) {
        let _ = self.commands.send(Command::SyncNow);
    }

    /// The network came back: sync now if the last attempt failed.
    pub fn reconnected(&self) {
        let _ = self.commands.send(Command::Reconnected);
    }

    /// Cancels the running sync, if any; the next run resumes where it stopped.
    pub fn cancel_run(&self) {
        let _ = self.commands.send(Command::CancelRun);
    }

    pub fn status(&self) -> SyncStatus {
        self.board.current()
    }

    pub fn subscribe(&self) -> watch::Receiver<SyncStatus> {
        self.board.subscribe()
    }

    /// Stops the scheduler, cancelling a running sync, and waits for it to end.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "sync scheduler task ended abnormally");
        }
    }
}

async fn schedule<F>(
    board: StatusBoard,
    config: SchedulerConfig,
    clock: Clock,
    run: F,
    mut commands: mpsc::UnboundedReceiver<Command>,
    shutdown: CancellationToken,
) where
    F: Fn(CancellationToken) -> RunFuture + Send + Sync + 'static,
{
    let mut next_due = if config.run_at_start {
        Instant::now()
    } else {
        Instant::now() + config.interval
    };
    let mut again = false;
    loop {
        if !again {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(next_due) => {}
                command = commands.recv() => match command {
                    None => return,
                    Some(Command::SyncNow) => {}
                    Some(Command::Reconnected) if board.current().connectivity != Connectivity::Online => {}
                    Some(Command::Reconnected) | Some(Command::CancelRun) => continue,
                },
            }
        }
        again = false;

        let token = shutdown.child_token();
        board.update(|s| {
            s.running = true;
            s.progress = None;
            s.runs += 1;
        });
        let mut running = run(token.clone());
        let result = loop {
            tokio::select! {
                result = &mut running => break result,
                command = commands.recv() => match command {
                    Some(Command::CancelRun) => token.cancel(),
                    Some(Command::SyncNow) => again = true,
                    Some(Command::Reconnected) => {}
                    None => token.cancel(),
                },
            }
        };
        next_due = Instant::now() + settle(&board, &config, &clock, result);
        if shutdown.is_cancelled() {
            return;
        }
    }
}

/// Records a run's outcome in the status; returns the wait before the next scheduled run.
fn settle(
    board: &StatusBoard,
    config: &SchedulerConfig,
    clock: &Clock,
    result: Result<SyncSummary, SyncError>,
) -> Duration {
    let mut wait = config.interval;
    board.update(|s| {
        s.running = false;
        s.progress = None;
        match result {
            Ok(summary) => {
                if s.failures > 0 {
                    s.reconnects += 1;
                    tracing::info!(failures = s.failures, "portal reachable again");
                }
                s.failures = 0;
                s.connectivity = Connectivity::Online;
                s.last_sync_at = Some(clock());
                s.last_summary = Some(summary);
                s.last_failure = None;
            }
            Err(SyncError::Cancelled) => {}
            Err(e) => {
                if e.is_retryable() {
                    s.failures += 1;
                    s.connectivity = Connectivity::Offline;
                    wait = config.backoff(s.failures);
                } else if e.code() == SyncErrorCode::Auth || e.code() == SyncErrorCode::Portal {
                    // The portal answered, it just refused: we are online.
                    s.connectivity = Connectivity::Online;
                }
                s.last_failure = Some(LastFailure {
                    code: e.code(),
                    user_code: e.user_code(),
                    message: e.to_string(),
                });
            }
        }
    });
    wait
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{PortalError, PortalFailure};
    use std::collections::VecDeque;
    use std::sync::Mutex;

    fn clock() -> Clock {
        Arc::new(|| DateTime::parse_from_rfc3339("2026-03-01T09:00:00+03:00").unwrap_or_default())
    }

    fn offline() -> SyncError {
        SyncError::Portal(PortalError::new(
            PortalFailure::RetryLater,
            "connection refused",
        ))
    }

    /// A runner that returns scripted outcomes (success once the script is empty) and counts runs.
    fn scripted(
        outcomes: Vec<Result<(), SyncError>>,
    ) -> (Arc<Mutex<u32>>, impl Fn(CancellationToken) -> RunFuture) {
        let runs = Arc::new(Mutex::new(0u32));
        let script = Arc::new(Mutex::new(VecDeque::from(outcomes)));
        let counter = Arc::clone(&runs);
        let run = move |_token: CancellationToken| -> RunFuture {
            if let Ok(mut n) = counter.lock() {
                *n += 1;
            }
            let next = script
                .lock()
                .ok()
                .and_then(|mut s| s.pop_front())
                .unwrap_or(Ok(()));
            Box::pin(async move { next.map(|()| SyncSummary::default()) })
        };
        (runs, run)
    }

    fn runs(counter: &Arc<Mutex<u32>>) -> u32 {
        counter.lock().map(|n| *n).unwrap_or_default()
    }

    fn config() -> SchedulerConfig {
        SchedulerConfig {
            run_at_start: true,
            interval: Duration::from_secs(300),
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn syncs_at_start_and_then_on_the_timer() {
        let (counter, run) = scripted(vec![]);
        let scheduler = SyncScheduler::spawn(StatusBoard::new(), config(), clock(), run);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs(&counter), 1, "a sync runs as soon as the app starts");
        assert_eq!(scheduler.status().connectivity, Connectivity::Online);
        assert!(scheduler.status().last_sync_at.is_some());
        tokio::time::sleep(Duration::from_secs(298)).await;
        assert_eq!(runs(&counter), 1, "no second run before the interval");
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(runs(&counter), 2, "the timer starts the next run");
        scheduler.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn offline_runs_back_off_and_the_first_success_counts_as_reconnect() {
        let (counter, run) = scripted(vec![Err(offline()), Err(offline())]);
        let scheduler = SyncScheduler::spawn(StatusBoard::new(), config(), clock(), run);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(scheduler.status().connectivity, Connectivity::Offline);
        assert_eq!(
            scheduler.status().last_failure.map(|f| f.code),
            Some(SyncErrorCode::Offline)
        );
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            runs(&counter),
            2,
            "retried after the base back-off, long before the interval"
        );
        tokio::time::sleep(Duration::from_secs(15)).await;
        assert_eq!(runs(&counter), 3, "second retry after 1.5 × the base");
        let status = scheduler.status();
        assert_eq!(status.connectivity, Connectivity::Online);
        assert_eq!(status.reconnects, 1);
        assert_eq!(status.failures, 0);
        scheduler.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn sync_now_and_reconnect_start_a_run_at_once() {
        let (counter, run) = scripted(vec![Err(offline())]);
        let config = SchedulerConfig {
            retry_base: Duration::from_secs(1000),
            ..config()
        };
        let scheduler = SyncScheduler::spawn(StatusBoard::new(), config, clock(), run);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs(&counter), 1);
        scheduler.reconnected();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            runs(&counter),
            2,
            "reconnect while offline syncs without waiting for the back-off"
        );
        scheduler.reconnected();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs(&counter), 2, "reconnect while online does nothing");
        scheduler.sync_now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs(&counter), 3, "sync now runs at once");
        scheduler.shutdown().await;
    }

    #[tokio::test(start_paused = true)]
    async fn cancel_run_cancels_the_running_sync_and_progress_reaches_the_status() {
        let board = StatusBoard::new();
        let sink = board.sink(crate::event::no_events());
        let run = move |token: CancellationToken| -> RunFuture {
            let sink = Arc::clone(&sink);
            Box::pin(async move {
                sink(&SyncEvent::Progress {
                    entity_type: Some(EntityType::Deal),
                    phase: SyncPhase::Initial,
                    done: 50,
                    total: Some(100),
                });
                token.cancelled().await;
                Err(SyncError::Cancelled)
            })
        };
        let scheduler = SyncScheduler::spawn(board, config(), clock(), run);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = scheduler.status();
        assert!(status.running);
        assert_eq!(
            status.progress.map(|p| (p.done, p.total)),
            Some((50, Some(100)))
        );
        scheduler.cancel_run();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let status = scheduler.status();
        assert!(!status.running, "the run ended when cancelled");
        assert_eq!(
            status.connectivity,
            Connectivity::Unknown,
            "a cancelled run says nothing about the network"
        );
        scheduler.shutdown().await;
    }
}
