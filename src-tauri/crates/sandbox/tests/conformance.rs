//! Conformance: every fixture's shape is reproduced by the sandbox's answer to the same
//! request; paging at 0/49/50/51/10,000 rows; batch references, errors, halt and length.

mod common;

use common::{fixture, same_shape, Portal};
use kartoteka_sandbox::LimitsPreset;
use serde_json::{json, Value};

#[tokio::test]
async fn fixture_shapes_match_the_sandbox_answers() {
    let p = Portal::demo().await;

    // F1: crm.item.list of leads
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 1, "select": ["id","assignedById","stageId","opportunity","sourceId","title","name","lastName","isManualOpportunity"],
                "order": {"id": "ASC"}, "filter": {">opportunity": 0}}),
        )
        .await;
    same_shape(&fixture("F1-crm.item.list-leads.json"), &v, "F1").unwrap();

    // F2: legacy crm.deal.get (UPPER_CASE, numbers as strings) of a deal added with F2's values
    let f2 = fixture("F2-crm.deal.get-legacy.json");
    let mut add_fields = serde_json::Map::new();
    for k in [
        "TITLE",
        "TYPE_ID",
        "STAGE_ID",
        "PROBABILITY",
        "CURRENCY_ID",
        "OPPORTUNITY",
        "IS_MANUAL_OPPORTUNITY",
        "TAX_VALUE",
        "COMPANY_ID",
        "CONTACT_ID",
        "BEGINDATE",
        "CLOSEDATE",
        "OPENED",
        "COMMENTS",
        "ADDITIONAL_INFO",
        "SOURCE_ID",
        "SOURCE_DESCRIPTION",
        "UTM_SOURCE",
        "UTM_MEDIUM",
    ] {
        add_fields.insert(k.into(), f2["result"][k].clone());
    }
    let deal_id = p.ok("crm.deal.add", json!({"fields": add_fields})).await["result"]
        .as_i64()
        .unwrap();
    let v = p.ok("crm.deal.get", json!({"id": deal_id})).await;
    let mut f2_result = f2["result"].as_object().unwrap().clone();
    // the fixture portal's own UF and smart-process parent are not on ours
    f2_result.remove("UF_CRM_1721244482250");
    f2_result.remove("PARENT_ID_1220");
    same_shape(&json!({"result": f2_result, "time": f2["time"]}), &v, "F2").unwrap();
    assert_eq!(v["result"]["OPPORTUNITY"], "1000000.00");
    assert_eq!(v["result"]["ID"], deal_id.to_string());
    assert_eq!(
        &v["result"]["BEGINDATE"].as_str().unwrap()[..10],
        "2024-08-30",
        "date-only keeps the date"
    );

    // F3a: batch with a reference into an earlier result
    let v = p
        .ok(
            "batch",
            json!({"halt": 0, "cmd": {"get_user": "user.current", "get_department": "department.get?ID=$result[get_user][UF_DEPARTMENT][0]"}}),
        )
        .await;
    same_shape(&fixture("F3a-batch-success.json"), &v, "F3a").unwrap();
    assert_eq!(v["result"]["result_error"], json!([]), "empty maps are []");
    assert_eq!(v["result"]["result_next"], json!([]));

    // F3b: batch whose commands all fail (scope) still answers 200 with [] maps
    let (_, cred) = p
        .emu(
            reqwest::Method::POST,
            "credentials",
            json!({"kind":"webhook","userId":1,"code":"crmonlycode","scopes":["crm"]}),
        )
        .await;
    let hook = cred["url"].as_str().unwrap().to_string();
    let (s, v) = p
        .call_at(&hook, "batch", json!({"halt": 0, "cmd": {"get_user": "user.current", "get_department": "department.get"}}))
        .await;
    assert_eq!(s, 200);
    same_shape(&fixture("F3b-batch-errors-halt0.json"), &v, "F3b").unwrap();
    assert_eq!(v["result"]["result"], json!([]));
    assert_eq!(
        v["result"]["result_error"]["get_user"]["error"],
        "insufficient_scope"
    );

    // F4: stage history of a deal
    let v = p
        .ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "filter": {"OWNER_ID": 1}, "order": {"ID": "ASC"}}),
        )
        .await;
    same_shape(&fixture("F4-crm.stagehistory.list-deal.json"), &v, "F4").unwrap();
    assert_eq!(
        v["result"]["items"][0]["TYPE_ID"], 1,
        "history starts with creation"
    );

    // F5: a log message
    let v = p
        .ok("crm.timeline.logmessage.add", json!({"fields": {"entityTypeId": 2, "entityId": 1, "title": "T", "text": "N", "iconCode": "info"}}))
        .await;
    same_shape(&fixture("F5-crm.timeline.logmessage.add.json"), &v, "F5").unwrap();
    assert_eq!(v["result"]["logMessage"]["authorId"], 1);

    // F6: deal contacts (find a deal with contacts)
    let deals = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "select": ["id","contactIds"], "order": {"id": "ASC"}}),
        )
        .await;
    let with_contacts = deals["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["contactIds"].as_array().is_some_and(|a| a.len() >= 2))
        .expect("a demo deal with 2+ contacts")["id"]
        .clone();
    let v = p
        .ok("crm.deal.contact.items.get", json!({"id": with_contacts}))
        .await;
    same_shape(&fixture("F6-crm.deal.contact.items.get.json"), &v, "F6").unwrap();

    // F7: pipelines
    let v = p.ok("crm.category.list", json!({"entityTypeId": 2})).await;
    same_shape(&fixture("F7-crm.category.list-deals.json"), &v, "F7").unwrap();
    let cats = v["result"]["categories"].as_array().unwrap();
    assert!(cats.iter().any(|c| c["id"] == 0 && c["isDefault"] == "Y"));

    // F8a/F8b: legacy multi-field deletion in three ways leaves only the untouched phone
    let id = p
        .ok(
            "crm.contact.add",
            json!({"fields": {"NAME": "Пётр", "PHONE": [
                {"VALUE": "111", "VALUE_TYPE": "WORK"}, {"VALUE": "222", "VALUE_TYPE": "WORK"},
                {"VALUE": "333", "VALUE_TYPE": "WORK"}, {"VALUE": "44444", "VALUE_TYPE": "WORK"}]}}),
        )
        .await["result"]
        .as_i64()
        .unwrap();
    let phones = p.ok("crm.contact.get", json!({"id": id})).await["result"]["PHONE"].clone();
    let pid = |i: usize| phones[i]["ID"].as_str().unwrap().parse::<i64>().unwrap();
    let mut req = fixture("F8a-crm.contact.update-legacy-request.json");
    req["fields"]["PHONE"][0]["ID"] = json!(pid(0));
    req["fields"]["PHONE"][1]["ID"] = json!(pid(1));
    req["fields"]["PHONE"][2]["ID"] = json!(pid(2));
    req["id"] = json!(id);
    let v = p.ok("crm.contact.update", req).await;
    assert_eq!(v["result"], true);
    let after = p.ok("crm.contact.get", json!({"id": id})).await["result"]["PHONE"].clone();
    same_shape(
        &fixture("F8b-crm.contact.update-legacy-resulting-phone.json"),
        &after,
        "F8b",
    )
    .unwrap();
    assert_eq!(after.as_array().unwrap().len(), 1);
    assert_eq!(after[0]["VALUE"], "44444");

    // F10a: item not found
    let (s, v) = p
        .call("crm.item.get", json!({"entityTypeId": 2, "id": 999_999}))
        .await;
    assert_eq!(s, 400);
    same_shape(
        &fixture("F10a-crm.item.get-error-not-found.json"),
        &v,
        "F10a",
    )
    .unwrap();
    assert_eq!(v["error"], "NOT_FOUND");

    // F10b: legacy error with an empty code
    let (s, v) = p.call("crm.deal.get", json!({"id": 999_999})).await;
    assert_eq!(s, 400);
    same_shape(
        &fixture("F10b-crm.deal.get-legacy-error-empty-code.json"),
        &v,
        "F10b",
    )
    .unwrap();
    assert_eq!(v["error"], "");

    // F10c: numeric error code
    let (s, v) = p
        .call("crm.stagehistory.list", json!({"entityTypeId": 3}))
        .await;
    assert_eq!(s, 400);
    same_shape(
        &fixture("F10c-crm.stagehistory.list-error-numeric-code.json"),
        &v,
        "F10c",
    )
    .unwrap();
    assert_eq!(v["error"], 0);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn rate_limit_answers_the_f11_body_after_a_burst_of_fifty() {
    let p = Portal::start(None, LimitsPreset::Standard).await;
    for i in 0..50 {
        let (s, _) = p.call("server.time", json!({})).await;
        assert_eq!(s, 200, "request {i} of the burst is allowed");
    }
    let (s, v) = p.call("server.time", json!({})).await;
    assert_eq!(s, 503);
    same_shape(&fixture("F11-query-limit-exceeded.json"), &v, "F11").unwrap();
    assert_eq!(v["error"], "QUERY_LIMIT_EXCEEDED");
    // the bucket drains 2 per second of virtual time
    p.emu_post("clock", json!({"advanceSeconds": 1})).await;
    assert_eq!(p.call("server.time", json!({})).await.0, 200);
    assert_eq!(p.call("server.time", json!({})).await.0, 200);
    assert_eq!(p.call("server.time", json!({})).await.0, 503);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn operating_limit_blocks_only_the_exhausted_method_until_baskets_expire() {
    let p = Portal::start(None, LimitsPreset::Off).await;
    p.emu_post(
        "config",
        json!({"operatingLimit": {"enabled": true, "limitSeconds": 10, "costPerCallSeconds": 4}}),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(
            p.call(
                "crm.item.list",
                json!({"entityTypeId": 1, "select": ["id"]})
            )
            .await
            .0,
            200
        );
    }
    let (s, v) = p
        .call(
            "crm.item.list",
            json!({"entityTypeId": 1, "select": ["id"]}),
        )
        .await;
    assert_eq!(s, 429);
    assert_eq!(v["error"], "OPERATION_TIME_LIMIT");
    assert_eq!(
        p.call("crm.item.get", json!({"entityTypeId": 1, "id": 1}))
            .await
            .0,
        200,
        "other methods unaffected"
    );
    p.emu_post("clock", json!({"advanceSeconds": 601})).await;
    assert_eq!(
        p.call(
            "crm.item.list",
            json!({"entityTypeId": 1, "select": ["id"]})
        )
        .await
        .0,
        200
    );
    p.sb.shutdown().await;
}

async fn walk_offset(p: &Portal) -> (i64, Vec<i64>, usize) {
    let mut start = 0;
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut total;
    loop {
        let v = p
            .ok("crm.item.list", json!({"entityTypeId": 2, "select": ["id"], "order": {"id": "ASC"}, "start": start}))
            .await;
        pages += 1;
        total = v["total"].as_i64().unwrap();
        let items = v["result"]["items"].as_array().unwrap();
        assert!(items.len() <= 50);
        ids.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        match v.get("next") {
            Some(n) => start = n.as_i64().unwrap(),
            None => break,
        }
    }
    (total, ids, pages)
}

async fn walk_keyset(p: &Portal) -> Vec<i64> {
    let mut last = 0;
    let mut ids = Vec::new();
    loop {
        let v = p
            .ok("crm.item.list", json!({"entityTypeId": 2, "select": ["id"], "order": {"id": "ASC"}, "filter": {">id": last}, "start": -1}))
            .await;
        assert_eq!(v["total"], 0, "start=-1 skips the count");
        assert!(v.get("next").is_none(), "start=-1 gives no next");
        let items = v["result"]["items"].as_array().unwrap();
        ids.extend(items.iter().map(|i| i["id"].as_i64().unwrap()));
        if items.len() < 50 {
            break;
        }
        last = *ids.last().unwrap();
    }
    ids
}

#[tokio::test]
async fn paging_covers_every_row_once_at_page_boundaries() {
    let p = Portal::demo().await;
    for n in [0usize, 49, 50, 51, 10_000] {
        p.with_deals(n).await;
        let (total, ids, pages) = walk_offset(&p).await;
        assert_eq!(total, n as i64, "total at {n}");
        assert_eq!(ids.len(), n, "offset paging returns every row at {n}");
        assert_eq!(pages, n.max(1).div_ceil(50), "page count at {n}");
        let mut sorted = ids.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), n, "no duplicates at {n}");
        let keyset = walk_keyset(&p).await;
        assert_eq!(keyset, ids, "key-set paging sees the same rows at {n}");
    }
    p.sb.shutdown().await;
}

#[tokio::test]
async fn batch_chains_references_and_reports_errors_with_halt() {
    let p = Portal::demo().await;
    // three chained key-set pages of contacts
    let v = p
        .ok(
            "batch",
            json!({"halt": 0, "cmd": {
                "c0": "crm.item.list?entityTypeId=3&select[]=id&order[id]=ASC&start=-1",
                "c1": "crm.item.list?entityTypeId=3&select[]=id&order[id]=ASC&start=-1&filter[%3Eid]=$result[c0][items][49][id]",
                "c2": "crm.item.list?entityTypeId=3&select[]=id&order[id]=ASC&start=-1&filter[>id]=$result[c1][items][49][id]"}}),
        )
        .await;
    let ids: Vec<i64> = ["c0", "c1", "c2"]
        .iter()
        .flat_map(|k| {
            v["result"]["result"][k]["items"]
                .as_array()
                .unwrap()
                .clone()
        })
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(
        ids,
        (1..=150).collect::<Vec<_>>(),
        "references continue each page after the last"
    );

    // halt=0: every command runs, failures collected; unresolved reference is left literal
    let cmd = json!({"a": "crm.item.get?entityTypeId=2&id=999999", "b": "crm.item.get?entityTypeId=2&id=1",
        "c": "crm.item.list?entityTypeId=2&filter[>updatedTime]=$result[zz][items][0][updatedTime]"});
    let v = p.ok("batch", json!({"halt": 0, "cmd": cmd})).await;
    assert_eq!(v["result"]["result_error"]["a"]["error"], "NOT_FOUND");
    assert_eq!(v["result"]["result"]["b"]["item"]["id"], 1);
    assert_eq!(
        v["result"]["result_error"]["c"]["error"],
        "INVALID_ARG_VALUE"
    );

    // halt=1: stops at the first failure; later commands appear nowhere
    let v = p.ok("batch", json!({"halt": 1, "cmd": cmd})).await;
    assert_eq!(v["result"]["result_error"]["a"]["error"], "NOT_FOUND");
    assert!(v["result"]["result"].get("b").is_none());
    assert_eq!(v["result"]["result"], json!([]));

    // over 50 commands: the first 50 run, the rest fail, HTTP 200
    let mut many = serde_json::Map::new();
    for i in 0..53 {
        many.insert(format!("k{i}"), json!("server.time"));
    }
    let (s, v) = p.call("batch", json!({"cmd": many})).await;
    assert_eq!(s, 200);
    assert_eq!(v["result"]["result"].as_object().unwrap().len(), 50);
    assert_eq!(
        v["result"]["result_error"]["k50"]["error"],
        "ERROR_BATCH_LENGTH_EXCEEDED"
    );
    assert_eq!(v["result"]["result_error"].as_object().unwrap().len(), 3);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn form_encoded_batch_keeps_encoded_plus_in_phone_numbers() {
    let p = Portal::demo().await;
    let cmd = "crm.item.add?entityTypeId=3&fields[name]=Plus&fields[fm][0][typeId]=PHONE&fields[fm][0][valueType]=WORK&fields[fm][0][value]=%2B7 999 000-00-00";
    let body = format!("halt=0&cmd[add]={}", urlencode(cmd));
    let r = p
        .http
        .post(format!("{}batch", p.hook))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let item = &v["result"]["result"]["add"]["item"];
    assert_eq!(item["fm"][0]["value"], "+7 999 000-00-00", "{v}");
    // the same through a GET query string with PHP brackets
    let r = p
        .http
        .get(format!(
            "{}crm.item.get?entityTypeId=3&id={}&select[]=id",
            p.hook, item["id"]
        ))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["result"]["item"]["name"], "Plus");
    p.sb.shutdown().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
