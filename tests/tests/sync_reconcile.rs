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
