//! The test-control API `/_emu/*` (CONTRACT §9.2). Never reachable through `/rest/`.

use crate::clock::{fmt_datetime, parse_datetime, wall_clock_ms, FROZEN_EPOCH_MS};
use crate::engine::Engine;
use crate::http::Shared;
use crate::state::{Credential, Level, Portal, Rights};
use serde_json::{json, Value};

type EmuResult = (u16, Value);

fn bad(msg: impl Into<String>) -> EmuResult {
    (400, json!({"error": msg.into()}))
}

/// Wipes the portal and loads the dataset; the clock restarts at the dataset epoch.
pub fn reset(engine: &mut Engine, seed: u64, demo: bool, records: Option<usize>) {
    let running = engine.clock.is_running();
    let epoch_ms = if running {
        wall_clock_ms()
    } else {
        FROZEN_EPOCH_MS
    };
    engine.clock = crate::clock::Clock::new(epoch_ms, running);
    engine.seed = seed;
    engine.records = records;
    let mut portal = Portal::default();
    if demo {
        crate::demo::generate(
            &mut portal,
            seed,
            records,
            epoch_ms / 1000,
            engine.cfg.portal_offset,
        );
    } else {
        crate::demo::skeleton(&mut portal, seed, epoch_ms / 1000);
        portal.categories.retain(|c| c.id == 0);
    }
    portal.offset = engine.cfg.portal_offset;
    engine.portal = portal;
    engine.limits.clear();
    engine.faults = crate::faults::Faults::new(seed);
    let base = std::mem::take(&mut engine.oauth.base_url);
    engine.oauth = crate::oauth::Tokens {
        base_url: base,
        ..Default::default()
    };
    if let Some(p) = &engine.persist {
        p.full(&engine.portal);
    }
}

pub fn handle(
    shared: &Shared,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Value,
    ip: &str,
) -> EmuResult {
    let mut guard = match shared.lock() {
        Ok(e) => e,
        Err(p) => p.into_inner(),
    };
    let engine: &mut Engine = &mut guard;
    let q = crate::php::parse_query(query.unwrap_or(""));
    match (method, path) {
        ("POST", "reset") => {
            let seed = body
                .get("seed")
                .and_then(Value::as_u64)
                .unwrap_or(engine.seed);
            let demo = body.get("dataset").and_then(Value::as_str) != Some("empty");
            let records = body
                .get("records")
                .and_then(Value::as_u64)
                .map(|n| n as usize)
                .or(engine.records);
            reset(engine, seed, demo, records);
            (
                200,
                json!({"ok": true, "seed": seed, "clock": clock_json(engine)}),
            )
        }
        ("POST", "seed") => crate::seed::seed(engine, &body),
        ("POST", "credentials") => credentials(engine, &body),
        ("POST", "permissions") => permissions(engine, &body),
        ("POST", "act") => act(engine, &body, ip),
        ("GET", "clock") => (200, clock_json(engine)),
        ("POST", "clock") => clock(engine, &body),
        ("GET", "config") => (200, engine.cfg.to_json()),
        ("POST", "config") => match engine.cfg.apply(&body) {
            Ok(()) => {
                let now = engine.clock.now();
                if let Some(tz) = engine.cfg.portal_zone {
                    engine.cfg.portal_offset = crate::clock::Zone::Named(tz).offset_at(now);
                }
                if engine.portal.offset != engine.cfg.portal_offset
                    || engine.portal.zone != engine.cfg.portal_zone
                {
                    rerender_offset(&mut engine.portal, engine.cfg.zone(), now);
                    if let Some(p) = &engine.persist {
                        p.full(&engine.portal);
                    }
                }
                (200, engine.cfg.to_json())
            }
            Err(e) => bad(e),
        },
        ("GET", "faults") => (200, engine.faults.to_json()),
        ("POST", "faults") => match engine.faults.add(&body) {
            Ok(n) => (200, json!({"added": n})),
            Err(e) => bad(e),
        },
        ("DELETE", "faults") => {
            engine.faults.clear();
            (200, json!({"ok": true}))
        }
        ("GET", "requests") => {
            let since = q
                .get("since")
                .and_then(crate::state::as_i64)
                .unwrap_or(0)
                .max(0) as u64;
            let list = engine.log.since(since);
            (200, json!({"requests": list, "last": engine.log.next_seq}))
        }
        ("DELETE", "requests") => {
            engine.log.entries.clear();
            (200, json!({"ok": true, "last": engine.log.next_seq}))
        }
        ("GET", "state") => state(engine, &q),
        _ => (
            404,
            json!({"error": format!("unknown control endpoint {method} /_emu/{path}")}),
        ),
    }
}

fn clock_json(engine: &Engine) -> Value {
    let ms = engine.clock.now_ms();
    json!({
        "now": fmt_datetime(ms.div_euclid(1000), engine.cfg.portal_offset),
        "unix": ms as f64 / 1000.0,
        "mode": if engine.clock.is_running() { "running" } else { "frozen" },
    })
}

fn clock(engine: &mut Engine, body: &Value) -> EmuResult {
    if let Some(s) = body.get("set").and_then(Value::as_str) {
        match parse_datetime(s, engine.cfg.portal_offset) {
            Some(t) => engine.clock.set_ms(t * 1000),
            None => return bad("set: unparseable datetime"),
        }
    }
    if let Some(a) = body.get("advanceSeconds").and_then(Value::as_f64) {
        engine.clock.advance_ms((a * 1000.0) as i64);
    }
    if let Some(m) = body.get("mode").and_then(Value::as_str) {
        engine.clock.set_running(m == "running" || m == "real");
    }
    (200, clock_json(engine))
}

/// The absolute webhook URL (`http://127.0.0.1:PORT/rest/{user}/{code}/`, CONTRACT §9.2).
fn webhook_url(engine: &Engine, user: i64, code: &str) -> String {
    format!("{}/rest/{user}/{code}/", engine.oauth.base_url)
}

pub fn credentials(engine: &mut Engine, body: &Value) -> EmuResult {
    let kind = body
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("webhook");
    let user = body
        .get("userId")
        .and_then(crate::state::as_i64)
        .unwrap_or(1);
    let scopes: Vec<String> = body
        .get("scopes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_else(|| {
            crate::api::WEBHOOK_SCOPES
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    let expires_at = body.get("expiresAt").and_then(|v| {
        v.as_i64().or_else(|| {
            v.as_str()
                .and_then(|s| parse_datetime(s, engine.cfg.portal_offset))
        })
    });
    if kind == "oauth" {
        return crate::oauth::create_client(engine, body, user, scopes);
    }
    let Some(code) = body.get("code").and_then(Value::as_str) else {
        return bad("code is required");
    };
    if let Some(existing) = engine.portal.credentials.get_mut(code) {
        if body.get("revoked").is_some() || body.get("expiresAt").is_some() {
            existing.revoked = body
                .get("revoked")
                .and_then(Value::as_bool)
                .unwrap_or(existing.revoked);
            if body.get("expiresAt").is_some() {
                existing.expires_at = expires_at;
            }
            let uid = existing.user_id;
            return (
                200,
                json!({"url": webhook_url(engine, uid, code), "userId": uid}),
            );
        }
    }
    engine.portal.credentials.insert(
        code.to_string(),
        Credential {
            user_id: user,
            scopes,
            expires_at,
            revoked: body
                .get("revoked")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            kind: "webhook".into(),
        },
    );
    if let Some(p) = &engine.persist {
        p.record(&engine.portal, &[], true);
    }
    (
        200,
        json!({"url": webhook_url(engine, user, code), "userId": user}),
    )
}

fn permissions(engine: &mut Engine, body: &Value) -> EmuResult {
    let Some(user) = body.get("userId").and_then(crate::state::as_i64) else {
        return bad("userId is required");
    };
    let types: Vec<i64> = match body.get("entityTypeId").and_then(crate::state::as_i64) {
        Some(t) => vec![t],
        None => crate::schema::TYPES.to_vec(),
    };
    let lvl = |k: &str, cur: Level| -> Result<Level, String> {
        match body.get(k).and_then(Value::as_str) {
            Some(s) => Level::parse(s).ok_or(format!("{k}: expected none|own|open|all")),
            None => Ok(cur),
        }
    };
    for t in types {
        let cur = engine
            .portal
            .rights
            .get(&(user, t))
            .copied()
            .unwrap_or(Rights::ALL);
        let r = match (
            lvl("read", cur.read),
            lvl("write", cur.write),
            lvl("delete", cur.delete),
        ) {
            (Ok(read), Ok(write), Ok(delete)) => Rights {
                read,
                write,
                delete,
            },
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
        };
        engine.portal.rights.insert((user, t), r);
    }
    if let Some(p) = &engine.persist {
        p.record(&engine.portal, &[], true);
    }
    (200, json!({"ok": true}))
}

/// `/_emu/act`. With `countLimits` the call takes a token from the same bucket the `/rest/`
/// pipeline would: the caller's IP (`rateLimit.key = "ip"`) or, with `"credential"`, the acting
/// user's own credential `act:{userId}` (the one its batches run under).
fn act(engine: &mut Engine, body: &Value, ip: &str) -> EmuResult {
    let user = body
        .get("userId")
        .and_then(crate::state::as_i64)
        .unwrap_or(1);
    let Some(method) = body.get("method").and_then(Value::as_str) else {
        return bad("method is required");
    };
    let params = body.get("params").cloned().unwrap_or(json!({}));
    let count = body
        .get("countLimits")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if count && engine.cfg.rate.enabled {
        let now = engine.now_ms();
        let (c, d) = (engine.cfg.rate.capacity, engine.cfg.rate.drain_per_second);
        let key = if engine.cfg.rate.key == "credential" {
            format!("act:{user}")
        } else {
            ip.to_string()
        };
        if !engine.limits.admit(&key, now, c, d) {
            return (
                503,
                json!({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}),
            );
        }
    }
    let started = std::time::Instant::now();
    let start_ms = engine.now_ms();
    let method_l = method.to_ascii_lowercase();
    let (status, v) = if method_l == "batch" {
        let caller = crate::engine::Caller {
            user,
            credential: format!("act:{user}"),
            scopes: vec!["crm".into(), "user".into()],
            app: None,
        };
        match crate::batch::run(engine, &caller, &params, start_ms, started).0 {
            Some(body) => (200, serde_json::from_str(&body).unwrap_or(Value::Null)),
            None => (504, Value::String(crate::engine::gateway_timeout_page())),
        }
    } else if method_l == "recyclebin.restore" {
        // the web UI's restore; REST has none (CONTRACT §11 #13)
        match crate::recycle::act_restore(&mut engine.portal, &params) {
            Ok((touched, v)) => {
                if let Some(p) = &engine.persist {
                    p.record(&engine.portal, &touched, true);
                }
                (200, v)
            }
            Err(e) => (404, json!({"error": "NOT_FOUND", "error_description": e})),
        }
    } else {
        match engine.run_method(user, None, &method_l, &params) {
            Ok(out) => {
                let seconds = engine.call_seconds(&method_l, started.elapsed().as_secs_f64());
                let time = engine.time_block(start_ms, seconds, None);
                let s = crate::engine::envelope(&out, &time);
                (200, serde_json::from_str(&s).unwrap_or(Value::Null))
            }
            Err(e) => (e.status, e.body()),
        }
    };
    if body.get("log").and_then(Value::as_bool).unwrap_or(false) {
        let req = crate::engine::RestRequest {
            http_method: "ACT".into(),
            path: format!("/_emu/act/{method}"),
            ip: ip.into(),
            webhook: None,
            method: method.into(),
            params,
        };
        let mut e = crate::reqlog::LogEntry::new(&req, start_ms, engine.cfg.portal_offset);
        e.user = Some(user);
        e.status = status;
        e.error = v.get("error").cloned();
        engine.log.push(e);
    }
    (status, v)
}

fn state(engine: &Engine, q: &Value) -> EmuResult {
    let t = q
        .get("entityTypeId")
        .and_then(crate::state::as_i64)
        .unwrap_or(0);
    if !(1..=4).contains(&t) {
        let counts: Vec<Value> = crate::schema::TYPES
            .iter()
            .map(|t| {
                let s = engine.portal.store(*t);
                json!({"entityTypeId": t, "count": s.items.len(), "deleted": s.deleted.len(), "nextId": s.next_id})
            })
            .collect();
        return (
            200,
            json!({"types": counts, "stageHistory": engine.portal.stage_history.len(),
            "logMessages": engine.portal.log_messages.len(), "comments": engine.portal.comments.len()}),
        );
    }
    let store = engine.portal.store(t);
    match q.get("id").and_then(crate::state::as_i64) {
        Some(id) => match store.items.get(&id) {
            Some(it) => {
                let item: Value = serde_json::from_str(&it.json).unwrap_or(Value::Null);
                let links = if t == 2 {
                    engine.portal.bindings.get(&id).map(|b| {
                        b.iter().map(|x| json!({"CONTACT_ID": x.contact_id, "SORT": x.sort, "IS_PRIMARY": if x.primary {"Y"} else {"N"}})).collect::<Vec<_>>()
                    })
                } else {
                    None
                };
                (
                    200,
                    json!({"exists": true, "deleted": false, "item": item, "contacts": links}),
                )
            }
            None => match store.deleted.get(&id) {
                Some(at) => (
                    200,
                    json!({"exists": false, "deleted": true, "deletedAt": fmt_datetime(*at, engine.cfg.portal_offset),
                        "inRecycleBin": engine.portal.recycle_bin.contains_key(&(t, id))}),
                ),
                None => (404, json!({"exists": false, "deleted": false})),
            },
        },
        None => (
            200,
            json!({"entityTypeId": t, "count": store.items.len(), "ids": store.items.keys().take(10_000).collect::<Vec<_>>(),
            "deleted": store.deleted.keys().collect::<Vec<_>>()}),
        ),
    }
}

/// Re-renders every stored datetime and date in a new portal zone.
fn rerender_offset(portal: &mut Portal, zone: crate::clock::Zone, now: i64) {
    use crate::clock::{fmt_date_in, stored_date};
    let offset = zone.offset_at(now);
    for t in crate::schema::TYPES {
        let kinds: Vec<(String, bool)> = portal
            .fields(t)
            .iter()
            .filter(|f| f.ty == "datetime" || f.ty == "date")
            .map(|f| (f.name.clone(), f.ty == "date"))
            .collect();
        let ids: Vec<i64> = portal.store(t).items.keys().copied().collect();
        for id in ids {
            crate::write::rewrite(portal, t, id, |m| {
                for (name, date_only) in &kinds {
                    let Some(Value::String(s)) = m.get(name) else {
                        continue;
                    };
                    let v = if *date_only {
                        stored_date(s).map(|d| fmt_date_in(d, zone, now))
                    } else {
                        parse_datetime(s, offset).map(|x| fmt_datetime(x, offset))
                    };
                    if let Some(v) = v {
                        m.insert(name.clone(), Value::String(v));
                    }
                }
            });
        }
    }
    portal.offset = offset;
    portal.zone = match zone {
        crate::clock::Zone::Named(tz) => Some(tz),
        crate::clock::Zone::Fixed(_) => None,
    };
}
