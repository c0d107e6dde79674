//! Parser tests over the documentation fixtures (CONTRACT fixtures F1–F11) and the client's
//! body decoding (HTML pages, truncated JSON, error codes of every shape).

use crate::client::{Client, ClientOptions};
use crate::encode_php_query;
use crate::error::{BitrixError, ErrorClass};
use crate::parse::{list_items, parse_category, parse_deal_contact, parse_record};
use crate::values::{date_only, money_amount};
use crate::webhook::WebhookUrl;
use crate::wire::{batch_result_from, call_result_from_body, error_from_body, php_list};
use kartoteka_domain::{EntityType, MultiFieldKind};
use serde_json::{json, Map, Value};
use std::path::PathBuf;

const SECRET: &str = "fixsecret4242";

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture(name: &str) -> Map<String, Value> {
    let text =
        std::fs::read_to_string(fixture_dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    match serde_json::from_str(&text) {
        Ok(Value::Object(o)) => o,
        other => panic!("{name} is not a JSON object: {other:?}"),
    }
}

fn client() -> Client {
    let url = WebhookUrl::parse(&format!("https://portal.example/rest/1/{SECRET}/"))
        .unwrap_or_else(|e| panic!("{e}"));
    Client::new(url, ClientOptions::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_fixture_is_understood_as_a_success_an_error_or_a_known_non_envelope() {
    let mut seen = 0;
    let entries = std::fs::read_dir(fixture_dir()).unwrap_or_else(|e| panic!("{e}"));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".json") {
            continue;
        }
        seen += 1;
        let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
        let decoded = client().decode(if name.starts_with("F10") { 400 } else { 200 }, &body);
        match name.as_str() {
            // Requests and bare values, not envelopes: decoding must say so, not invent a result.
            n if n.starts_with("F8") || n.starts_with("F9") => {
                assert!(
                    matches!(decoded, Err(BitrixError::MalformedResponse { .. })),
                    "{name}: {decoded:?}"
                )
            }
            n if n.starts_with("F10") || n.starts_with("F11") => {
                assert!(
                    matches!(decoded, Err(BitrixError::Api { .. })),
                    "{name}: {decoded:?}"
                )
            }
            _ => assert!(decoded.is_ok(), "{name}: {decoded:?}"),
        }
    }
    assert_eq!(seen, 15, "all fifteen fixtures were checked");
}

#[test]
fn fixtures_match_the_shared_originals() {
    let shared =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../../shared/bitrix24/fixtures");
    let Ok(entries) = std::fs::read_dir(&shared) else {
        return; // The shared folder is not beside this checkout.
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if entry.path().extension().is_some_and(|e| e == "json") {
            let ours = std::fs::read(fixture_dir().join(&name)).unwrap_or_default();
            let theirs = std::fs::read(entry.path()).unwrap_or_default();
            assert_eq!(ours, theirs, "{name:?} drifted from shared/");
        }
    }
}

#[test]
fn f1_lead_page_parses_into_records_with_nulls_kept_and_no_next() {
    let r = call_result_from_body(fixture("F1-crm.item.list-leads.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.total, r.next), (Some(4), None));
    let time = r.time.unwrap_or_else(|| panic!("time block"));
    assert_eq!(
        time.operating_reset_at, None,
        "F1 has no operating_reset_at"
    );
    assert_eq!(time.operating, Some(0.0));
    let records: Vec<_> = list_items(&r.result)
        .into_iter()
        .map(|i| parse_record(EntityType::Lead, i).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    assert_eq!(
        records.iter().map(|r| r.key.id).collect::<Vec<_>>(),
        vec![253, 255, 252, 254]
    );
    // The owned parse (used by the pull) gives the same records, field order included.
    let owned: Vec<_> = crate::parse::into_list_items(r.result.clone())
        .into_iter()
        .map(|i| {
            crate::parse::parse_record_owned(EntityType::Lead, i).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    assert_eq!(owned, records);
    for (a, b) in owned.iter().zip(&records) {
        assert!(a.fields.keys().eq(b.fields.keys()), "same field order");
    }
    assert_eq!(records[0].fields.get("lastName"), Some(&Value::Null));
    assert_eq!(records[0].text("isManualOpportunity"), Some("Y"));
    assert_eq!(
        money_amount(&records[0].fields["opportunity"]).as_deref(),
        Some("19000")
    );
    assert!(records[0].multi_fields.is_empty());
}

#[test]
fn f2_legacy_deal_keeps_string_numbers_and_date_only_fields_keep_their_calendar_date() {
    let r = call_result_from_body(fixture("F2-crm.deal.get-legacy.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    let item = r.result.as_object().unwrap_or_else(|| panic!("object"));
    let rec = parse_record(EntityType::Deal, item).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.key.id, 410, "ID \"410\" is read as a number");
    assert_eq!(
        money_amount(&rec.fields["OPPORTUNITY"]).as_deref(),
        Some("1000000.00")
    );
    assert_eq!(
        date_only(&rec.fields["BEGINDATE"])
            .map(|d| d.to_string())
            .as_deref(),
        Some("2024-08-30")
    );
    assert_eq!(
        date_only(&rec.fields["CLOSEDATE"])
            .map(|d| d.to_string())
            .as_deref(),
        Some("2024-09-09")
    );
    assert_eq!(rec.text("COMMENTS"), Some("[B]Example comment[/B]"));
    assert_eq!(rec.id_field("LEAD_ID"), None);
}

#[test]
fn f3a_batch_success_reads_results_totals_and_empty_maps_sent_as_lists() {
    let r = call_result_from_body(fixture("F3a-batch-success.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    let b = batch_result_from(r.result.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        b.results.keys().collect::<Vec<_>>(),
        vec!["get_department", "get_user"]
    );
    assert!(b.errors.is_empty() && b.nexts.is_empty());
    assert_eq!(b.totals.get("get_department"), Some(&1));
    assert_eq!(b.times.len(), 2);
    assert!(b.times["get_user"].operating_reset_at.is_none());
}

#[test]
fn f3b_batch_errors_are_collected_per_command_and_all_five_maps_may_be_lists() {
    let r = call_result_from_body(fixture("F3b-batch-errors-halt0.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    let b = batch_result_from(r.result.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert!(b.results.is_empty() && b.totals.is_empty() && b.times.is_empty());
    let e = b
        .outcome("get_user")
        .and_then(Result::err)
        .unwrap_or_else(|| panic!("error"));
    assert_eq!(e.code, "insufficient_scope");
    assert_eq!(e.class(200), ErrorClass::Auth);
    assert!(b.outcome("never_sent").is_none());
}

#[test]
fn f4_stage_history_and_f5_log_message_time_blocks_parse() {
    let r = call_result_from_body(fixture("F4-crm.stagehistory.list-deal.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(list_items(&r.result).len(), 1);
    let r = call_result_from_body(fixture("F5-crm.timeline.logmessage.add.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    let t = r.time.unwrap_or_else(|| panic!("time"));
    assert_eq!(t.operating_reset_at, Some(1_705_765_533.0));
    assert!((t.operating.unwrap_or_default() - 3.307_624_101_638_794).abs() < 1e-9);
}

#[test]
fn f6_deal_contacts_parse_with_an_integer_start_time() {
    let r = call_result_from_body(fixture("F6-crm.deal.contact.items.get.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.time.and_then(|t| t.start), Some(1_773_231_773.0));
    let links: Vec<_> = php_list(Some(&r.result))
        .into_iter()
        .filter_map(parse_deal_contact)
        .collect();
    assert_eq!(links.len(), 3);
    assert!(links[0].is_primary && !links[1].is_primary);
    assert_eq!((links[0].contact_id, links[0].sort), (55, 100));
}

#[test]
fn f7_pipelines_include_the_default_one_without_origin_keys() {
    let r = call_result_from_body(fixture("F7-crm.category.list-deals.json"), 200)
        .unwrap_or_else(|e| panic!("{e}"));
    let cats: Vec<_> = php_list(r.result.get("categories"))
        .into_iter()
        .filter_map(|v| parse_category(v, EntityType::Deal))
        .collect();
    assert_eq!(cats.len(), 4);
    let general = cats
        .iter()
        .find(|c| c.id == 0)
        .unwrap_or_else(|| panic!("default pipeline"));
    assert!(general.is_default);
    assert_eq!(general.name, "General");
}

#[test]
fn f8_legacy_phone_delete_request_encodes_and_resulting_phone_parses_as_multi_field() {
    let q = encode_php_query(&Value::Object(fixture(
        "F8a-crm.contact.update-legacy-request.json",
    )));
    assert_eq!(
        q,
        "fields[PHONE][0][ID]=222&fields[PHONE][0][DELETE]=Y&fields[PHONE][1][ID]=223&fields[PHONE][1][VALUE]=&fields[PHONE][2][ID]=224"
    );
    let text = std::fs::read_to_string(
        fixture_dir().join("F8b-crm.contact.update-legacy-resulting-phone.json"),
    )
    .unwrap_or_default();
    let phones: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let item = json!({"id": 9, "fm": phones});
    let rec = parse_record(
        EntityType::Contact,
        item.as_object().unwrap_or_else(|| panic!()),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rec.multi_fields.len(), 1);
    assert_eq!(
        (rec.multi_fields[0].id, rec.multi_fields[0].kind),
        (225, MultiFieldKind::Phone)
    );
    assert_eq!(rec.multi_fields[0].value, "44444");
    assert!(!rec.fields.contains_key("fm"), "fm moves out of fields");
}

#[test]
fn f10_error_codes_are_normalized_from_string_empty_and_number() {
    let codes: Vec<String> = [
        "F10a-crm.item.get-error-not-found.json",
        "F10b-crm.deal.get-legacy-error-empty-code.json",
        "F10c-crm.stagehistory.list-error-numeric-code.json",
        "F11-query-limit-exceeded.json",
    ]
    .iter()
    .map(|f| {
        error_from_body(&fixture(f))
            .map(|e| e.code)
            .unwrap_or_else(|| panic!("{f} is an error"))
    })
    .collect();
    assert_eq!(codes, vec!["NOT_FOUND", "", "0", "QUERY_LIMIT_EXCEEDED"]);
    let not_found = error_from_body(&fixture("F10a-crm.item.get-error-not-found.json"))
        .map(|e| e.into_error(400));
    assert!(not_found.is_some_and(|e| e.is_not_found() && e.class() == ErrorClass::Permanent));
    let limit = client().decode(
        503,
        br#"{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}"#,
    );
    assert!(
        matches!(limit, Err(ref e) if e.class() == ErrorClass::RetryLater),
        "{limit:?}"
    );
}

#[test]
fn error_code_may_be_a_numeric_string_message_text_or_missing_description() {
    let c = client();
    let code = |body: &str| match c.decode(400, body.as_bytes()) {
        Err(BitrixError::Api { code, .. }) => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(r#"{"error":"100","error_description":"Could not find value"}"#),
        "100"
    );
    assert_eq!(code(r#"{"error":100.0}"#), "100");
    assert_eq!(
        code(r#"{"error":"Invalid parameters."}"#),
        "Invalid parameters."
    );
    assert_eq!(code(r#"{"error":null,"error_description":"x"}"#), "");
}

#[test]
fn non_json_bodies_are_malformed_and_retry_later() {
    let c = client();
    for (status, body, reason) in [
        (500, "<html><body>502 Bad Gateway</body></html>", "HTML"),
        (200, r#"{"result":{"items":[{"id":1},"#, "truncated"),
        (200, "", "empty"),
        (200, "[1,2]", "not a JSON object"),
        (200, r#"{"total":3}"#, "no 'result'"),
        (502, r#"{"message":"bad gateway"}"#, "without an error code"),
    ] {
        match c.decode(status, body.as_bytes()) {
            Err(e @ BitrixError::MalformedResponse { .. }) => {
                assert_eq!(e.class(), ErrorClass::RetryLater);
                assert!(e.to_string().contains(reason), "{e}");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn the_webhook_code_never_appears_in_errors_even_when_the_portal_echoes_it() {
    let c = client();
    let body = format!(r#"{{"error":"NO_AUTH_FOUND","error_description":"Wrong code {SECRET}"}}"#);
    let err = c.decode(401, body.as_bytes()).expect_err("an error");
    assert_eq!(err.class(), ErrorClass::Auth);
    for shown in [err.to_string(), format!("{err:?}"), format!("{c:?}")] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    }
}
