//! The portal the app works with: the built-in demo portal (our sandbox, started in-process on a
//! free loopback port) or a real Bitrix24 portal through its webhook.

use crate::api::error::from_bitrix;
use crate::api::events::SharedSink;
use kartoteka_bitrix::{Client, ClientOptions, WebhookUrl};
use kartoteka_domain::ipc::{
    AppEvent, EntityCount, ErrorCode, IpcError, PortalCounts, PortalMode, PortalStatus,
};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{Sandbox, SandboxOptions};
use kartoteka_store::Store;
use kartoteka_sync::SyncScheduler;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A connected portal: its client and, for the demo, the sandbox serving it.
pub struct Portal {
    mode: PortalMode,
    host: String,
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

/// Where the app stands with its portal.
#[derive(Clone)]
enum Slot {
    Starting,
    Ready(Arc<Portal>),
    Failed(IpcError),
    NotConfigured,
}

/// The app's state shared by all commands.
pub struct Core {
    slot: watch::Sender<Slot>,
    online: Arc<AtomicBool>,
    events: SharedSink,
    /// Sync of the current portal into its replica.
    sync: Mutex<Option<SyncScheduler>>,
    /// Where the replicas live (the app's data directory).
    data_dir: PathBuf,
    /// The replica of the current portal, shared with sync; opened when a portal is installed.
    replica: Mutex<Option<Arc<Mutex<Store>>>>,
}

impl Core {
    pub fn new(events: SharedSink, data_dir: PathBuf) -> Self {
        let (slot, _) = watch::channel(Slot::Starting);
        Core {
            slot,
            online: Arc::new(AtomicBool::new(false)),
            events,
            sync: Mutex::new(None),
            data_dir,
            replica: Mutex::new(None),
        }
    }

    /// Runs a read or write on the current portal's replica.
    pub fn with_replica<T>(
        &self,
        f: impl FnOnce(&Store) -> Result<T, IpcError>,
    ) -> Result<T, IpcError> {
        let replica = self.replica()?;
        let store = replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&store)
    }

    /// The current portal's replica, as sync shares it.
    pub fn replica(&self) -> Result<Arc<Mutex<Store>>, IpcError> {
        let guard = self
            .replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard
            .clone()
            .ok_or_else(|| IpcError::new(ErrorCode::Storage, "the local database is not open"))
    }

    /// Runs something on the current portal's sync scheduler.
    pub fn with_scheduler<T>(&self, f: impl FnOnce(&SyncScheduler) -> T) -> Result<T, IpcError> {
        let guard = self
            .sync
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.as_ref().map(f).ok_or_else(|| {
            IpcError::new(
                ErrorCode::Storage,
                "sync is not running: the local database is not open",
            )
        })
    }

    /// Replaces the sync of the previous portal with one for this portal and its replica.
    fn start_sync(&self, portal: &Portal) {
        let scheduler = self.replica().ok().map(|replica| {
            crate::api::sync::spawn_scheduler(
                portal.client.clone(),
                replica,
                self.events.clone(),
                self.online.clone(),
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
        let name: String = match portal.mode {
            PortalMode::Demo => "demo".to_string(),
            _ => portal
                .host
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect(),
        };
        let path = self.data_dir.join(format!("{name}.kartoteka.db"));
        if portal.mode == PortalMode::Demo {
            // The demo portal is generated afresh at every start: so is its replica.
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        let opened = std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| e.to_string())
            .and_then(|()| {
                Store::open(&self.data_dir.join(format!("{name}.kartoteka.db")))
                    .map_err(|e| e.to_string())
            });
        let mut guard = self
            .replica
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match opened {
            Ok(store) => *guard = Some(Arc::new(Mutex::new(store))),
            Err(error) => {
                tracing::error!(%error, "the local database did not open");
                *guard = None;
            }
        }
    }

    /// Starts the demo portal: the sandbox with the standard demo data set, on 127.0.0.1 with a
    /// free port, real clock and standard limits; the client uses its administrator's webhook.
    pub async fn use_demo(&self) -> Result<PortalStatus, IpcError> {
        self.slot.send_replace(Slot::Starting);
        match start_demo().await {
            Ok(portal) => Ok(self.install(portal)),
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
        let client = Client::new(webhook, ClientOptions::default()).map_err(|e| from_bitrix(&e))?;
        // One cheap call proves the URL, the rights and the plan before we switch to it.
        client
            .count(EntityType::Deal)
            .await
            .map_err(|e| from_bitrix(&e))?;
        tracing::info!(%host, "connected to a portal");
        Ok(self.install(Portal {
            mode: PortalMode::Webhook,
            host,
            client,
            _sandbox: None,
        }))
    }

    /// Marks that no portal is configured: the UI shows the connect screen.
    pub fn set_not_configured(&self) {
        self.slot.send_replace(Slot::NotConfigured);
    }

    fn install(&self, portal: Portal) -> PortalStatus {
        self.open_replica(&portal);
        self.start_sync(&portal);
        let portal = Arc::new(portal);
        self.slot.send_replace(Slot::Ready(portal.clone()));
        self.online.store(true, Ordering::SeqCst);
        let status = status_of(&portal, true);
        self.events.send(AppEvent::PortalChanged {
            status: status.clone(),
        });
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
                Slot::NotConfigured => {
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
                Ok(status)
            }
            Slot::NotConfigured => Ok(PortalStatus {
                mode: PortalMode::NotConfigured,
                portal_name: String::new(),
                online: false,
                last_sync_at: None,
            }),
            Slot::Failed(error) => Err(error),
            Slot::Starting => Err(IpcError::new(
                ErrorCode::Internal,
                "the portal is still starting",
            )),
        }
    }

    /// The number of records of each type on the portal.
    pub async fn counts(&self) -> Result<PortalCounts, IpcError> {
        let portal = self.portal().await?;
        let mut counts = Vec::with_capacity(EntityType::ALL.len());
        for entity_type in EntityType::ALL {
            let count = portal.client.count(entity_type).await;
            let count = self.observe(count).map_err(|e| from_bitrix(&e))?;
            counts.push(EntityCount { entity_type, count });
        }
        tracing::debug!(types = counts.len(), "portal counts read");
        Ok(PortalCounts { counts })
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
    }
}

async fn start_demo() -> Result<Portal, IpcError> {
    let sandbox = Sandbox::start(SandboxOptions {
        records: None,
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
    let client = Client::new(webhook, ClientOptions::default()).map_err(|e| from_bitrix(&e))?;
    tracing::info!(addr = %sandbox.addr(), "demo portal started");
    Ok(Portal {
        mode: PortalMode::Demo,
        host: sandbox.addr().to_string(),
        client,
        _sandbox: Some(sandbox),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EventSink;

    #[derive(Default)]
    struct Collected(Mutex<Vec<AppEvent>>);

    impl EventSink for Collected {
        fn send(&self, event: AppEvent) {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_portal_starts_on_loopback_and_reports_counts_for_every_type() {
        let dir = tempfile::tempdir().expect("temp dir");
        let events = Arc::new(Collected::default());
        let core = Core::new(events.clone(), dir.path().to_path_buf());

        let status = core.use_demo().await.expect("the demo portal starts");
        assert_eq!(status.mode, PortalMode::Demo);
        assert!(
            status.portal_name.starts_with("127.0.0.1:"),
            "demo must run on loopback: {}",
            status.portal_name
        );
        assert!(status.online);

        let counts = core.counts().await.expect("counts from the demo portal");
        let types: Vec<_> = counts.counts.iter().map(|c| c.entity_type).collect();
        assert_eq!(
            types,
            EntityType::ALL.to_vec(),
            "one count per type, in sidebar order"
        );
        assert!(
            counts.counts.iter().all(|c| c.count > 0),
            "the demo data set has records of every type: {counts:?}"
        );

        let sent = events.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(
            matches!(sent.first(), Some(AppEvent::PortalChanged { status }) if status.mode == PortalMode::Demo),
            "the UI is told about the new portal: {sent:?}"
        );
        // The replica of the demo portal is opened next to the app's data.
        assert!(core.with_replica(|_| Ok(())).is_ok());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn demo_portal_is_synced_at_start_and_its_lists_and_cards_read_from_the_replica() {
        use kartoteka_domain::ipc::{RecordGetRequest, RecordsListRequest};
        let dir = tempfile::tempdir().expect("temp dir");
        let events = Arc::new(Collected::default());
        let core = Core::new(events.clone(), dir.path().to_path_buf());
        core.use_demo().await.expect("the demo portal starts");

        // The scheduler syncs at start; wait for the first run to settle (not a timing claim:
        // the bound only keeps a broken sync from hanging the test).
        let mut status = core.sync_status().await.expect("sync status");
        for _ in 0..1200 {
            if status.last_sync_at.is_some() || status.last_error.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            status = core.sync_status().await.expect("sync status");
        }
        assert_eq!(
            status.last_error, None,
            "the first sync of the demo portal fails"
        );
        assert!(
            status.last_sync_at.is_some(),
            "the first sync did not finish"
        );

        let counts = core.counts().await.expect("counts");
        let deals = counts
            .counts
            .iter()
            .find(|c| c.entity_type == EntityType::Deal)
            .map(|c| c.count);
        let request = RecordsListRequest {
            entity_type: EntityType::Deal,
            search: None,
            stage_ids: vec![],
            responsible_ids: vec![],
            category_id: None,
            sort: None,
            cursor: None,
            limit: 50,
        };
        let page = core.records_list(request.clone()).await.expect("deal list");
        assert_eq!(
            Some(page.total),
            deals,
            "the replica holds every deal the portal counts"
        );
        assert_eq!(page.rows.len(), 50);
        let next = core
            .records_list(RecordsListRequest {
                cursor: page.next_cursor.clone(),
                ..request
            })
            .await
            .expect("second page");
        assert!(
            next.rows
                .iter()
                .all(|r| page.rows.iter().all(|p| p.key != r.key)),
            "the second page continues after the first, without repeats"
        );

        let first = page.rows[0].key;
        let card = core
            .record_get(RecordGetRequest { key: first })
            .await
            .expect("deal card");
        assert_eq!(card.title, page.rows[0].title);
        assert!(
            card.fields.iter().any(|f| f.label != f.name),
            "fields carry their labels: {:?}",
            card.fields
        );

        let sent = events.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert!(
            sent.iter()
                .any(|e| matches!(e, AppEvent::SyncFinished { .. })),
            "the UI hears that sync finished"
        );
    }

    #[tokio::test]
    async fn a_malformed_webhook_is_refused_as_invalid_input_without_echoing_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let core = Core::new(Arc::new(Collected::default()), dir.path().to_path_buf());
        let error = core
            .connect("http://portal.example.com/rest/1/s3cr3t/")
            .await
            .err();
        let error = error.expect("plain http to a non-loopback host is refused");
        assert_eq!(error.code, ErrorCode::InvalidInput);
        assert!(
            !error.message.contains("s3cr3t"),
            "the secret leaked: {}",
            error.message
        );
    }
}
