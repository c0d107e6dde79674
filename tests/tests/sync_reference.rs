//! Reference data (users, status lists and stages, pipelines, the field metadata of the four
//! types, whether the webhook's user is a supervisor) in one `batch` request, over real HTTP.

mod sync_support;

use kartoteka_domain::EntityType;
use kartoteka_sandbox::control::Control;
use kartoteka_sync::{CancellationToken, ReconcilePolicy};
use serde_json::json;
use sync_support::*;

#[tokio::test]
async fn reference_data_comes_in_one_batch_and_equals_what_the_single_calls_read() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let client = client(&url);
    let control = Control::of(&sb);
    let user_id = client.webhook().user_id();

    control.clear_requests().await.expect("clear the log");
    let bundle = client
        .reference_bundle(&EntityType::ALL, user_id)
        .await
        .expect("the reference batch");
    let log = control.requests(0).await.expect("request log");
    let methods: Vec<&str> = log.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(
        methods,
        vec!["batch"],
        "users, stages, pipelines, four field lists and the supervisor check: one request"
    );

    // The same data the eight single calls read.
    assert_eq!(bundle.users, client.users().await.expect("users"));
    assert_eq!(bundle.stages, client.statuses().await.expect("statuses"));
    assert_eq!(
        bundle.categories,
        client
            .categories(EntityType::Deal)
            .await
            .expect("pipelines")
    );
    for t in EntityType::ALL {
        assert_eq!(
            bundle.fields.get(&t),
            Some(&client.item_fields(t).await.expect("fields")),
            "field metadata of {t}"
        );
    }
    assert_eq!(
        bundle.is_supervisor,
        client.is_supervisor(user_id).await.expect("supervisor")
    );
    assert!(!bundle.users.is_empty() && !bundle.stages.is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn a_user_list_longer_than_a_page_is_read_whole_in_one_more_batch() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let client = client(&url);
    let control = Control::of(&sb);
    // 180 more employees: `user.get` gives 50 a page, so the list spans four pages or more.
    let users: Vec<_> = (0..180)
        .map(|k| json!({"name": format!("Сотрудник {k}"), "lastName": "Тестов"}))
        .collect();
    control
        .post("seed", json!({"users": users}))
        .await
        .expect("users are added");
    let all = client.users().await.expect("users");
    assert!(all.len() > 180);

    control.clear_requests().await.expect("clear the log");
    let bundle = client
        .reference_bundle(&EntityType::ALL, client.webhook().user_id())
        .await
        .expect("the reference batch");
    let log = control.requests(0).await.expect("request log");
    assert_eq!(
        log.len(),
        2,
        "the first pages in one batch, the further pages of the long list in one more"
    );
    assert_eq!(bundle.users, all, "every user, in id order");
    sb.shutdown().await;
}

#[tokio::test]
async fn a_sync_reads_its_reference_data_in_one_request() {
    let sb = sandbox(None).await;
    let url = sb.admin_webhook_url();
    let control = Control::of(&sb);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    control.clear_requests().await.expect("clear the log");
    let summary = engine(&url, &store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
    let log = control.requests(0).await.expect("request log");
    let reference: Vec<_> = log
        .iter()
        .filter(|r| {
            let cmds = r
                .params
                .get("cmd")
                .map(|c| c.to_string())
                .unwrap_or_default();
            let reference = [
                "user.get",
                "crm.status.list",
                "crm.category.list",
                "crm.item.fields",
                "user.admin",
                "department.get",
            ];
            reference
                .iter()
                .any(|m| r.method == *m || (r.method == "batch" && cmds.contains(m)))
        })
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(
        reference,
        vec!["batch".to_string()],
        "reference data is one batch; every other request pulls records ({} in all)",
        summary.requests
    );
    // The progress totals (record counts) and the portal's clock came in that batch too.
    let singles: Vec<&str> = log
        .iter()
        .map(|r| r.method.as_str())
        .filter(|m| *m == "crm.item.list" || *m == "server.time")
        .collect();
    assert!(
        singles.is_empty(),
        "no count or clock request of its own: {singles:?}"
    );
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
}
