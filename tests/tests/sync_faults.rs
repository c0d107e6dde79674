//! Pull sync through the sandbox's fault injection: a rate-limit storm, 5xx HTML pages, timeouts
//! and truncated JSON. Each story checks that its faults really fired (the sandbox counts them)
//! and ends with the replica equal to the portal.

mod sync_support;

use kartoteka_domain::ipc::ErrorCode;
use kartoteka_sync::{CancellationToken, ReconcilePolicy, SyncErrorCode};
use serde_json::{json, Value};
use sync_support::*;

/// Syncs through `faults` and returns how many times each one fired.
async fn sync_through_faults(faults: Value) -> Vec<u64> {
    let sb = sandbox(Some(3_000)).await;
    let emu = Emu::new(&sb);
    emu.post("faults", faults).await;
    let url = sb.admin_webhook_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    engine(&url, &store, policy(ReconcilePolicy::Always))
        .run(&CancellationToken::new())
        .await
        .expect("sync gets through the faults by retrying");
    let fired = emu.faults_fired().await;
    emu.delete("faults").await;
    assert_replica_equals_portal(&url, &store).await;
    sb.shutdown().await;
    fired
}

#[tokio::test]
async fn rate_limit_storm_is_waited_out() {
    // Half of all batch requests refused with 503 QUERY_LIMIT_EXCEEDED (seeded, so repeatable).
    let fired = sync_through_faults(json!([{
        "match": {"method": "batch", "probability": 0.5, "repeat": true},
        "action": {"type": "error", "status": 503, "error": "QUERY_LIMIT_EXCEEDED", "description": "Too many requests"}
    }]))
    .await;
    assert!(
        fired[0] >= 3,
        "the storm refused several batches, not none: {fired:?}"
    );
}

#[tokio::test]
async fn html_error_pages_are_retried() {
    let fired = sync_through_faults(json!([
        {"match": {"method": "batch", "nth": 2, "times": 3}, "action": {"type": "html", "status": 500}},
        {"match": {"method": "crm.item.fields", "times": 1}, "action": {"type": "html", "status": 502}}
    ]))
    .await;
    assert_eq!(
        fired,
        [3, 1],
        "three batches and the field list got HTML pages"
    );
}

#[tokio::test]
async fn timeouts_are_retried() {
    // The test client gives up on a request after 2 s.
    let fired = sync_through_faults(json!([{"match": {"method": "batch", "nth": 3, "times": 2}, "action": {"type": "delay", "ms": 3000}}]))
        .await;
    assert_eq!(fired, [2], "two batches timed out");
}

#[tokio::test]
async fn truncated_json_is_retried() {
    let fired = sync_through_faults(
        json!([{"match": {"method": "batch", "nth": 2, "times": 2}, "action": {"type": "truncate"}}]),
    )
    .await;
    assert_eq!(fired, [2], "two batches were cut short");
}

#[tokio::test]
async fn revoked_webhook_stops_the_sync_with_an_auth_code() {
    let sb = sandbox(None).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let bad = format!("{}/rest/1/not-the-code/", sb.base_url());
    let err = engine(&bad, &store, policy(ReconcilePolicy::Never))
        .run(&CancellationToken::new())
        .await
        .expect_err("a wrong webhook cannot sync");
    assert_eq!(
        err.code(),
        SyncErrorCode::Auth,
        "the UI asks for a new webhook: {err}"
    );
    assert!(
        !err.to_string().contains("not-the-code"),
        "the secret never appears in errors"
    );
    sb.shutdown().await;
}

/// A portal failure that retrying does not fix stops the sync with the same code connect and
/// counts would give (one classification): not "no CRM rights" for everything.
async fn sync_stopped_by(fault: Value) -> (ErrorCode, Vec<u64>) {
    let sb = sandbox(Some(50)).await;
    let emu = Emu::new(&sb);
    emu.post("faults", fault).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let store = replica(&dir.path().join("replica.db"));
    let err = engine(
        &sb.admin_webhook_url(),
        &store,
        policy(ReconcilePolicy::Never),
    )
    .run(&CancellationToken::new())
    .await
    .expect_err("the portal refuses every batch");
    let fired = emu.faults_fired().await;
    sb.shutdown().await;
    (err.user_code(), fired)
}

#[tokio::test]
async fn an_overloaded_portal_and_a_free_plan_stop_the_sync_each_with_its_own_code() {
    let (code, fired) = sync_stopped_by(
        json!({"match": {"method": "batch", "repeat": true}, "action": {"type": "overload"}}),
    )
    .await;
    assert_eq!(code, ErrorCode::PortalBlocked, "OVERLOAD_LIMIT");
    assert!(fired[0] >= 1, "the overload fault fired: {fired:?}");

    let (code, fired) = sync_stopped_by(json!({"match": {"method": "batch", "repeat": true},
        "action": {"type": "error", "status": 403, "error": "ACCESS_DENIED", "description": "REST is available only on commercial plans"}}))
    .await;
    assert_eq!(
        code,
        ErrorCode::PlanRestricted,
        "the free plan's ACCESS_DENIED"
    );
    assert!(fired[0] >= 1, "the plan fault fired: {fired:?}");
}
