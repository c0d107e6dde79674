//! History (product.md §4): the card's History tab and the global History page read the local
//! event store; views, exports and hidings are recorded here as this device's user. Everything
//! works offline: only the profile refresh talks to the portal.

use crate::api::records::from_store;
use crate::api::Core;
use chrono::Utc;
use kartoteka_bitrix::Client;
use kartoteka_domain::history::{
    HistoryFacets, HistoryHidden, HistoryHideRequest, HistoryListRequest, HistoryPage, RecordAsOf,
    RecordAsOfRequest,
};
use kartoteka_domain::ipc::{ErrorCode, IpcError};
use kartoteka_domain::{HistoryFilter, RecordKey};
use kartoteka_store::{HistoryQuery, LocalActor, Profile, Store, StoreError};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The largest page of events the UI may ask for.
const MAX_PAGE: u32 = 500;
/// A card opened again within this time is not another view (lists reload cards after a sync).
const VIEW_REPEAT_MS: i64 = 10 * 60 * 1000;

/// What the history commands keep between calls.
#[derive(Default)]
pub struct HistoryState {
    /// The last card view recorded: (record, when), so reloads do not record views again.
    last_view: Mutex<Option<(RecordKey, i64)>>,
    /// Set by `history_export_cancel`; the running export stops at its next row.
    pub(crate) export_cancel: Arc<AtomicBool>,
    /// An export is running (one at a time).
    pub(crate) export_running: AtomicBool,
    /// Where exports go by default (the user's Downloads folder); set by the app at start.
    downloads_dir: Mutex<Option<PathBuf>>,
    /// The replica file of the current portal (exports read it on a connection of their own).
    replica_path: Mutex<Option<PathBuf>>,
}

impl HistoryState {
    pub(crate) fn set_replica_path(&self, path: Option<PathBuf>) {
        *self
            .replica_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = path;
    }

    pub(crate) fn replica_path(&self) -> Option<PathBuf> {
        self.replica_path
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(crate) fn downloads_dir(&self) -> Option<PathBuf> {
        self.downloads_dir
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Whether a view of `key` at `at_ms` is a new view (and remembers it if so).
    fn is_new_view(&self, key: RecordKey, at_ms: i64) -> bool {
        let mut last = self
            .last_view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let repeat = matches!(*last, Some((k, t)) if k == key && at_ms - t < VIEW_REPEAT_MS);
        if !repeat {
            *last = Some((key, at_ms));
        }
        !repeat
    }
}

/// A history store error for the UI: refusals and missing entries keep their meaning.
pub fn from_history_store(error: &StoreError) -> IpcError {
    match error {
        StoreError::NotAllowed(why) => IpcError::new(ErrorCode::NoAccess, *why),
        StoreError::NotFound => IpcError::new(ErrorCode::NotFound, "no such history entry"),
        other => from_store(other),
    }
}

/// The store's query for a filter: supervisors also see hidden entries (marked).
pub fn query_of<'a>(filter: &'a HistoryFilter, profile: &Profile) -> HistoryQuery<'a> {
    HistoryQuery {
        filter,
        include_hidden: profile.is_supervisor,
    }
}

/// A filter with blank text and field parts removed, so "" never filters anything out.
pub fn normalized(mut filter: HistoryFilter) -> HistoryFilter {
    filter.text = filter
        .text
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty());
    filter.field = filter.field.filter(|f| !f.trim().is_empty());
    filter
}

/// This device's user as events made here record them (the replica's own device id).
pub fn local_actor(store: &mut Store, online: bool) -> Result<LocalActor, StoreError> {
    store.local_actor(online)
}

/// One page of events; the first page also carries the exact total.
pub fn list(store: &Store, request: HistoryListRequest) -> Result<HistoryPage, StoreError> {
    let profile = store.profile()?;
    let filter = normalized(request.filter);
    let q = query_of(&filter, &profile);
    let (events, next_cursor) =
        store.history_page(&q, request.cursor, request.limit.clamp(1, MAX_PAGE))?;
    let total = if request.with_total {
        Some(store.history_count(&q)?)
    } else {
        None
    };
    Ok(HistoryPage {
        events,
        next_cursor,
        total,
    })
}

pub fn facets(store: &Store) -> Result<HistoryFacets, StoreError> {
    let profile = store.profile()?;
    let (fields, authors) = store.history_facets()?;
    Ok(HistoryFacets {
        fields,
        authors,
        me: profile.user_id,
        is_supervisor: profile.is_supervisor,
    })
}

impl Core {
    /// Runs a write on the current portal's replica.
    pub(crate) fn with_replica_mut<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, IpcError>,
    ) -> Result<T, IpcError> {
        let replica = self.replica()?;
        let mut store = replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut store)
    }

    /// Where exports go when the user names no file (the app sets the Downloads folder).
    pub fn set_downloads_dir(&self, dir: Option<PathBuf>) {
        *self
            .history
            .downloads_dir
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = dir;
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::SeqCst)
    }

    pub async fn history_list(&self, request: HistoryListRequest) -> Result<HistoryPage, IpcError> {
        tracing::debug!(limit = request.limit, "history_list");
        self.with_replica(|store| list(store, request).map_err(|e| from_history_store(&e)))
    }

    pub async fn history_facets(&self) -> Result<HistoryFacets, IpcError> {
        self.with_replica(|store| facets(store).map_err(|e| from_history_store(&e)))
    }

    pub async fn record_as_of(&self, request: RecordAsOfRequest) -> Result<RecordAsOf, IpcError> {
        self.with_replica(|store| {
            store
                .record_as_of(request.key, request.at)
                .map_err(|e| from_history_store(&e))?
                .ok_or_else(|| {
                    IpcError::new(
                        ErrorCode::NotFound,
                        format!(
                            "{} #{} is not in the replica",
                            request.key.entity_type, request.key.id
                        ),
                    )
                })
        })
    }

    pub async fn history_hide(
        &self,
        request: HistoryHideRequest,
    ) -> Result<HistoryHidden, IpcError> {
        let online = self.is_online();
        let at_ms = Utc::now().timestamp_millis();
        self.with_replica_mut(|store| {
            let actor = local_actor(store, online).map_err(|e| from_history_store(&e))?;
            let seq = store
                .hide_history_event(request.seq, &request.reason, &actor, at_ms)
                .map_err(|e| from_history_store(&e))?;
            tracing::info!(seq = request.seq, by = seq, "history entry hidden");
            Ok(HistoryHidden { seq })
        })
    }

    /// Records that this device's user opened a card; a failure is logged, never shown (the
    /// card itself opened). The card never waits for it: while sync holds the writer (a pull's
    /// write transaction), the view is written in the background once the writer is free.
    pub(crate) fn record_card_view(&self, key: RecordKey) {
        let at_ms = Utc::now().timestamp_millis();
        if !self.history.is_new_view(key, at_ms) {
            return;
        }
        let online = self.is_online();
        let Ok(replica) = self.replica() else { return };
        let record = move |store: &mut Store| {
            let recorded = match local_actor(store, online) {
                Ok(actor) => store.record_view(key, &actor, at_ms),
                Err(error) => Err(error),
            }
            .map_err(|e| from_history_store(&e));
            if let Err(error) = recorded {
                tracing::warn!(code = ?error.code, "the card view was not recorded");
            }
        };
        let busy = match replica.try_lock() {
            Ok(mut store) => {
                record(&mut store);
                false
            }
            Err(std::sync::TryLockError::Poisoned(poisoned)) => {
                record(&mut poisoned.into_inner());
                false
            }
            Err(std::sync::TryLockError::WouldBlock) => true,
        };
        if busy {
            tracing::debug!(
                entity_type = %key.entity_type,
                id = key.id,
                "writer busy: the card view is recorded in the background"
            );
            tokio::task::spawn_blocking(move || {
                let mut store = replica
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                record(&mut store);
            });
        }
    }

    /// Asks the portal who the webhook's user is and whether they administer the portal, and
    /// keeps that in the replica (who "by me" is, who may hide entries) before the first sync
    /// has run. Runs in the background; offline it keeps what the last refresh stored.
    pub(crate) fn refresh_profile(&self, client: Client) {
        let Ok(replica) = self.replica() else { return };
        tokio::spawn(async move {
            match client.profile().await {
                Ok(p) => {
                    let mut store = replica
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    // Department heads are supervisors too: the sync's reference step asks
                    // `department.get` and stores the full answer. Here, where only the admin
                    // flag is known, a stored "yes" is not taken back before that sync.
                    let known = store.profile().map(|p| p.is_supervisor).unwrap_or(false);
                    let profile = Profile {
                        user_id: Some(p.id),
                        is_supervisor: p.admin || known,
                    };
                    match store.set_profile(&profile) {
                        Ok(()) => {
                            tracing::info!(user = p.id, supervisor = p.admin, "profile stored")
                        }
                        Err(error) => tracing::warn!(%error, "the profile was not stored"),
                    }
                }
                Err(error) => tracing::warn!(%error, "the profile was not read"),
            }
        });
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
