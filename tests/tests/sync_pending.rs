//! A pulled record never overwrites a field with an unsent local edit; the other fields of the
//! same record still take the portal's new values.

mod sync_support;

use kartoteka_domain::{EntityType, RecordKey};
use kartoteka_store::LocalEdit;
use kartoteka_sync::{CancellationToken, ReconcilePolicy};
use serde_json::json;
use sync_support::*;

#[tokio::test]
async fn pulled_record_does_not_overwrite_pending_edit() {
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

    let deal_id = *replica_view(&store, EntityType::Deal)
        .keys()
        .next()
        .expect("demo has deals");
    let key = RecordKey {
        entity_type: EntityType::Deal,
        id: deal_id,
    };
    store
        .lock()
        .expect("lock")
        .apply_local_edit(
            key,
            &[LocalEdit {
                field: "title".into(),
                value: json!("My offline title"),
            }],
            1_772_400_000,
        )
        .expect("local edit");

    emu.post("clock", json!({"advanceSeconds": 3600})).await;
    emu.act(
        3,
        "crm.item.update",
        json!({"entityTypeId": 2, "id": deal_id, "fields": {"title": "Their title", "comments": "Their comment"}}),
    )
    .await;
    let summary = engine
        .run(&CancellationToken::new())
        .await
        .expect("incremental sync");
    assert_eq!(summary.for_type(EntityType::Deal).updated, 1);

    let local = store
        .lock()
        .expect("lock")
        .get_record(key)
        .expect("read")
        .expect("present");
    assert_eq!(
        local.fields["title"],
        json!("My offline title"),
        "the unsent edit survives the pull"
    );
    assert_eq!(
        local.fields["comments"],
        json!("Their comment"),
        "fields without edits take the portal's value"
    );
    assert_eq!(local.pending_fields, vec!["title".to_string()]);
    sb.shutdown().await;
}
