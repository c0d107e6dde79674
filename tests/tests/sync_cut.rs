//! A portal too slow for 50 list pages in one request: the cloud's front ends a request after
//! 60 s with a 504 page (the sandbox's default cut-off, with simulated call times so nothing
//! sleeps). Sync shrinks the batch instead of sending the same 2,500-item request until its
//! retries run out, and the replica ends equal to the portal.

mod sync_support;

use kartoteka_domain::edit::OutboxListRequest;
use kartoteka_domain::{EntityType, RecordEdit, RecordKey};
use kartoteka_store::LocalActor;
use kartoteka_sync::{CancellationToken, ReconcilePolicy, Uploader};
use serde_json::json;
use sync_support::*;

const DEALS: usize = 3_000;

/// (requests, of them cut) logged by the sandbox since `since`, and the last sequence number.
async fn requests_since(emu: &Emu, since: u64) -> (usize, usize, u64) {
    let log = emu
        .control()
        .requests(since)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let cut = log.iter().filter(|r| r.status == 504).count();
    let last = log.iter().map(|r| r.seq).max().unwrap_or(since);
    (log.len(), cut, last)
}

#[tokio::test]
async fn a_portal_too_slow_for_50_pages_a_request_is_pulled_and_reconciled_in_smaller_batches() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    emu.reset_with_deals(DEALS).await;
    // 2 s a page: a 50-page chain takes 100 s and is cut at 60 s; 25 pages take 50 s.
    emu.post("config", json!({"callSeconds": {"crm.item.list": 2}}))
        .await;
    let (_, _, start) = requests_since(&emu, 0).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer));

    engine
        .run(&CancellationToken::new())
        .await
        .expect("the initial pull finishes on a portal that cuts 50-page batches");
    let (pull, pull_cut, seen) = requests_since(&emu, start).await;
    assert_eq!(
        replica_view(&store, EntityType::Deal).len(),
        DEALS,
        "every deal is in the replica"
    );

    // A deal deleted on the portal is found by the id scan (the reconcile), also in batches
    // small enough for this portal.
    let gone = *replica_view(&store, EntityType::Deal)
        .keys()
        .nth(1_234)
        .expect("deals pulled");
    emu.act(1, "crm.item.delete", json!({"entityTypeId": 2, "id": gone}))
        .await;
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("the reconcile finishes");
    let (reconcile, reconcile_cut, _) = requests_since(&emu, seen).await;
    println!(
        "initial pull of {DEALS} deals: {pull} requests ({pull_cut} cut); \
         reconcile after a deletion: {reconcile} requests ({reconcile_cut} cut)"
    );
    assert_eq!(summary.for_type(EntityType::Deal).deleted, 1);
    assert!(
        pull_cut <= 2,
        "the client learns from a cut instead of repeating it: {pull_cut} cut"
    );
    assert_eq!(
        reconcile_cut, 0,
        "the next run starts at the size the first one learned"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

/// A write batch cut by the front: the updates that started before the cut are on the portal,
/// the rest are not, and the answer is a 504 page. The upload treats the whole batch as
/// uncertain, the next round compares with the portal (what landed is "already there") and
/// writes the rest in smaller batches: every edit ends on the portal once, none is lost.
#[tokio::test]
async fn a_cut_write_batch_loses_no_edit_and_the_rest_goes_in_smaller_batches() {
    const EDITS: i64 = 60;
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    emu.reset_with_deals(200).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("pull");
    let actor = LocalActor {
        user_id: Some(1),
        name: "Полевой Представитель".into(),
        device_id: "laptop-1".into(),
        online: false,
    };
    {
        let mut s = store.lock().expect("lock");
        for id in 1..=EDITS {
            let edit = RecordEdit {
                fields: json!({"opportunity": 100_000 + id})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                multi_fields: vec![],
            };
            let k = RecordKey {
                entity_type: EntityType::Deal,
                id,
            };
            s.edit_record(&actor, k, &edit, id).expect("edit");
        }
    }
    // 2 s an update: 50 updates take 100 s and are cut at 60 s (30 have started by then).
    emu.post("config", json!({"callSeconds": {"crm.item.update": 2}}))
        .await;
    let (_, _, start) = requests_since(&emu, 0).await;
    let client = client(&url);
    let uploader = Uploader::new(
        client.clone(),
        std::sync::Arc::clone(&store),
        kartoteka_sync::system_clock(),
    );
    let first = uploader.run(&CancellationToken::new()).await;
    let second = uploader
        .run(&CancellationToken::new())
        .await
        .expect("the next round finishes the upload");
    let (requests, cut, _) = requests_since(&emu, start).await;
    println!(
        "{EDITS} updates on a portal that cuts 50-update batches: first round {}, second round {second:?}; \
         {requests} requests, {cut} cut, batch size now {}",
        match &first {
            Ok(s) => format!("{s:?}"),
            Err(e) => format!("failed: {e}"),
        },
        client.batch_size()
    );
    assert!(cut >= 1, "the first write batch was cut");
    let open = store
        .lock()
        .expect("lock")
        .outbox_list(&OutboxListRequest::default())
        .expect("outbox")
        .entries;
    assert!(open.is_empty(), "every edit uploaded: {open:?}");
    for id in 1..=EDITS {
        let item = emu
            .act(1, "crm.item.get", json!({"entityTypeId": 2, "id": id}))
            .await;
        let amount = item["result"]["item"]["opportunity"].as_f64();
        assert_eq!(amount, Some((100_000 + id) as f64), "deal {id}: {item}");
    }
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}
