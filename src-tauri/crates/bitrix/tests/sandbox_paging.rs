//! Paging against the sandbox over real HTTP: the chained key-set batch (CONTRACT §3, §4),
//! incremental pulls, id reconciliation and the typed reference helpers.

mod common;

use chrono::Duration as ChronoDuration;
use common::{fast_options, Portal};
use kartoteka_bitrix::{BatchCommand, ErrorClass};
use kartoteka_domain::EntityType;
use rstest::rstest;
use serde_json::json;

#[rstest]
#[case::empty(0)]
#[case::one(1)]
#[case::exactly_one_page(50)]
#[case::one_past_a_page(51)]
#[case::several_pages(120)]
#[tokio::test]
async fn one_batch_pulls_every_deal_in_id_order_and_reports_the_end(#[case] n: usize) {
    let portal = Portal::with_deals(n).await;
    let client = portal.client(fast_options());
    let chunk = client
        .pull_items_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chunk.records.len(), n, "every deal arrives exactly once");
    let ids: Vec<i64> = chunk.records.iter().map(|r| r.key.id).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids ascend without repeats: {ids:?}"
    );
    assert!(chunk.exhausted, "a short page ends the scan");
    assert_eq!(chunk.last_id, ids.last().copied());
    assert_eq!(
        client.requests_made(),
        1,
        "the whole scan is one batch request"
    );
    if n > 0 {
        assert!(
            chunk.records[0].updated_time.is_some(),
            "updatedTime is parsed"
        );
        assert_eq!(chunk.records[0].text("title"), Some("Deal 0"));
    }
}

#[tokio::test]
async fn a_scan_longer_than_one_batch_continues_from_the_last_id() {
    let portal = Portal::with_deals(2_560).await;
    let client = portal.client(fast_options());
    let first = client
        .pull_items_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        first.records.len(),
        2_500,
        "fifty full pages fit in one batch"
    );
    assert!(
        !first.exhausted,
        "a batch of full pages does not prove the end"
    );
    let after = first.last_id.unwrap_or_else(|| panic!("a last id"));
    let second = client
        .pull_items_batch(EntityType::Deal, after)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.records.len(), 60);
    assert!(second.exhausted);
    assert!(second.records[0].key.id > after);
    assert_eq!(client.requests_made(), 2);

    let (ids, done) = client
        .list_ids_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (ids.len(), done),
        (2_500, false),
        "id reconciliation pages the same way"
    );
    let first_ids: Vec<i64> = first.records.iter().map(|r| r.key.id).collect();
    assert_eq!(ids, first_ids);
}

#[tokio::test]
async fn incremental_pull_breaks_ties_on_updated_time_by_id_and_resumes_from_the_cursor() {
    // The clock is frozen, so all 120 deals share one updatedTime: only the id tie-break pages them.
    let portal = Portal::with_deals(120).await;
    let client = portal.client(fast_options());
    let all = client
        .pull_items_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stamp = all.records[0]
        .updated_time
        .unwrap_or_else(|| panic!("updatedTime"));
    let since = stamp - ChronoDuration::minutes(5);

    let chunk = client
        .pull_updated_batch(EntityType::Deal, since, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chunk.records.len(), 120);
    assert!(chunk.exhausted);
    assert_eq!(chunk.cursor, Some((stamp, all.records[119].key.id)));

    let cursor = (stamp, all.records[59].key.id);
    let rest = client
        .pull_updated_batch(EntityType::Deal, since, Some(cursor))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let want: Vec<i64> = all.records[60..].iter().map(|r| r.key.id).collect();
    assert_eq!(
        rest.records.iter().map(|r| r.key.id).collect::<Vec<_>>(),
        want,
        "resumes right after the cursor"
    );

    let later = stamp + ChronoDuration::seconds(1);
    let none = client
        .pull_updated_batch(EntityType::Deal, later, None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(none.records.is_empty() && none.exhausted && none.cursor.is_none());
}

#[tokio::test]
async fn demo_portal_reference_data_and_items_read_through_the_typed_helpers() {
    let portal = Portal::demo(None).await;
    let client = portal.client(fast_options());

    let me = client.profile().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(me.id, 1);
    assert!(me.admin);

    let leads = client
        .count(EntityType::Lead)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pulled = 0;
    let mut after = 0;
    loop {
        let c = client
            .pull_items_batch(EntityType::Lead, after)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        pulled += c.records.len() as u64;
        after = c.last_id.unwrap_or(after);
        if c.exhausted {
            break;
        }
    }
    assert_eq!(pulled, leads, "count agrees with a full scan");
    assert!(leads > 50, "the demo crosses a page boundary");

    let contacts = client
        .list_items_after(EntityType::Contact, 0, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(contacts.len(), 50);
    assert!(
        contacts.iter().any(|c| !c.multi_fields.is_empty()),
        "select * brings fm"
    );
    let one = client
        .get_item(EntityType::Contact, contacts[0].key.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(one.multi_fields, contacts[0].multi_fields);
    let ids_only = client
        .list_items_after(EntityType::Contact, 0, &["id"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(ids_only.iter().all(|r| r.multi_fields.is_empty()));

    let missing = client
        .get_item(EntityType::Deal, 9_999_999)
        .await
        .expect_err("no such deal");
    assert!(
        missing.is_not_found() && missing.class() == ErrorClass::Permanent,
        "{missing:?}"
    );

    let fields = client
        .item_fields(EntityType::Deal)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(fields.iter().any(|f| f.name == "stageId"));
    assert!(
        fields
            .iter()
            .any(|f| f.is_custom && f.name.starts_with("UF_CRM_")),
        "original UF names"
    );

    let users = client.users().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(users.iter().any(|u| u.id == 1));
    let stages = client.statuses().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(stages
        .iter()
        .any(|s| s.list_id == "STATUS" && s.status_id == "NEW"));
    assert!(stages.iter().any(|s| s.list_id == "DEAL_STAGE_1"));
    let pipelines = client
        .categories(EntityType::Deal)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pipelines.iter().any(|c| c.id == 0 && c.is_default));
    assert!(client.categories(EntityType::Lead).await.is_ok());

    let deals = client
        .list_items_after(EntityType::Deal, 0, &["id", "contactIds"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let linked = deals
        .iter()
        .find(|d| {
            d.field("contactIds")
                .and_then(|v| v.as_array())
                .is_some_and(|a| !a.is_empty())
        })
        .unwrap_or_else(|| panic!("a deal with contacts"));
    let links = client
        .deal_contacts(linked.key.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        links.iter().filter(|l| l.is_primary).count(),
        1,
        "exactly one primary contact"
    );
}

#[tokio::test]
async fn a_phone_with_a_plus_written_through_a_batch_command_reads_back_unchanged() {
    let portal = Portal::with_deals(0).await;
    let client = portal.client(fast_options());
    let add = BatchCommand::new(
        "add",
        "crm.item.add",
        json!({"entityTypeId": 3, "fields": {"name": "Ivan & Co = 100% #1",
            "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+79161234567"}]}}),
    );
    let out = client
        .batch_write(&[add], true)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let id = out.results["add"]["item"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("new id"));
    let contact = client
        .get_item(EntityType::Contact, id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        contact.multi_fields[0].value, "+79161234567",
        "'+' was not decoded as a space"
    );
    assert_eq!(
        contact.text("name"),
        Some("Ivan & Co = 100% #1"),
        "reserved characters survive"
    );
}

#[tokio::test]
async fn routine_incremental_poll_is_one_single_command_request() {
    let portal = Portal::with_deals(3).await;
    let client = portal.client(fast_options());
    let all = client
        .pull_items_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stamp = all.records[0]
        .updated_time
        .unwrap_or_else(|| panic!("updatedTime"));
    let before = client.requests_made();
    let log_before = portal.requests().await.len();
    let chunk = client
        .pull_updated_batch(EntityType::Deal, stamp - ChronoDuration::minutes(5), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chunk.records.len(), 3);
    assert!(chunk.exhausted);
    assert_eq!(client.requests_made() - before, 1);
    let log = portal.requests().await;
    assert_eq!(
        log[log_before..].to_vec(),
        vec![("crm.item.list".to_string(), 200)],
        "a short first page is one plain list call, no 50-command chain"
    );
}

#[tokio::test]
async fn big_incremental_pull_probes_once_then_chains_2500_rows_per_request() {
    const N: usize = 5_100;
    let portal = Portal::with_deals(N).await;
    let client = portal.client(fast_options());
    let since = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00+03:00")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut ids: Vec<i64> = Vec::new();
    let mut after = None;
    loop {
        let chunk = client
            .pull_updated_batch(EntityType::Deal, since, after)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ids.extend(chunk.records.iter().map(|r| r.key.id));
        if chunk.exhausted {
            break;
        }
        after = chunk.cursor;
        assert!(
            after.is_some(),
            "a chunk that is not the end moves the cursor"
        );
    }
    assert_eq!(ids.len(), N, "every deal exactly once");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "one updatedTime: id order"
    );
    let bound = N.div_ceil(2500) as u64 + 1;
    assert!(
        client.requests_made() <= bound,
        "{} requests for {N} rows (bound ⌈N/2500⌉ + 1 probe = {bound})",
        client.requests_made()
    );
    let methods: Vec<String> = portal.requests().await.into_iter().map(|r| r.0).collect();
    assert_eq!(methods.first().map(String::as_str), Some("crm.item.list"));
    assert!(methods[1..].iter().all(|m| m == "batch"), "{methods:?}");
}
