//! Fault injection (`/_emu/faults`): one-shot or repeating faults matched by method, batch
//! command key, credential, nth matching call or a seeded probability. `GET /_emu/faults` reports
//! each fault with how many calls it matched (`seen`) and how many times it fired (`fired`), so a
//! test can prove that the fault it injected really happened.

use crate::api::ApiError;
use crate::engine::{html_page, Reply};
use crate::state::Portal;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub enum Action {
    Error {
        status: u16,
        error: Value,
        description: String,
    },
    Html(u16),
    Delay(u64),
    Drop,
    Truncate,
    CommitThenFail(u16),
    Redirect(String),
    Overload,
}

impl Action {
    /// The `action.type` this action was parsed from (for the report).
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Error { .. } => "error",
            Action::Html(_) => "html",
            Action::Delay(_) => "delay",
            Action::Drop => "drop",
            Action::Truncate => "truncate",
            Action::CommitThenFail(_) => "commitThenFail",
            Action::Redirect(_) => "redirect",
            Action::Overload => "overload",
        }
    }

    pub fn parse(v: &Value) -> Result<Action, String> {
        let ty = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or("action.type is required")?;
        let status = |d: u16| {
            v.get("status")
                .and_then(Value::as_u64)
                .map(|s| s as u16)
                .unwrap_or(d)
        };
        Ok(match ty {
            "error" => Action::Error {
                status: status(500),
                error: v
                    .get("error")
                    .cloned()
                    .unwrap_or(json!("INTERNAL_SERVER_ERROR")),
                description: v
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            },
            "html" => Action::Html(status(500)),
            "delay" | "timeout" => {
                Action::Delay(v.get("ms").and_then(Value::as_u64).unwrap_or(70_000))
            }
            "drop" => Action::Drop,
            "truncate" => Action::Truncate,
            "commitThenFail" => Action::CommitThenFail(status(500)),
            "redirect" => Action::Redirect(
                v.get("location")
                    .and_then(Value::as_str)
                    .unwrap_or("/")
                    .to_string(),
            ),
            "overload" => Action::Overload,
            "expiredToken" => Action::Error {
                status: 401,
                error: json!("expired_token"),
                description: "The access token provided has expired.".into(),
            },
            "invalidToken" | "revokedToken" => Action::Error {
                status: 401,
                error: json!("invalid_token"),
                description: "The access token provided is invalid.".into(),
            },
            other => return Err(format!("unknown fault type {other}")),
        })
    }

    pub fn api_error(&self) -> ApiError {
        match self {
            Action::Error {
                status,
                error,
                description,
            } => ApiError {
                status: *status,
                code: error.clone(),
                desc: description.clone(),
            },
            Action::Overload => ApiError::new(
                503,
                "OVERLOAD_LIMIT",
                "REST API is blocked due to overload.",
            ),
            Action::Html(s) | Action::CommitThenFail(s) => {
                ApiError::new(*s, "INTERNAL_SERVER_ERROR", "Internal server error")
            }
            _ => ApiError::new(500, "INTERNAL_SERVER_ERROR", "Internal server error"),
        }
    }

    /// The reply for actions that replace the answer entirely.
    pub fn reply(&self) -> Reply {
        match self {
            Action::Html(s) => Reply {
                status: *s,
                body: html_page(*s),
                html: true,
                ..Default::default()
            },
            Action::Redirect(loc) => Reply {
                status: 302,
                body: String::new(),
                location: Some(loc.clone()),
                ..Default::default()
            },
            other => Reply::error(&other.api_error()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Option<String>,
    pub command: Option<String>,
    pub credential: Option<String>,
    pub nth: u64,
    pub times: Option<u64>,
    pub probability: Option<f64>,
    pub action: Action,
    pub seen: u64,
    pub fired: u64,
}

#[derive(Debug)]
pub struct Faults {
    pub list: Vec<Fault>,
    rng: ChaCha8Rng,
}

impl Faults {
    pub fn new(seed: u64) -> Faults {
        Faults {
            list: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed ^ 0xFA17),
        }
    }

    pub fn add(&mut self, v: &Value) -> Result<usize, String> {
        let items: Vec<&Value> = match v {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for it in &items {
            let m = it.get("match").cloned().unwrap_or(json!({}));
            let s = |k: &str| {
                m.get(k)
                    .and_then(Value::as_str)
                    .map(|s| s.to_ascii_lowercase())
            };
            let repeat = m.get("repeat").and_then(Value::as_bool).unwrap_or(false)
                || it.get("repeat").and_then(Value::as_bool).unwrap_or(false);
            let times = m
                .get("times")
                .or_else(|| it.get("times"))
                .and_then(Value::as_u64);
            self.list.push(Fault {
                method: s("method"),
                command: m
                    .get("command")
                    .or_else(|| m.get("batchCommand"))
                    .and_then(Value::as_str)
                    .map(String::from),
                credential: m
                    .get("credential")
                    .and_then(Value::as_str)
                    .map(String::from),
                nth: m.get("nth").and_then(Value::as_u64).unwrap_or(1).max(1),
                times: if repeat {
                    None
                } else {
                    Some(times.unwrap_or(1))
                },
                probability: m.get("probability").and_then(Value::as_f64),
                action: Action::parse(it.get("action").unwrap_or(&Value::Null))?,
                seen: 0,
                fired: 0,
            });
        }
        Ok(items.len())
    }

    pub fn clear(&mut self) {
        self.list.clear();
    }

    /// `GET /_emu/faults`: every queued fault, in the order added, with its counters. Faults that
    /// are used up stay listed (until `DELETE /_emu/faults`), so their `fired` can be checked.
    pub fn to_json(&self) -> Value {
        let faults: Vec<Value> = self
            .list
            .iter()
            .map(|f| {
                json!({
                    "method": f.method, "command": f.command, "nth": f.nth, "times": f.times,
                    "probability": f.probability, "action": f.action.kind(),
                    "seen": f.seen, "fired": f.fired,
                })
            })
            .collect();
        json!({
            "count": self.list.len(),
            "fired": self.list.iter().map(|f| f.fired).sum::<u64>(),
            "faults": faults,
        })
    }

    /// Finds the fault for a call (a request when `command` is None, else one batch command).
    pub fn take(
        &mut self,
        method: &str,
        command: Option<&str>,
        credential: Option<&str>,
        _p: &mut Portal,
    ) -> Option<Action> {
        let rng = &mut self.rng;
        for f in self.list.iter_mut() {
            if f.method.as_deref().is_some_and(|m| m != method) {
                continue;
            }
            if f.command.is_some() && f.command.as_deref() != command {
                continue;
            }
            if f.credential.is_some() && f.credential.as_deref() != credential {
                continue;
            }
            if f.times.is_some_and(|t| f.fired >= t) {
                continue;
            }
            f.seen += 1;
            if f.seen < f.nth {
                continue;
            }
            if let Some(p) = f.probability {
                if !rng.random_bool(p.clamp(0.0, 1.0)) {
                    continue;
                }
            }
            f.fired += 1;
            return Some(f.action.clone());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired(faults: &Faults) -> Vec<u64> {
        faults.to_json()["faults"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["fired"].as_u64()).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_report_counts_how_often_each_fault_fired() {
        let mut faults = Faults::new(1);
        faults
            .add(&json!([
                {"match": {"method": "batch", "nth": 2, "times": 2}, "action": {"type": "html"}},
                {"match": {"method": "profile"}, "action": {"type": "drop"}},
                {"match": {"method": "crm.item.get"}, "action": {"type": "truncate"}}
            ]))
            .expect("faults parse");
        let mut portal = Portal::default();
        let hits: Vec<bool> = (0..4)
            .map(|_| faults.take("batch", None, None, &mut portal).is_some())
            .collect();
        assert_eq!(
            hits,
            [false, true, true, false],
            "nth 2, twice, then used up"
        );
        assert!(faults.take("profile", None, None, &mut portal).is_some());
        assert_eq!(
            fired(&faults),
            [2, 1, 0],
            "a fault that never matched reports 0"
        );
        let report = faults.to_json();
        assert_eq!(report["fired"], 3);
        assert_eq!(report["faults"][0]["seen"], 3);
        assert_eq!(report["faults"][1]["action"], "drop");
    }
}
