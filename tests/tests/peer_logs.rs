//! Colleagues' change logs are read completely and never taken for our own, over real HTTP with
//! the sandbox. Two replicas made the way `kartoteka-cli` makes them (`Store::open`, edits as
//! the replica's own user and device, `sync` = upload, pull, read other users' logs): whatever
//! number of uploads the other made between two syncs, each arrives as an exact entry with its
//! author and device time, none lost, none doubled by the observed change — on a portal that
//! lets editors add log messages (26.250) and on one that keeps them to administrators (the
//! manager's logs then go in as comments).

mod sync_support;

use kartoteka_domain::{EntityType, HistoryEvent, HistoryFilter, HistorySource};
use kartoteka_store::{HistoryQuery, Store, LOG_MARKER};
use kartoteka_sync::{CancellationToken, ReconcilePolicy, Uploader};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use sync_support::{client, edit, engine, key, policy, replica, sandbox, Emu};

/// The manager (demo user 2, rights "all": may edit every deal).
const MANAGER: i64 = 2;
const DEAL: i64 = 6;
/// Device time of the first edit; each next one is a minute later.
const FIRST_EDIT_MS: i64 = 1_772_000_000_000;

/// `kartoteka-cli sync`: the outbox first, then the pull, then other users' change logs.
async fn cli_sync(url: &str, store: &Arc<Mutex<Store>>) {
    let cancel = CancellationToken::new();
    let uploader = Uploader::new(
        client(url),
        Arc::clone(store),
        kartoteka_sync::system_clock(),
    );
    let summary = uploader.run(&cancel).await.expect("upload");
    assert_eq!((summary.rejected, summary.conflicts), (0, 0), "{summary:?}");
    engine(url, store, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&cancel)
        .await
        .expect("pull");
    uploader
        .read_peer_logs(&cancel)
        .await
        .expect("read other users' change logs");
}

/// `kartoteka-cli edit`: a save as the replica's own user on its own device.
fn cli_edit(store: &Arc<Mutex<Store>>, fields: Value, happened_ms: i64) {
    let mut s = store.lock().expect("lock");
    let me = s.local_actor(false).expect("the replica's user");
    s.edit_record(&me, key(EntityType::Deal, DEAL), &edit(fields), happened_ms)
        .expect("edit");
}

fn history(store: &Arc<Mutex<Store>>, include_hidden: bool) -> Vec<HistoryEvent> {
    let s = store.lock().expect("lock");
    let filter = HistoryFilter {
        record: Some(key(EntityType::Deal, DEAL)),
        ..Default::default()
    };
    let mut out = Vec::new();
    s.history_each(
        &HistoryQuery {
            filter: &filter,
            include_hidden,
        },
        |e| {
            out.push(e);
            Ok(true)
        },
    )
    .expect("history");
    out
}

/// `count` uploads by `from`, each its own save and its own sync; then `to` syncs once and holds
/// every one of them as an exact entry.
async fn uploads_arrive_complete(
    url_from: &str,
    from: &Arc<Mutex<Store>>,
    from_user: i64,
    url_to: &str,
    to: &Arc<Mutex<Store>>,
    label: &str,
    count: i64,
) {
    for k in 1..=count {
        cli_edit(
            from,
            json!({"title": format!("{label} {k}"), "UF_CRM_VISITS": 100 * from_user + k}),
            FIRST_EDIT_MS + k * 60_000,
        );
        cli_sync(url_from, from).await;
    }
    let from_device = from.lock().expect("lock").device_id().expect("device");
    cli_sync(url_to, to).await;

    let events = history(to, false);
    let titles: Vec<&HistoryEvent> = events
        .iter()
        .filter(|e| {
            e.source == HistorySource::PeerLog
                && e.field.as_deref() == Some("title")
                && e.new_display
                    .as_deref()
                    .is_some_and(|t| t.starts_with(label))
        })
        .collect();
    let mut got: Vec<(String, i64)> = titles
        .iter()
        .map(|e| {
            (
                e.new_display.clone().unwrap_or_default(),
                e.happened_at.timestamp_millis(),
            )
        })
        .collect();
    got.sort_by_key(|(_, at)| *at);
    let want: Vec<(String, i64)> = (1..=count)
        .map(|k| (format!("{label} {k}"), FIRST_EDIT_MS + k * 60_000))
        .collect();
    assert_eq!(
        got, want,
        "every upload of user {from_user} is one exact entry at its device time, none lost"
    );
    for e in &titles {
        assert_eq!(e.author_id, Some(from_user), "the author: {e:?}");
        assert_eq!(
            e.device_id.as_deref(),
            Some(from_device.as_str()),
            "the device it was made on"
        );
    }
    let visits = events
        .iter()
        .filter(|e| {
            e.source == HistorySource::PeerLog && e.field.as_deref() == Some("UF_CRM_VISITS")
        })
        .filter(|e| e.author_id == Some(from_user))
        .count();
    assert_eq!(visits as i64, count, "the other field of each save too");
    let observed: Vec<&HistoryEvent> = events
        .iter()
        .filter(|e| {
            e.source == HistorySource::Observed
                && matches!(e.field.as_deref(), Some("title" | "UF_CRM_VISITS"))
        })
        .collect();
    assert!(
        observed.is_empty(),
        "the change observed at sync is explained by the logs, not shown beside them: {observed:?}"
    );
    let s = to.lock().expect("lock");
    assert_eq!(s.verify_history().expect("verify").1, None);
}

async fn story(logmessage_add: &str) {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    emu.post("config", json!({"logmessageAdd": logmessage_add}))
        .await;
    let url_admin = sb.admin_webhook_url();
    let url_manager = sb.webhook_url(MANAGER).expect("manager webhook");
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    let manager = replica(&dir.path().join("manager.db"));
    // The first sync of each, before any edit.
    cli_sync(&url_admin, &admin).await;
    cli_sync(&url_manager, &manager).await;

    // The manager makes twelve uploads (more than a page of log messages); the administrator
    // syncs once.
    uploads_arrive_complete(
        &url_manager,
        &manager,
        MANAGER,
        &url_admin,
        &admin,
        "Версия менеджера",
        12,
    )
    .await;
    let channel = manager.lock().expect("lock").log_channel().expect("meta");
    assert_eq!(
        channel.as_deref(),
        (logmessage_add == "admin").then_some("comment"),
        "the manager's logs went as comments only where log messages are for administrators"
    );
    // And the other way.
    uploads_arrive_complete(
        &url_admin,
        &admin,
        1,
        &url_manager,
        &manager,
        "Версия администратора",
        12,
    )
    .await;
    // Nobody takes their own uploads for someone else's.
    for (store, me) in [(&admin, 1), (&manager, MANAGER)] {
        let own_as_peer = history(store, true)
            .into_iter()
            .filter(|e| e.source == HistorySource::PeerLog && e.author_id == Some(me))
            .count();
        assert_eq!(own_as_peer, 0, "user {me} read their own logs back");
    }
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_uploads_between_two_syncs_arrive_as_twelve_exact_entries_each_way() {
    story("edit").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_portal_that_keeps_log_messages_to_administrators_the_managers_comments_all_arrive() {
    story("admin").await;
}

/// A Kartoteka change log as another installation writes it (see `LOG_MARKER`).
fn peer_log_text(k: i64) -> String {
    let block = json!({
        "record": {"entityTypeId": 2, "id": DEAL},
        "authorId": MANAGER,
        "author": "Ирина Волкова",
        "device": "manager-laptop",
        "happenedAt": chrono::DateTime::from_timestamp_millis(FIRST_EDIT_MS + k * 60_000)
            .expect("time")
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "source": "deviceOffline",
        "changes": [{"op": "update", "field": "UF_CRM_VISITS", "label": "Визиты",
                     "old": k - 1, "new": k}],
    });
    format!(
        "Картотека: изменения\nВизиты: {} → {k}\n\n{LOG_MARKER}{block}",
        k - 1
    )
}

/// More than a page of comments (50) between two reads: paged by `start`, every one is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_fifty_logs_as_comments_between_two_reads_are_all_read() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    cli_sync(&url, &admin).await;
    const N: i64 = 55;
    for k in 1..=N {
        let r = emu
            .act(
                MANAGER,
                "crm.timeline.comment.add",
                json!({"fields": {"ENTITY_ID": DEAL, "ENTITY_TYPE": "deal",
                                  "COMMENT": peer_log_text(k)}}),
            )
            .await;
        assert!(r["error"].is_null(), "{r}");
    }
    emu.act(
        MANAGER,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": DEAL, "useOriginalUfNames": "Y",
               "fields": {"UF_CRM_VISITS": N}}),
    )
    .await;
    // The sync, with the reading of the timelines watched: the first pages of the one changed
    // record in one request, then only its second page of comments.
    engine(&url, &admin, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("pull");
    let since = emu
        .control()
        .requests(0)
        .await
        .expect("request log")
        .last()
        .map_or(0, |r| r.seq);
    Uploader::new(
        client(&url),
        Arc::clone(&admin),
        kartoteka_sync::system_clock(),
    )
    .read_peer_logs(&CancellationToken::new())
    .await
    .expect("read other users' change logs");
    let reads: Vec<String> = emu
        .control()
        .requests(since)
        .await
        .expect("request log")
        .into_iter()
        .filter(|r| r.seq > since && r.credential.is_some())
        .map(|r| r.method)
        .collect();
    assert_eq!(reads, ["batch", "batch"], "two requests for 55 comments");
    let mut got: Vec<i64> = history(&admin, false)
        .into_iter()
        .filter(|e| e.source == HistorySource::PeerLog)
        .map(|e| {
            assert_eq!(e.author_id, Some(MANAGER));
            e.happened_at.timestamp_millis()
        })
        .collect();
    got.sort_unstable();
    let want: Vec<i64> = (1..=N).map(|k| FIRST_EDIT_MS + k * 60_000).collect();
    assert_eq!(got, want, "all {N} read, none twice");
    let observed = history(&admin, false)
        .into_iter()
        .filter(|e| {
            e.source == HistorySource::Observed && e.field.as_deref() == Some("UF_CRM_VISITS")
        })
        .count();
    assert_eq!(observed, 0, "explained by the last log");
    sb.shutdown().await;
}

/// Under the edit rule a refusal is about one record (the user may not edit it now): a log
/// message refused there, and the comment tried at once refused too, leaves the log to the next
/// sync and keeps log messages for everything else — the replica does not turn to comments.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_refused_on_one_record_waits_for_the_next_sync_and_log_messages_stay_the_channel() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url_admin = sb.admin_webhook_url();
    let url_manager = sb.webhook_url(MANAGER).expect("manager webhook");
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    let manager = replica(&dir.path().join("manager.db"));
    cli_sync(&url_admin, &admin).await;
    cli_sync(&url_manager, &manager).await;
    emu.post(
        "faults",
        json!([
            {"match": {"method": "crm.timeline.logmessage.add"},
             "action": {"type": "error", "status": 400, "error": "ACCESS_DENIED", "description": "Access denied."}},
            {"match": {"method": "crm.timeline.comment.add"},
             "action": {"type": "error", "status": 400, "error": "", "description": "Access denied."}}
        ]),
    )
    .await;
    cli_edit(
        &manager,
        json!({"title": "Отказано один раз"}),
        FIRST_EDIT_MS,
    );
    cli_sync(&url_manager, &manager).await;
    assert_eq!(emu.faults_fired().await, [1, 1], "both refusals were met");
    {
        let s = manager.lock().expect("lock");
        assert_eq!(
            s.log_channel().expect("meta"),
            None,
            "a refusal on one record is no reason to publish comments"
        );
        assert_eq!(
            s.pending_logs(0, 10).expect("logs").len(),
            1,
            "the log waits"
        );
    }
    cli_sync(&url_manager, &manager).await;
    assert!(
        manager
            .lock()
            .expect("lock")
            .pending_logs(0, 10)
            .expect("logs")
            .is_empty(),
        "published on the next sync"
    );
    let logs = emu
        .act(
            1,
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": DEAL}),
        )
        .await;
    assert!(
        logs.to_string().contains("Отказано один раз"),
        "as a log message: {logs}"
    );
    cli_sync(&url_admin, &admin).await;
    let arrived = history(&admin, false)
        .into_iter()
        .filter(|e| {
            e.source == HistorySource::PeerLog
                && e.new_display.as_deref() == Some("Отказано один раз")
        })
        .count();
    assert_eq!(arrived, 1, "read once by the colleague");
    sb.shutdown().await;
}

/// The manager's change log as a comment on the deal, and the deal changed, so the
/// administrator's next pull finds the record due for a read of its timeline.
async fn a_comment_log_on_the_deal(emu: &Emu, k: i64) {
    let r = emu
        .act(
            MANAGER,
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": DEAL, "ENTITY_TYPE": "deal",
                              "COMMENT": peer_log_text(k)}}),
        )
        .await;
    assert!(r["error"].is_null(), "{r}");
    let r = emu
        .act(
            MANAGER,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": DEAL, "useOriginalUfNames": "Y",
                   "fields": {"UF_CRM_VISITS": k}}),
        )
        .await;
    assert!(r["error"].is_null(), "{r}");
}

async fn read_peer_logs(url: &str, store: &Arc<Mutex<Store>>) -> u64 {
    Uploader::new(
        client(url),
        Arc::clone(store),
        kartoteka_sync::system_clock(),
    )
    .read_peer_logs(&CancellationToken::new())
    .await
    .expect("read other users' change logs")
}

/// An internal error inside the batch for one record's list of comments may pass: the record
/// stays due with its marks where they were, and the next read (with no change to the record
/// between) takes the log it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_failed_for_a_moment_is_read_again_without_a_new_change() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    cli_sync(&url, &admin).await;
    a_comment_log_on_the_deal(&emu, 1).await;
    engine(&url, &admin, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("pull");
    emu.post(
        "faults",
        json!({"match": {"method": "crm.timeline.comment.list"},
               "action": {"type": "error", "status": 500, "error": "INTERNAL_SERVER_ERROR",
                          "description": "Internal server error"}}),
    )
    .await;
    assert_eq!(read_peer_logs(&url, &admin).await, 0, "the comments failed");
    assert_eq!(emu.faults_fired().await, [1], "the error was met");
    assert_eq!(
        read_peer_logs(&url, &admin).await,
        1,
        "the record stayed due: its comments are read on the next run"
    );
    let arrived = history(&admin, false)
        .into_iter()
        .filter(|e| e.source == HistorySource::PeerLog && e.author_id == Some(MANAGER))
        .count();
    assert_eq!(arrived, 1, "the manager's log, once");
    sb.shutdown().await;
}

/// The portal took a change log but its answer was lost: the log is sent again on the next
/// sync and stands twice on the timeline; the colleague records it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_published_twice_after_a_lost_answer_is_recorded_once() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url_admin = sb.admin_webhook_url();
    let url_manager = sb.webhook_url(MANAGER).expect("manager webhook");
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    let manager = replica(&dir.path().join("manager.db"));
    cli_sync(&url_admin, &admin).await;
    cli_sync(&url_manager, &manager).await;
    // The upload's third request (read back, update, log) is applied, then answered 500.
    emu.post(
        "faults",
        json!([{"match": {"method": "batch", "nth": 3},
                "action": {"type": "commitThenFail", "status": 500}}]),
    )
    .await;
    cli_edit(
        &manager,
        json!({"title": "Опубликован дважды"}),
        FIRST_EDIT_MS,
    );
    let lost = Uploader::new(
        client(&url_manager),
        Arc::clone(&manager),
        kartoteka_sync::system_clock(),
    )
    .run(&CancellationToken::new())
    .await;
    assert!(lost.is_err(), "the lost answer stops the run: {lost:?}");
    assert_eq!(emu.faults_fired().await, [1], "the answer was lost");
    cli_sync(&url_manager, &manager).await;
    let logs = emu
        .act(
            1,
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": DEAL}),
        )
        .await;
    let copies = logs["result"]["logMessages"]
        .as_array()
        .expect("log messages")
        .iter()
        .filter(|m| {
            m["text"]
                .as_str()
                .is_some_and(|t| t.contains("Опубликован дважды"))
        })
        .count();
    assert_eq!(copies, 2, "the log stands twice on the timeline: {logs}");

    cli_sync(&url_admin, &admin).await;
    let arrived = history(&admin, true)
        .into_iter()
        .filter(|e| {
            e.source == HistorySource::PeerLog
                && e.new_display.as_deref() == Some("Опубликован дважды")
        })
        .count();
    assert_eq!(arrived, 1, "one change, one entry");
    sb.shutdown().await;
}

/// Anyone who may edit a deal may write a comment on it, and may write the manager's name into
/// it: such a log is not the manager's change and is not recorded as one. The manager's own
/// log beside it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_naming_another_user_as_its_author_is_not_recorded_as_their_change() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("dir");
    let admin = replica(&dir.path().join("admin.db"));
    cli_sync(&url, &admin).await;
    /// Another user of the portal (rights "all": may edit the deal).
    const OTHER: i64 = 3;
    let r = emu
        .act(
            OTHER,
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": DEAL, "ENTITY_TYPE": "deal",
                              "COMMENT": peer_log_text(1), "AUTHOR_ID": MANAGER}}),
        )
        .await;
    assert!(r["error"].is_null(), "{r}");
    a_comment_log_on_the_deal(&emu, 2).await;
    cli_sync(&url, &admin).await;
    let got: Vec<(Option<i64>, i64)> = history(&admin, true)
        .into_iter()
        .filter(|e| e.source == HistorySource::PeerLog)
        .map(|e| (e.author_id, e.happened_at.timestamp_millis()))
        .collect();
    assert_eq!(
        got,
        [(Some(MANAGER), FIRST_EDIT_MS + 2 * 60_000)],
        "only the manager's own log is the manager's change"
    );
    sb.shutdown().await;
}
