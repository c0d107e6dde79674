//! Contract rules the reviewer checked: determinism with `zeroTimings`, boolean UF filters,
//! legacy multi-fields, `/_emu/act` buckets, `/_emu/credentials` URLs, the operating limit.

mod common;

use common::Portal;
use kartoteka_sandbox::LimitsPreset;
use serde_json::{json, Value};

/// POSTs to a REST method and returns the raw body bytes.
async fn raw(p: &Portal, method: &str, params: Value) -> String {
    p.http
        .post(format!("{}{method}.json", p.hook))
        .json(&params)
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("body")
}

#[tokio::test]
async fn zero_timings_make_frozen_runs_byte_identical_including_operating() {
    let mut bodies = Vec::new();
    for _ in 0..2 {
        let p = Portal::start(None, LimitsPreset::Standard).await;
        p.emu_post("config", json!({"zeroTimings": true})).await;
        let mut run = Vec::new();
        for _ in 0..3 {
            run.push(
                raw(
                    &p,
                    "crm.item.list",
                    json!({"entityTypeId": 2, "order": {"id": "ASC"}, "select": ["*"]}),
                )
                .await,
            );
            run.push(raw(&p, "crm.item.get", json!({"entityTypeId": 3, "id": 5})).await);
            run.push(
                raw(
                    &p,
                    "batch",
                    json!({"halt": 0, "cmd": {
                    "a": "crm.item.list?entityTypeId=1&order[id]=ASC",
                    "b": "crm.item.list?entityTypeId=4&order[id]=ASC"}}),
                )
                .await,
            );
        }
        assert!(
            run[0].contains("\"operating\""),
            "the operating limit is on, so time.operating is present: {}",
            &run[0][run[0].len().saturating_sub(300)..]
        );
        bodies.push(run);
        p.sb.shutdown().await;
    }
    for (i, (a, b)) in bodies[0].iter().zip(&bodies[1]).enumerate() {
        assert_eq!(a, b, "response {i} differs between two runs");
    }
}

async fn deal_ids(p: &Portal, filter: Value) -> Vec<i64> {
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "filter": filter, "order": {"id": "ASC"}, "select": ["id"]}),
        )
        .await;
    v["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn boolean_uf_filter_takes_1_and_0_while_y_and_n_match_nothing() {
    let p = Portal::demo().await;
    p.with_deals(0).await;
    let mut ids = Vec::new();
    for vip in ["Y", "N"] {
        let v = p
            .ok(
                "crm.item.add",
                json!({"entityTypeId": 2, "useOriginalUfNames": "Y",
                    "fields": {"title": format!("VIP {vip}"), "UF_CRM_VIP": vip}}),
            )
            .await;
        ids.push(v["result"]["item"]["id"].as_i64().expect("id"));
    }
    assert_eq!(deal_ids(&p, json!({"UF_CRM_VIP": "1"})).await, vec![ids[0]]);
    assert_eq!(deal_ids(&p, json!({"UF_CRM_VIP": 0})).await, vec![ids[1]]);
    assert_eq!(
        deal_ids(&p, json!({"UF_CRM_VIP": "Y"})).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        deal_ids(&p, json!({"UF_CRM_VIP": "N"})).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        deal_ids(&p, json!({"ufCrmVip": "Y"})).await,
        Vec::<i64>::new()
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn legacy_contact_writes_and_reads_link_multi_field() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.contact.add",
            json!({"fields": {"NAME": "Ссылка", "LINK": [{"VALUE": "https://example.org/u/1", "VALUE_TYPE": "USER"}]}}),
        )
        .await;
    let id = v["result"].as_i64().expect("new id");
    let got = p.ok("crm.contact.get", json!({"id": id})).await;
    let link = &got["result"]["LINK"];
    assert_eq!(link[0]["VALUE"], "https://example.org/u/1", "{got}");
    assert_eq!(link[0]["TYPE_ID"], "LINK");
    assert!(got["result"].get("HAS_LINK").is_none());
    // crm.item stores an unknown typeId as given (CONTRACT §11 #3; issue 7 §2)
    let (s, v) = p
        .call(
            "crm.item.add",
            json!({"entityTypeId": 3, "fields": {"name": "X", "fm": [{"typeId": "LINK", "value": "https://x"}]}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["result"]["item"]["fm"][0]["typeId"], "LINK", "{v}");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn legacy_update_without_value_type_keeps_the_stored_type() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.contact.add",
            json!({"fields": {"NAME": "Тип", "PHONE": [{"VALUE": "+79990000001", "VALUE_TYPE": "MOBILE"}]}}),
        )
        .await;
    let id = v["result"].as_i64().expect("new id");
    let got = p.ok("crm.contact.get", json!({"id": id})).await;
    let phone_id = got["result"]["PHONE"][0]["ID"].clone();
    p.ok(
        "crm.contact.update",
        json!({"id": id, "fields": {"PHONE": [{"ID": phone_id, "VALUE": "+79990000002"}]}}),
    )
    .await;
    let got = p.ok("crm.contact.get", json!({"id": id})).await;
    assert_eq!(got["result"]["PHONE"][0]["VALUE"], "+79990000002");
    assert_eq!(got["result"]["PHONE"][0]["VALUE_TYPE"], "MOBILE", "{got}");
    p.sb.shutdown().await;
}

async fn act_status(p: &Portal, user: i64) -> u16 {
    let (s, _) = p
        .emu(
            reqwest::Method::POST,
            "act",
            json!({"userId": user, "method": "user.current", "countLimits": true}),
        )
        .await;
    s
}

#[tokio::test]
async fn counted_act_uses_the_credential_bucket_when_limits_key_on_credentials() {
    let p = Portal::demo().await;
    p.emu_post(
        "config",
        json!({"rateLimit": {"enabled": true, "capacity": 1, "drainPerSecond": 2, "key": "credential"}}),
    )
    .await;
    assert_eq!(act_status(&p, 2).await, 200);
    assert_eq!(act_status(&p, 3).await, 200, "user 3 has its own bucket");
    assert_eq!(act_status(&p, 2).await, 503, "user 2's bucket is full");
    // keyed on the IP, every call from 127.0.0.1 shares one bucket
    p.emu_post("config", json!({"rateLimit": {"key": "ip"}}))
        .await;
    assert_eq!(act_status(&p, 4).await, 200);
    assert_eq!(act_status(&p, 5).await, 503);
    let (s, _) = p.call("user.current", json!({})).await;
    assert_eq!(
        s, 503,
        "the REST call from the same IP finds the bucket full"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn created_webhook_answers_an_absolute_working_url() {
    let p = Portal::demo().await;
    let v = p
        .emu_post(
            "credentials",
            json!({"kind": "webhook", "userId": 2, "code": "absolutecode"}),
        )
        .await;
    let url = v["url"].as_str().expect("url");
    assert_eq!(url, format!("{}/rest/2/absolutecode/", p.sb.base_url()));
    let (s, me) = p.call_at(url, "user.current", json!({})).await;
    assert_eq!(s, 200, "{me}");
    assert_eq!(me["result"]["ID"], "2");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn operating_limit_blocks_only_once_the_total_exceeds_it() {
    let p = Portal::demo().await;
    p.emu_post(
        "config",
        json!({"operatingLimit": {"enabled": true, "limitSeconds": 2, "costPerCallSeconds": 1}}),
    )
    .await;
    let list = json!({"entityTypeId": 2, "select": ["id"]});
    for n in 1..=3 {
        let (s, v) = p.call("crm.item.list", list.clone()).await;
        assert_eq!(s, 200, "call {n} starts with {} s spent: {v}", n - 1);
    }
    let (s, v) = p.call("crm.item.list", list).await;
    assert_eq!(s, 429, "3 s spent exceeds the 2 s limit");
    assert_eq!(v["error"], "OPERATION_TIME_LIMIT");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn demo_portal_describes_its_fields_in_russian() {
    let p = Portal::demo().await;
    let deal = p
        .ok(
            "crm.item.fields",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y"}),
        )
        .await;
    let f = &deal["result"]["fields"];
    assert_eq!(f["title"]["title"], "Название");
    assert_eq!(f["stageId"]["title"], "Стадия");
    assert_eq!(f["opportunity"]["title"], "Сумма");
    assert_eq!(f["assignedById"]["title"], "Ответственный");
    assert_eq!(f["UF_CRM_NOTE"]["formLabel"], "Заметка");
    assert_eq!(f["UF_CRM_NOTE"]["listLabel"], "Заметка");
    let cyrillic = |s: &str| {
        s.chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
    };
    for t in 1..=4 {
        let v = p
            .ok(
                "crm.item.fields",
                json!({"entityTypeId": t, "useOriginalUfNames": "Y"}),
            )
            .await;
        for (name, meta) in v["result"]["fields"].as_object().expect("fields") {
            let title = meta["title"].as_str().expect("title");
            assert!(
                name == "id" || cyrillic(title),
                "type {t}: {name} is titled {title:?}"
            );
        }
    }
    p.sb.shutdown().await;
}

#[tokio::test]
async fn timeline_log_messages_page_by_ten_and_comments_by_fifty() {
    let p = Portal::start(None, LimitsPreset::Off).await;
    let deal = 1;
    let before: Value = serde_json::from_str(
        &raw(
            &p,
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": deal}),
        )
        .await,
    )
    .expect("json");
    let existing = before["total"].as_u64().expect("total") as usize;
    for i in 0..12 {
        raw(
            &p,
            "crm.timeline.logmessage.add",
            json!({"fields": {"entityTypeId": 2, "entityId": deal, "title": format!("t{i}"),
                "text": "x", "iconCode": "info"}}),
        )
        .await;
    }
    let total = existing + 12;
    let mut seen = 0;
    let mut offset = 0;
    loop {
        // The action pages by its own `offset` argument; `start` only feeds `next`.
        let page: Value = serde_json::from_str(
            &raw(
                &p,
                "crm.timeline.logmessage.list",
                json!({"entityTypeId": 2, "entityId": deal, "offset": offset}),
            )
            .await,
        )
        .expect("json");
        let rows = page["result"]["logMessages"]
            .as_array()
            .expect("a page of logMessages")
            .len();
        assert_eq!(page["total"].as_u64(), Some(total as u64));
        assert_eq!(
            rows,
            (total - offset).min(10),
            "log messages come 10 to a page"
        );
        seen += rows;
        offset += rows;
        if offset >= total {
            break;
        }
    }
    assert_eq!(seen, total, "paging visits every log message once");

    for i in 0..51 {
        raw(
            &p,
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": deal, "ENTITY_TYPE": "deal", "COMMENT": format!("c{i}")}}),
        )
        .await;
    }
    let first: Value = serde_json::from_str(
        &raw(
            &p,
            "crm.timeline.comment.list",
            json!({"filter": {"ENTITY_ID": deal, "ENTITY_TYPE": "deal"}}),
        )
        .await,
    )
    .expect("json");
    assert_eq!(
        first["result"].as_array().map(Vec::len),
        Some(50),
        "comments come 50 to a page"
    );
    assert_eq!(first["next"].as_u64(), Some(50));
    p.sb.shutdown().await;
}
