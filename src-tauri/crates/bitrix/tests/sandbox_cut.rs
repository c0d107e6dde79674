//! A slow portal whose front cuts long requests (the cloud ends a request after 60 s with a 504
//! page): the sandbox's default cut-off with simulated call times, over real HTTP. A batch that
//! was cut is sent again with fewer commands, and the client keeps the smaller size.

mod common;

use chrono::{DateTime, FixedOffset};
use common::{fast_options, Portal};
use kartoteka_domain::EntityType;
use serde_json::json;

const DEALS: usize = 3_000;

/// 2 s a page: 50 chained pages would take 100 s, 25 take 50 s.
async fn slow_portal() -> Portal {
    let p = Portal::with_deals(DEALS).await;
    p.emu_post("config", json!({"callSeconds": {"crm.item.list": 2}}))
        .await;
    p
}

fn assert_every_deal_once(ids: &[i64]) {
    assert_eq!(ids.len(), DEALS, "every deal arrives");
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids ascend without repeats"
    );
}

#[tokio::test]
async fn a_full_pull_of_a_portal_too_slow_for_50_pages_a_request_shrinks_the_batch_and_completes() {
    let p = slow_portal().await;
    let client = p.client(fast_options());
    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let chunk = client
            .pull_items_batch(EntityType::Deal, after)
            .await
            .unwrap_or_else(|e| {
                panic!("a cut batch must be sent again smaller, not given up: {e}")
            });
        ids.extend(chunk.records.iter().map(|r| r.key.id));
        match chunk.last_id {
            Some(last) if !chunk.exhausted => after = last,
            _ => break,
        }
    }
    assert_every_deal_once(&ids);
    let statuses: Vec<u64> = p.requests().await.into_iter().map(|r| r.1).collect();
    let cut = statuses.iter().filter(|s| **s == 504).count();
    println!(
        "full pull of {DEALS} deals: {} requests, {cut} cut, batch size now {}",
        client.requests_made(),
        client.batch_size()
    );
    assert_eq!(cut, 1, "one cut teaches the client; later batches fit");
    assert!(
        client.batch_size() <= 29,
        "the smaller size is kept: 30 pages would reach the cut-off again"
    );
    // ⌈3,000 / (25 × 50)⌉ = 3 requests after the cut one.
    assert_eq!(client.requests_made(), 4);
}

#[tokio::test]
async fn id_scan_and_incremental_pull_of_a_slow_portal_complete_in_smaller_batches() {
    let p = slow_portal().await;
    let client = p.client(fast_options());

    let mut ids = Vec::new();
    let mut after = 0;
    loop {
        let (page, exhausted) = client
            .list_ids_batch(EntityType::Deal, after)
            .await
            .unwrap_or_else(|e| panic!("the id scan (reconcile) must finish: {e}"));
        ids.extend(&page);
        match page.last() {
            Some(last) if !exhausted => after = *last,
            _ => break,
        }
    }
    assert_every_deal_once(&ids);
    let for_ids = client.requests_made();

    let since: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2000-01-01T00:00:00+03:00").unwrap_or_else(|e| panic!("{e}"));
    let mut updated = Vec::new();
    let mut cursor = None;
    loop {
        let chunk = client
            .pull_updated_batch(EntityType::Deal, since, cursor)
            .await
            .unwrap_or_else(|e| panic!("the incremental pull must finish: {e}"));
        updated.extend(chunk.records.iter().map(|r| r.key.id));
        if chunk.exhausted || chunk.cursor.is_none() {
            break;
        }
        cursor = chunk.cursor;
    }
    updated.sort_unstable();
    assert_every_deal_once(&updated);
    let cut = p
        .requests()
        .await
        .into_iter()
        .filter(|r| r.1 == 504)
        .count();
    println!(
        "id scan: {for_ids} requests; incremental pull: {} more; {cut} cut in all; batch size now {}",
        client.requests_made() - for_ids,
        client.batch_size()
    );
    assert_eq!(
        cut, 1,
        "the incremental pull starts at the size the id scan learned"
    );
}
