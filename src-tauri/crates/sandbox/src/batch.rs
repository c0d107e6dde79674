//! `batch`: up to 50 commands with `$result[key][path…]` references and `halt`.

use crate::api::{param, param_flag, ApiError, Out};
use crate::engine::{Caller, Engine};
use crate::php::{listify, parse_query};
use serde_json::{json, Value};
use std::time::Instant;

pub const MAX_COMMANDS: usize = 50;

/// A `$result[key][a][b]` reference found in a string: (byte range, key, path).
#[derive(Debug, PartialEq)]
pub struct Ref {
    pub start: usize,
    pub end: usize,
    pub key: String,
    pub path: Vec<String>,
}

/// Finds every `$result[...]...` reference in a string.
pub fn find_refs(s: &str) -> Vec<Ref> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = s[from..].find("$result[") {
        let start = from + pos;
        let mut i = start + "$result".len();
        let mut parts = Vec::new();
        while s[i..].starts_with('[') {
            match s[i + 1..].find(']') {
                Some(close) => {
                    parts.push(s[i + 1..i + 1 + close].to_string());
                    i = i + 1 + close + 1;
                }
                None => break,
            }
        }
        if parts.is_empty() {
            from = start + 1;
            continue;
        }
        let key = parts.remove(0);
        out.push(Ref {
            start,
            end: i,
            key,
            path: parts,
        });
        from = i;
    }
    out
}

/// Replaces references inside every string of a parameter tree. Unresolvable ones stay literal.
pub fn substitute(v: &mut Value, lookup: &dyn Fn(&str, &[String]) -> Option<Value>) {
    match v {
        Value::String(s) => {
            let refs = find_refs(s);
            if refs.is_empty() {
                return;
            }
            if refs.len() == 1 && refs[0].start == 0 && refs[0].end == s.len() {
                if let Some(val) = lookup(&refs[0].key, &refs[0].path) {
                    *v = val;
                }
                return;
            }
            let mut out = String::new();
            let mut last = 0;
            for r in &refs {
                out.push_str(&s[last..r.start]);
                match lookup(&r.key, &r.path) {
                    Some(val) => out.push_str(&crate::values::scalar_text(&val)),
                    None => out.push_str(&s[r.start..r.end]),
                }
                last = r.end;
            }
            out.push_str(&s[last..]);
            *s = out;
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, lookup)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, lookup)),
        _ => {}
    }
}

fn empty_as_list(m: serde_json::Map<String, Value>) -> Value {
    if m.is_empty() {
        json!([])
    } else {
        Value::Object(m)
    }
}

/// Runs a batch; returns the response body and the per-command log. The body is `None` when
/// the request ran into the front's cut-off (`requestCutoffSeconds`): the commands that had
/// started are applied, no later one runs, and the caller answers the front's 504 page.
pub fn run(
    engine: &mut Engine,
    caller: &Caller,
    p: &Value,
    start_ms: i64,
    started: Instant,
) -> (Option<String>, Vec<Value>) {
    let halt = param_flag(p, "halt").unwrap_or(false);
    let cmds: Vec<(String, String)> = match param(p, "cmd") {
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (k.clone(), crate::values::scalar_text(v)))
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), crate::values::scalar_text(v)))
            .collect(),
        _ => Vec::new(),
    };
    let mut results: Vec<(String, Out)> = Vec::new();
    let mut errors = serde_json::Map::new();
    let mut totals = serde_json::Map::new();
    let mut nexts = serde_json::Map::new();
    let mut times = serde_json::Map::new();
    let mut log = Vec::new();
    // The request's time so far as the front sees it: the commands' own times (simulated or
    // measured) and, at the end, what the batch spent around them.
    let mut commands_seconds = 0.0;
    let mut commands_real = 0.0;
    let budget = engine.budget_key(caller, true);
    for (i, (key, text)) in cmds.iter().enumerate() {
        if engine.past_cutoff(commands_seconds) {
            // The front cut the request: nothing after this point runs (a choice: the front's
            // cut is not in the module's code; a command already running completes).
            return (None, log);
        }
        let cmd_started = Instant::now();
        let cmd_ms = engine.now_ms();
        let (method, query) = text.split_once('?').unwrap_or((text.as_str(), ""));
        let method = method.trim().trim_end_matches(".json").to_ascii_lowercase();
        let outcome: Result<Out, ApiError> = if i >= MAX_COMMANDS {
            Err(ApiError::bad(
                "ERROR_BATCH_LENGTH_EXCEEDED",
                "Max batch length exceeded",
            ))
        } else if method == "batch" {
            Err(ApiError::new(
                405,
                "ERROR_BATCH_METHOD_NOT_ALLOWED",
                "Method is not allowed for batch usage",
            ))
        } else {
            let mut params = listify(parse_query(query));
            substitute(&mut params, &|k, path| {
                results
                    .iter()
                    .find(|(rk, _)| rk == k)
                    .and_then(|(_, out)| out.result.resolve(path))
            });
            match unresolved_in_filter(&method, &params) {
                Some(e) => Err(e),
                None => run_one(engine, caller, &budget, key, &method, &params),
            }
        };
        let real = cmd_started.elapsed().as_secs_f64();
        let seconds = engine.call_seconds(&method, real);
        commands_real += real;
        commands_seconds += seconds;
        let failed = outcome.is_err();
        match outcome {
            Ok(out) => {
                log.push(json!({"key": key, "method": method, "status": 200}));
                if let Some(t) = out.total {
                    totals.insert(key.clone(), json!(t));
                }
                if let Some(n) = out.next {
                    nexts.insert(key.clone(), json!(n));
                }
                let op = Some(engine.limits.operating(&budget, &method, engine.now_ms()));
                times.insert(key.clone(), engine.time_block(cmd_ms, seconds, op));
                results.push((key.clone(), out));
            }
            Err(e) => {
                log.push(
                    json!({"key": key, "method": method, "status": e.status, "error": e.code}),
                );
                errors.insert(
                    key.clone(),
                    json!({"error": e.code, "error_description": e.desc}),
                );
            }
        }
        if failed && halt {
            break;
        }
    }
    let around = (started.elapsed().as_secs_f64() - commands_real).max(0.0);
    let elapsed = engine.measured(around) + commands_seconds;
    if engine.past_cutoff(elapsed) {
        return (None, log);
    }
    let mut body = String::with_capacity(1024);
    body.push_str("{\"result\":{\"result\":");
    if results.is_empty() {
        body.push_str("[]");
    } else {
        body.push('{');
        for (i, (k, out)) in results.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&Value::String(k.clone()).to_string());
            body.push(':');
            out.result.write(&mut body);
        }
        body.push('}');
    }
    for (name, map) in [
        ("result_error", errors),
        ("result_total", totals),
        ("result_next", nexts),
        ("result_time", times),
    ] {
        body.push_str(&format!(",\"{name}\":"));
        body.push_str(&empty_as_list(map).to_string());
    }
    body.push_str("},\"time\":");
    body.push_str(&engine.time_block(start_ms, elapsed, None).to_string());
    body.push('}');
    (Some(body), log)
}

/// A `$result[…]` reference that could not be resolved (e.g. index 49 of a short page) stays
/// literal text; in a list filter every list method then rejects it the same way (issue 7 §9,
/// CONTRACT §10 #7): `INVALID_ARG_VALUE` naming the field as the caller spelled it.
fn unresolved_in_filter(method: &str, params: &Value) -> Option<ApiError> {
    if !method.ends_with(".list") {
        return None;
    }
    let Some(Value::Object(filter)) = crate::api::param(params, "filter") else {
        return None;
    };
    let literal = |v: &Value| v.as_str().is_some_and(|s| s.contains("$result["));
    filter.iter().find_map(|(k, v)| {
        let hit = match v {
            Value::Array(a) => a.iter().any(literal),
            other => literal(other),
        };
        hit.then(|| {
            let (_, name) = crate::filter::split_op(k);
            ApiError::bad(
                "INVALID_ARG_VALUE",
                format!("Invalid filter: field '{name}' has invalid value"),
            )
        })
    })
}

fn run_one(
    engine: &mut Engine,
    caller: &Caller,
    budget: &str,
    key: &str,
    method: &str,
    params: &Value,
) -> Result<Out, ApiError> {
    if let Some(a) = engine.faults.take(
        method,
        Some(key),
        Some(&caller.credential),
        &mut engine.portal,
    ) {
        return Err(a.api_error());
    }
    engine.scope_check(caller, method)?;
    engine.operating_check(budget, method)?;
    let started = Instant::now();
    let r = engine.run_as(caller, method, params);
    let seconds = engine.call_seconds(method, started.elapsed().as_secs_f64());
    engine.charge_call(budget, method, seconds);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_references_with_paths() {
        let r = find_refs("$result[c0][items][49][id]");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].key, "c0");
        assert_eq!(r[0].path, vec!["items", "49", "id"]);
        assert_eq!(r[0].end, "$result[c0][items][49][id]".len());
    }

    #[test]
    fn whole_reference_becomes_the_value_and_embedded_ones_interpolate() {
        let mut v =
            json!({"a": "$result[x][id]", "b": "id=$result[x][id]!", "c": "$result[nope][id]"});
        substitute(&mut v, &|k, path| {
            (k == "x" && path == ["id"]).then(|| json!(7))
        });
        assert_eq!(v, json!({"a": 7, "b": "id=7!", "c": "$result[nope][id]"}));
    }
}
