//! A typed client of the sandbox's test-control API (`/_emu/*`, CONTRACT §9.2): reset and seed,
//! the clock, config, fault injection and its report, "act as another user", the request log.
//! The one client the sync stories, the REST client's tests, the sandbox's own tests and the bench
//! use, so the control API is spoken in one place. It talks over real HTTP (loopback).

use crate::Sandbox;
use serde::Deserialize;
use serde_json::{json, Value};

pub use reqwest::Method;

/// A control call that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The sandbox did not answer (not running, connection refused, body not JSON).
    #[error("the sandbox's control API did not answer /_emu/{path}: {message}")]
    Unreachable { path: String, message: String },
    /// The sandbox refused the call (unknown path, bad body).
    #[error("/_emu/{path} answered {status}: {body}")]
    Refused {
        path: String,
        status: u16,
        body: Value,
    },
}

/// How often one queued fault matched and fired (`GET /_emu/faults`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FaultCount {
    pub method: Option<String>,
    pub action: String,
    pub seen: u64,
    pub fired: u64,
}

/// One logged REST request (`GET /_emu/requests`); the credential is redacted by the sandbox.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub status: u16,
    pub user: Option<i64>,
    pub credential: Option<String>,
    pub error: Option<Value>,
    #[serde(default)]
    pub params: Value,
}

/// The control API of one sandbox.
#[derive(Debug, Clone)]
pub struct Control {
    base: String,
    http: reqwest::Client,
}

impl Control {
    /// The control API of a sandbox at `base_url` (`http://127.0.0.1:PORT`).
    pub fn new(base_url: &str) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Control {
            base: base_url.trim_end_matches('/').to_string(),
            http,
        }
    }

    /// The control API of a sandbox started in this process.
    pub fn of(sandbox: &Sandbox) -> Self {
        Self::new(&sandbox.base_url())
    }

    /// Any control call, with its HTTP status and JSON answer (`Null` when the body is not
    /// JSON), whatever the status: for tests of the control API's own refusals.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ControlError> {
        let mut r = self
            .http
            .request(method, format!("{}/_emu/{path}", self.base));
        if let Some(body) = body {
            r = r.json(body);
        }
        let answer = r.send().await.map_err(|e| ControlError::Unreachable {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let status = answer.status().as_u16();
        Ok((status, answer.json().await.unwrap_or(Value::Null)))
    }

    async fn ok(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ControlError> {
        let (status, body) = self.request(method, path, body).await?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ControlError::Refused {
                path: path.to_string(),
                status,
                body,
            })
        }
    }

    pub async fn get(&self, path: &str) -> Result<Value, ControlError> {
        self.ok(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value, ControlError> {
        self.ok(Method::POST, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value, ControlError> {
        self.ok(Method::DELETE, path, None).await
    }

    /// Resets the portal to a data set (`demo` or `empty`), with a seed when given.
    pub async fn reset(&self, dataset: &str, seed: Option<u64>) -> Result<Value, ControlError> {
        let mut body = json!({"dataset": dataset});
        if let Some(seed) = seed {
            body["seed"] = json!(seed);
        }
        self.post("reset", body).await
    }

    /// Adds items (`{"entityTypeId": 2, "fields": {…}}` each) directly to the portal.
    pub async fn seed_items(&self, items: Vec<Value>) -> Result<Value, ControlError> {
        self.post("seed", json!({"items": items})).await
    }

    /// Moves the portal's clock forward.
    pub async fn advance_clock(&self, seconds: i64) -> Result<Value, ControlError> {
        self.post("clock", json!({"advanceSeconds": seconds})).await
    }

    /// Changes the portal's configuration (rate limit, ordering quirks, …).
    pub async fn configure(&self, patch: Value) -> Result<Value, ControlError> {
        self.post("config", patch).await
    }

    /// Queues one fault or an array of faults; returns how many were added.
    pub async fn add_faults(&self, faults: Value) -> Result<u64, ControlError> {
        let added = self.post("faults", faults).await?;
        Ok(added["added"].as_u64().unwrap_or(0))
    }

    /// Every queued fault with its counters, in the order they were added.
    pub async fn faults(&self) -> Result<Vec<FaultCount>, ControlError> {
        let report = self.get("faults").await?;
        serde_json::from_value(report["faults"].clone()).map_err(|e| ControlError::Unreachable {
            path: "faults".into(),
            message: format!("unexpected report: {e}"),
        })
    }

    /// How many times each queued fault fired: proof that an injected fault happened.
    pub async fn fired(&self) -> Result<Vec<u64>, ControlError> {
        Ok(self.faults().await?.iter().map(|f| f.fired).collect())
    }

    pub async fn clear_faults(&self) -> Result<Value, ControlError> {
        self.delete("faults").await
    }

    /// Runs a REST method as another user (not logged, no faults, no limits).
    pub async fn act(
        &self,
        user_id: i64,
        method: &str,
        params: Value,
    ) -> Result<Value, ControlError> {
        self.post(
            "act",
            json!({"userId": user_id, "method": method, "params": params}),
        )
        .await
    }

    /// The request log after `since` (0: all that is kept), oldest first.
    pub async fn requests(&self, since: u64) -> Result<Vec<LoggedRequest>, ControlError> {
        let log = self.get(&format!("requests?since={since}")).await?;
        serde_json::from_value(log["requests"].clone()).map_err(|e| ControlError::Unreachable {
            path: "requests".into(),
            message: format!("unexpected log: {e}"),
        })
    }

    pub async fn clear_requests(&self) -> Result<Value, ControlError> {
        self.delete("requests").await
    }
}
