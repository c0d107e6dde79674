//! Time limits as a cloud portal applies them: the operating-time budgets of
//! `rest/lib/engine/access/loadlimiter.php` (with `CRestProvider::methodsBatch` giving batch
//! commands no webhook of their own) and the front's 60 s cut-off. Simulated call times
//! (`callSeconds`) make the portal slow without any test sleeping.

mod common;

use common::Portal;
use serde_json::{json, Value};

fn list_cmd() -> &'static str {
    "crm.item.list?entityTypeId=2&select[]=id"
}

async fn second_webhook(p: &Portal) -> String {
    p.sb.webhook_url(2).expect("user 2 has a webhook")
}

/// The error code a batch answered for one command, if any.
fn command_error(v: &Value, key: &str) -> Option<String> {
    v["result"]["result_error"][key]["error"]
        .as_str()
        .map(str::to_string)
}

#[tokio::test]
async fn the_sandbox_is_strict_by_default_60_s_cutoff_and_one_batch_budget_for_all_webhooks() {
    let p = Portal::demo().await;
    let cfg = p.emu_get("config").await;
    assert_eq!(cfg["requestCutoffSeconds"], json!(60.0));
    assert_eq!(cfg["operatingLimit"]["sharedBatchBudget"], json!(true));
    assert_eq!(cfg["operatingLimit"]["limitSeconds"], json!(420.0));
    assert_eq!(cfg["callSeconds"], json!({}), "measured times by default");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn webhooks_share_one_batch_budget_per_method_but_each_keeps_its_own_for_direct_calls() {
    let p = Portal::demo().await;
    p.emu_post(
        "config",
        json!({"operatingLimit": {"enabled": true, "limitSeconds": 10}, "callSeconds": {"crm.item.list": 4}}),
    )
    .await;
    let (a, b) = (p.hook.clone(), second_webhook(&p).await);

    // Webhook A spends 12 s of crm.item.list inside batch: over the 10 s limit.
    let three = json!({"halt": 0, "cmd": {"l0": list_cmd(), "l1": list_cmd(), "l2": list_cmd()}});
    let (s, v) = p.call_at(&a, "batch", three).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["result"]["result_error"],
        json!([]),
        "8 s spent before the third: allowed"
    );
    assert_eq!(v["result"]["result_time"]["l2"]["operating"], json!(12.0));

    // Webhook B's batch command of the same method is blocked: the budget is the portal's.
    let mixed = json!({"halt": 0, "cmd": {"list": list_cmd(), "me": "user.current"}});
    let (s, v) = p.call_at(&b, "batch", mixed.clone()).await;
    assert_eq!(s, 200, "a blocked command does not fail the batch: {v}");
    assert_eq!(
        command_error(&v, "list").as_deref(),
        Some("OPERATION_TIME_LIMIT"),
        "batch commands of all webhooks share one budget per method: {v}"
    );
    assert_eq!(
        v["result"]["result"]["me"]["ID"], "2",
        "other commands go on"
    );

    // Direct calls are counted per webhook, apart from the batch budget.
    for hook in [&a, &b] {
        let (s, v) = p
            .call_at(
                hook,
                "crm.item.list",
                json!({"entityTypeId": 2, "select": ["id"]}),
            )
            .await;
        assert_eq!(s, 200, "a direct call has its webhook's own budget: {v}");
    }
    for n in 2..=3 {
        let (s, _) = p
            .call_at(&a, "crm.item.list", json!({"entityTypeId": 2}))
            .await;
        assert_eq!(
            s,
            200,
            "direct call {n} of A starts with {} s spent",
            (n - 1) * 4
        );
    }
    let (s, v) = p
        .call_at(&a, "crm.item.list", json!({"entityTypeId": 2}))
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (429, Some("OPERATION_TIME_LIMIT"))
    );
    let (s, _) = p
        .call_at(&b, "crm.item.list", json!({"entityTypeId": 2}))
        .await;
    assert_eq!(s, 200, "A's exhausted direct budget is not B's");

    // The lenient switch keys batch commands by webhook again.
    p.emu_post(
        "config",
        json!({"operatingLimit": {"sharedBatchBudget": false}}),
    )
    .await;
    let (_, v) = p.call_at(&b, "batch", mixed).await;
    assert_eq!(command_error(&v, "list"), None, "{v}");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn a_call_of_a_tenth_of_a_second_or_less_costs_no_operating_time() {
    let p = Portal::demo().await;
    p.emu_post(
        "config",
        json!({"operatingLimit": {"enabled": true}, "callSeconds": {"crm.item.list": 0.1, "crm.item.get": 0.5}}),
    )
    .await;
    let v = p.ok("crm.item.list", json!({"entityTypeId": 2})).await;
    assert_eq!(v["time"]["operating"], json!(0.0));
    assert_eq!(v["time"]["processing"], json!(0.1));
    let v = p
        .ok("crm.item.get", json!({"entityTypeId": 2, "id": 1}))
        .await;
    assert_eq!(v["time"]["operating"], json!(0.5));
    p.sb.shutdown().await;
}

async fn titles_on_portal(p: &Portal, prefix: &str) -> Vec<String> {
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id", "title"], "filter": {"%title": prefix}, "order": {"id": "ASC"}}),
        )
        .await;
    v["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["title"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_batch_cut_by_the_front_keeps_the_commands_before_the_cut_and_answers_504_html() {
    let p = Portal::demo().await;
    p.emu_post("config", json!({"callSeconds": {"crm.item.add": 25}}))
        .await;
    let cmd: serde_json::Map<String, Value> = (1..=4)
        .map(|k| {
            (
                format!("a{k}"),
                json!(format!(
                    "crm.item.add?entityTypeId=2&fields[title]=Cut%20{k}"
                )),
            )
        })
        .collect();
    let r = p
        .http
        .post(format!("{}batch.json", p.hook))
        .json(&json!({"halt": 0, "cmd": cmd}))
        .send()
        .await
        .expect("request");
    assert_eq!(
        r.status().as_u16(),
        504,
        "75 s of commands pass the 60 s cut-off"
    );
    let html = r
        .headers()
        .get("content-type")
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.starts_with("text/html"));
    assert!(html, "the front answers with its own page, not JSON");
    let body = r.text().await.expect("body");
    assert!(body.contains("504 Gateway Time-out"), "{body}");
    // 0–25 s, 25–50 s and 50–75 s started before the cut and ran; the fourth never started.
    assert_eq!(
        titles_on_portal(&p, "Cut ").await,
        ["Cut 1", "Cut 2", "Cut 3"],
        "the writes before the cut landed, the later one did not"
    );

    // A direct call that runs past the cut-off is applied too, and answered the same way.
    p.emu_post("config", json!({"callSeconds": {"crm.item.add": 61}}))
        .await;
    let (s, v) = p
        .call(
            "crm.item.add",
            json!({"entityTypeId": 2, "fields": {"title": "Cut direct"}}),
        )
        .await;
    assert_eq!(s, 504, "{v}");
    assert!(v.as_str().is_some_and(|b| b.starts_with("<html>")));
    assert_eq!(titles_on_portal(&p, "Cut direct").await, ["Cut direct"]);

    // Lenient: no cut-off.
    p.emu_post("config", json!({"requestCutoffSeconds": null}))
        .await;
    let (s, v) = p
        .call(
            "crm.item.add",
            json!({"entityTypeId": 2, "fields": {"title": "Slow"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["time"]["processing"], json!(61.0));
    p.sb.shutdown().await;
}
