//! The request log (`GET /_emu/requests`), with secrets redacted.

use crate::engine::{Reply, RestRequest};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct LogEntry {
    pub seq: u64,
    pub time: String,
    pub credential: Option<String>,
    pub user: Option<i64>,
    pub http_method: String,
    pub path: String,
    pub method: String,
    pub params: Value,
    pub status: u16,
    pub error: Option<Value>,
    pub bucket: Option<f64>,
    pub commands: Vec<Value>,
}

/// `abcd***` — enough to tell credentials apart, never the whole secret.
pub fn redact(secret: &str) -> String {
    let head: String = secret.chars().take(4).collect();
    format!("{head}***")
}

fn redact_params(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let lk = k.to_ascii_lowercase();
                    if lk == "auth"
                        || lk.contains("token")
                        || lk.contains("secret")
                        || lk == "password"
                    {
                        (k.clone(), json!("***"))
                    } else {
                        (k.clone(), redact_params(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact_params).collect()),
        other => other.clone(),
    }
}

impl LogEntry {
    pub fn new(req: &RestRequest, now_ms: i64, offset: i32) -> LogEntry {
        let (credential, path) = match &req.webhook {
            Some((user, code)) => (
                Some(redact(code)),
                req.path.replace(
                    &format!("/{user}/{code}/"),
                    &format!("/{user}/{}/", redact(code)),
                ),
            ),
            None => (
                crate::api::param_str(&req.params, "auth").map(|a| redact(&a)),
                req.path.clone(),
            ),
        };
        LogEntry {
            seq: 0,
            time: crate::clock::fmt_datetime(now_ms.div_euclid(1000), offset),
            credential,
            user: None,
            http_method: req.http_method.clone(),
            path,
            method: req.method.clone(),
            params: redact_params(&req.params),
            status: 0,
            error: None,
            bucket: None,
            commands: Vec::new(),
        }
    }

    pub fn finish(&mut self, reply: &Reply) {
        self.status = reply.status;
        if reply.status >= 300 {
            self.error = serde_json::from_str::<Value>(&reply.body)
                .ok()
                .and_then(|v| v.get("error").cloned())
                .or(Some(json!(if reply.html { "HTML" } else { "" })));
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq, "time": self.time, "credential": self.credential, "user": self.user,
            "httpMethod": self.http_method, "path": self.path, "method": self.method,
            "params": self.params, "status": self.status, "error": self.error,
            "bucket": self.bucket, "commands": self.commands,
        })
    }
}

#[derive(Debug, Default)]
pub struct RequestLog {
    pub entries: Vec<LogEntry>,
    pub next_seq: u64,
}

impl RequestLog {
    pub fn push(&mut self, mut e: LogEntry) {
        self.next_seq += 1;
        e.seq = self.next_seq;
        self.entries.push(e);
        if self.entries.len() > 100_000 {
            self.entries.drain(..50_000);
        }
    }

    pub fn since(&self, seq: u64) -> Vec<Value> {
        self.entries
            .iter()
            .filter(|e| e.seq > seq)
            .map(LogEntry::to_json)
            .collect()
    }
}
