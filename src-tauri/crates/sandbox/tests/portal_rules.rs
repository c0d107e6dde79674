//! Issue 7: the sandbox writes, links and logs as strictly as a real portal (CONTRACT §11).
//! Each test is named after the rule it guards and fails when the sandbox is more lenient.

mod common;

use common::Portal;
use kartoteka_sandbox::RESTRICTED;
use serde_json::{json, Value};

async fn add(p: &Portal, t: i64, fields: Value) -> Value {
    p.ok("crm.item.add", json!({"entityTypeId": t, "fields": fields}))
        .await["result"]["item"]
        .clone()
}

async fn get(p: &Portal, t: i64, id: i64) -> Value {
    p.ok("crm.item.get", json!({"entityTypeId": t, "id": id}))
        .await["result"]["item"]
        .clone()
}

async fn update(p: &Portal, t: i64, id: i64, fields: Value) -> Value {
    p.ok(
        "crm.item.update",
        json!({"entityTypeId": t, "id": id, "fields": fields}),
    )
    .await["result"]["item"]
        .clone()
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("item id")
}

fn fm_values(item: &Value) -> Vec<(String, String)> {
    item["fm"]
        .as_array()
        .expect("fm")
        .iter()
        .map(|e| {
            (
                e["typeId"].as_str().unwrap_or_default().to_string(),
                e["value"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

// ---- 1. field names in any case ------------------------------------------------------------

#[tokio::test]
async fn item_keys_are_accepted_in_upper_snake_case_in_select_filter_order_and_fields() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "order": {"ID": "DESC"}, "select": ["ID", "TITLE", "STAGE_ID"],
                   "filter": {"STAGE_ID": "WON"}}),
        )
        .await;
    let items = v["result"]["items"].as_array().expect("items");
    assert!(!items.is_empty(), "the demo has won deals: {v}");
    let ids: Vec<i64> = items.iter().map(id_of).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted, "order ID DESC is honoured");
    for it in items {
        assert_eq!(
            it["stageId"], "WON",
            "filter STAGE_ID applies; answers stay camelCase"
        );
        assert!(
            it.get("title").is_some() && it.get("TITLE").is_none(),
            "{it}"
        );
    }
    let c = add(&p, 3, json!({"NAME": "Верхний", "LAST_NAME": "Регистр"})).await;
    assert_eq!(c["name"], "Верхний", "UPPER_SNAKE names are written on add");
    assert_eq!(c["lastName"], "Регистр");
    let u = update(&p, 3, id_of(&c), json!({"SECOND_NAME": "Иванович"})).await;
    assert_eq!(u["secondName"], "Иванович", "and on update");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn item_keys_in_upper_snake_case_work_inside_batch() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "batch",
            json!({"halt": 1, "cmd": {
                "a": "crm.item.add?entityTypeId=3&fields[NAME]=Пакет",
                "b": "crm.item.list?entityTypeId=3&order[ID]=DESC&select[]=ID&select[]=NAME&filter[ID]=$result[a][item][id]"
            }}),
        )
        .await;
    let r = &v["result"]["result"];
    assert_eq!(r["a"]["item"]["name"], "Пакет", "{v}");
    assert_eq!(r["b"]["items"][0]["name"], "Пакет", "{v}");
    assert!(
        v["result"]["result_error"]
            .as_object()
            .is_none_or(|e| e.is_empty()),
        "{v}"
    );
    p.sb.shutdown().await;
}

// ---- 2. fm on update ------------------------------------------------------------------------

async fn contact_with_phone(p: &Portal) -> (i64, i64) {
    let c = add(
        p,
        3,
        json!({"name": "Фм", "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+7 1"}]}),
    )
    .await;
    (id_of(&c), c["fm"][0]["id"].as_i64().expect("fm id"))
}

#[tokio::test]
async fn fm_element_without_type_id_or_value_is_ignored() {
    let p = Portal::demo().await;
    let (id, fid) = contact_with_phone(&p).await;
    let key = fid.to_string();
    let u = update(&p, 3, id, json!({"fm": {key.clone(): {"value": ""}}})).await;
    assert_eq!(fm_values(&u).len(), 1, "no typeId: not deleted");
    let u = update(
        &p,
        3,
        id,
        json!({"fm": {key.clone(): {"typeId": "PHONE", "DELETE": "Y"}}}),
    )
    .await;
    assert_eq!(
        fm_values(&u).len(),
        1,
        "DELETE=Y without value deletes nothing"
    );
    let u = update(
        &p,
        3,
        id,
        json!({"fm": [{"typeId": "EMAIL"}, {"value": "x@y.ru"}]}),
    )
    .await;
    assert_eq!(fm_values(&u).len(), 1, "incomplete elements add nothing");
    let u = update(
        &p,
        3,
        id,
        json!({"fm": {key: {"typeId": "PHONE", "value": ""}}}),
    )
    .await;
    assert!(
        fm_values(&u).is_empty(),
        "value \"\" with its typeId deletes: {u}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn fm_array_on_update_adds_every_element_ignoring_ids() {
    let p = Portal::demo().await;
    let (id, fid) = contact_with_phone(&p).await;
    let u = update(
        &p,
        3,
        id,
        json!({"fm": [{"id": fid, "typeId": "PHONE", "value": "+7 2"}, {"typeId": "EMAIL", "value": "a@b.ru"}]}),
    )
    .await;
    assert_eq!(
        fm_values(&u),
        vec![
            ("PHONE".into(), "+7 1".into()),
            ("PHONE".into(), "+7 2".into()),
            ("EMAIL".into(), "a@b.ru".into())
        ],
        "an array duplicates rather than edits: {u}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn fm_object_keyed_by_id_changes_and_n_keys_or_vanished_ids_add() {
    let p = Portal::demo().await;
    let (id, fid) = contact_with_phone(&p).await;
    let u = update(
        &p,
        3,
        id,
        json!({"fm": {fid.to_string(): {"typeId": "PHONE", "value": "+7 9"},
                      "n0": {"typeId": "EMAIL", "value": "n@b.ru"},
                      "999999": {"typeId": "WEB", "value": "https://x.ru"}}}),
    )
    .await;
    let fm = fm_values(&u);
    assert_eq!(fm.len(), 3, "{u}");
    assert!(fm.contains(&("PHONE".into(), "+7 9".into())), "{u}");
    assert!(fm.contains(&("EMAIL".into(), "n@b.ru".into())), "{u}");
    assert!(fm.contains(&("WEB".into(), "https://x.ru".into())), "{u}");
    assert_eq!(
        u["fm"][0]["id"].as_i64(),
        Some(fid),
        "the keyed entry keeps its id"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn fm_given_as_string_is_ignored_and_unknown_types_are_stored_as_given() {
    let p = Portal::demo().await;
    let (id, _) = contact_with_phone(&p).await;
    let u = update(&p, 3, id, json!({"fm": "+7 000"})).await;
    assert_eq!(fm_values(&u).len(), 1, "a string fm changes nothing");
    let u = update(
        &p,
        3,
        id,
        json!({"fm": [{"typeId": "FAXX", "valueType": "WEIRD", "value": "1"}]}),
    )
    .await;
    assert_eq!(u["fm"][1]["typeId"], "FAXX", "{u}");
    assert_eq!(u["fm"][1]["valueType"], "WEIRD", "{u}");
    p.sb.shutdown().await;
}

// ---- 3. values ------------------------------------------------------------------------------

#[tokio::test]
async fn booleans_are_yes_only_for_true_true_y_and_never_an_error() {
    let p = Portal::demo().await;
    let c = add(&p, 3, json!({"name": "Флаг", "opened": "N"})).await;
    let id = id_of(&c);
    for (v, want) in [
        (json!(true), "Y"),
        (json!("1"), "N"),
        (json!("true"), "Y"),
        (json!("yes"), "N"),
        (json!("y"), "Y"),
        (json!(1), "N"),
        (json!("Y"), "Y"),
        (json!("junk"), "N"),
    ] {
        let u = update(&p, 3, id, json!({"opened": v})).await;
        assert_eq!(u["opened"], want, "opened = {v}");
    }
    p.sb.shutdown().await;
}

/// `prepareBooleanFieldValue` runs for every field of type boolean (`Field::TYPE_BOOLEAN`), user
/// fields too, and a `batch` command is a PHP query string: JSON `true` arrives as "1", a no.
#[tokio::test]
async fn a_boolean_user_field_reads_one_as_no_in_and_out_of_batch() {
    let p = Portal::demo().await;
    let deal = p
        .ok(
            "crm.item.add",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y",
                   "fields": {"title": "VIP", "UF_CRM_VIP": "Y"}}),
        )
        .await["result"]["item"]
        .clone();
    let id = id_of(&deal);
    assert_eq!(deal["UF_CRM_VIP"], "Y");
    let set = |v: Value| json!({"entityTypeId": 2, "id": id, "useOriginalUfNames": "Y", "fields": {"UF_CRM_VIP": v}});
    for (v, want) in [
        (json!(1), "N"),
        (json!("Y"), "Y"),
        (json!("1"), "N"),
        (json!(true), "Y"),
    ] {
        let u = p.ok("crm.item.update", set(v.clone())).await;
        assert_eq!(u["result"]["item"]["UF_CRM_VIP"], want, "UF_CRM_VIP = {v}");
    }
    // In a batch command, JSON true is the query string's 1.
    let cmd =
        format!("crm.item.update?entityTypeId=2&id={id}&useOriginalUfNames=Y&fields[UF_CRM_VIP]=1");
    let b = p.ok("batch", json!({"halt": 0, "cmd": {"u": cmd}})).await;
    assert_eq!(b["result"]["result"]["u"]["item"]["UF_CRM_VIP"], "N", "{b}");

    // The sandbox's older answer, behind a switch.
    p.emu_post("config", json!({"ufBooleanOneIsYes": true}))
        .await;
    let u = p.ok("crm.item.update", set(json!("1"))).await;
    assert_eq!(u["result"]["item"]["UF_CRM_VIP"], "Y");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn unparseable_date_is_silently_not_set() {
    let p = Portal::demo().await;
    let c = add(&p, 3, json!({"name": "Дата", "birthdate": "1990-05-17"})).await;
    let id = id_of(&c);
    let before = c["birthdate"].clone();
    assert!(before.as_str().is_some_and(|s| s.starts_with("1990-05-17")));
    let (s, v) = p
        .call(
            "crm.item.update",
            json!({"entityTypeId": 3, "id": id, "fields": {"birthdate": "не дата", "post": "Инженер"}}),
        )
        .await;
    assert_eq!(s, 200, "no 400 for a bad date: {v}");
    assert_eq!(v["result"]["item"]["birthdate"], before, "the date is kept");
    assert_eq!(v["result"]["item"]["post"], "Инженер", "the rest is saved");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn update_answers_whole_item_and_no_op_keeps_updated_time() {
    let p = Portal::demo().await;
    let c = add(&p, 3, json!({"name": "Полный"})).await;
    let id = id_of(&c);
    p.emu_post("clock", json!({"advanceSeconds": 3600})).await;
    let u = update(&p, 3, id, json!({"name": "Полный"})).await;
    assert_eq!(
        u["updatedTime"], c["updatedTime"],
        "nothing changed, nothing saved"
    );
    assert!(
        u.get("fm").is_some() && u.get("createdTime").is_some(),
        "the whole item: {u}"
    );
    let u = update(&p, 3, id, json!({"post": "Директор"})).await;
    assert_ne!(
        u["updatedTime"], c["updatedTime"],
        "a real change moves updatedTime"
    );
    assert_eq!(u, get(&p, 3, id).await, "the answer is the saved item");
    p.sb.shutdown().await;
}

// ---- 4. errors on writes --------------------------------------------------------------------

#[tokio::test]
async fn reassigning_outside_ones_rights_is_crm_item_update_access_denied() {
    let p = Portal::demo().await;
    let hook = p.sb.webhook_url(RESTRICTED).expect("restricted hook");
    let (s, v) = p
        .call_at(
            &hook,
            "crm.item.add",
            json!({"entityTypeId": 3, "fields": {"name": "Свой"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let id = v["result"]["item"]["id"].as_i64().expect("id");
    let (s, v) = p
        .call_at(
            &hook,
            "crm.item.update",
            json!({"entityTypeId": 3, "id": id, "fields": {"assignedById": 1}}),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("CRM_ITEM_UPDATE_ACCESS_DENIED")),
        "{v}"
    );
    let (s, v) = p
        .call_at(
            &hook,
            "crm.item.add",
            json!({"entityTypeId": 3, "fields": {"name": "Чужой", "assignedById": 1}}),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("CRM_ITEM_ADD_ACCESS_DENIED")),
        "{v}"
    );
    p.emu_post(
        "permissions",
        json!({"userId": RESTRICTED, "entityTypeId": 3, "delete": "none"}),
    )
    .await;
    let (_, v) = p
        .call_at(
            &hook,
            "crm.item.delete",
            json!({"entityTypeId": 3, "id": id}),
        )
        .await;
    assert_eq!(v["error"], "CRM_ITEM_DELETE_ACCESS_DENIED", "{v}");
    assert_eq!(
        get(&p, 3, id).await["assignedById"],
        RESTRICTED,
        "nothing was saved"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn forbidden_stage_move_is_an_error_with_an_empty_code() {
    let p = Portal::demo().await;
    let d = add(&p, 2, json!({"title": "Воронка 0"})).await;
    let (s, v) = p
        .call(
            "crm.item.update",
            json!({"entityTypeId": 2, "id": id_of(&d), "fields": {"stageId": "C1:WON"}}),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("")), "{v}");
    assert_eq!(get(&p, 2, id_of(&d)).await["stageId"], d["stageId"]);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn deleted_item_answers_not_found_on_get_update_and_delete() {
    let p = Portal::demo().await;
    let c = add(&p, 3, json!({"name": "Удалить"})).await;
    let id = id_of(&c);
    p.ok("crm.item.delete", json!({"entityTypeId": 3, "id": id}))
        .await;
    for (m, extra) in [
        ("crm.item.get", json!({})),
        ("crm.item.update", json!({"fields": {"name": "x"}})),
        ("crm.item.delete", json!({})),
    ] {
        let mut params = json!({"entityTypeId": 3, "id": id});
        if let Some(f) = extra.get("fields") {
            params["fields"] = f.clone();
        }
        let (s, v) = p.call(m, params).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("NOT_FOUND")),
            "{m}: {v}"
        );
    }
    p.sb.shutdown().await;
}

// ---- 5. timeline ----------------------------------------------------------------------------

fn log_fields(t: i64, id: i64, title: &str) -> Value {
    json!({"fields": {"entityTypeId": t, "entityId": id, "title": title, "text": "", "iconCode": "info"}})
}

#[tokio::test]
async fn logmessage_add_needs_edit_permission_by_default_and_admin_only_behind_the_switch() {
    let p = Portal::demo().await;
    let manager = p.sb.webhook_url(2).expect("manager hook");
    let restricted = p.sb.webhook_url(RESTRICTED).expect("restricted hook");
    let theirs = id_of(&add(&p, 2, json!({"title": "Не его", "assignedById": 1})).await);
    let code = |v: &Value| v["error"].as_str().map(str::to_string);
    // canUpdate: a manager with rights "all" may, on any deal
    let (s, v) = p
        .call_at(
            &manager,
            "crm.timeline.logmessage.add",
            log_fields(2, theirs, "t"),
        )
        .await;
    assert_eq!(s, 200, "a manager who may edit the deal adds a log: {v}");
    assert_eq!(v["result"]["logMessage"]["authorId"], 2, "{v}");
    // … and one with "own" only on deals of their own
    let (s, v) = p
        .call_at(
            &restricted,
            "crm.timeline.logmessage.add",
            log_fields(2, theirs, "t"),
        )
        .await;
    assert_eq!((s, code(&v)), (400, Some("ACCESS_DENIED".into())), "{v}");
    let own = id_of(&add(&p, 2, json!({"title": "Его", "assignedById": RESTRICTED})).await);
    let (s, v) = p
        .call_at(
            &restricted,
            "crm.timeline.logmessage.add",
            log_fields(2, own, "t"),
        )
        .await;
    assert_eq!(s, 200, "their own deal: {v}");
    // a deal that does not exist has no owner: only the level "all" (or an admin) lets it through
    let (s, v) = p
        .call_at(
            &restricted,
            "crm.timeline.logmessage.add",
            log_fields(2, 987_654, "t"),
        )
        .await;
    assert_eq!((s, code(&v)), (400, Some("ACCESS_DENIED".into())), "{v}");
    let (s, v) = p
        .call_at(
            &manager,
            "crm.timeline.logmessage.add",
            log_fields(2, 987_654, "t"),
        )
        .await;
    assert_eq!(s, 200, "level all, no such deal: {v}");

    p.emu_post("config", json!({"logmessageAdd": "admin"}))
        .await;
    let (s, v) = p
        .call_at(
            &manager,
            "crm.timeline.logmessage.add",
            log_fields(2, theirs, "t"),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (400, Some("ACCESS_DENIED".into())),
        "administrators only behind the switch: {v}"
    );
    let v = p
        .ok("crm.timeline.logmessage.add", log_fields(2, theirs, "t"))
        .await;
    assert_eq!(
        v["result"]["logMessage"]["text"], "",
        "empty text is accepted: {v}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn logmessage_add_refuses_id_zero_as_access_and_a_missing_field_has_no_code() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.timeline.logmessage.add",
            log_fields(2, 987_654, "no such deal"),
        )
        .await;
    assert!(
        v["result"]["logMessage"]["id"].as_i64().is_some(),
        "an administrator may log on an id that does not exist: {v}"
    );
    let (s, v) = p
        .call(
            "crm.timeline.logmessage.add",
            json!({"fields": {"entityTypeId": 2, "entityId": 1, "text": "x", "iconCode": "info"}}),
        )
        .await;
    assert_eq!((s, v["error"].as_str()), (400, Some("")), "{v}");
    let (_, v) = p
        .call("crm.timeline.logmessage.add", log_fields(2, 0, "zero"))
        .await;
    assert_eq!(
        v["error"], "ACCESS_DENIED",
        "no item identifier for id 0, so no update right: {v}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn logmessage_delete_through_a_webhook_is_removing_disabled() {
    let p = Portal::demo().await;
    let v = p
        .ok("crm.timeline.logmessage.add", log_fields(2, 1, "mine"))
        .await;
    let id = v["result"]["logMessage"]["id"].as_i64().expect("id");
    let (s, v) = p
        .call("crm.timeline.logmessage.delete", json!({"id": id}))
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("REMOVING_DISABLED")),
        "even its own author: {v}"
    );
    p.sb.shutdown().await;
}

fn titles(v: &Value) -> Vec<String> {
    v["result"]["logMessages"]
        .as_array()
        .unwrap_or_else(|| panic!("a page of logMessages: {v}"))
        .iter()
        .map(|m| m["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn logmessage_list_and_get_need_read_permission_ten_a_page_newest_first() {
    let p = Portal::demo().await;
    let d = add(&p, 2, json!({"title": "Журнал", "assignedById": 1})).await;
    let id = id_of(&d);
    for i in 0..12 {
        p.ok(
            "crm.timeline.logmessage.add",
            log_fields(2, id, &format!("m{i}")),
        )
        .await;
    }
    let v = p
        .ok(
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": id}),
        )
        .await;
    let t = titles(&v);
    assert_eq!(t.len(), 10, "10 a page");
    assert_eq!(t[0], "m11", "newest first");
    assert_eq!(v["total"], 12);
    assert_eq!(v["next"], 10);
    let first_id = v["result"]["logMessages"][0]["id"].clone();
    let first = p
        .ok("crm.timeline.logmessage.get", json!({"id": first_id}))
        .await;
    assert_eq!(first["result"]["logMessage"]["title"], "m11");

    // a user who may not read the deal reads neither its list nor one of its messages
    let hook = p.sb.webhook_url(RESTRICTED).expect("hook");
    for (method, params) in [
        (
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": id}),
        ),
        ("crm.timeline.logmessage.get", json!({"id": first_id})),
    ] {
        let (s, v) = p.call_at(&hook, method, params).await;
        assert_eq!(
            (s, v["error"].as_str()),
            (400, Some("ACCESS_DENIED")),
            "{method}: {v}"
        );
    }
    p.sb.shutdown().await;
}

#[tokio::test]
async fn logmessage_list_pages_by_its_offset_argument_and_start_moves_no_row() {
    let p = Portal::demo().await;
    let id = id_of(&add(&p, 2, json!({"title": "Страницы"})).await);
    for i in 0..25 {
        p.ok(
            "crm.timeline.logmessage.add",
            log_fields(2, id, &format!("m{i}")),
        )
        .await;
    }
    let list = |extra: Value| {
        let p = &p;
        async move {
            let mut params = json!({"entityTypeId": 2, "entityId": id});
            for (k, v) in extra.as_object().expect("object") {
                params[k] = v.clone();
            }
            p.ok("crm.timeline.logmessage.list", params).await
        }
    };
    // `start` (the REST paging parameter) gives page one again, with `next` computed from it
    let by_start = list(json!({"start": 10})).await;
    assert_eq!(
        titles(&by_start)[0],
        "m24",
        "start does not move the rows: {by_start}"
    );
    assert_eq!(by_start["next"], 10, "start 10 is offset 0 to RestManager");
    let by_start = list(json!({"start": 50})).await;
    assert_eq!(titles(&by_start)[0], "m24");
    assert!(
        by_start["next"].is_null(),
        "50 + 10 rows is past the total: {by_start}"
    );
    // `offset` (the action's argument) moves them
    let mut seen = Vec::new();
    for offset in [0, 10, 20] {
        let v = list(json!({"offset": offset})).await;
        assert_eq!(v["total"], 25);
        seen.extend(titles(&v));
    }
    let want: Vec<String> = (0..25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(seen, want, "three pages by offset: every message once");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn comment_list_needs_the_item_in_its_filter_and_read_permission_and_pages_fifty_by_start() {
    let p = Portal::demo().await;
    let id = id_of(&add(&p, 2, json!({"title": "Комментарии", "assignedById": 1})).await);
    for i in 0..55 {
        p.ok(
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": id, "ENTITY_TYPE": "deal", "COMMENT": format!("c{i}")}}),
        )
        .await;
    }
    let comments = |v: &Value| -> Vec<String> {
        v["result"]
            .as_array()
            .unwrap_or_else(|| panic!("a list: {v}"))
            .iter()
            .map(|c| c["COMMENT"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let filter = json!({"ENTITY_ID": id, "ENTITY_TYPE": "deal"});
    let first = p
        .ok(
            "crm.timeline.comment.list",
            json!({"filter": filter, "order": {"ID": "DESC"}}),
        )
        .await;
    assert_eq!(comments(&first).len(), 50, "50 a page");
    assert_eq!(comments(&first)[0], "c54", "ID DESC: newest first");
    assert_eq!(
        (first["total"].clone(), first["next"].clone()),
        (json!(55), json!(50))
    );
    let second = p
        .ok(
            "crm.timeline.comment.list",
            json!({"filter": filter, "order": {"ID": "DESC"}, "start": 50}),
        )
        .await;
    assert_eq!(
        comments(&second),
        ["c4", "c3", "c2", "c1", "c0"],
        "start moves to the page it falls in"
    );
    assert!(second["next"].is_null(), "{second}");
    // start 30 is still page one (whole pages of 50)
    let mid = p
        .ok(
            "crm.timeline.comment.list",
            json!({"filter": filter, "order": {"ID": "DESC"}, "start": 30}),
        )
        .await;
    assert_eq!(comments(&mid)[0], "c54", "{mid}");
    // only ID / CREATED / AUTHOR_ID and exactly DESC: anything else ascends
    for order in [json!({"ID": "desc"}), json!({"id": "DESC"}), json!({})] {
        let v = p
            .ok(
                "crm.timeline.comment.list",
                json!({"filter": filter, "order": order}),
            )
            .await;
        assert_eq!(comments(&v)[0], "c0", "order {order} ascends: {v}");
    }
    // no item in the filter, or no right to read it: "Access denied." without a code
    let hook = p.sb.webhook_url(RESTRICTED).expect("hook");
    for (url, params) in [
        (p.hook.clone(), json!({"filter": {"ENTITY_ID": id}})),
        (p.hook.clone(), json!({})),
        (hook, json!({"filter": filter})),
    ] {
        let (s, v) = p
            .call_at(&url, "crm.timeline.comment.list", params.clone())
            .await;
        assert_eq!(
            (s, v["error"].as_str(), v["error_description"].as_str()),
            (400, Some(""), Some("Access denied.")),
            "{params}: {v}"
        );
    }
    p.sb.shutdown().await;
}

#[tokio::test]
async fn logmessage_order_takes_only_lowercase_id_or_created_else_id_descending() {
    let p = Portal::demo().await;
    let d = add(&p, 2, json!({"title": "Порядок"})).await;
    let id = id_of(&d);
    for i in 0..3 {
        p.ok(
            "crm.timeline.logmessage.add",
            log_fields(2, id, &format!("m{i}")),
        )
        .await;
    }
    let first_title = |order: Value| {
        let p = &p;
        async move {
            let v = p
                .ok(
                    "crm.timeline.logmessage.list",
                    json!({"entityTypeId": 2, "entityId": id, "order": order}),
                )
                .await;
            v["result"]["logMessages"][0]["title"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    assert_eq!(first_title(json!({"id": "asc"})).await, "m0");
    assert_eq!(first_title(json!({"created": "asc"})).await, "m0");
    assert_eq!(
        first_title(json!({"ID": "ASC"})).await,
        "m2",
        "uppercase falls back"
    );
    assert_eq!(
        first_title(json!({"id": "ASC"})).await,
        "m2",
        "uppercase direction too"
    );
    assert_eq!(first_title(json!({"title": "asc"})).await, "m2");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn comment_add_is_by_the_caller_whatever_author_id_says_update_by_author_delete_by_author_or_admin(
) {
    let p = Portal::demo().await;
    let author = p.sb.webhook_url(3).expect("hook 3");
    // User 3 names the administrator as the author: the comment is user 3's all the same.
    let (s, v) = p
        .call_at(
            &author,
            "crm.timeline.comment.add",
            json!({"fields": {"ENTITY_ID": 1, "ENTITY_TYPE_ID": 2, "COMMENT": "от имени 1", "AUTHOR_ID": 1}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let cid = v["result"].as_i64().expect("comment id");
    let got = p.ok("crm.timeline.comment.get", json!({"id": cid})).await;
    assert_eq!(
        got["result"]["AUTHOR_ID"], "3",
        "the caller, not AUTHOR_ID: {got}"
    );
    assert_eq!(got["result"]["ENTITY_TYPE"], "deal");
    // the admin is not the author: may not edit, may delete
    let (s, v) = p
        .call(
            "crm.timeline.comment.update",
            json!({"id": cid, "fields": {"COMMENT": "правка"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("ACCESS_DENIED")),
        "{v}"
    );
    let (s, v) = p
        .call_at(
            &author,
            "crm.timeline.comment.update",
            json!({"id": cid, "fields": {"COMMENT": "правка"}}),
        )
        .await;
    assert_eq!(s, 200, "the author may edit: {v}");
    let other = p.sb.webhook_url(4).expect("hook 4");
    let (s, v) = p
        .call_at(&other, "crm.timeline.comment.delete", json!({"id": cid}))
        .await;
    assert_eq!(s, 400, "neither author nor admin: {v}");
    p.ok("crm.timeline.comment.delete", json!({"id": cid}))
        .await;
    p.sb.shutdown().await;
}

// ---- users and departments (the History feature's supervisors) -----------------------------

#[tokio::test]
async fn user_admin_answers_whether_the_caller_is_an_administrator() {
    let p = Portal::demo().await;
    assert_eq!(p.ok("user.admin", json!({})).await["result"], true);
    let hook = p.sb.webhook_url(3).expect("hook");
    let (s, v) = p.call_at(&hook, "user.admin", json!({})).await;
    assert_eq!((s, v["result"].clone()), (200, json!(false)), "{v}");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn scope_lists_the_webhooks_scopes_and_a_missing_one_is_refused_in_batch() {
    let p = Portal::demo().await;
    // The demo webhooks have exactly what the README asks for.
    let v = p.ok("scope", json!({})).await;
    assert_eq!(
        v["result"],
        json!(["crm", "user_brief", "department"]),
        "{v}"
    );
    let full = p.ok("scope", json!({"full": true})).await;
    assert!(
        full["result"]
            .as_array()
            .is_some_and(|a| a.len() > 3 && a.contains(&json!("user"))),
        "{full}"
    );
    let made = p
        .emu_post(
            "credentials",
            json!({"userId": 2, "code": "crmonly2", "scopes": ["crm"]}),
        )
        .await;
    let hook = made["url"].as_str().expect("url").to_string();
    let (s, v) = p.call_at(&hook, "scope", json!({})).await;
    assert_eq!((s, v["result"].clone()), (200, json!(["crm"])), "{v}");
    let (_, v) = p
        .call_at(
            &hook,
            "batch",
            json!({"halt": 0, "cmd": {"scope": "scope", "heads": "department.get?UF_HEAD=2", "users": "user.get"}}),
        )
        .await;
    assert_eq!(v["result"]["result"]["scope"], json!(["crm"]), "{v}");
    assert_eq!(
        v["result"]["result_error"]["heads"]["error"], "insufficient_scope",
        "{v}"
    );
    assert_eq!(
        v["result"]["result_error"]["users"]["error"], "insufficient_scope",
        "{v}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn department_get_names_heads_and_demo_sales_department_is_headed_by_user_2() {
    let p = Portal::demo().await;
    let v = p.ok("department.get", json!({})).await;
    let rows = v["result"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "{v}");
    assert_eq!(
        rows[0]["UF_HEAD"], "1",
        "the company is headed by the admin"
    );
    assert_eq!(rows[1]["UF_HEAD"], "2", "sales is headed by user 2");
    assert_eq!(rows[1]["PARENT"], "1");
    let v = p.ok("department.get", json!({"UF_HEAD": "2"})).await;
    assert_eq!(v["result"].as_array().map(Vec::len), Some(1), "{v}");
    let users = p
        .ok("user.get", json!({"filter": {"UF_DEPARTMENT": 2}}))
        .await;
    let ids: Vec<&str> = users["result"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| u["ID"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["2", "3", "4", "5", "6"], "sales holds users 2-6");
    p.sb.shutdown().await;
}

// ---- 9. answers other clients rely on ---------------------------------------------------------

#[tokio::test]
async fn wrong_webhook_code_is_invalid_credentials_by_default_no_auth_found_behind_the_switch() {
    let p = Portal::demo().await;
    let bad = format!("{}/rest/1/wrongcode/", p.sb.base_url());
    let (s, v) = p.call_at(&bad, "profile", json!({})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("INVALID_CREDENTIALS")),
        "{v}"
    );
    assert_eq!(v["error_description"], "Invalid request credentials");
    p.emu_post("config", json!({"badAuthCode": "NO_AUTH_FOUND"}))
        .await;
    let (s, v) = p.call_at(&bad, "profile", json!({})).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (401, Some("NO_AUTH_FOUND")),
        "{v}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn profile_time_zone_is_a_zone_name_or_empty_and_user_xml_id_is_a_string() {
    let p = Portal::demo().await;
    let v = p.ok("profile", json!({})).await;
    let tz = v["result"]["TIME_ZONE"].as_str().expect("string");
    assert!(
        !tz.starts_with('+') && !tz.starts_with('-'),
        "not an offset: {tz}"
    );
    let v = p.ok("user.current", json!({})).await;
    assert!(v["result"]["XML_ID"].is_string(), "{v}");
    assert!(p.ok("user.fields", json!({})).await["result"]["UF_DEPARTMENT"].is_string());
    p.sb.shutdown().await;
}

// ---- 6. links and stage history ---------------------------------------------------------------

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("id list")
        .iter()
        .filter_map(Value::as_i64)
        .collect()
}

#[tokio::test]
async fn company_contact_ids_and_contact_company_ids_are_one_set_of_links() {
    let p = Portal::demo().await;
    let co = id_of(&add(&p, 4, json!({"title": "Связи"})).await);
    let c1 = id_of(&add(&p, 3, json!({"name": "Один", "companyIds": [co]})).await);
    assert_eq!(
        ids(&get(&p, 4, co).await["contactIds"]),
        vec![c1],
        "contact side → company"
    );
    let c2 = id_of(&add(&p, 3, json!({"name": "Два"})).await);
    update(&p, 4, co, json!({"contactIds": [c2]})).await;
    assert_eq!(
        ids(&get(&p, 3, c2).await["companyIds"]),
        vec![co],
        "company side → contact"
    );
    assert!(
        ids(&get(&p, 3, c1).await["companyIds"]).is_empty(),
        "dropped on both sides"
    );
    // the demo data agrees as well
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 3, "filter": {">companyId": 0}, "select": ["id", "companyIds"], "order": {"id": "ASC"}}),
        )
        .await;
    let c = &v["result"]["items"][0];
    let company = ids(&c["companyIds"])[0];
    assert!(
        ids(&get(&p, 4, company).await["contactIds"]).contains(&id_of(c)),
        "demo company {company} lists contact {c}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn contact_company_and_company_contact_link_methods_exist_and_share_the_links() {
    let p = Portal::demo().await;
    let co = id_of(&add(&p, 4, json!({"title": "Методы"})).await);
    let c = id_of(&add(&p, 3, json!({"name": "Связь"})).await);
    let v = p
        .ok(
            "crm.contact.company.add",
            json!({"id": c, "fields": {"COMPANY_ID": co}}),
        )
        .await;
    assert_eq!(v["result"], true);
    let v = p
        .ok("crm.company.contact.items.get", json!({"id": co}))
        .await;
    assert_eq!(v["result"][0]["CONTACT_ID"], c, "{v}");
    p.ok("crm.company.contact.items.delete", json!({"id": co}))
        .await;
    let v = p
        .ok("crm.contact.company.items.get", json!({"id": c}))
        .await;
    assert_eq!(v["result"], json!([]), "{v}");
    p.ok(
        "crm.contact.company.items.set",
        json!({"id": c, "items": [{"COMPANY_ID": co, "IS_PRIMARY": "Y"}]}),
    )
    .await;
    assert_eq!(ids(&get(&p, 4, co).await["contactIds"]), vec![c]);
    for m in [
        "crm.contact.company.fields",
        "crm.company.contact.fields",
        "crm.lead.contact.fields",
        "crm.deal.contact.fields",
    ] {
        let v = p.ok(m, json!({})).await;
        assert!(v["result"]["SORT"].is_object(), "{m}: {v}");
    }
    let lead = id_of(&add(&p, 1, json!({"title": "Лид"})).await);
    p.ok(
        "crm.lead.contact.add",
        json!({"id": lead, "fields": {"CONTACT_ID": c}}),
    )
    .await;
    assert_eq!(ids(&get(&p, 1, lead).await["contactIds"]), vec![c]);
    p.sb.shutdown().await;
}

#[tokio::test]
async fn stagehistory_list_orders_by_the_field_given() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "order": {"OWNER_ID": "DESC"}, "select": ["ID", "OWNER_ID"]}),
        )
        .await;
    let owners: Vec<i64> = v["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|r| r["OWNER_ID"].as_i64().expect("owner"))
        .collect();
    let mut sorted = owners.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(owners, sorted, "rows follow OWNER_ID DESC: {v}");
    let max_owner = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "order": {"id": "DESC"}, "select": ["id"]}),
        )
        .await["result"]["items"][0]["id"]
        .as_i64();
    assert_eq!(
        owners.first().copied(),
        max_owner,
        "the newest deal's rows come first"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn stagehistory_key_set_pages_match_offset_pages() {
    // The key-set page (`>ID`, start -1) seeks to the id; it must list exactly the rows an
    // offset scan lists from that point on, for `>ID`, `>=ID` and a non-numeric id.
    let p = Portal::demo().await;
    let ids = |v: &Value| -> Vec<i64> {
        v["result"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|r| r["ID"].as_i64().expect("id"))
            .collect()
    };
    let all = ids(&p
        .ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "order": {"ID": "ASC"}, "select": ["ID"], "start": 0}),
        )
        .await);
    assert!(all.len() >= 10, "the demo deals have stage history");
    let pivot = all[4];
    let after = ids(
        &p.ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "order": {"ID": "ASC"}, "filter": {">ID": pivot}, "select": ["ID"], "start": -1}),
        )
        .await,
    );
    let n = after.len().min(all.len() - 5);
    assert!(n > 0, "rows follow the pivot");
    assert_eq!(
        after[..n],
        all[5..5 + n],
        ">ID continues right after the pivot"
    );
    let from = ids(
        &p.ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "order": {"ID": "ASC"}, "filter": {">=ID": pivot}, "select": ["ID"], "start": -1}),
        )
        .await,
    );
    assert_eq!(from.first(), Some(&pivot), ">=ID includes the id itself");
    let none = ids(
        &p.ok(
            "crm.stagehistory.list",
            json!({"entityTypeId": 2, "order": {"ID": "ASC"}, "filter": {">ID": i64::MAX - 1}, "start": -1}),
        )
        .await,
    );
    assert!(none.is_empty(), "nothing lies past the last id");
    p.sb.shutdown().await;
}

// ---- 7. recycle bin -----------------------------------------------------------------------------

#[tokio::test]
async fn recycle_bin_restore_brings_an_item_back_with_its_old_updated_time_and_by() {
    let p = Portal::demo().await;
    let hook = p.sb.webhook_url(3).expect("hook");
    let (_, v) = p
        .call_at(
            &hook,
            "crm.item.add",
            json!({"entityTypeId": 2, "fields": {"title": "В корзину", "contactIds": [1]}}),
        )
        .await;
    let before = v["result"]["item"].clone();
    let id = id_of(&before);
    p.ok("crm.timeline.logmessage.add", log_fields(2, id, "запись"))
        .await;
    p.emu_post("clock", json!({"advanceSeconds": 86_400})).await;
    p.ok("crm.item.delete", json!({"entityTypeId": 2, "id": id}))
        .await;
    let (s, v) = p
        .call("crm.item.get", json!({"entityTypeId": 2, "id": id}))
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("NOT_FOUND")),
        "in the bin: {v}"
    );
    let st = p.emu_get(&format!("state?entityTypeId=2&id={id}")).await;
    assert_eq!(st["inRecycleBin"], true, "{st}");
    p.emu_post(
        "act",
        json!({"userId": 1, "method": "recyclebin.restore", "params": {"entityTypeId": 2, "id": id}}),
    )
    .await;
    let after = get(&p, 2, id).await;
    assert_eq!(
        after["updatedTime"], before["updatedTime"],
        "old updatedTime"
    );
    assert_eq!(after["updatedBy"], 3, "old updatedBy");
    assert_eq!(ids(&after["contactIds"]), vec![1], "links come back");
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "filter": {">updatedTime": before["updatedTime"]}, "select": ["id"]}),
        )
        .await;
    assert!(
        !v["result"]["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|i| id_of(i) == id),
        "an incremental pull since the last change cannot see it return"
    );
    let logs = p
        .ok(
            "crm.timeline.logmessage.list",
            json!({"entityTypeId": 2, "entityId": id}),
        )
        .await;
    assert_eq!(logs["total"], 1, "its timeline comes back too: {logs}");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn without_the_recycle_bin_a_deleted_item_cannot_be_restored() {
    let p = Portal::demo().await;
    p.emu_post("config", json!({"recycleBin": false})).await;
    let id = id_of(&add(&p, 3, json!({"name": "Навсегда"})).await);
    p.ok("crm.item.delete", json!({"entityTypeId": 3, "id": id}))
        .await;
    let (s, _) = p
        .emu(
            reqwest::Method::POST,
            "act",
            json!({"userId": 1, "method": "recyclebin.restore", "params": {"entityTypeId": 3, "id": id}}),
        )
        .await;
    assert_eq!(s, 404);
    p.sb.shutdown().await;
}

// ---- 8. originatorId/originId, categoryId, hasPhone/hasEmail ----------------------------------

#[tokio::test]
async fn origin_ids_are_writable_filterable_and_not_unique_on_all_four_types() {
    let p = Portal::demo().await;
    for t in 1..=4 {
        let fields = json!({"title": "Origin", "name": "Origin", "originatorId": "kartoteka", "originId": "uuid-1"});
        let a = add(&p, t, fields.clone()).await;
        let b = add(&p, t, fields).await;
        assert_ne!(id_of(&a), id_of(&b), "type {t}: one tag, two items");
        assert_eq!(a["originatorId"], "kartoteka", "type {t}: {a}");
        let v = p
            .ok(
                "crm.item.list",
                json!({"entityTypeId": t, "filter": {"=originatorId": "kartoteka", "=originId": "uuid-1"}, "select": ["id"]}),
            )
            .await;
        assert_eq!(v["total"], 2, "type {t}: {v}");
    }
    p.sb.shutdown().await;
}

#[tokio::test]
async fn contacts_and_companies_have_category_id_and_has_phone_has_email_follow_fm() {
    let p = Portal::demo().await;
    for t in [3, 4] {
        let f = p.ok("crm.item.fields", json!({"entityTypeId": t})).await;
        assert!(f["result"]["fields"]["categoryId"].is_object(), "type {t}");
        let (s, v) = p
            .call(
                "crm.item.add",
                json!({"entityTypeId": t, "fields": {"title": "x", "name": "x", "categoryId": 77}}),
            )
            .await;
        assert_eq!(s, 400, "no such pipeline for type {t}: {v}");
    }
    let c = add(
        &p,
        3,
        json!({"name": "Флаги", "fm": [{"typeId": "PHONE", "value": "+7 1"}]}),
    )
    .await;
    assert_eq!(
        (c["hasPhone"].as_str(), c["hasEmail"].as_str()),
        (Some("Y"), Some("N")),
        "{c}"
    );
    assert_eq!(c["categoryId"], 0);
    let fid = c["fm"][0]["id"].as_i64().expect("fm id");
    let u = update(
        &p,
        3,
        id_of(&c),
        json!({"fm": {fid.to_string(): {"typeId": "PHONE", "value": ""}, "n0": {"typeId": "EMAIL", "value": "a@b.ru"}}}),
    )
    .await;
    assert_eq!(
        (u["hasPhone"].as_str(), u["hasEmail"].as_str()),
        (Some("N"), Some("Y")),
        "{u}"
    );
    let v = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 3, "filter": {"hasEmail": "Y", "id": id_of(&c)}, "select": ["id"]}),
        )
        .await;
    assert_eq!(v["total"], 1, "filterable: {v}");
    p.sb.shutdown().await;
}

#[tokio::test]
async fn legacy_fields_list_addresses_logo_has_phone_and_origin_version() {
    let p = Portal::demo().await;
    let v = p.ok("crm.company.fields", json!({})).await;
    for k in [
        "ADDRESS",
        "ADDRESS_CITY",
        "REG_ADDRESS",
        "LOGO",
        "HAS_PHONE",
        "HAS_EMAIL",
        "ORIGIN_VERSION",
        "ORIGINATOR_ID",
        "ORIGIN_ID",
    ] {
        assert!(v["result"][k].is_object(), "crm.company.fields lacks {k}");
    }
    let v = p.ok("crm.contact.fields", json!({})).await;
    for k in [
        "ADDRESS",
        "PHOTO",
        "HAS_PHONE",
        "ORIGIN_VERSION",
        "CATEGORY_ID",
    ] {
        assert!(v["result"][k].is_object(), "crm.contact.fields lacks {k}");
    }
    p.sb.shutdown().await;
}

// ---- 9. methods and answers other clients rely on ----------------------------------------------

#[tokio::test]
async fn reference_and_link_methods_other_libraries_call_exist() {
    let p = Portal::demo().await;
    for (m, params) in [
        ("crm.multifield.fields", json!({})),
        ("crm.status.fields", json!({})),
        ("crm.status.entity.types", json!({})),
        ("crm.status.entity.items", json!({"entityId": "SOURCE"})),
        ("crm.category.fields", json!({"entityTypeId": 2})),
        ("crm.category.get", json!({"entityTypeId": 2, "id": 1})),
        ("user.fields", json!({})),
    ] {
        let (s, v) = p.call(m, params).await;
        assert_eq!(s, 200, "{m}: {v}");
    }
    let v = p
        .ok(
            "crm.status.add",
            json!({"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": "FAIR", "NAME": "Выставка"}}),
        )
        .await;
    let sid = v["result"].as_i64().expect("status id");
    p.ok(
        "crm.status.update",
        json!({"id": sid, "fields": {"NAME": "Ярмарка"}}),
    )
    .await;
    assert_eq!(
        p.ok("crm.status.get", json!({"id": sid})).await["result"]["NAME"],
        "Ярмарка"
    );
    p.ok("crm.status.delete", json!({"id": sid})).await;
    let v = p
        .ok(
            "crm.category.add",
            json!({"entityTypeId": 2, "fields": {"name": "Тендеры"}}),
        )
        .await;
    let cid = v["result"]["category"]["id"].as_i64().expect("category id");
    let stages = p
        .ok(
            "crm.status.list",
            json!({"filter": {"ENTITY_ID": format!("DEAL_STAGE_{cid}")}}),
        )
        .await;
    assert!(stages["total"].as_i64().unwrap_or(0) >= 3, "{stages}");
    p.ok(
        "crm.category.update",
        json!({"entityTypeId": 2, "id": cid, "fields": {"name": "Тендеры 2"}}),
    )
    .await;
    p.ok("crm.category.delete", json!({"entityTypeId": 2, "id": cid}))
        .await;
    let hook = p.sb.webhook_url(3).expect("hook");
    let (s, v) = p
        .call_at(
            &hook,
            "crm.status.add",
            json!({"fields": {"ENTITY_ID": "SOURCE", "STATUS_ID": "X", "NAME": "X"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (400, Some("")),
        "admins only: {v}"
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn unresolved_batch_reference_in_a_filter_is_invalid_arg_value_for_every_list_method() {
    let p = Portal::demo().await;
    let v = p
        .ok(
            "batch",
            json!({"halt": 0, "cmd": {
                "c0": "crm.status.list?filter[ENTITY_ID]=NOPE",
                "a": "crm.item.list?entityTypeId=2&filter[>id]=$result[c0][49][ID]",
                "b": "crm.deal.list?filter[>ID]=$result[c0][49][ID]",
                "c": "crm.status.list?filter[>ID]=$result[c0][49][ID]",
            }}),
        )
        .await;
    let errors = &v["result"]["result_error"];
    for (k, field) in [("a", "id"), ("b", "ID"), ("c", "ID")] {
        assert_eq!(errors[k]["error"], "INVALID_ARG_VALUE", "{k}: {v}");
        assert_eq!(
            errors[k]["error_description"],
            format!("Invalid filter: field '{field}' has invalid value"),
            "{k}"
        );
    }
    p.sb.shutdown().await;
}

// ---- narrow select with useOriginalUfNames -----------------------------------------------
// crm/lib/controller/item.php: listAction upper-cases the select (convertFieldNamesToUpper),
// prepareSelect adds nothing but the user fields of UF_*, and getJsonForItems keeps the keys of
// each item found in the select, turned back to camelCase only when useOriginalUfNames is N.

async fn list_keys(p: &Portal, params: Value) -> Vec<Vec<String>> {
    let v = p.ok("crm.item.list", params).await;
    v["result"]["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|it| match it {
            Value::Object(o) => o.keys().cloned().collect(),
            // PHP's empty array
            Value::Array(a) if a.is_empty() => Vec::new(),
            other => panic!("an item is an object or []: {other}"),
        })
        .collect()
}

#[tokio::test]
async fn a_narrow_select_with_original_uf_names_keeps_only_user_fields() {
    let p = Portal::demo().await;
    let keys = list_keys(
        &p,
        json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["id"], "order": {"id": "ASC"}}),
    )
    .await;
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(Vec::is_empty),
        "`ID` matches no camelCase key: every item is []: {keys:?}"
    );

    let keys = list_keys(
        &p,
        json!({"entityTypeId": 2, "useOriginalUfNames": "Y",
               "select": ["id", "title", "UF_CRM_NOTE"], "order": {"id": "ASC"}}),
    )
    .await;
    assert!(
        keys.iter()
            .all(|k| k.iter().all(|key| key == "UF_CRM_NOTE"))
            && keys.iter().any(|k| !k.is_empty()),
        "only the user field survives: {keys:?}"
    );

    let keys = list_keys(
        &p,
        json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["*"], "order": {"id": "ASC"}}),
    )
    .await;
    assert!(
        keys.iter().all(|k| k.contains(&"id".to_string()))
            && keys.iter().any(|k| k.contains(&"UF_CRM_NOTE".to_string())),
        "`*` keeps every key, user fields by their original names: {:?}",
        keys.first()
    );
    p.sb.shutdown().await;
}

#[tokio::test]
async fn a_narrow_select_without_original_names_keeps_exactly_the_selected_keys() {
    let p = Portal::demo().await;
    for (select, want) in [
        (json!(["id"]), vec!["id"]),
        (json!(["ID", "TITLE"]), vec!["id", "title"]),
        // Nothing is added: no implicit id.
        (json!(["title"]), vec!["title"]),
        (json!(["id", "UF_CRM_NOTE"]), vec!["id", "ufCrmNote"]),
    ] {
        let keys = list_keys(
            &p,
            json!({"entityTypeId": 2, "select": select, "order": {"id": "ASC"}}),
        )
        .await;
        assert!(!keys.is_empty());
        let seen: std::collections::BTreeSet<&str> =
            keys.iter().flatten().map(String::as_str).collect();
        let want: std::collections::BTreeSet<&str> = want.into_iter().collect();
        assert_eq!(seen, want, "select {select}: exactly the selected keys");
    }
    // The sandbox's older answer, behind a switch.
    p.emu_post("config", json!({"narrowSelectKeepsSystemKeys": true}))
        .await;
    let keys = list_keys(
        &p,
        json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "select": ["title"], "order": {"id": "ASC"}}),
    )
    .await;
    assert!(
        keys.iter().all(|k| k.as_slice() == ["id", "title"]),
        "{keys:?}"
    );
    p.sb.shutdown().await;
}

// ---- dates: `CRestUtil::ConvertDate` out, `CRestUtil::unConvertDate` in ---------------------

/// `ConvertDate` is `date('c', MakeTimeStamp($d) + date("Z"))`: 00:00 UTC of the stored date,
/// shown in the portal's zone. West of UTC that is the evening before; the frozen clock stands in
/// March (winter), so a July date in New York is an hour off midnight UTC (`date("Z")` is -5 h
/// now, the date's own offset -4 h).
#[tokio::test]
async fn date_only_values_are_utc_midnight_in_the_portal_zone_and_written_dates_read_on_its_clock()
{
    let cases = [
        (
            json!({"portalOffset": "-05:00"}),
            "2026-03-13",
            "2026-03-12T19:00:00-05:00",
        ),
        (
            json!({"portalOffset": "+00:00"}),
            "2026-03-13",
            "2026-03-13T00:00:00+00:00",
        ),
        (
            json!({"portalOffset": "+03:00"}),
            "2026-03-13",
            "2026-03-13T03:00:00+03:00",
        ),
        (
            json!({"portalOffset": "+12:00"}),
            "2026-03-13",
            "2026-03-13T12:00:00+12:00",
        ),
        (
            json!({"portalZone": "America/New_York"}),
            "2026-07-10",
            "2026-07-09T19:00:00-04:00",
        ),
        (
            json!({"portalZone": "America/New_York"}),
            "2026-01-15",
            "2026-01-14T19:00:00-05:00",
        ),
    ];
    for (zone, date, wire) in cases {
        let p = Portal::demo().await;
        p.emu_post("config", zone.clone()).await;
        let id = id_of(&add(&p, 2, json!({"title": "dates", "closedate": date})).await);
        assert_eq!(get(&p, 2, id).await["closedate"], wire, "{zone} {date}");
        let legacy = p.ok("crm.deal.get", json!({"id": id})).await;
        assert_eq!(
            legacy["result"]["CLOSEDATE"], wire,
            "{zone} {date} (crm.deal.get)"
        );
        // `unConvertDate`: the string is read on the portal's clock, an explicit offset honoured.
        let moscow_midnight = format!("{date}T00:00:00+03:00");
        let stored =
            update(&p, 2, id, json!({"closedate": moscow_midnight})).await["closedate"].clone();
        let west_of_moscow = !matches!(zone["portalOffset"].as_str(), Some("+03:00" | "+12:00"));
        let expected_day = if west_of_moscow {
            let d = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date");
            (d - chrono::Duration::days(1))
                .format("%Y-%m-%d")
                .to_string()
        } else {
            date.to_string()
        };
        let found = p
            .ok(
                "crm.item.list",
                json!({"entityTypeId": 2, "filter": {"id": id, "closedate": expected_day}, "select": ["id"]}),
            )
            .await["result"]["items"]
            .as_array()
            .map(Vec::len);
        assert_eq!(
            found,
            Some(1),
            "{zone}: {moscow_midnight} stored as {stored}"
        );
    }
}

// ---- primary contact / company: `Binding::selectPrimaryBoundEntity` --------------------------

fn primary_row(v: &Value, key: &str) -> Option<i64> {
    v["result"]
        .as_array()?
        .iter()
        .find(|r| r["IS_PRIMARY"] == "Y")
        .and_then(|r| r[key].as_i64())
}

/// `crm.item.update` can give no `IS_PRIMARY`, so the order of `contactIds` chooses nothing: the
/// current primary stays while bound, else the first binding is primary. Only the binding
/// methods (`*.contact.items.set`, `crm.contact.company.items.set`) move it, and only an exact
/// `"Y"` marks it (`EntityBinding::normalizeEntityBindings`). For deals, leads and a contact's
/// companies alike; `contactIdsOrderChoosesPrimary` is the lenient variant.
#[tokio::test]
async fn the_order_of_link_ids_chooses_no_primary_and_only_items_set_with_is_primary_moves_it() {
    let p = Portal::demo().await;
    let a = id_of(&add(&p, 3, json!({"name": "А"})).await);
    let b = id_of(&add(&p, 3, json!({"name": "Б"})).await);
    let c = id_of(&add(&p, 3, json!({"name": "В"})).await);
    for (t, prefix) in [(2, "crm.deal"), (1, "crm.lead")] {
        let id = id_of(&add(&p, t, json!({"title": "Основной", "contactIds": [a, b]})).await);
        assert_eq!(
            get(&p, t, id).await["contactId"],
            a,
            "{prefix}: the first of a new list"
        );
        let item = update(&p, t, id, json!({"contactIds": [b, a]})).await;
        assert_eq!(
            item["contactId"], a,
            "{prefix}: the order chose nothing: {item}"
        );
        assert_eq!(
            ids(&item["contactIds"]),
            vec![b, a],
            "{prefix}: kept in the order given"
        );
        let item = update(&p, t, id, json!({"contactId": b})).await;
        assert_eq!(
            item["contactId"], a,
            "{prefix}: a bound single id is no change"
        );
        // Marked in any other way than "Y": the first binding.
        let method = format!("{prefix}.contact.items.set");
        p.ok(
            &method,
            json!({"id": id, "items": [{"CONTACT_ID": a, "SORT": 10}, {"CONTACT_ID": b, "SORT": 20, "IS_PRIMARY": "y"}]}),
        )
        .await;
        assert_eq!(
            get(&p, t, id).await["contactId"],
            a,
            "{prefix}: only an exact Y counts"
        );
        p.ok(
            &method,
            json!({"id": id, "items": [{"CONTACT_ID": a, "SORT": 10, "IS_PRIMARY": "N"},
                                       {"CONTACT_ID": b, "SORT": 20, "IS_PRIMARY": "Y"}]}),
        )
        .await;
        let item = get(&p, t, id).await;
        assert_eq!(item["contactId"], b, "{prefix}: IS_PRIMARY wins: {item}");
        assert_eq!(
            ids(&item["contactIds"]),
            vec![a, b],
            "{prefix}: in SORT order"
        );
        let rows = p
            .ok(&format!("{prefix}.contact.items.get"), json!({"id": id}))
            .await;
        assert_eq!(
            primary_row(&rows, "CONTACT_ID"),
            Some(b),
            "{prefix}: {rows}"
        );
        // The primary dropped from the list: the first binding becomes primary.
        let item = update(&p, t, id, json!({"contactIds": [c, a]})).await;
        assert_eq!(item["contactId"], c, "{prefix}: {item}");
    }
    // A contact's companies: the same rule, `companyId` the primary.
    let co1 = id_of(&add(&p, 4, json!({"title": "Первая"})).await);
    let co2 = id_of(&add(&p, 4, json!({"title": "Вторая"})).await);
    let person = id_of(&add(&p, 3, json!({"name": "Г", "companyIds": [co1, co2]})).await);
    let item = update(&p, 3, person, json!({"companyIds": [co2, co1]})).await;
    assert_eq!(item["companyId"], co1, "the order chose nothing: {item}");
    p.ok(
        "crm.contact.company.items.set",
        json!({"id": person, "items": [{"COMPANY_ID": co1, "SORT": 10}, {"COMPANY_ID": co2, "SORT": 20, "IS_PRIMARY": "Y"}]}),
    )
    .await;
    assert_eq!(get(&p, 3, person).await["companyId"], co2);
    // The lenient variant: the first id wins.
    p.emu_post("config", json!({"contactIdsOrderChoosesPrimary": true}))
        .await;
    let deal = id_of(&add(&p, 2, json!({"title": "Мягкий", "contactIds": [a, b]})).await);
    let item = update(&p, 2, deal, json!({"contactIds": [b, a]})).await;
    assert_eq!(item["contactId"], b, "{item}");
    p.sb.shutdown().await;
}

/// `CRestUtil::ConvertDateTime` takes the caller's personal-zone offset of *now* off a value put
/// in their time by the offset *at its date* (`DateTime::toString` → `toUserTime`): a Berlin user
/// on a Moscow portal reads a July datetime an hour late in March, a February one right. Written
/// datetimes keep their instant (`unConvertDateTime` without the offset). `useTimeZones: false`
/// (`CTimeZone::Enabled` off) shows every instant as it is.
#[tokio::test]
async fn a_personal_time_zone_shifts_datetimes_read_across_summer_time() {
    let p = Portal::demo().await;
    p.emu_post(
        "config",
        json!({"portalZone": "Europe/Moscow", "userTimeZones": {"1": "Europe/Berlin"}}),
    )
    .await;
    let who = p.ok("profile", json!({})).await;
    assert_eq!(who["result"]["TIME_ZONE"], "Europe/Berlin", "{who}");
    let summer = id_of(
        &add(
            &p,
            2,
            json!({"title": "Лето", "UF_CRM_NEXT_CALL": "2026-07-10T12:00:00+03:00"}),
        )
        .await,
    );
    let winter = id_of(
        &add(
            &p,
            2,
            json!({"title": "Зима", "UF_CRM_NEXT_CALL": "2026-02-10T12:00:00+03:00"}),
        )
        .await,
    );
    assert_eq!(
        get(&p, 2, summer).await["ufCrmNextCall"],
        "2026-07-10T13:00:00+03:00"
    );
    assert_eq!(
        get(&p, 2, winter).await["ufCrmNextCall"],
        "2026-02-10T12:00:00+03:00"
    );
    let listed = p
        .ok(
            "crm.item.list",
            json!({"entityTypeId": 2, "useOriginalUfNames": "Y", "filter": {"id": summer}, "select": ["*"]}),
        )
        .await;
    assert_eq!(
        listed["result"]["items"][0]["UF_CRM_NEXT_CALL"],
        "2026-07-10T13:00:00+03:00"
    );
    p.emu_post("config", json!({"useTimeZones": false})).await;
    assert_eq!(
        get(&p, 2, summer).await["ufCrmNextCall"],
        "2026-07-10T12:00:00+03:00"
    );
    // Zones the sandbox cannot know are refused, not taken as UTC.
    for bad in [
        json!({"userTimeZones": {"1": "Mars/Olympus"}}),
        json!({"userTimeZones": {"one": "Europe/Berlin"}}),
        json!({"portalZone": "+03:00"}),
    ] {
        let (status, body) = p.emu(reqwest::Method::POST, "config", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    p.sb.shutdown().await;
}

/// A portal runs MySQL with an empty `sql_mode`, so a number beyond its column is cut to the
/// column's limit, never refused: amounts are `DECIMAL(18,2)` rounded to cents first
/// (`FloatField::cast` with scale 2), the probability is moved into 0–100
/// (`Field\Percentage::processLogic`), an integer user field is a MySQL `INT`. The sandbox keeps
/// what a portal would keep, never more.
#[tokio::test]
async fn numbers_beyond_their_columns_are_cut_to_what_a_portal_keeps() {
    let p = Portal::demo().await;
    let d = add(
        &p,
        2,
        json!({"title": "Миллиард миллиардов", "opportunity": 1e18, "probability": 150,
               "UF_CRM_VISITS": "1000000000000000000"}),
    )
    .await;
    let id = id_of(&d);
    let item = get(&p, 2, id).await;
    // 9 999 999 999 999 999.99, the column's largest, is 1e16 as a double.
    assert_eq!(item["opportunity"].as_f64(), Some(1e16), "{item}");
    assert_eq!(item["probability"], 100, "{item}");
    assert_eq!(item["ufCrmVisits"], 2_147_483_647, "{item}");
    let u = update(
        &p,
        2,
        id,
        json!({"opportunity": "-1e18", "taxValue": 0.001, "probability": -5,
               "UF_CRM_VISITS": -3_000_000_000i64}),
    )
    .await;
    assert_eq!(u["opportunity"].as_f64(), Some(-1e16));
    assert_eq!(
        u["taxValue"].as_f64(),
        Some(0.0),
        "a third decimal rounded away"
    );
    assert_eq!(u["probability"], 0);
    assert_eq!(u["ufCrmVisits"], -2_147_483_648i64);
    let u = update(
        &p,
        2,
        id,
        json!({"opportunity": 1500.125, "UF_CRM_RATING": "1e400"}),
    )
    .await;
    assert_eq!(
        u["opportunity"].as_f64(),
        Some(1500.13),
        "half away from zero"
    );
    assert_eq!(u["ufCrmRating"].as_f64(), Some(0.0), "not finite: 0");
    p.sb.shutdown().await;
}
