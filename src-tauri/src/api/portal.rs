//! The portal the app works with: the built-in demo portal (our sandbox, started in-process on a
//! free loopback port) or a real Bitrix24 portal through its webhook.

use crate::api::error::from_bitrix;
use crate::api::events::SharedSink;
use kartoteka_bitrix::{Client, ClientOptions, SecretStore, WebhookUrl};
use kartoteka_domain::ipc::{
    AppEvent, EntityCount, ErrorCode, IpcError, PortalCounts, PortalMode, PortalStatus,
    WebhookScope,
};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{Sandbox, SandboxOptions};
use kartoteka_store::{ReadPool, Store};
use kartoteka_sync::{Policy, SyncScheduler};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A connected portal: its client and, for the demo, the sandbox serving it.
pub struct Portal {
    mode: PortalMode,
    host: String,
    /// The portal user the webhook acts as: with the host, whose replica this is.
    user_id: i64,
    client: Client,
    /// Kept alive as long as the portal is in use; dropping it stops the demo server.
    _sandbox: Option<Sandbox>,
}

impl Portal {
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn mode(&self) -> PortalMode {
        self.mode
    }
}

/// Read-only connections the screens share: two, so that a list and a card (or a history page)
/// read at the same time; each has its own page cache, so more would cost memory at idle.
const READERS: usize = 2;

/// A portal's replica: the one writer (sync, edits) and the screens' read connections.
#[derive(Clone)]
struct Replica {
    writer: Arc<Mutex<Store>>,
    readers: Arc<ReadPool>,
}

impl Replica {
    /// Opens (and migrates) the file with the writer first, then the readers beside it.
    fn open(path: &Path) -> Result<Replica, kartoteka_store::StoreError> {
        let writer = Store::open(path)?;
        let readers = ReadPool::open(path, READERS)?;
        Ok(Replica {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
        })
    }
}

/// Where the app stands with its portal.
#[derive(Clone)]
enum Slot {
    Starting,
    Ready(Arc<Portal>),
    Failed(IpcError),
    /// No portal to open: the connect screen, with the reason when a configured portal's
    /// webhook could not be read (the keyring is unavailable or lost it).
    NotConfigured(Option<IpcError>),
}

/// The app's state shared by all commands.
pub struct Core {
    slot: watch::Sender<Slot>,
    /// Where webhook URLs are kept (the OS keyring in the app).
    pub(crate) secrets: Arc<dyn SecretStore>,
    pub(crate) online: Arc<AtomicBool>,
    /// The user's "work offline" switch (kept in the data directory): no upload, no pull.
    pub(crate) work_offline: Arc<AtomicBool>,
    pub(crate) events: SharedSink,
    /// Sync of the current portal into its replica.
    sync: Mutex<Option<SyncScheduler>>,
    /// Where the replicas and settings live (the app's data directory).
    pub(crate) data_dir: PathBuf,
    /// The replica of the current portal: its writer, shared with sync, and the screens' read
    /// connections; opened when a portal is installed. When it cannot be opened, why (a newer
    /// version's file, a full disk): every command that needs it answers with that reason.
    replica: Mutex<Result<Replica, IpcError>>,
    /// How many records the demo portal holds; `None`: the standard demo set.
    demo_records: Option<usize>,
    /// How the REST client of a webhook portal retries (production defaults; quicker in tests).
    client_options: ClientOptions,
    /// How sync runs (production defaults; quicker retries in tests).
    sync_policy: Policy,
    /// Card views, exports and the replica file, for the history commands.
    pub(crate) history: crate::api::history::HistoryState,
}

impl Core {
    pub fn new(events: SharedSink, data_dir: PathBuf, secrets: Arc<dyn SecretStore>) -> Self {
        let (slot, _) = watch::channel(Slot::Starting);
        let work_offline = crate::api::outbox::read_sync_settings(&data_dir).work_offline;
        Core {
            slot,
            secrets,
            online: Arc::new(AtomicBool::new(false)),
            work_offline: Arc::new(AtomicBool::new(work_offline)),
            events,
            sync: Mutex::new(None),
            data_dir,
            replica: Mutex::new(Err(not_open())),
            demo_records: None,
            client_options: ClientOptions::default(),
            sync_policy: Policy::default(),
            history: Default::default(),
        }
    }

    /// Tunes the REST client of webhook portals and the sync runs (tests make retries quick).
    pub fn with_retries(mut self, client_options: ClientOptions, sync_policy: Policy) -> Self {
        self.client_options = client_options;
        self.sync_policy = sync_policy;
        self
    }

    /// The demo portal will hold `records` records (`None`: the standard demo set).
    pub fn with_demo_records(mut self, records: Option<usize>) -> Self {
        self.demo_records = records;
        self
    }

    /// Runs a read on the current portal's replica, on one of the screens' read-only
    /// connections: it never waits for a sync's write transaction (WAL).
    pub fn with_replica<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, IpcError>,
    ) -> Result<T, IpcError> {
        let readers = self.current_replica()?.readers;
        readers.read(f)
    }

    /// The current portal's replica writer, as sync shares it.
    pub fn replica(&self) -> Result<Arc<Mutex<Store>>, IpcError> {
        Ok(self.current_replica()?.writer)
    }

    fn current_replica(&self) -> Result<Replica, IpcError> {
        let guard = self
            .replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.clone()
    }

    /// Runs something on the current portal's sync scheduler.
    pub fn with_scheduler<T>(&self, f: impl FnOnce(&SyncScheduler) -> T) -> Result<T, IpcError> {
        let guard = self
            .sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match guard.as_ref() {
            Some(scheduler) => Ok(f(scheduler)),
            // Sync runs whenever the replica is open: say why it is not.
            None => Err(self.replica().err().unwrap_or_else(not_open)),
        }
    }

    /// Replaces the sync of the previous portal with one for this portal and its replica.
    fn start_sync(&self, portal: &Portal) {
        let scheduler = self.replica().ok().map(|replica| {
            crate::api::sync::spawn_scheduler(
                portal.client.clone(),
                self.sync_policy.clone(),
                replica,
                self.events.clone(),
                self.online.clone(),
                self.work_offline.clone(),
            )
        });
        let previous = {
            let mut guard = self
                .sync
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            std::mem::replace(&mut *guard, scheduler)
        };
        if let Some(previous) = previous {
            tokio::spawn(previous.shutdown());
        }
    }

    /// Opens the replica file of a portal: one file per portal, named after its host.
    fn open_replica(&self, portal: &Portal) {
        let path = replica_path(&self.data_dir, portal.mode, &portal.host, portal.user_id);
        if portal.mode == PortalMode::Demo {
            // The demo portal is generated afresh at every start: so is its replica.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        // The app's own folder: the user's alone (kartoteka_store::private_files).
        let opened = kartoteka_store::private_dir(&self.data_dir)
            .map_err(|e| {
                IpcError::new(
                    ErrorCode::Storage,
                    format!("the app's data folder cannot be created: {e}"),
                )
            })
            .and_then(|()| Replica::open(&path).map_err(|e| crate::api::records::from_store(&e)));
        if let Err(error) = &opened {
            tracing::error!(code = ?error.code, %error, "the local database did not open");
        }
        let mut guard = self
            .replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.history
            .set_replica_path(opened.is_ok().then(|| path.clone()));
        *guard = opened;
    }

    /// Starts the demo portal: the sandbox with the standard demo data set, on 127.0.0.1 with a
    /// free port, real clock and standard limits; the client uses its administrator's webhook.
    pub async fn use_demo(&self) -> Result<PortalStatus, IpcError> {
        self.slot.send_replace(Slot::Starting);
        match start_demo(self.demo_records).await {
            Ok(portal) => Ok(self.install(portal, true)),
            Err(error) => {
                tracing::error!(code = ?error.code, "the demo portal did not start");
                self.slot.send_replace(Slot::Failed(error.clone()));
                Err(error)
            }
        }
    }

    /// Connects to a real portal by its webhook, after checking that the webhook can read the CRM.
    pub async fn connect(&self, webhook_url: &str) -> Result<PortalStatus, IpcError> {
        let webhook = WebhookUrl::parse(webhook_url).map_err(|e| from_bitrix(&e))?;
        let host = webhook.portal_host();
        let user_id = webhook.user_id();
        let client =
            Client::new(webhook, self.client_options.clone()).map_err(|e| from_bitrix(&e))?;
        // The webhook's scopes first: without `crm` nothing works, and the person is told
        // which box to tick rather than shown a later refusal. A portal that does not list
        // scopes is judged by the call below alone.
        let missing = match client.scopes().await {
            Ok(granted) => Some(WebhookScope::missing_from(&granted)),
            Err(error) if error.class() == kartoteka_bitrix::ErrorClass::Auth => {
                return Err(from_bitrix(&error))
            }
            Err(error) => {
                tracing::info!(%error, "the portal did not list the webhook's scopes");
                None
            }
        };
        if missing
            .as_ref()
            .is_some_and(|m| m.contains(&WebhookScope::Crm))
        {
            return Err(IpcError::new(
                ErrorCode::NoAccess,
                "the webhook lacks the crm scope: edit it in Bitrix24 and tick crm",
            )
            .with_param("scope", "crm"));
        }
        // One cheap call proves the URL, the rights and the plan before we switch to it.
        client
            .count(EntityType::Deal)
            .await
            .map_err(|e| from_bitrix(&e))?;
        tracing::info!(%host, ?missing, "connected to a portal");
        self.remember(client.webhook()).await?;
        let portal = Portal {
            mode: PortalMode::Webhook,
            host,
            user_id,
            client,
            _sandbox: None,
        };
        let mut status = self.install(portal, true);
        // Kept with the replica only when the portal said; the sync asks again either way.
        if let Some(missing) = &missing {
            match self.replica() {
                Ok(replica) => {
                    let mut store = replica
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    if let Err(error) = store.set_missing_scopes(missing) {
                        tracing::warn!(%error, "the webhook's scopes were not stored");
                    }
                }
                Err(error) => {
                    tracing::warn!(%error, "no replica to keep the webhook's scopes in")
                }
            }
        }
        let missing_now = self.missing_scopes();
        if missing_now != status.missing_scopes {
            // `install` told the UI what the replica knew before this connect.
            status.missing_scopes = missing_now;
            self.events.send(AppEvent::PortalChanged {
                status: status.clone(),
            });
        }
        Ok(status)
    }

    /// The scopes the webhook lacked when the portal last said (kept in the replica).
    fn missing_scopes(&self) -> Vec<WebhookScope> {
        let Ok(replica) = self.replica() else {
            return Vec::new();
        };
        let store = replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        store.missing_scopes().unwrap_or_default()
    }

    /// Starts on the configured portal, or on the connect screen when none is configured; on the
    /// demo portal when the user asked for it with `--demo`.
    ///
    /// When a portal is configured but its webhook cannot be read from the secret store, the app
    /// does not fall back to the demo silently: it shows the connect screen saying why, so the
    /// webhook can be pasted again.
    pub async fn start(&self, demo: bool) -> Result<PortalStatus, IpcError> {
        if !demo {
            let configured = match self.configured_webhook().await {
                Ok(configured) => configured,
                Err(problem) => {
                    tracing::warn!(code = ?problem.code, "the configured portal's webhook is out of reach");
                    self.slot
                        .send_replace(Slot::NotConfigured(Some(problem.clone())));
                    return Ok(not_configured(Some(problem)));
                }
            };
            if let Some(webhook) = configured {
                let host = webhook.portal_host();
                let user_id = webhook.user_id();
                let client = Client::new(webhook, self.client_options.clone())
                    .map_err(|e| from_bitrix(&e))?;
                tracing::info!(%host, "starting on the configured portal");
                // Offline-first: no portal call before the window shows; sync finds out.
                let portal = Portal {
                    mode: PortalMode::Webhook,
                    host,
                    user_id,
                    client,
                    _sandbox: None,
                };
                // Not known to answer until the first sync says so.
                return Ok(self.install(portal, false));
            }
            // Nothing connected yet: the connect screen, which also offers the demo portal.
            tracing::info!("no portal configured: showing the connect screen");
            self.set_not_configured();
            return Ok(not_configured(None));
        }
        self.use_demo().await
    }

    /// Marks that no portal is configured: the UI shows the connect screen.
    pub fn set_not_configured(&self) {
        self.slot.send_replace(Slot::NotConfigured(None));
    }

    /// Switches to a portal; `reached` says whether it has just answered a call.
    fn install(&self, portal: Portal, reached: bool) -> PortalStatus {
        self.online.store(reached, Ordering::SeqCst);
        self.open_replica(&portal);
        self.start_sync(&portal);
        let portal = Arc::new(portal);
        self.slot.send_replace(Slot::Ready(portal.clone()));
        let mut status = status_of(&portal, reached);
        status.work_offline = self.works_offline();
        status.missing_scopes = self.missing_scopes();
        self.events.send(AppEvent::PortalChanged {
            status: status.clone(),
        });
        self.refresh_profile(portal.client.clone());
        status
    }

    /// The current portal, waiting while one is starting.
    pub async fn portal(&self) -> Result<Arc<Portal>, IpcError> {
        let mut rx = self.slot.subscribe();
        loop {
            let slot = rx.borrow_and_update().clone();
            match slot {
                Slot::Ready(portal) => return Ok(portal),
                Slot::Failed(error) => return Err(error),
                Slot::NotConfigured(Some(problem)) => return Err(problem),
                Slot::NotConfigured(None) => {
                    return Err(IpcError::new(
                        ErrorCode::InvalidInput,
                        "no portal is connected",
                    ))
                }
                Slot::Starting => {}
            }
            if rx.changed().await.is_err() {
                return Err(IpcError::new(
                    ErrorCode::Internal,
                    "the app is shutting down",
                ));
            }
        }
    }

    pub async fn status(&self) -> Result<PortalStatus, IpcError> {
        let slot = {
            let mut rx = self.slot.subscribe();
            // Wait out a start in progress so the first screen is not a flash of "not configured".
            while matches!(*rx.borrow_and_update(), Slot::Starting) {
                if rx.changed().await.is_err() {
                    break;
                }
            }
            let slot = rx.borrow().clone();
            slot
        };
        match slot {
            Slot::Ready(portal) => {
                let mut status = status_of(&portal, self.online.load(Ordering::SeqCst));
                status.last_sync_at = self.sync_status().await.ok().and_then(|s| s.last_sync_at);
                status.work_offline = self.works_offline();
                status.missing_scopes = self.missing_scopes();
                Ok(status)
            }
            Slot::NotConfigured(problem) => Ok(not_configured(problem)),
            Slot::Failed(error) => Err(error),
            Slot::Starting => Err(IpcError::new(
                ErrorCode::Internal,
                "the portal is still starting",
            )),
        }
    }

    /// The number of records of each type on the portal.
    ///
    /// Offline-first: when the last sync found the portal unreachable, or the portal does not
    /// answer now, the counts come from the replica (as of the last sync) instead of an error.
    pub async fn counts(&self) -> Result<PortalCounts, IpcError> {
        let portal = self.portal().await?;
        // Working offline by choice: no portal call at all.
        if self.works_offline()
            || self.sync_connectivity() == Some(kartoteka_sync::Connectivity::Offline)
        {
            if let Ok(counts) = self.replica_counts() {
                return Ok(counts);
            }
        }
        let mut counts = Vec::with_capacity(EntityType::ALL.len());
        for entity_type in EntityType::ALL {
            let count = portal.client.count(entity_type).await;
            match self.observe(count).map_err(|e| from_bitrix(&e)) {
                Ok(count) => counts.push(EntityCount { entity_type, count }),
                Err(error) if error.code == ErrorCode::Offline => {
                    return self.replica_counts().map_err(|_| error);
                }
                Err(error) => return Err(error),
            }
        }
        tracing::debug!(types = counts.len(), "portal counts read");
        Ok(PortalCounts { counts })
    }

    /// Records per type in the replica (active ones: what the lists show).
    pub fn replica_counts(&self) -> Result<PortalCounts, IpcError> {
        self.with_replica(|store| {
            let counts = store
                .counts()
                .map_err(|e| crate::api::records::from_store(&e))?;
            Ok(PortalCounts {
                counts: counts
                    .into_iter()
                    .map(|c| EntityCount {
                        entity_type: c.entity_type,
                        count: c.active,
                    })
                    .collect(),
            })
        })
    }

    /// Notes whether a portal call reached the portal, and tells the UI when that changes.
    pub fn observe<T>(
        &self,
        result: Result<T, kartoteka_bitrix::BitrixError>,
    ) -> Result<T, kartoteka_bitrix::BitrixError> {
        let online = match &result {
            Ok(_) => true,
            Err(e) => from_bitrix(e).code != ErrorCode::Offline,
        };
        if self.online.swap(online, Ordering::SeqCst) != online {
            tracing::info!(online, "portal connection changed");
            self.events.send(AppEvent::ConnectionChanged { online });
        }
        result
    }
}

fn status_of(portal: &Portal, online: bool) -> PortalStatus {
    PortalStatus {
        mode: portal.mode,
        portal_name: portal.host.clone(),
        online,
        last_sync_at: None,
        problem: None,
        work_offline: false,
        missing_scopes: Vec::new(),
    }
}

fn not_configured(problem: Option<IpcError>) -> PortalStatus {
    PortalStatus {
        mode: PortalMode::NotConfigured,
        portal_name: String::new(),
        online: false,
        last_sync_at: None,
        problem,
        work_offline: false,
        missing_scopes: Vec::new(),
    }
}

fn not_open() -> IpcError {
    IpcError::new(ErrorCode::Storage, "the local database is not open")
}

/// The replica file of a portal in the app's data folder: one file per person, named after the
/// portal's host and the user the webhook acts as (two people on one computer, or two webhooks
/// of different users on one portal, never share a file). The demo portal's is always `demo`.
pub(crate) fn replica_path(data_dir: &Path, mode: PortalMode, host: &str, user_id: i64) -> PathBuf {
    match mode {
        PortalMode::Demo => data_dir.join("demo.kartoteka.db"),
        _ => data_dir.join(format!("{}-user{user_id}.kartoteka.db", file_safe(host))),
    }
}

/// Where versions before per-user replicas kept a portal's replica: named after the host only.
pub(crate) fn legacy_replica_path(data_dir: &Path, host: &str) -> PathBuf {
    data_dir.join(format!("{}.kartoteka.db", file_safe(host)))
}

fn file_safe(host: &str) -> String {
    host.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

async fn start_demo(records: Option<usize>) -> Result<Portal, IpcError> {
    let sandbox = Sandbox::start(SandboxOptions {
        records,
        ..Default::default()
    })
    .await
    .map_err(|e| {
        IpcError::new(
            ErrorCode::Internal,
            format!("the demo portal did not start: {e}"),
        )
    })?;
    let webhook = WebhookUrl::parse(&sandbox.admin_webhook_url()).map_err(|e| from_bitrix(&e))?;
    let webhook_user = webhook.user_id();
    let client = Client::new(webhook, ClientOptions::default()).map_err(|e| from_bitrix(&e))?;
    tracing::info!(addr = %sandbox.addr(), "demo portal started");
    Ok(Portal {
        mode: PortalMode::Demo,
        host: sandbox.addr().to_string(),
        user_id: webhook_user,
        client,
        _sandbox: Some(sandbox),
    })
}

#[cfg(test)]
#[path = "portal_tests.rs"]
mod tests;
