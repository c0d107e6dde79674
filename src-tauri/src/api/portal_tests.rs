//! Tests of the portal layer against the demo portal (our sandbox on loopback).
use super::*;
use crate::api::EventSink;
use kartoteka_bitrix::MemorySecretStore;

fn memory_secrets() -> Arc<dyn SecretStore> {
    Arc::new(MemorySecretStore::new())
}

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
    let core = Core::new(events.clone(), dir.path().to_path_buf(), memory_secrets());

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
    let core = Core::new(events.clone(), dir.path().to_path_buf(), memory_secrets());
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
        page.total, deals,
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
    let core = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_portal_is_remembered_without_its_secret_in_the_settings_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets = memory_secrets();
    // A second sandbox stands in for a real portal: connect to it by its webhook.
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    let url = portal.admin_webhook_url();
    let core = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        secrets.clone(),
    );
    let status = core.connect(&url).await.expect("the webhook is accepted");
    assert_eq!(status.mode, PortalMode::Webhook);

    let file = std::fs::read_to_string(dir.path().join("portal.json")).expect("settings written");
    let code = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(
        !code.is_empty() && !file.contains(&code),
        "the webhook secret must not be in the settings file: {file}"
    );

    // The next start uses the remembered portal, not the demo.
    let next = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        secrets,
    );
    let status = next.start(false).await.expect("start");
    assert_eq!(status.mode, PortalMode::Webhook);
    assert_eq!(status.portal_name, portal.addr().to_string());
    // --demo wins over the configured portal.
    let demo = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    );
    assert_eq!(
        demo.start(true).await.expect("demo start").mode,
        PortalMode::Demo
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_start_without_demo_shows_the_connect_screen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    );
    let started = core.start(false).await.expect("start");
    assert_eq!(
        started.mode,
        PortalMode::NotConfigured,
        "as the README says: no portal connected yet means the connect screen, not the demo"
    );
    assert_eq!(
        core.status().await.expect("status").mode,
        PortalMode::NotConfigured
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replica_counts_match_the_portal_after_the_first_sync() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    );
    core.use_demo().await.expect("the demo portal starts");
    for _ in 0..1200 {
        let status = core.sync_status().await.expect("sync status");
        if status.last_sync_at.is_some() || status.last_error.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let from_portal = core.counts().await.expect("portal counts");
    let from_replica = core.replica_counts().expect("replica counts");
    assert_eq!(
        from_replica, from_portal,
        "offline, the overview shows what the portal showed at the last sync"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_asked_for_while_the_portal_starts_waits_for_its_replica() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    ));
    // The window asks for a list before the demo portal (and its replica) is ready.
    let asked = {
        let core = core.clone();
        tokio::spawn(async move {
            core.records_list(kartoteka_domain::ipc::RecordsListRequest {
                entity_type: EntityType::Deal,
                search: None,
                stage_ids: Vec::new(),
                responsible_ids: Vec::new(),
                category_id: None,
                sort: None,
                cursor: None,
                limit: 50,
            })
            .await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    core.start(true).await.expect("the demo portal starts");
    let page = asked.await.expect("the list task ends");
    assert!(
        page.is_ok(),
        "a list opened during start waits for the replica instead of a storage error: {page:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_cards_and_history_answer_while_sync_holds_a_write_transaction() {
    use kartoteka_domain::history::HistoryListRequest;
    use kartoteka_domain::ipc::{RecordGetRequest, RecordsListRequest};
    let dir = tempfile::tempdir().expect("temp dir");
    let core = Arc::new(Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    ));
    core.use_demo().await.expect("the demo portal starts");
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
    // Wait for the first sync's deals (the bound only keeps a broken sync from hanging the test).
    for _ in 0..1200 {
        if core
            .records_list(request.clone())
            .await
            .is_ok_and(|p| !p.rows.is_empty())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // What a pull does during each 2,500-record batch: the writer's lock is held and a write
    // transaction is open on the file.
    let writer = core.replica().expect("replica");
    let db = replica_path(dir.path(), PortalMode::Demo, "", 0);
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (holding, held) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let _writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        let raw = rusqlite::Connection::open(&db).expect("raw connection");
        raw.busy_timeout(std::time::Duration::from_secs(30))
            .expect("busy timeout");
        raw.execute_batch(
            "BEGIN IMMEDIATE; UPDATE records SET title = title || ' (writing)' WHERE rowid = \
             (SELECT MIN(rowid) FROM records);",
        )
        .expect("write transaction");
        holding.send(()).expect("tell the test");
        // Until the screens have answered, or for a minute at most.
        let _ = released.recv_timeout(std::time::Duration::from_secs(60));
        raw.execute_batch("ROLLBACK").expect("rollback");
    });
    held.recv().expect("the write transaction is open");

    // On a task of its own: a read that waits for the writer blocks its thread, and the
    // timeout below must still be able to say so.
    let reading = core.clone();
    let screens = tokio::spawn(async move {
        let core = reading;
        let page = core.records_list(request).await?;
        let card = core
            .record_get(RecordGetRequest {
                key: page.rows[0].key,
            })
            .await?;
        let history = core
            .history_list(HistoryListRequest {
                filter: Default::default(),
                cursor: None,
                limit: 50,
                with_total: true,
            })
            .await?;
        Ok::<_, IpcError>((page, card, history))
    });
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), screens).await;
    let _ = release.send(());
    holder.join().expect("holder thread");
    let (page, card, _history) = answered
        .expect("a list, a card and a history page must not wait for the sync's write transaction")
        .expect("the screens' task")
        .expect("the screens read the replica");
    assert_eq!(page.rows.len(), 50);
    assert!(
        !card.title.ends_with("(writing)")
            && page.rows.iter().all(|r| !r.title.ends_with("(writing)")),
        "readers see the last committed state, never a write in progress"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_says_which_scopes_the_webhook_lacks_and_refuses_one_without_crm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let portal = Sandbox::start(SandboxOptions::default())
        .await
        .expect("sandbox");
    let control = kartoteka_sandbox::control::Control::of(&portal);
    let made = |code: &str, scopes: serde_json::Value| {
        let control = control.clone();
        let code = code.to_string();
        async move {
            control
                .post(
                    "credentials",
                    serde_json::json!({"userId": 2, "code": code, "scopes": scopes}),
                )
                .await
                .expect("credential")["url"]
                .as_str()
                .expect("url")
                .to_string()
        }
    };
    let core = Core::new(
        Arc::new(Collected::default()),
        dir.path().to_path_buf(),
        memory_secrets(),
    );
    let no_crm = made("nocrm2", serde_json::json!(["user_brief", "department"])).await;
    let refused = core
        .connect(&no_crm)
        .await
        .expect_err("no crm, no connection");
    assert_eq!(refused.code, ErrorCode::NoAccess);
    assert!(refused.message.contains("crm"), "{}", refused.message);

    let no_department = made("nodep2", serde_json::json!(["crm", "user_brief"])).await;
    let status = core
        .connect(&no_department)
        .await
        .expect("crm is enough to connect");
    assert_eq!(status.missing_scopes, vec![WebhookScope::Department]);
    // Kept with the replica: the next status says it too, until a sync asks again.
    let again = core.status().await.expect("status");
    assert_eq!(again.missing_scopes, vec![WebhookScope::Department]);
    portal.shutdown().await;
}
