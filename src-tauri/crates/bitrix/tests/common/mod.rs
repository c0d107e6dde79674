//! A sandbox portal on 127.0.0.1 and a Bitrix client pointed at it.
#![allow(dead_code)]

use kartoteka_bitrix::{Client, ClientOptions, WebhookUrl};
use kartoteka_sandbox::control::Control;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use serde_json::{json, Value};
use std::time::Duration;

pub struct Portal {
    pub sandbox: Sandbox,
    /// The sandbox's control API (the sandbox crate's typed client).
    pub control: Control,
}

/// Options that keep tests fast: no client bucket, millisecond back-off.
pub fn fast_options() -> ClientOptions {
    ClientOptions {
        rate_limit: None,
        max_retries: 3,
        request_timeout: Duration::from_secs(5),
        retry_base_delay: Duration::from_millis(5),
        retry_max_delay: Duration::from_millis(40),
        operating_limit_min_wait: Duration::from_millis(20),
        operating_limit_max_wait: Duration::from_millis(200),
        ..ClientOptions::default()
    }
}

impl Portal {
    /// The demo dataset with `records` records (or the standard ~425), frozen clock, no limits.
    pub async fn demo(records: Option<usize>) -> Portal {
        Self::start(SandboxOptions {
            clock: ClockMode::Frozen,
            limits: LimitsPreset::Off,
            records,
            ..Default::default()
        })
        .await
    }

    pub async fn start(opts: SandboxOptions) -> Portal {
        let sandbox = Sandbox::start(opts)
            .await
            .unwrap_or_else(|e| panic!("sandbox: {e}"));
        Portal {
            control: Control::of(&sandbox),
            sandbox,
        }
    }

    /// An empty portal (users and reference lists only) holding `deals` deals.
    pub async fn with_deals(deals: usize) -> Portal {
        let p = Self::demo(None).await;
        p.emu_post("reset", json!({"dataset": "empty"})).await;
        if deals > 0 {
            let items: Vec<Value> = (0..deals)
                .map(|i| json!({"entityTypeId": 2, "fields": {"title": format!("Deal {i}")}}))
                .collect();
            p.emu_post("seed", json!({"items": items})).await;
        }
        p
    }

    pub fn webhook(&self) -> WebhookUrl {
        WebhookUrl::parse(&self.sandbox.admin_webhook_url()).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn client(&self, opts: ClientOptions) -> Client {
        Client::new(self.webhook(), opts).unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn emu_post(&self, path: &str, body: Value) -> Value {
        self.control
            .post(path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn emu_get(&self, path: &str) -> Value {
        self.control
            .get(path)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Queues faults (`/_emu/faults`).
    pub async fn faults(&self, faults: Value) {
        self.control
            .add_faults(faults)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// How many times each queued fault fired, in the order they were queued: proof that the
    /// fault a test injected really happened.
    pub async fn fired(&self) -> Vec<u64> {
        self.control.fired().await.unwrap_or_else(|e| panic!("{e}"))
    }

    /// `(REST method, HTTP status)` of every logged request, oldest first.
    pub async fn requests(&self) -> Vec<(String, u64)> {
        self.control
            .requests(0)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .map(|r| (r.method, u64::from(r.status)))
            .collect()
    }
}
