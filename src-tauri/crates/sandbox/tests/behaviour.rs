//! Behaviour over HTTP: writes, history, links, rights, the control API, faults, persistence.

mod common;

use common::Portal;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions, RESTRICTED};
use serde_json::{json, Value};

#[tokio::test]
async fn add_update_delete_keep_history_links_and_noop_rules() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "fields": {"title": "Тест", "opportunity": 999.9,
                "contactIds": [5, 7], "UF_CRM_VIP": "Y", "UF_CRM_TAGS": ["a", "b"], "UF_CRM_CONTRACT_DATE": "2026-02-01",
                "UF_CRM_SEGMENT": 201, "unknownKey": 1, "createdTime": "2000-01-01T00:00:00+00:00"}}),
        )
        .await;
    let item = &v["result"]["item"];
    let id = item["id"].as_i64().unwrap();
    assert_eq!(item["opportunity"], 999.9);
    assert_eq!(
        item["stageId"], "NEW",
        "default stage is the pipeline's first"
    );
    assert_eq!(
        item["createdTime"], "2026-03-02T09:00:00+03:00",
        "read-only fields are ignored"
    );
    assert_eq!(item["UF_CRM_CONTRACT_DATE"], "2026-02-01T03:00:00+03:00");
    assert_eq!(item["contactIds"], json!([5, 7]));
    let links = p.ok("crm.deal.contact.items.get", json!({"id": id})).await;
    assert_eq!(links["result"][0]["IS_PRIMARY"], "Y");
    assert_eq!(links["result"][0]["CONTACT_ID"], 5);

    // no-op update keeps updatedTime
    p.emu_post("clock", json!({"advanceSeconds": 60})).await;
    let v = p
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"title": "Тест"}}),
        )
        .await;
    assert_eq!(
        v["result"]["item"]["updatedTime"],
        "2026-03-02T09:00:00+03:00"
    );
    // stage move writes history and movedTime
    let v = p
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"stageId": "WON"}}),
        )
        .await;
    assert_eq!(
        v["result"]["item"]["updatedTime"],
        "2026-03-02T09:01:00+03:00"
    );
    assert_eq!(
        v["result"]["item"]["movedTime"],
        "2026-03-02T09:01:00+03:00"
    );
    assert_eq!(v["result"]["item"]["closed"], "Y");
    let h = p
        .ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "filter": {"OWNER_ID": id}}),
        )
        .await;
    let types: Vec<i64> = h["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["TYPE_ID"].as_i64().unwrap())
        .collect();
    assert_eq!(types, vec![1, 3], "created, then moved to a final stage");
    // pipeline change
    let v = p
        .ok(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"categoryId": 1}}),
        )
        .await;
    assert_eq!(v["result"]["item"]["stageId"], "C1:NEW");
    // bad values
    let (s, e) = p
        .call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"opportunity": "abc"}}),
        )
        .await;
    assert_eq!(
        (s, e["error"].as_str()),
        (400, Some("CRM_FIELD_ERROR_VALUE_NOT_VALID"))
    );
    let (_, e) = p
        .call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id, "fields": {"contactIds": 5}}),
        )
        .await;
    assert_eq!(e["error"], "100");
    // fm on update: n0 adds, id with empty value deletes
    let c = p.ok("crm.item.add", json!({"entityTypeId": 3, "fields": {"name": "Фм", "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+7 1"}]}})).await;
    let cid = c["result"]["item"]["id"].as_i64().unwrap();
    let fid = c["result"]["item"]["fm"][0]["id"].as_i64().unwrap();
    let c = p
        .ok("crm.item.update", json!({"entityTypeId": 3, "id": cid, "fields": {"fm": {"n0": {"typeId": "EMAIL", "value": "a@b.ru"}, fid.to_string(): {"typeId": "PHONE", "value": ""}}}}))
        .await;
    let fm = c["result"]["item"]["fm"].as_array().unwrap().clone();
    assert_eq!(fm.len(), 1);
    assert_eq!(fm[0]["typeId"], "EMAIL");
    // deleting the contact removes it from the deal's links
    assert_eq!(
        p.ok("crm.item.delete", json!({"entityTypeId": 3, "id": 5}))
            .await["result"],
        json!([])
    );
    let d = p
        .ok("crm.item.get", json!({"entityTypeId": 2, "id": id}))
        .await;
    assert_eq!(d["result"]["item"]["contactIds"], json!([7]));
    let (s, e) = p
        .call("crm.item.get", json!({"entityTypeId": 3, "id": 5}))
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("NOT_FOUND")));
    let st = p.emu_get("state?entityTypeId=3&id=5").await;
    assert_eq!(st["deleted"], true);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn filters_support_operators_or_groups_and_incremental_order() {
    let p = Portal::demo().await;
    let all = p
        .ok("crm.item.list", json!({"entityTypeId": 1, "select": ["id", "stageId", "updatedTime", "name"], "order": {"id": "ASC"}, "start": 0}))
        .await;
    let total = all["total"].as_i64().unwrap();
    assert_eq!(total, 130, "the standard demo set has 130 leads");
    let count = |v: &Value| v["total"].as_i64().unwrap();
    let new_or_junk = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 1, "select": ["id"], "filter": {"@stageId": ["NEW", "JUNK"]}}),
        )
        .await;
    let not = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 1, "select": ["id"], "filter": {"!@stageId": ["NEW", "JUNK"]}}),
        )
        .await;
    assert_eq!(count(&new_or_junk) + count(&not), total);
    let or = p
        .ok("crm.item.list", json!({"entityTypeId": 1, "select": ["id"], "filter": {"0": {"logic": "OR", "0": {"=stageId": "NEW"}, "1": {"=stageId": "JUNK"}}}}))
        .await;
    assert_eq!(count(&or), count(&new_or_junk), "logic OR equals IN");
    let like = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 3, "select": ["id"], "filter": {"%name": "img src"}}),
        )
        .await;
    assert_eq!(
        like["result"]["items"][0]["id"], 3,
        "substring match finds the hostile name"
    );
    let (s, e) = p
        .call(
            "crm.item.list",
            json!({"entityTypeId": 1, "filter": {"=bogus": 1}}),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("INVALID_ARG_VALUE")));
    let (_, e) = p
        .call(
            "crm.item.list",
            json!({"entityTypeId": 1, "order": {"id": "UP"}}),
        )
        .await;
    assert!(e["error_description"]
        .as_str()
        .unwrap()
        .contains("allowed sort directions"));

    // incremental sync: (updatedTime, id) pages with the OR continuation see every lead once
    let mut seen = Vec::new();
    let mut filter = json!({">=updatedTime": "2020-01-01T00:00:00+03:00"});
    loop {
        let v = p
            .ok("crm.item.list", json!({"entityTypeId": 1, "select": ["id", "updatedTime"], "order": {"updatedTime": "ASC", "id": "ASC"}, "filter": filter, "start": -1}))
            .await;
        let items = v["result"]["items"].as_array().unwrap().clone();
        seen.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        if items.len() < 50 {
            break;
        }
        let last = items.last().unwrap();
        let (t, id) = (last["updatedTime"].clone(), last["id"].clone());
        filter = json!({"0": {"logic": "OR", "0": {">updatedTime": t}, "1": {"=updatedTime": t, ">id": id}}});
    }
    seen.sort();
    assert_eq!(seen, (1..=130).collect::<Vec<_>>());

    // without an order, the configurable shuffle is stable across identical requests
    p.emu_post("config", json!({"unorderedListsWhenNoOrder": true}))
        .await;
    let q = json!({"entityTypeId": 1, "select": ["id"]});
    let a = p.ok("crm.item.list", q.clone()).await["result"]["items"].clone();
    let b = p.ok("crm.item.list", q).await["result"]["items"].clone();
    assert_eq!(a, b);
    assert_ne!(a[0]["id"], 1, "not id order");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn restricted_user_sees_only_own_records_and_gets_access_denied() {
    let p = Portal::demo().await;
    let hook =
        p.sb.webhook_url(RESTRICTED)
            .expect("restricted user has a webhook");
    let (_, v) = p
        .call_at(
            &hook,
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id", "assignedById"]}),
        )
        .await;
    let items = v["result"]["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items.iter().all(|i| i["assignedById"] == RESTRICTED),
        "lists filter silently"
    );
    let foreign = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id"], "filter": {"!assignedById": RESTRICTED}}),
        )
        .await["result"]["items"][0]["id"]
        .clone();
    let (s, e) = p
        .call_at(
            &hook,
            "crm.item.get",
            json!({"entityTypeId": 2, "id": foreign}),
        )
        .await;
    assert_eq!((s, e["error"].as_str()), (400, Some("ACCESS_DENIED")));
    let (_, e) = p
        .call_at(
            &hook,
            "crm.item.get",
            json!({"entityTypeId": 2, "id": 99_999}),
        )
        .await;
    assert_eq!(
        e["error"], "NOT_FOUND",
        "deleted and hidden stay distinguishable"
    );
    // permissions can be changed at run time
    p.emu_post(
        "permissions",
        json!({"userId": RESTRICTED, "entityTypeId": 2, "read": "none"}),
    )
    .await;
    let (_, v) = p
        .call_at(
            &hook,
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id"]}),
        )
        .await;
    assert_eq!(v["total"], 0);
    // the bot is not listed by user.get but can call
    let users = p.ok("user.get", json!({})).await;
    assert!(users["result"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["ID"] != "9"));
    let bot = p.sb.webhook_url(kartoteka_sandbox::BOT).unwrap();
    let (s, v) = p.call_at(&bot, "profile", json!({})).await;
    assert_eq!((s, v["result"]["ID"].as_str()), (200, Some("9")));
    p.sb.shutdown().await;
}

#[tokio::test]
async fn control_api_acts_as_others_injects_faults_and_logs_requests() {
    let p = Portal::demo().await;
    p.emu(reqwest::Method::DELETE, "requests", Value::Null)
        .await;
    let v = p
        .emu_post("act", json!({"userId": 3, "method": "crm.item.update", "params": {"entityTypeId": 2, "id": 2, "fields": {"title": "Чужая правка"}}}))
        .await;
    assert_eq!(v["result"]["item"]["updatedBy"], 3);
    assert_eq!(
        p.emu_get("requests").await["requests"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "act is not logged"
    );

    p.emu_post("faults", json!([{"match": {"method": "crm.item.get", "nth": 1}, "action": {"type": "html", "status": 502}}])).await;
    let r = p
        .http
        .post(format!("{}crm.item.get", p.hook))
        .json(&json!({"entityTypeId": 2, "id": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    assert!(r.text().await.unwrap().starts_with("<!DOCTYPE html>"));
    assert_eq!(
        p.call("crm.item.get", json!({"entityTypeId": 2, "id": 2}))
            .await
            .0,
        200,
        "one-shot"
    );

    p.emu_post(
        "faults",
        json!([{"match": {"method": "crm.item.get"}, "action": {"type": "truncate"}}]),
    )
    .await;
    let r = p
        .http
        .post(format!("{}crm.item.get", p.hook))
        .json(&json!({"entityTypeId": 2, "id": 2}))
        .send()
        .await
        .unwrap();
    assert!(
        serde_json::from_str::<Value>(&r.text().await.unwrap()).is_err(),
        "truncated JSON"
    );

    p.emu_post(
        "faults",
        json!([{"match": {"method": "crm.item.get"}, "action": {"type": "drop"}}]),
    )
    .await;
    let r = p
        .http
        .post(format!("{}crm.item.get", p.hook))
        .json(&json!({"entityTypeId": 2, "id": 2}))
        .send()
        .await;
    let dropped = match r {
        Err(_) => true,
        Ok(resp) => resp.text().await.is_err(),
    };
    assert!(dropped, "the connection is dropped");
    let report = p.control.faults().await.expect("fault report");
    let fired: Vec<(&str, u64)> = report
        .iter()
        .map(|f| (f.action.as_str(), f.fired))
        .collect();
    assert_eq!(
        fired,
        [("html", 1), ("truncate", 1), ("drop", 1)],
        "each fault reports that it fired once"
    );

    p.emu_post("faults", json!([{"match": {"method": "crm.item.add"}, "action": {"type": "commitThenFail", "status": 500}}])).await;
    let before = p.emu_get("state?entityTypeId=2").await["count"]
        .as_i64()
        .unwrap();
    let (s, _) = p
        .call(
            "crm.item.add",
            json!({"entityTypeId": 2, "fields": {"title": "x"}}),
        )
        .await;
    assert_eq!(s, 500);
    assert_eq!(
        p.emu_get("state?entityTypeId=2").await["count"]
            .as_i64()
            .unwrap(),
        before + 1,
        "the write was applied"
    );

    // revoked and expired webhooks
    p.emu_post("credentials", json!({"kind": "webhook", "userId": 2, "code": "tmpcode", "expiresAt": "2026-03-02T10:00:00+03:00"})).await;
    let hook = format!("{}/rest/2/tmpcode/", p.sb.base_url());
    assert_eq!(p.call_at(&hook, "profile", json!({})).await.0, 200);
    p.emu_post("clock", json!({"advanceSeconds": 7200})).await;
    assert_eq!(
        p.call_at(&hook, "profile", json!({})).await.1["error"],
        "expired_token"
    );
    let (s, v) = p
        .call_at(
            &format!("{}/rest/1/wrongcode/", p.sb.base_url()),
            "profile",
            json!({}),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("INVALID_CREDENTIALS")));

    let log = p.emu_get("requests").await;
    let entries = log["requests"].as_array().unwrap();
    assert!(entries
        .iter()
        .any(|e| e["status"] == 502 && e["method"] == "crm.item.get"));
    assert!(
        entries
            .iter()
            .all(|e| !e["path"].as_str().unwrap().contains("wrongcode")),
        "codes are redacted"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn oauth_refresh_rotates_tokens_and_old_refresh_token_is_invalid() {
    let p = Portal::demo().await;
    let first = p.emu_post("credentials", json!({"kind": "oauth", "clientId": "app", "clientSecret": "s", "userId": 2, "scopes": ["crm"]})).await;
    let at = first["access_token"].as_str().unwrap();
    let (s, v) = p
        .call_at(
            &format!("{}/rest/", p.sb.base_url()),
            "profile",
            json!({"auth": at}),
        )
        .await;
    assert_eq!((s, v["result"]["ID"].as_str()), (200, Some("2")));
    p.emu_post("clock", json!({"advanceSeconds": 3601})).await;
    let (s, v) = p
        .call_at(
            &format!("{}/rest/", p.sb.base_url()),
            "profile",
            json!({"auth": at}),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (401, Some("expired_token")));
    let url = |rt: &str| {
        format!("{}/oauth/token/?grant_type=refresh_token&client_id=app&client_secret=s&refresh_token={rt}", p.sb.base_url())
    };
    let rt = first["refresh_token"].as_str().unwrap();
    let fresh: Value = p
        .http
        .get(url(rt))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    common::same_shape(
        &common::fixture("F9-oauth-token-refresh.json"),
        &fresh,
        "F9",
    )
    .unwrap();
    let again: Value = p
        .http
        .get(url(rt))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["error"], "invalid_grant");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn sqlite_file_keeps_changes_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("portal.db");
    let opts = || SandboxOptions {
        clock: ClockMode::Frozen,
        limits: LimitsPreset::Off,
        db_path: Some(db.clone()),
        ..Default::default()
    };
    let sb = Sandbox::start(opts()).await.unwrap();
    let hook = sb.admin_webhook_url();
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{hook}crm.item.add"))
        .json(&json!({"entityTypeId": 4, "fields": {"title": "Сохранённая"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["result"]["item"]["id"].as_i64().unwrap();
    let _ = http
        .post(format!("{hook}crm.item.delete"))
        .json(&json!({"entityTypeId": 4, "id": 1}))
        .send()
        .await
        .unwrap();
    sb.shutdown().await;

    let sb = Sandbox::start(opts()).await.unwrap();
    assert_eq!(
        sb.admin_webhook_url(),
        hook.replace(&hook[..hook.find("/rest").unwrap()], &sb.base_url())
    );
    let hook = sb.admin_webhook_url();
    let r: Value = http
        .post(format!("{hook}crm.item.get"))
        .json(&json!({"entityTypeId": 4, "id": id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["result"]["item"]["title"], "Сохранённая");
    let r: Value = http
        .post(format!("{hook}crm.item.get"))
        .json(&json!({"entityTypeId": 4, "id": 1}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["error"], "NOT_FOUND");
    let r: Value = http
        .post(format!("{hook}crm.item.list"))
        .json(&json!({"entityTypeId": 2, "select": ["id"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["total"], 90, "the demo deals are still there");
    sb.shutdown().await;
}

#[tokio::test]
async fn seeded_userfield_in_userfield_add_shape_is_readable_and_writable() {
    let p = Portal::demo().await;
    p.emu_post(
        "seed",
        json!({"userfields": [{"entityId": "CRM_DEAL", "fieldName": "UF_CRM_KARTOTEKA_NEW", "userTypeId": "string",
            "editFormLabel": {"ru": "Новое поле", "en": "New field"}}]}),
    )
    .await;
    let f = p
        .ok(
            "crm.item.fields",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y"}),
        )
        .await;
    assert_eq!(
        f["result"]["fields"]["UF_CRM_KARTOTEKA_NEW"]["title"],
        "Новое поле"
    );
    assert_eq!(
        f["result"]["fields"]["UF_CRM_KARTOTEKA_NEW"]["isDynamic"],
        true
    );
    let v = p
        .ok(
            "crm.item.get",
            json!({"entityTypeId": 2, "id": 2, "useOriginalUfNames": "Y"}),
        )
        .await;
    assert!(
        v["result"]["item"].get("UF_CRM_KARTOTEKA_NEW").is_some(),
        "existing items carry the new field"
    );
    assert!(v["result"]["item"]["UF_CRM_KARTOTEKA_NEW"].is_null());
    let v = p
        .ok("crm.item.update", json!({"entityTypeId": 2, "id": 1, "useOriginalUfNames": "Y", "fields": {"UF_CRM_KARTOTEKA_NEW": "hello"}}))
        .await;
    assert_eq!(v["result"]["item"]["UF_CRM_KARTOTEKA_NEW"], "hello");
    let v = p
        .ok("crm.item.get", json!({"entityTypeId": 2, "id": 1}))
        .await;
    assert_eq!(
        v["result"]["item"]["ufCrmKartotekaNew"], "hello",
        "camelCase without useOriginalUfNames"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn same_seed_gives_identical_data() {
    let a = Portal::demo().await;
    let b = Portal::demo().await;
    for t in 1..=4 {
        let q = json!({"entityTypeId": t, "order": {"id": "ASC"}, "useOriginalUfNames": "Y"});
        assert_eq!(
            a.ok("crm.item.list", q.clone()).await["result"],
            b.ok("crm.item.list", q).await["result"]
        );
    }
    a.sb.shutdown().await;
    b.sb.shutdown().await;
}

async fn key_set_batch_from(records: usize) {
    let p = Portal::start(Some(records), LimitsPreset::Off).await;
    let state = p.emu_get("state").await;
    let total: i64 = state["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["count"].as_i64().unwrap())
        .sum();
    assert_eq!(total, records as i64);
    let mut cmd = serde_json::Map::new();
    cmd.insert(
        "c0".into(),
        json!(
            "crm.item.list?entityTypeId=3&select[]=*&order[id]=ASC&start=-1&useOriginalUfNames=Y"
        ),
    );
    for i in 1..50 {
        cmd.insert(
            format!("c{i}"),
            json!(format!("crm.item.list?entityTypeId=3&select[]=*&order[id]=ASC&start=-1&useOriginalUfNames=Y&filter[>id]=$result[c{}][items][49][id]", i - 1)),
        );
    }
    let started = std::time::Instant::now();
    let v = p.ok("batch", json!({"halt": 0, "cmd": cmd})).await;
    println!(
        "2,500-record batch from a 100k portal: {:?}",
        started.elapsed()
    );
    let last = &v["result"]["result"]["c49"]["items"];
    assert_eq!(last[49]["id"], 2_500);
    assert_eq!(v["result"]["result_error"], json!([]));
    p.sb.shutdown().await;
}

#[tokio::test]
async fn a_20k_portal_serves_chained_key_set_batches() {
    key_set_batch_from(20_000).await;
}

/// The "serves a 100k-record portal" check; slow in a debug build, so run it with
/// `cargo test -p kartoteka-sandbox --release -- --ignored`.
#[tokio::test]
#[ignore]
async fn a_100k_portal_serves_chained_key_set_batches() {
    key_set_batch_from(100_000).await;
}
