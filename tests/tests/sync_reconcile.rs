//! Deletions and lost access found by comparing id sets; a custom field added mid-life.
//! Each story ends with the replica equal to the portal.

mod sync_support;

use kartoteka_domain::EntityType;
use kartoteka_sync::{CancellationToken, ReconcilePolicy};
use serde_json::{json, Value};
use sync_support::*;

#[tokio::test]
async fn record_deleted_on_the_portal_goes_to_the_recycle_bin() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer));
    engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");

    let contact_id = *replica_view(&store, EntityType::Contact)
        .keys()
        .nth(3)
        .expect("demo has contacts");
    emu.act(
        2,
        "crm.item.delete",
        json!({"entityTypeId": 3, "id": contact_id}),
    )
    .await;
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("second sync");

    assert_eq!(summary.for_type(EntityType::Contact).deleted, 1);
    assert_eq!(
        summary.for_type(EntityType::Contact).hidden,
        0,
        "NOT_FOUND means deleted, not hidden"
    );
    let counts = store.lock().expect("lock").counts().expect("counts");
    let contacts = counts
        .iter()
        .find(|c| c.entity_type == EntityType::Contact)
        .expect("contact counts");
    assert_eq!(
        contacts.deleted, 1,
        "the deleted contact keeps its last version in the recycle bin"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn record_whose_access_is_lost_is_hidden_not_deleted() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    // User 6 may read only records assigned to them.
    let url = sb
        .webhook_url(kartoteka_sandbox::RESTRICTED)
        .expect("restricted user has a webhook");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer));
    engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync as the restricted user");
    let own = replica_view(&store, EntityType::Deal);
    let deal_id = *own.keys().next().expect("the restricted user has deals");

    // The admin hands the deal to someone else: it drops out of user 6's lists.
    emu.act(
        1,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"assignedById": 2}}),
    )
    .await;
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("second sync");

    assert_eq!(
        summary.for_type(EntityType::Deal).hidden,
        1,
        "ACCESS_DENIED hides the deal"
    );
    assert_eq!(
        summary.for_type(EntityType::Deal).deleted,
        0,
        "a deal still on the portal is not deleted"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

#[tokio::test]
async fn custom_field_added_on_the_portal_appears_without_a_restart() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let engine = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer));
    engine
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");

    emu.post(
        "seed",
        json!({"userfields": [{"entityId": "CRM_DEAL", "fieldName": "UF_CRM_KARTOTEKA_NEW", "userTypeId": "string",
                                "editFormLabel": "Added mid-life"}]}),
    )
    .await;
    let deal_id = *replica_view(&store, EntityType::Deal)
        .keys()
        .next()
        .expect("demo has deals");
    emu.post("clock", json!({"advanceSeconds": 600})).await;
    emu.act(
        2,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"UF_CRM_KARTOTEKA_NEW": "hello"}}),
    )
    .await;
    engine
        .run(&CancellationToken::new())
        .await
        .expect("second sync, same engine");

    let meta = store
        .lock()
        .expect("lock")
        .field_meta(EntityType::Deal)
        .expect("field meta");
    assert!(
        meta.iter().any(|f| f.name == "UF_CRM_KARTOTEKA_NEW"),
        "the new field's metadata is in the replica"
    );
    let deal = &replica_view(&store, EntityType::Deal)[&deal_id];
    assert_eq!(
        deal.fields.get("UF_CRM_KARTOTEKA_NEW"),
        Some(&Value::from("hello"))
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

/// Requests of the log that probe contacts: single `crm.item.get` calls and `batch`es of them
/// (the deals that linked to deleted contacts are re-read in batches of their own).
fn probes(log: &[kartoteka_sandbox::control::LoggedRequest]) -> (usize, usize) {
    let single = log.iter().filter(|r| r.method == "crm.item.get").count();
    let batched = log
        .iter()
        .filter(|r| {
            r.method == "batch"
                && r.params.get("cmd").is_some_and(|c| {
                    let c = c.to_string();
                    c.contains("crm.item.get") && c.contains("entityTypeId=3")
                })
        })
        .count();
    (single, batched)
}

/// Deletes `n` contacts as another user, 50 per batch; returns their ids.
async fn delete_contacts(emu: &Emu, ids: &[i64]) {
    for chunk in ids.chunks(50) {
        let cmd: serde_json::Map<String, Value> = chunk
            .iter()
            .map(|id| {
                (
                    format!("d{id}"),
                    Value::String(format!("crm.item.delete?entityTypeId=3&id={id}")),
                )
            })
            .collect();
        emu.act(2, "batch", json!({"halt": 0, "cmd": cmd})).await;
    }
}

#[tokio::test]
async fn disputed_ids_are_probed_fifty_per_batch_committed_as_they_go_and_resumed() {
    use kartoteka_sync::{SyncEngine, SyncEvent, SyncPhase};
    let sb = sandbox(Some(3_000)).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");
    let contacts: Vec<i64> = replica_view(&store, EntityType::Contact)
        .keys()
        .copied()
        .collect();
    assert!(contacts.len() >= 240, "the portal has enough contacts");

    // 120 deletions: ⌈120/50⌉ = 3 probe requests instead of 120.
    delete_contacts(&emu, &contacts[..120]).await;
    emu.control().clear_requests().await.expect("clear the log");
    let summary = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("second sync");
    assert_eq!(summary.for_type(EntityType::Contact).deleted, 120);
    let log = emu.control().requests(0).await.expect("log");
    assert_eq!(
        probes(&log),
        (0, 3),
        "120 disputed ids probed in three batches of crm.item.get, none one by one"
    );

    // 120 more, and the run is cancelled after its first probe batch: the 50 it learned of
    // are committed, and the next run probes only the other 70.
    delete_contacts(&emu, &contacts[120..240]).await;
    let cancel = CancellationToken::new();
    let on_progress = cancel.clone();
    let stopping = SyncEngine::new(
        std::sync::Arc::new(kartoteka_sync::BitrixPortal::new(client(&url))),
        std::sync::Arc::clone(&store),
        policy(ReconcilePolicy::WhenCountsDiffer),
        std::sync::Arc::new(move |e: &SyncEvent| {
            if let SyncEvent::Progress {
                phase: SyncPhase::Reconcile,
                done,
                ..
            } = e
            {
                if *done >= 50 {
                    on_progress.cancel();
                }
            }
        }),
    );
    assert!(
        stopping.run(&cancel).await.is_err(),
        "the run stops after its first probe batch"
    );
    let deleted_now = |store: &std::sync::Arc<std::sync::Mutex<kartoteka_store::Store>>| {
        let counts = store.lock().expect("lock").counts().expect("counts");
        counts
            .iter()
            .find(|c| c.entity_type == EntityType::Contact)
            .map_or(0, |c| c.deleted)
    };
    assert_eq!(
        deleted_now(&store),
        170,
        "the first batch's 50 deletions were committed before the run stopped"
    );
    emu.control().clear_requests().await.expect("clear the log");
    let summary = engine(&url, &store, policy(ReconcilePolicy::WhenCountsDiffer))
        .run(&CancellationToken::new())
        .await
        .expect("resumed sync");
    assert_eq!(
        summary.for_type(EntityType::Contact).deleted,
        70,
        "the resumed run probes only what is still disputed"
    );
    let log = emu.control().requests(0).await.expect("log");
    assert_eq!(probes(&log), (0, 2), "70 ids: two probe batches");
    assert_eq!(deleted_now(&store), 240);
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}

/// A real portal answers a `crm.item.list` whose select has no `*` with only the selected `UF_*`
/// keys when `useOriginalUfNames` is `Y` (every item `[]` for `select: ["id"]`): the id scan
/// must still see every id, so that a reconcile of an unchanged portal probes nothing and costs
/// at most ⌈N/2,500⌉ + 5 requests.
#[tokio::test]
async fn a_reconcile_of_an_unchanged_portal_reads_every_id_and_probes_nothing() {
    let sb = sandbox(Some(6_000)).await;
    let emu = Emu::new(&sb);
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("initial sync");
    let n: u64 = store
        .lock()
        .expect("lock")
        .counts()
        .expect("counts")
        .iter()
        .map(|c| c.active)
        .sum();
    assert!(n >= 5_000, "{n} records");

    emu.control().clear_requests().await.expect("clear the log");
    let summary = engine(&url, &store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("reconciling sync");
    let log = emu.control().requests(0).await.expect("log");
    let probing = log
        .iter()
        .filter(|r| r.method == "crm.item.get" || r.params.to_string().contains("crm.item.get"))
        .count();
    assert_eq!(probing, 0, "no record was disputed: every id was seen");
    for t in EntityType::ALL {
        let s = summary.for_type(t);
        assert_eq!((s.deleted, s.hidden), (0, 0), "{t}: nothing lost");
    }
    let bound = n.div_ceil(2_500) + 5;
    assert!(
        log.len() as u64 <= bound,
        "{} requests for a reconcile of {n} records (bound {bound}): {:?}",
        log.len(),
        log.iter().map(|r| r.method.as_str()).collect::<Vec<_>>()
    );
    sb.shutdown().await;
}
