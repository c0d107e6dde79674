//! The history commands against the demo portal: pages and totals from the replica, card views
//! recorded once, the record as it was, and hiding an entry as the portal's administrator.
use super::*;
use crate::api::EventSink;
use kartoteka_bitrix::{MemorySecretStore, SecretStore};
use kartoteka_domain::ipc::{AppEvent, RecordGetRequest};
use kartoteka_domain::{AuthorKind, EntityType, HistoryEventCode, HistorySyncState};
use std::time::Duration;

#[derive(Default)]
struct Collected(Mutex<Vec<AppEvent>>);

impl EventSink for Collected {
    fn send(&self, event: AppEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event);
    }
}

/// A demo portal with a small data set, synced once, whose profile has been read.
pub(crate) async fn synced_demo(dir: &std::path::Path) -> Core {
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let core = Core::new(Arc::new(Collected::default()), dir.to_path_buf(), secrets)
        .with_demo_records(Some(120));
    core.use_demo().await.expect("the demo portal starts");
    // The bounds only keep a broken sync from hanging the test; nothing here measures time.
    for _ in 0..1800 {
        let status = core.sync_status().await.expect("sync status");
        let facets = core.history_facets().await.expect("facets");
        if status.last_error.is_some() {
            panic!("the first sync failed: {:?}", status.last_error);
        }
        if status.last_sync_at.is_some() && facets.me.is_some() {
            return core;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the first sync or the profile refresh did not finish");
}

fn filter_of(key: RecordKey, events: Vec<HistoryEventCode>) -> HistoryFilter {
    HistoryFilter {
        record: Some(key),
        events,
        ..Default::default()
    }
}

fn request(filter: HistoryFilter) -> HistoryListRequest {
    HistoryListRequest {
        filter,
        cursor: None,
        limit: 50,
        with_total: true,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_come_newest_first_with_exact_totals_and_keyset_cursors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = synced_demo(dir.path()).await;

    let facets = core.history_facets().await.expect("facets");
    assert_eq!(facets.me, Some(1), "the demo webhook acts as user 1");
    assert!(
        facets.is_supervisor,
        "the demo webhook's user administers the portal"
    );
    assert!(!facets.authors.is_empty(), "events name their authors");

    let mut req = request(HistoryFilter {
        entity_type: Some(EntityType::Deal),
        ..Default::default()
    });
    req.limit = 7;
    let first = core.history_list(req.clone()).await.expect("first page");
    let total = first.total.expect("the first page carries the total");
    assert!(total > 7, "the demo deals have more than one page: {total}");
    assert!(
        first
            .events
            .windows(2)
            .all(|w| (w[0].happened_at, w[0].seq) >= (w[1].happened_at, w[1].seq)),
        "newest first"
    );
    req.cursor = first.next_cursor;
    req.with_total = false;
    let second = core.history_list(req).await.expect("second page");
    assert_eq!(second.total, None, "later pages do not count again");
    let first_seqs: Vec<i64> = first.events.iter().map(|e| e.seq).collect();
    assert!(
        second.events.iter().all(|e| !first_seqs.contains(&e.seq)),
        "the second page continues after the first"
    );

    // A blank text filter filters nothing.
    let blank = core
        .history_list(request(HistoryFilter {
            entity_type: Some(EntityType::Deal),
            text: Some("  ".into()),
            ..Default::default()
        }))
        .await
        .expect("blank text");
    assert_eq!(blank.total, Some(total));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_card_records_one_view_and_the_administrator_can_hide_an_entry_with_a_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let core = synced_demo(dir.path()).await;
    let deal = core
        .history_list(request(HistoryFilter {
            entity_type: Some(EntityType::Deal),
            events: vec![HistoryEventCode::Created],
            ..Default::default()
        }))
        .await
        .expect("created deals")
        .events
        .first()
        .and_then(|e| e.record)
        .expect("a deal was created");

    core.record_get(RecordGetRequest { key: deal })
        .await
        .expect("the card opens");
    // A reload of the same card (after a sync) is not another view.
    core.record_get(RecordGetRequest { key: deal })
        .await
        .expect("the card reloads");
    let views = core
        .history_list(request(filter_of(deal, vec![HistoryEventCode::View])))
        .await
        .expect("views");
    assert_eq!(views.total, Some(1), "one opening, one view: {views:?}");
    let view = &views.events[0];
    assert_eq!(view.author_kind, AuthorKind::DeviceUser);
    assert_eq!(view.author_id, Some(1), "the view is the webhook user's");
    assert_eq!(view.sync_state, HistorySyncState::Local);
    let device = view.device_id.clone().expect("a view names its device");
    assert_eq!(device.len(), 36, "a uuid-shaped device id: {device}");

    let as_of = core
        .record_as_of(RecordAsOfRequest {
            key: deal,
            at: Utc::now(),
        })
        .await
        .expect("the deal as it is now");
    assert!(
        as_of.fields.iter().any(|f| f.field == "title"),
        "the rebuilt record has its title"
    );
    assert!(as_of.fields.iter().all(|f| !f.changed_since));

    let refused = core
        .history_hide(HistoryHideRequest {
            seq: view.seq,
            reason: "   ".into(),
        })
        .await
        .expect_err("a hiding needs a reason");
    assert_eq!(refused.code, ErrorCode::NoAccess);
    let hidden = core
        .history_hide(HistoryHideRequest {
            seq: view.seq,
            reason: "opened by mistake".into(),
        })
        .await
        .expect("the administrator hides the view");
    let all = core
        .history_list(request(filter_of(deal, vec![])))
        .await
        .expect("the deal's history");
    let marked = all
        .events
        .iter()
        .find(|e| e.seq == view.seq)
        .expect("a supervisor still sees the hidden entry");
    assert!(marked.hidden, "and it is marked hidden");
    let hiding = all
        .events
        .iter()
        .find(|e| e.seq == hidden.seq)
        .expect("the hiding is itself an event");
    assert_eq!(hiding.event, HistoryEventCode::Hidden);
    assert_eq!(hiding.note.as_deref(), Some("opened by mistake"));
    assert_eq!(
        hiding.device_id.as_deref(),
        Some(device.as_str()),
        "the device id is made once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_writes_exactly_what_the_filter_shows_reports_progress_and_is_recorded() {
    use calamine::{open_workbook_auto, Reader};
    use kartoteka_domain::history::{ExportFormat, HistoryExportRequest};
    let dir = tempfile::tempdir().expect("temp dir");
    let downloads = dir.path().join("Downloads");
    let events = Arc::new(Collected::default());
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let core =
        Core::new(events.clone(), dir.path().join("data"), secrets).with_demo_records(Some(120));
    core.set_downloads_dir(Some(downloads.clone()));
    core.use_demo().await.expect("the demo portal starts");
    for _ in 0..1800 {
        let synced = core.sync_status().await.expect("status").last_sync_at;
        if synced.is_some() && core.history_facets().await.expect("facets").me.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let filter = HistoryFilter {
        entity_type: Some(EntityType::Contact),
        ..Default::default()
    };
    let shown = core
        .history_list(request(filter.clone()))
        .await
        .expect("the page")
        .total
        .expect("a total");

    let result = core
        .history_export(HistoryExportRequest {
            filter: filter.clone(),
            format: ExportFormat::Xlsx,
            path: None,
            columns: vec!["title".into(), "event".into()],
        })
        .await
        .expect("the export runs");
    assert!(!result.cancelled);
    assert_eq!(result.rows, shown, "exactly what the filter shows");
    let path = std::path::PathBuf::from(&result.path);
    assert_eq!(path.parent(), Some(downloads.as_path()), "in Downloads");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    assert!(
        name.starts_with("kartoteka-history-") && name.ends_with(".xlsx"),
        "{name}"
    );
    let mut book = open_workbook_auto(&path).expect("a workbook");
    let sheet = book.sheet_names().first().cloned().expect("a sheet");
    let range = book.worksheet_range(&sheet).expect("the sheet");
    assert_eq!(
        range.rows().count() as u64,
        shown + 1,
        "a header and the rows"
    );
    assert_eq!(range.width(), 2, "only the chosen columns");

    let sent = events.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(
        sent.iter()
            .any(|e| matches!(e, AppEvent::HistoryExportProgress { total, .. } if *total == shown)),
        "progress reaches the UI: {sent:?}"
    );
    let exported = core
        .history_list(request(HistoryFilter {
            events: vec![HistoryEventCode::Exported],
            ..Default::default()
        }))
        .await
        .expect("exports");
    assert_eq!(exported.total, Some(1), "the export is itself recorded");
    assert_eq!(exported.events[0].author_kind, AuthorKind::DeviceUser);
}

/// Cancels the running export as soon as it reports its first progress.
struct CancelOnProgress(std::sync::OnceLock<Arc<std::sync::atomic::AtomicBool>>);

impl EventSink for CancelOnProgress {
    fn send(&self, event: AppEvent) {
        if matches!(event, AppEvent::HistoryExportProgress { .. }) {
            if let Some(flag) = self.0.get() {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_export_leaves_no_file_and_records_no_export() {
    use kartoteka_domain::history::{ExportFormat, HistoryExportRequest};
    let dir = tempfile::tempdir().expect("temp dir");
    let downloads = dir.path().join("Downloads");
    let sink = Arc::new(CancelOnProgress(std::sync::OnceLock::new()));
    let secrets: Arc<dyn SecretStore> = Arc::new(MemorySecretStore::new());
    let core =
        Core::new(sink.clone(), dir.path().join("data"), secrets).with_demo_records(Some(120));
    let _ = sink.0.set(core.history.export_cancel.clone());
    core.set_downloads_dir(Some(downloads.clone()));
    core.use_demo().await.expect("the demo portal starts");
    for _ in 0..1800 {
        if core
            .sync_status()
            .await
            .expect("status")
            .last_sync_at
            .is_some()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = core
        .history_export(HistoryExportRequest {
            filter: HistoryFilter::default(),
            format: ExportFormat::Csv,
            path: None,
            columns: vec![],
        })
        .await
        .expect("a cancelled export is no error");
    assert!(result.cancelled, "the export stopped: {result:?}");
    assert!(
        !std::path::Path::new(&result.path).exists(),
        "no half-written file is left"
    );
    let exported = core
        .history_list(request(HistoryFilter {
            events: vec![HistoryEventCode::Exported],
            ..Default::default()
        }))
        .await
        .expect("exports");
    assert_eq!(
        exported.total,
        Some(0),
        "a cancelled export is not recorded"
    );
}
