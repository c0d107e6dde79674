//! Sync as the UI sees it: the pull engine (kartoteka-sync) run by its scheduler at start, every
//! few minutes, on demand and after reconnect; its events forwarded on the one event stream.

use crate::api::events::SharedSink;
use crate::api::Core;
use chrono::{DateTime, Utc};
use kartoteka_bitrix::Client;
use kartoteka_domain::ipc::{self, AppEvent, IpcError, SyncProgress};
use kartoteka_domain::EntityType;
use kartoteka_store::Store;
use kartoteka_sync::{
    system_clock, BitrixPortal, Connectivity, Policy, RunFuture, SchedulerConfig, StatusBoard,
    SyncEngine, SyncError, SyncErrorCode, SyncEvent, SyncScheduler, UploadSummary, Uploader,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The UI's event for a sync event; `None` for what the UI does not show (a cancelled run,
/// progress of a step that belongs to no entity type).
pub fn app_event(event: &SyncEvent, now: DateTime<Utc>) -> Option<AppEvent> {
    match event {
        SyncEvent::Started => Some(AppEvent::SyncStarted {}),
        SyncEvent::Progress {
            entity_type: Some(entity_type),
            done,
            total,
            ..
        } => Some(AppEvent::SyncProgress {
            progress: SyncProgress {
                entity_type: *entity_type,
                done: *done,
                total: *total,
            },
        }),
        SyncEvent::Progress {
            entity_type: None, ..
        } => None,
        SyncEvent::Finished { .. } => Some(AppEvent::SyncFinished { at: now }),
        SyncEvent::Failed {
            code: SyncErrorCode::Cancelled,
            ..
        } => None,
        // The user's code is the client's one classification (as for connect and counts): an
        // overloaded portal, a free plan and a missing right each read as what they are.
        SyncEvent::Failed {
            user_code, message, ..
        } => Some(AppEvent::SyncFailed {
            error: IpcError::new(*user_code, message.clone()),
        }),
    }
}

/// Whether a sync event says the portal answered (`Some(true)`), did not (`Some(false)`), or
/// says nothing about it.
fn reached_portal(event: &SyncEvent) -> Option<bool> {
    match event {
        SyncEvent::Finished { .. } => Some(true),
        SyncEvent::Failed {
            code: SyncErrorCode::Offline,
            ..
        } => Some(false),
        SyncEvent::Failed {
            code: SyncErrorCode::Auth | SyncErrorCode::Portal,
            ..
        } => Some(true),
        _ => None,
    }
}

/// Starts the scheduler for one portal and its replica. Each run uploads the outbox first (so
/// the pull that follows reads the portal with our edits in it), then pulls, then reads other
/// Kartoteka users' change logs of what the pull found changed. Events go to the UI after the
/// engine has committed what they report.
pub fn spawn_scheduler(
    client: Client,
    policy: Policy,
    replica: Arc<Mutex<Store>>,
    events: SharedSink,
    online: Arc<AtomicBool>,
    work_offline: Arc<AtomicBool>,
) -> SyncScheduler {
    let board = StatusBoard::new();
    let upload_events = events.clone();
    let forward: kartoteka_sync::EventSink = Arc::new(move |event: &SyncEvent| {
        if let Some(reached) = reached_portal(event) {
            if online.swap(reached, Ordering::SeqCst) != reached {
                events.send(AppEvent::ConnectionChanged { online: reached });
            }
        }
        if let Some(app_event) = app_event(event, Utc::now()) {
            events.send(app_event);
        }
    });
    let uploader = Arc::new(Uploader::new(
        client.clone(),
        Arc::clone(&replica),
        system_clock(),
    ));
    let sink = board.sink(forward);
    let upload_failed = Arc::clone(&sink);
    let engine = Arc::new(SyncEngine::new(
        Arc::new(BitrixPortal::new(client)),
        replica,
        policy,
        sink,
    ));
    SyncScheduler::spawn(
        board,
        SchedulerConfig::default(),
        system_clock(),
        move |cancel| -> RunFuture {
            // Working offline: the run ends before it starts, as a cancelled one does (no
            // failure, no back-off, nothing reported to the UI).
            if work_offline.load(Ordering::SeqCst) {
                tracing::debug!("working offline: sync skipped");
                return Box::pin(async { Err(SyncError::Cancelled) });
            }
            let engine = Arc::clone(&engine);
            let uploader = Arc::clone(&uploader);
            let events = upload_events.clone();
            let failed = Arc::clone(&upload_failed);
            Box::pin(async move {
                match uploader.run(&cancel).await {
                    Ok(summary) => {
                        if upload_moved(&summary) {
                            // Committed by the uploader: states, portal ids, refreshed rows.
                            events.send(AppEvent::OutboxChanged {});
                            events.send(AppEvent::RecordsChanged {
                                entity_types: EntityType::ALL.to_vec(),
                            });
                        }
                    }
                    Err(SyncError::Cancelled) => return Err(SyncError::Cancelled),
                    Err(error) => {
                        // The queue stays; attempts and last errors may have changed.
                        failed(&SyncEvent::Failed {
                            code: error.code(),
                            user_code: error.user_code(),
                            message: error.to_string(),
                        });
                        events.send(AppEvent::OutboxChanged {});
                        return Err(error);
                    }
                }
                let summary = engine.run(&cancel).await?;
                // Other Kartoteka users' change logs on the records this pull found changed.
                match uploader.read_peer_logs(&cancel).await {
                    Ok(0) => {}
                    Ok(recorded) => {
                        tracing::info!(recorded, "other users' change logs read");
                        events.send(AppEvent::RecordsChanged {
                            entity_types: EntityType::ALL.to_vec(),
                        });
                    }
                    Err(SyncError::Cancelled) => return Err(SyncError::Cancelled),
                    // The pull itself is committed; the logs are read again next time.
                    Err(error) => tracing::warn!(%error, "other users' change logs were not read"),
                }
                Ok(summary)
            })
        },
    )
}

/// Whether an upload changed anything the UI shows (an entry uploaded, created, deleted, in
/// conflict, refused, or waiting for the user as uncertain).
fn upload_moved(s: &UploadSummary) -> bool {
    s.uploaded + s.created + s.deleted + s.conflicts + s.rejected + s.uncertain > 0
}

pub fn ipc_status(status: &kartoteka_sync::SyncStatus) -> ipc::SyncStatus {
    ipc::SyncStatus {
        running: status.running,
        progress: status.progress.and_then(|p| {
            p.entity_type.map(|entity_type| SyncProgress {
                entity_type,
                done: p.done,
                total: p.total,
            })
        }),
        last_sync_at: status.last_sync_at.map(|t| t.with_timezone(&Utc)),
        last_error: status
            .last_failure
            .as_ref()
            .map(|f| IpcError::new(f.user_code, f.message.clone())),
    }
}

impl Core {
    pub async fn sync_start(&self) -> Result<ipc::SyncStatus, IpcError> {
        self.with_scheduler(|s| {
            s.sync_now();
            let mut status = ipc_status(&s.status());
            // The scheduler picks the request up at once; say so rather than flash "idle".
            status.running = true;
            status
        })
    }

    pub async fn sync_status(&self) -> Result<ipc::SyncStatus, IpcError> {
        self.with_scheduler(|s| ipc_status(&s.status()))
    }

    /// Whether the last sync reached the portal, when one has run.
    pub fn sync_connectivity(&self) -> Option<Connectivity> {
        self.with_scheduler(|s| s.status().connectivity).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kartoteka_domain::ipc::ErrorCode;
    use kartoteka_domain::EntityType;

    #[test]
    fn sync_events_become_ui_events_and_cancelled_runs_stay_quiet() {
        let now = Utc::now();
        assert_eq!(
            app_event(&SyncEvent::Started, now),
            Some(AppEvent::SyncStarted {})
        );
        assert_eq!(
            app_event(
                &SyncEvent::Failed {
                    code: SyncErrorCode::Offline,
                    user_code: ErrorCode::Offline,
                    message: "down".into()
                },
                now
            ),
            Some(AppEvent::SyncFailed {
                error: IpcError::new(ErrorCode::Offline, "down")
            })
        );
        assert_eq!(
            app_event(
                &SyncEvent::Failed {
                    code: SyncErrorCode::Cancelled,
                    user_code: ErrorCode::Internal,
                    message: String::new()
                },
                now
            ),
            None
        );
        // A portal failure keeps its own code: an overloaded portal is not "no CRM rights".
        assert_eq!(
            app_event(
                &SyncEvent::Failed {
                    code: SyncErrorCode::Portal,
                    user_code: ErrorCode::PortalBlocked,
                    message: "OVERLOAD_LIMIT".into()
                },
                now
            ),
            Some(AppEvent::SyncFailed {
                error: IpcError::new(ErrorCode::PortalBlocked, "OVERLOAD_LIMIT")
            })
        );
        let progress = SyncEvent::Progress {
            entity_type: Some(EntityType::Deal),
            phase: kartoteka_sync::SyncPhase::Initial,
            done: 3,
            total: Some(9),
        };
        assert!(matches!(
            app_event(&progress, now),
            Some(AppEvent::SyncProgress {
                progress: SyncProgress {
                    entity_type: EntityType::Deal,
                    done: 3,
                    total: Some(9)
                }
            })
        ));
    }
}
