//! Pull sync against the sandbox over loopback: page boundaries, 10,000 records, no implicit
//! ordering, incremental pickup of another user's edit, cancellation and resume. Every story
//! ends with the replica equal to the portal.

mod sync_support;

use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_sync::{CancellationToken, ReconcilePolicy, SyncError, SyncEvent};
use serde_json::json;
use std::sync::{Arc, Mutex};
use sync_support::*;

#[tokio::test]
async fn initial_pull_of_0_1_50_51_deals_crosses_page_boundaries_and_equals_the_portal() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    for n in [0usize, 1, 50, 51] {
        emu.reset_with_deals(n).await;
        // The webhook code derives from the reset's seed.
        let url = sb.admin_webhook_url();
        let dir = tempfile::tempdir().expect("temp dir");
        let store = replica(&dir.path().join("replica.db"));
        let summary = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer))
            .run(&CancellationToken::new())
            .await
            .expect("sync succeeds");
        let deals = summary.for_type(EntityType::Deal);
        assert_eq!(
            deals.inserted, n as u64,
            "every one of {n} deals is inserted once"
        );
        // One batch request carries 2,500 records: the initial pull of ≤ 2,500 records of each of
        // the four types is one request per type.
        assert!(
            summary.initial_pull_requests <= 4,
            "{n} deals: {} initial pull requests",
            summary.initial_pull_requests
        );
        // The incremental pass re-reads the overlap window: the first page of all four types
        // in one probe request, and one chained batch more only for a type whose probe came
        // back full (50 deals or more, all created inside the window on the frozen clock).
        let incremental_bound = 1 + u64::from(n >= 50);
        assert!(
            summary.pull_requests - summary.initial_pull_requests <= incremental_bound,
            "{n} deals: {} incremental pull requests (bound {incremental_bound})",
            summary.pull_requests - summary.initial_pull_requests
        );
        assert_replica_equals_portal(&url, &store).await;
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_routine_sync_probes_every_type_in_one_request_and_goes_on_only_where_a_page_is_full() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::Never));
    engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");

    // An hour on, another user changes 60 deals (more than a page) and one contact.
    emu.post("clock", json!({"advanceSeconds": 3600})).await;
    let deals: Vec<i64> = replica_view(&store, EntityType::Deal)
        .keys()
        .copied()
        .take(60)
        .collect();
    assert_eq!(deals.len(), 60, "the demo has 60 deals or more");
    for (k, id) in deals.iter().enumerate() {
        emu.act(
            2,
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"title": format!("Сделка {k} от Ирины")}}),
        )
        .await;
    }
    let contact = *replica_view(&store, EntityType::Contact)
        .keys()
        .next()
        .expect("demo has contacts");
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": contact, "fields": {"name": "Ирина-правка"}}),
    )
    .await;

    emu.control().clear_requests().await.expect("clear the log");
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("routine sync");
    let log = emu.control().requests(0).await.expect("request log");
    let item_reads: Vec<String> = log
        .iter()
        .filter(|r| {
            let cmds = r
                .params
                .get("cmd")
                .map(|c| c.to_string())
                .unwrap_or_default();
            // Reads of whole items (`select=*`); the reference batch counts ids only.
            r.method == "crm.item.list" || (r.method == "batch" && cmds.contains("select[0]=%2A"))
        })
        .map(|r| {
            r.params
                .get("cmd")
                .map(|c| c.to_string())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        item_reads.len(),
        2,
        "one probe for the four types, one chain for the deals whose page was full ({} in all)",
        item_reads.len()
    );
    assert!(
        (1..=4).all(|t| item_reads[0].contains(&format!("entityTypeId={t}&"))),
        "the probe asks every type: {}",
        item_reads[0]
    );
    assert!(
        !log.iter().any(|r| r.method == "server.time"),
        "the clock comes with the reference batch"
    );
    // The stage history's first pages came with the probe too: no request reads it alone.
    let stage_alone = log
        .iter()
        .filter(|r| {
            let cmds = r
                .params
                .get("cmd")
                .map(|c| c.to_string())
                .unwrap_or_default();
            r.method == "crm.stagehistory.list"
                || (r.method == "batch"
                    && cmds.contains("crm.stagehistory.list")
                    && !cmds.contains("crm.item.list"))
        })
        .count();
    assert_eq!(
        stage_alone, 0,
        "the stage history is probed in the same request"
    );
    assert_eq!(
        log.len(),
        3,
        "a routine sync: reference data, the probe of everything, the chain of the full page"
    );
    assert_eq!(summary.for_type(EntityType::Deal).updated, 60);
    assert_eq!(summary.for_type(EntityType::Contact).updated, 1);
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn a_probe_command_that_fails_alone_leaves_its_type_to_be_pulled_on_its_own() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::Never));
    engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");
    emu.post("clock", json!({"advanceSeconds": 3600})).await;
    let contact = *replica_view(&store, EntityType::Contact)
        .keys()
        .next()
        .expect("demo has contacts");
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 3, "id": contact, "fields": {"name": "Ирина-правка"}}),
    )
    .await;
    // The contacts' command of the shared probe (p1: companies, contacts, leads, deals) fails
    // on its own, once; the other types' answers in the same batch stand.
    emu.post(
        "faults",
        json!([{"match": {"method": "crm.item.list", "command": "p1"},
                "action": {"type": "error", "status": 503, "error": "OPERATION_TIME_LIMIT",
                           "description": "Method is blocked due to operation time limit."}}]),
    )
    .await;
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("the sync goes on past one failed command");
    assert_eq!(
        emu.faults_fired().await,
        vec![1],
        "the probe's contact command failed"
    );
    assert_eq!(
        summary.for_type(EntityType::Contact).updated,
        1,
        "the contacts were read again on their own"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn ten_thousand_records_are_pulled_in_batches_of_2500_and_equal_the_portal() {
    let sb = sandbox(Some(10_000)).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let summary = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
    let counts = portal_counts(&url).await;
    let total: usize = counts.values().sum();
    assert_eq!(
        summary.types.iter().map(|s| s.inserted).sum::<u64>(),
        total as u64
    );
    // The initial pulls share their requests: a batch that finishes one type goes on with the
    // next, so they need the pages of all types (each type's full pages and one short page to
    // show its end), 50 pages to a request — not a request per type per 2,500.
    let pages: u64 = counts.values().map(|&n| n as u64 / 50 + 1).sum();
    assert!(
        summary.initial_pull_requests <= pages.div_ceil(50),
        "{} initial pull requests for {total} records in {pages} pages",
        summary.initial_pull_requests
    );
    // Per type: ⌈n/2500⌉ initial batches (+1 when n is a multiple of 2,500) and one incremental batch.
    let bound: u64 = counts.values().map(|&n| (n as u64 / 2500) + 1 + 1).sum();
    assert!(
        summary.pull_requests <= bound,
        "{} pull requests for {total} records (bound {bound})",
        summary.pull_requests
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn pull_does_not_rely_on_implicit_list_order() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    emu.post("config", json!({"unorderedListsWhenNoOrder": true}))
        .await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn incremental_sync_picks_up_another_users_edit_without_a_full_refetch() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer));
    let first = engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");

    let deal_id = *replica_view(&store, EntityType::Deal)
        .keys()
        .next()
        .expect("demo has deals");
    emu.post("clock", json!({"advanceSeconds": 3600})).await;
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"title": "Renamed by Irina"}}),
    )
    .await;

    let second = engine
        .run(&CancellationToken::new())
        .await
        .expect("incremental sync");
    let deals = second.for_type(EntityType::Deal);
    assert_eq!(deals.updated, 1, "exactly the edited deal changes");
    assert!(
        second.total_pulled() < first.total_pulled() / 4,
        "an incremental sync reads the changes, not everything ({} vs {})",
        second.total_pulled(),
        first.total_pulled()
    );
    let title = store
        .lock()
        .expect("lock")
        .get_record(RecordKey {
            entity_type: EntityType::Deal,
            id: deal_id,
        })
        .expect("read")
        .expect("present")
        .fields["title"]
        .clone();
    assert_eq!(title, json!("Renamed by Irina"));
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn cancelled_sync_resumes_without_gap_or_duplicate() {
    let sb = sandbox(Some(6_000)).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let cancel = CancellationToken::new();
    let on_progress = cancel.clone();
    let seen: Arc<Mutex<Vec<SyncEvent>>> = Arc::default();
    let log = Arc::clone(&seen);
    let cancelling = kartoteka_sync::SyncEngine::new(
        Arc::new(kartoteka_sync::BitrixPortal::new(client(&url))),
        Arc::clone(&store),
        policy(ReconcilePolicy::Never),
        Arc::new(move |e: &SyncEvent| {
            if let SyncEvent::Progress { done, .. } = e {
                if *done >= 1_000 {
                    on_progress.cancel();
                }
            }
            if let Ok(mut l) = log.lock() {
                l.push(e.clone());
            }
        }),
    );
    let result = cancelling.run(&cancel).await;
    assert!(
        matches!(result, Err(SyncError::Cancelled)),
        "the run stops when cancelled: {result:?}"
    );
    assert!(
        seen.lock()
            .expect("lock")
            .iter()
            .any(|e| matches!(e, SyncEvent::Failed { .. })),
        "the UI is told the run stopped"
    );
    let total: usize = portal_counts(&url).await.values().sum();
    let partial: usize = EntityType::ALL
        .iter()
        .map(|&t| replica_view(&store, t).len())
        .sum();
    assert!(
        partial >= 1_000 && partial < total,
        "part of the {total} records were committed before the cancel: {partial}"
    );

    let resumed = engine(&url, &store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect("resume");
    let inserted: u64 = resumed.types.iter().map(|s| s.inserted).sum();
    assert_eq!(
        inserted as usize,
        total - partial,
        "the resumed run inserts exactly what was missing"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn company_size_and_industry_codes_arrive_with_the_labels_a_card_shows() {
    // Issue 11 §4: a company card read "Кол-во сотрудников: EMPLOYEES_4". A portal lists the
    // labels in crm.status.list (ENTITY_ID EMPLOYEES, INDUSTRY) and names the list in the field's
    // statusType; the sync keeps both, so the card can show "более 500".
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
    {
        let s = store.lock().expect("replica lock");
        let stages = s.stages().expect("reference lists");
        let label = |list: &str, code: &str| {
            stages
                .iter()
                .find(|st| st.list_id == list && st.status_id == code)
                .map(|st| st.name.clone())
        };
        assert_eq!(
            label("EMPLOYEES", "EMPLOYEES_4").as_deref(),
            Some("более 500")
        );
        assert_eq!(
            label("INDUSTRY", "IT").as_deref(),
            Some("Информационные технологии")
        );
        let meta = s.field_meta(EntityType::Company).expect("field metadata");
        for (field, list) in [("employees", "EMPLOYEES"), ("industry", "INDUSTRY")] {
            let m = meta
                .iter()
                .find(|m| m.name == field)
                .unwrap_or_else(|| panic!("company field {field}"));
            assert_eq!(
                m.status_type.as_deref(),
                Some(list),
                "{field} names its list"
            );
        }
        let companies = s.all_ids(EntityType::Company).expect("company ids");
        assert!(!companies.is_empty());
        for id in companies {
            let card = s
                .get_record(RecordKey {
                    entity_type: EntityType::Company,
                    id,
                })
                .expect("read")
                .expect("company");
            for (field, list) in [("employees", "EMPLOYEES"), ("industry", "INDUSTRY")] {
                if let Some(code) = card.fields.get(field).and_then(|v| v.as_str()) {
                    assert!(
                        label(list, code).is_some(),
                        "company {id}: {field} code {code} has a label in {list}"
                    );
                }
            }
        }
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_long_stage_history_is_read_2500_rows_to_a_request_after_its_first_pages_ride_with_the_probe(
) {
    let sb = sandbox(Some(20_000)).await;
    let url = sb.admin_webhook_url();
    let control = kartoteka_sandbox::control::Control::of(&sb);
    let client = client(&url);
    let mut bound = 0u64;
    for t in [EntityType::Lead, EntityType::Deal] {
        let r = client
            .call(
                "crm.stagehistory.list",
                json!({"entityTypeId": t.type_id()}),
            )
            .await
            .expect("stage history total");
        let rows = r.total.expect("the portal reports a total");
        // One probe page (in the probe batch), then chains of 2,500 rows a request (+1: the chain
        // that finds the end).
        bound += rows.div_ceil(2_500) + 1;
    }
    assert!(bound > 6, "the portal has a long stage history ({bound})");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    control.clear_requests().await.expect("clear the log");
    engine(&url, &store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
    let log = control.requests(0).await.expect("log");
    let single = log
        .iter()
        .filter(|r| r.method == "crm.stagehistory.list")
        .count();
    let chained = log
        .iter()
        .filter(|r| {
            r.method == "batch"
                && r.params
                    .get("cmd")
                    .is_some_and(|c| c.to_string().contains("crm.stagehistory.list"))
        })
        .count() as u64;
    assert_eq!(
        single, 0,
        "the first page of each type comes in the probe batch; a scan that goes on continues with chains at once"
    );
    // The probe batch (both first pages with the records' probes) counts among these.
    assert!(
        chained < bound,
        "{chained} requests reading stage history, bound {bound}"
    );
    // Key-set pages skip the count (`start=-1`): otherwise the portal counts the whole stage
    // history for every one of a chain's 50 commands.
    for r in log.iter().filter(|r| r.method == "crm.stagehistory.list") {
        assert_eq!(
            r.params
                .get("start")
                .map(|v| v.to_string().trim_matches('"').to_string()),
            Some("-1".to_string()),
            "the probe asks for no count: {:?}",
            r.params
        );
    }
    let chained_pages: Vec<&str> = log
        .iter()
        .filter(|r| r.method == "batch")
        .filter_map(|r| r.params.get("cmd").and_then(|c| c.as_object()))
        .flat_map(|cmds| cmds.values().filter_map(|c| c.as_str()))
        .filter(|c| c.starts_with("crm.stagehistory.list"))
        .collect();
    assert!(!chained_pages.is_empty());
    for c in chained_pages {
        assert!(
            c.contains("start=-1"),
            "every chained page asks for no count: {c}"
        );
    }
    sb.shutdown().await;
}
