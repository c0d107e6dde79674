//! Failure handling against the sandbox's fault injection and limits (CONTRACT §5, §9.2):
//! what is retried, how often, and what reaches the caller. Counts come from the client's
//! `requests_made` and the sandbox's request log, never from timings.

mod common;

use common::{fast_options, Portal};
use kartoteka_bitrix::{BitrixError, ClientOptions, ErrorClass, RateLimit, WebhookUrl};
use kartoteka_domain::EntityType;
use kartoteka_sandbox::{ClockMode, LimitsPreset, SandboxOptions};
use serde_json::json;
use std::time::Duration;

fn statuses(log: &[(String, u64)], method: &str) -> Vec<u64> {
    log.iter()
        .filter(|(m, _)| m == method)
        .map(|(_, s)| *s)
        .collect()
}

#[tokio::test]
async fn rate_limit_refusals_are_retried_until_the_call_succeeds() {
    let portal = Portal::with_deals(3).await;
    portal
        .faults(json!([{"match": {"method": "profile", "times": 2},
            "action": {"type": "error", "status": 503, "error": "QUERY_LIMIT_EXCEEDED", "description": "Too many requests"}}]))
        .await;
    let client = portal.client(fast_options());
    let me = client.profile().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(me.id, 1);
    assert_eq!(client.requests_made(), 3, "two refusals, then success");
    assert_eq!(portal.fired().await, [2]);
    assert_eq!(
        statuses(&portal.requests().await, "profile"),
        vec![503, 503, 200]
    );
}

#[tokio::test]
async fn html_error_pages_truncated_bodies_and_dropped_connections_are_retried_for_reads() {
    let portal = Portal::with_deals(60).await;
    portal
        .faults(json!([
            {"match": {"method": "batch", "nth": 1}, "action": {"type": "html", "status": 502}},
            {"match": {"method": "batch", "nth": 1}, "action": {"type": "truncate"}},
            {"match": {"method": "batch", "nth": 1}, "action": {"type": "drop"}}
        ]))
        .await;
    let client = portal.client(fast_options());
    let chunk = client
        .pull_items_batch(EntityType::Deal, 0)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        chunk.records.len(),
        60,
        "the fourth attempt gets the whole answer"
    );
    assert_eq!(client.requests_made(), 4);
    assert_eq!(portal.fired().await, [1, 1, 1], "HTML, truncated, dropped");
}

#[tokio::test]
async fn a_slow_answer_times_out_and_the_read_is_repeated() {
    let portal = Portal::with_deals(1).await;
    portal
        .faults(
            json!([{"match": {"method": "crm.item.get"}, "action": {"type": "delay", "ms": 3000}}]),
        )
        .await;
    let client = portal.client(ClientOptions {
        request_timeout: Duration::from_millis(500),
        ..fast_options()
    });
    let deal = client
        .get_item(EntityType::Deal, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(deal.key.id, 1);
    assert_eq!(client.requests_made(), 2, "one timeout, one success");
    assert_eq!(portal.fired().await, [1]);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_max_retries_as_retry_later() {
    let portal = Portal::with_deals(1).await;
    portal
        .faults(json!([{"match": {"method": "crm.item.get", "repeat": true}, "action": {"type": "html", "status": 500}}]))
        .await;
    let client = portal.client(fast_options());
    let err = client
        .get_item(EntityType::Deal, 1)
        .await
        .expect_err("never succeeds");
    assert!(
        matches!(
            err,
            BitrixError::MalformedResponse {
                http_status: 500,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), ErrorClass::RetryLater);
    assert_eq!(
        client.requests_made(),
        4,
        "the first attempt and three retries"
    );
    assert_eq!(portal.fired().await, [4], "every attempt met the 500 page");
}

#[tokio::test]
async fn a_write_is_not_repeated_after_an_ambiguous_failure_but_is_after_a_refusal() {
    let portal = Portal::with_deals(0).await;
    portal
        .faults(json!([{"match": {"method": "crm.item.add", "nth": 1}, "action": {"type": "commitThenFail", "status": 500}}]))
        .await;
    let client = portal.client(fast_options());
    let add = json!({"entityTypeId": 2, "fields": {"title": "Once"}});
    let err = client
        .call_write("crm.item.add", add.clone())
        .await
        .expect_err("reported as failed");
    assert_eq!(err.class(), ErrorClass::RetryLater);
    assert_eq!(
        client.requests_made(),
        1,
        "an applied-then-failed write is not re-sent"
    );
    assert_eq!(portal.fired().await, [1]);
    assert_eq!(
        client
            .count(EntityType::Deal)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        1,
        "no duplicate"
    );

    portal
        .faults(json!([{"match": {"method": "crm.item.add", "nth": 1},
            "action": {"type": "error", "status": 503, "error": "QUERY_LIMIT_EXCEEDED"}}]))
        .await;
    let before = client.requests_made();
    client
        .call_write("crm.item.add", add)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        client.requests_made() - before,
        2,
        "a refused write never ran, so it is re-sent"
    );
    assert_eq!(portal.fired().await, [1, 1]);
}

#[tokio::test]
async fn operation_time_limit_waits_and_retries_and_overload_stops_at_once() {
    let portal = Portal::with_deals(1).await;
    portal
        .faults(json!([{"match": {"method": "crm.item.get", "nth": 1},
            "action": {"type": "error", "status": 429, "error": "OPERATION_TIME_LIMIT", "description": "Method is blocked due to operation time limit."}}]))
        .await;
    let client = portal.client(fast_options());
    client
        .get_item(EntityType::Deal, 1)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(client.requests_made(), 2);
    assert_eq!(portal.fired().await, [1]);

    portal.faults(json!([{"match": {"method": "crm.item.get", "nth": 1}, "action": {"type": "overload"}}])).await;
    let err = client
        .get_item(EntityType::Deal, 1)
        .await
        .expect_err("overload");
    assert_eq!(err.api_code(), Some("OVERLOAD_LIMIT"));
    assert_eq!(client.requests_made(), 3, "a support block is not retried");
    assert_eq!(portal.fired().await, [1, 1]);
}

#[tokio::test]
async fn a_wrong_webhook_code_is_an_auth_error_sent_once_and_never_shown() {
    let portal = Portal::with_deals(0).await;
    let good = portal.sandbox.admin_webhook_url();
    let secret = "wrongcode9876543";
    let bad = format!("{}/rest/1/{secret}/", portal.sandbox.base_url());
    assert_ne!(good, bad);
    let client = kartoteka_bitrix::Client::new(
        WebhookUrl::parse(&bad).unwrap_or_else(|e| panic!("{e}")),
        fast_options(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let err = client.profile().await.expect_err("unknown code");
    assert_eq!(err.class(), ErrorClass::Auth, "{err:?}");
    assert_eq!(client.requests_made(), 1, "auth errors are not retried");
    for shown in [err.to_string(), format!("{err:?}"), format!("{client:?}")] {
        assert!(!shown.contains(secret), "secret leaked: {shown}");
    }
}

#[tokio::test]
async fn a_redirect_is_reported_with_the_new_host_and_not_followed() {
    let portal = Portal::with_deals(0).await;
    portal
        .faults(json!([{"match": {"method": "profile"}, "action": {"type": "redirect", "location": "https://new-portal.example/rest/1/x/profile"}}]))
        .await;
    let client = portal.client(fast_options());
    let err = client.profile().await.expect_err("moved");
    assert_eq!(
        err,
        BitrixError::Redirected {
            new_host: "new-portal.example".into()
        }
    );
    assert_eq!(client.requests_made(), 1);
    assert_eq!(portal.fired().await, [1]);
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error_retried_then_reported() {
    let portal = Portal::with_deals(0).await;
    let url = portal.webhook();
    portal.sandbox.shutdown().await;
    let client =
        kartoteka_bitrix::Client::new(url, fast_options()).unwrap_or_else(|e| panic!("{e}"));
    let err = client.profile().await.expect_err("nobody listens");
    assert!(
        matches!(err, BitrixError::Network { not_sent: true, .. }),
        "{err:?}"
    );
    assert_eq!(client.requests_made(), 4);
}

/// The portal's bucket: 3 requests, then 10 per second, on a running clock.
async fn tight_portal() -> Portal {
    let portal = Portal::start(SandboxOptions {
        clock: ClockMode::Real,
        limits: LimitsPreset::Standard,
        ..Default::default()
    })
    .await;
    portal
        .emu_post(
            "config",
            json!({"rateLimit": {"enabled": true, "capacity": 3, "drainPerSecond": 10}}),
        )
        .await;
    portal
}

#[tokio::test]
async fn the_client_side_bucket_keeps_a_burst_under_the_portal_limit() {
    let portal = tight_portal().await;
    let opts = ClientOptions {
        // Stricter than the portal by a whole request and 30 %, to absorb loopback jitter.
        rate_limit: Some(RateLimit {
            capacity: 2.0,
            drain_per_second: 7.0,
        }),
        ..fast_options()
    };
    let client = portal.client(opts);
    for _ in 0..20 {
        client
            .call("server.time", json!({}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let log = statuses(&portal.requests().await, "server.time");
    assert_eq!(log.len(), 20, "no request needed a retry");
    assert!(
        log.iter().all(|s| *s == 200),
        "the portal never refused: {log:?}"
    );
}

#[tokio::test]
async fn without_the_client_bucket_a_storm_meets_refusals_and_backs_off_to_success() {
    let portal = tight_portal().await;
    let opts = ClientOptions {
        max_retries: 20,
        retry_base_delay: Duration::from_millis(20),
        ..fast_options()
    };
    let client = portal.client(opts);
    for _ in 0..20 {
        client
            .call("server.time", json!({}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let log = statuses(&portal.requests().await, "server.time");
    let refused = log.iter().filter(|s| **s == 503).count();
    assert!(refused > 0, "the burst exceeded the portal's bucket");
    assert_eq!(
        log.iter().filter(|s| **s == 200).count(),
        20,
        "every call got through in the end"
    );
    assert_eq!(client.requests_made() as usize, log.len());
}
