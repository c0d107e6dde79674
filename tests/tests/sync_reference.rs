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

/// A replica synced once through `url`.
async fn synced(url: &str, store: &std::sync::Arc<std::sync::Mutex<kartoteka_store::Store>>) {
    engine(url, store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect("sync succeeds");
}

#[tokio::test]
async fn a_department_head_with_the_readme_scopes_is_a_supervisor_and_nothing_is_missing() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    // Made the way the README says: no scopes named = crm, user_brief, department.
    let hook = emu
        .post("credentials", json!({"userId": 2, "code": "head2readme"}))
        .await["url"]
        .as_str()
        .expect("url")
        .to_string();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    synced(&hook, &store).await;
    {
        let s = store.lock().expect("lock");
        let profile = s.profile().expect("profile");
        assert_eq!(profile.user_id, Some(2));
        assert!(
            profile.is_supervisor,
            "user 2 heads the sales department and the webhook may ask department.get"
        );
        assert_eq!(s.missing_scopes().expect("scopes"), vec![]);
    }
    sb.shutdown().await;
}

#[tokio::test]
async fn a_webhook_without_user_and_department_scopes_still_syncs_and_says_what_it_lacks() {
    let sb = sandbox(None).await;
    let emu = Emu::new(&sb);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    // User 2 keeps a personal time zone, which `user.get` tells.
    Control::of(&sb)
        .configure(json!({"userTimeZones": {"2": "Europe/Berlin"}}))
        .await
        .expect("config");
    // First with every scope: the names and the zone are known.
    let full = emu
        .post("credentials", json!({"userId": 2, "code": "head2full"}))
        .await["url"]
        .as_str()
        .expect("url")
        .to_string();
    synced(&full, &store).await;
    let names_before = store.lock().expect("lock").users().expect("users").len();
    assert!(names_before > 1);
    assert!(store
        .lock()
        .expect("lock")
        .user_time()
        .expect("zone")
        .is_some());

    // Then the same user with `crm` only, as a webhook made with the old README's advice
    // minus the user scope.
    let crm_only = emu
        .post(
            "credentials",
            json!({"userId": 2, "code": "head2crm", "scopes": ["crm"]}),
        )
        .await["url"]
        .as_str()
        .expect("url")
        .to_string();
    let control = Control::of(&sb);
    control.clear_requests().await.expect("clear the log");
    synced(&crm_only, &store).await;
    {
        let s = store.lock().expect("lock");
        assert_eq!(
            s.missing_scopes().expect("scopes"),
            vec![
                kartoteka_domain::ipc::WebhookScope::Users,
                kartoteka_domain::ipc::WebhookScope::Department
            ]
        );
        assert!(
            !s.profile().expect("profile").is_supervisor,
            "without `department` a department head is not recognised"
        );
        assert_eq!(
            s.users().expect("users").len(),
            names_before,
            "the names known before are kept, not wiped by a refused user.get"
        );
        assert!(
            s.user_time().expect("zone").is_some(),
            "the user's time zone is not known to be gone: it is kept"
        );
    }
    // The portal refused user.get and department.get for want of scope: that is what it was
    // asked, in the one reference batch.
    let log = control.requests(0).await.expect("request log");
    assert!(log.iter().any(|r| r.method == "batch"
        && r.params
            .get("cmd")
            .is_some_and(|c| c.to_string().contains("\"scope\""))));
    sb.shutdown().await;
}
