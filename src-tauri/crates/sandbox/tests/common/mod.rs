//! Shared helpers for the sandbox's HTTP tests (loopback only).
#![allow(dead_code)]

use kartoteka_sandbox::control::Control;
use kartoteka_sandbox::{ClockMode, LimitsPreset, Sandbox, SandboxOptions};
use serde_json::{json, Value};

pub struct Portal {
    pub sb: Sandbox,
    pub http: reqwest::Client,
    pub hook: String,
    /// The control API (`/_emu/*`), through the crate's typed client.
    pub control: Control,
}

impl Portal {
    pub async fn start(records: Option<usize>, limits: LimitsPreset) -> Portal {
        let sb = Sandbox::start(SandboxOptions {
            clock: ClockMode::Frozen,
            limits,
            records,
            ..Default::default()
        })
        .await
        .expect("sandbox starts");
        let hook = sb.admin_webhook_url();
        Portal {
            control: Control::of(&sb),
            sb,
            http: reqwest::Client::new(),
            hook,
        }
    }

    pub async fn demo() -> Portal {
        Portal::start(None, LimitsPreset::Off).await
    }

    /// POSTs JSON to a REST method through a webhook base URL.
    pub async fn call_at(&self, hook: &str, method: &str, params: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{hook}{method}.json"))
            .json(&params)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn call(&self, method: &str, params: Value) -> (u16, Value) {
        self.call_at(&self.hook.clone(), method, params).await
    }

    pub async fn ok(&self, method: &str, params: Value) -> Value {
        let (s, v) = self.call(method, params).await;
        assert_eq!(s, 200, "{method} failed: {v}");
        v
    }

    pub async fn emu(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let body = (!body.is_null()).then_some(body);
        self.control
            .request(method, path, body.as_ref())
            .await
            .expect("emu request")
    }

    pub async fn emu_post(&self, path: &str, body: Value) -> Value {
        let (s, v) = self.emu(reqwest::Method::POST, path, body).await;
        assert_eq!(s, 200, "/_emu/{path}: {v}");
        v
    }

    pub async fn emu_get(&self, path: &str) -> Value {
        let (s, v) = self.emu(reqwest::Method::GET, path, Value::Null).await;
        assert_eq!(s, 200, "/_emu/{path}: {v}");
        v
    }

    /// Empties the portal (users, lists and UFs stay) and seeds `n` deals.
    pub async fn with_deals(&self, n: usize) {
        self.emu_post("reset", json!({"dataset": "empty"})).await;
        for chunk in (0..n).collect::<Vec<_>>().chunks(2000) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|i| json!({"entityTypeId": 2, "fields": {"title": format!("Deal {i}")}}))
                .collect();
            self.emu_post("seed", json!({"items": items})).await;
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks that `actual` has every key of `fixture` with the same JSON type, recursively
/// (a `null` in the fixture accepts any type; arrays compare their first elements).
pub fn same_shape(fixture: &Value, actual: &Value, path: &str) -> Result<(), String> {
    match (fixture, actual) {
        (Value::Null, _) => Ok(()),
        (Value::Object(f), Value::Object(a)) => {
            for (k, fv) in f {
                let av = a.get(k).ok_or_else(|| format!("{path}.{k}: missing"))?;
                same_shape(fv, av, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(f), Value::Array(a)) => match (f.first(), a.first()) {
            (Some(fe), Some(ae)) => same_shape(fe, ae, &format!("{path}[0]")),
            (Some(_), None) => Err(format!("{path}: empty array, fixture has elements")),
            _ => Ok(()),
        },
        (f, a) if kind(f) == kind(a) => Ok(()),
        (f, a) => Err(format!("{path}: fixture {} but got {}", kind(f), kind(a))),
    }
}

pub fn fixture(name: &str) -> Value {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../../shared/bitrix24/fixtures/"
    );
    let text = std::fs::read_to_string(format!("{dir}{name}"))
        .unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).expect("fixture parses")
}
